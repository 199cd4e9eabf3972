// Package delivery is the one delivery engine every sink runs on. A Runner
// consumes <prefix>.enriched in a consumer group of its own
// (<prefix>-sink-<name>), keeps the events its Filter selects, batches them
// by count, bytes and time, and hands the batches to its sharelog.Sink —
// several at once, but the events of one link always through the same lane,
// one batch after the other, so their order is kept.
//
// Failures are handled here, not in the sinks: a retryable failure is
// retried with exponential back-off and jitter (or after the Retry-After the
// destination asked for) until it passes; the events a destination refuses
// for good go, each alone, to <prefix>.dlq with the sink's name and the
// reason (a refused batch is split until the refused events are found), and
// never block the partition; a destination that asks not to be called again
// (DisabledError) stops the runner's deliveries, keeping the backlog in
// Kafka. A Kafka offset is committed only once every message before it is
// delivered, dead-lettered or filtered out, so a crash or a shutdown in the
// middle of a batch loses nothing: what was not committed comes again.
//
// Memory is bounded: a lane holds at most one batch being delivered and one
// batch of messages waiting, and fetching stops while the lanes are full, so
// a destination that is down for hours lets the backlog wait in Kafka.
package delivery

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/internal/kafkax"
)

// Deps are what a Runner needs besides its configuration.
type Deps struct {
	Conn       *kafkax.Conn
	Logger     *slog.Logger          // nil: quiet
	Registerer prometheus.Registerer // nil: metrics are kept but not exported
}

// Runner delivers the enriched stream to one sink. Run it once.
type Runner struct {
	name   string
	sink   sharelog.Sink
	filter Filter
	opts   Options
	conn   *kafkax.Conn
	topics kafkax.Topics
	group  string
	log    *slog.Logger
	m      *metrics
	// cons is the consumer of the running stream (nil before Run and in a
	// replay): it commits what is delivered, dead-lettered or filtered.
	cons     atomic.Pointer[kafkax.Consumer]
	disabled atomic.Bool
	// onAccepted and onRefused settle the events deliver is done with: for
	// the stream, mark them done (after the DLQ for refused ones); for a
	// replay, count and report them.
	onAccepted func(items []item)
	onRefused  func(ctx context.Context, items []item, reasons []error) error
}

// New returns a runner delivering to sink, which it closes when Run
// returns. name names the sink in the consumer group, the DLQ headers
// (stage "sink:<name>"), logs and metrics; opts must have been through
// SetDefaults and Validate.
func New(name string, sink sharelog.Sink, filter Filter, opts Options, deps Deps) (*Runner, error) {
	if name == "" || sink == nil || deps.Conn == nil {
		return nil, errors.New("delivery: a name, a sink and a Kafka connection are required")
	}
	if err := errors.Join(filter.Validate(), opts.Validate()); err != nil {
		return nil, fmt.Errorf("delivery: sink %s: %w", name, err)
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Runner{
		name: name, sink: sink, filter: filter, opts: opts, conn: deps.Conn,
		topics: deps.Conn.Config().Topics(), log: deps.Logger.With("sink", name),
	}
	r.group = r.conn.Config().TopicPrefix + "-sink-" + name
	r.onAccepted, r.onRefused = r.delivered, r.deadLetter
	var err error
	if r.m, err = newMetrics(name, deps.Registerer, r.inFlight); err != nil {
		return nil, fmt.Errorf("delivery: %w", err)
	}
	return r, nil
}

// Group is the runner's consumer group.
func (r *Runner) Group() string { return r.group }

// Name is the sink's name.
func (r *Runner) Name() string { return r.name }

// item is one message and its event.
type item struct {
	msg kafka.Message
	ev  *sharelog.Event
}

// Run delivers until ctx ends, then commits what is done and closes the
// sink. It returns nil after a shutdown; deliveries interrupted by it are
// not committed and come again on the next start.
func (r *Runner) Run(ctx context.Context) error {
	cons := r.conn.Consume(ctx, kafkax.ConsumeConfig{
		Group: r.group, Topic: r.topics.Enriched, Queue: r.opts.BatchEvents,
		CommitInterval: 200 * time.Millisecond, Logger: r.log,
	})
	r.cons.Store(cons)
	var wg sync.WaitGroup
	lanes := make([]chan item, r.opts.Concurrency)
	for i := range lanes {
		lanes[i] = make(chan item, r.opts.BatchEvents)
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.lane(ctx, lanes[i])
		}()
	}
	r.dispatch(ctx, cons.Messages(), lanes)
	for _, l := range lanes {
		close(l)
	}
	wg.Wait()
	// Commits what the lanes finished; the rest comes again.
	return errors.Join(cons.Close(), r.sink.Close())
}

// inFlight is how many messages are taken from Kafka and not yet
// delivered, dead-lettered or filtered.
func (r *Runner) inFlight() int {
	if c := r.cons.Load(); c != nil {
		return c.InFlight()
	}
	return 0
}

// done marks a message finished (delivered, dead-lettered or filtered out),
// for the consumer to commit once everything before it is too.
func (r *Runner) done(m *kafka.Message) {
	if c := r.cons.Load(); c != nil {
		c.AckOffset(m.Partition, m.Offset)
	}
}

// dispatch decodes and filters each fetched message and hands it to its
// lane, until ctx ends.
func (r *Runner) dispatch(ctx context.Context, fetched <-chan kafka.Message, lanes []chan item) {
	for {
		var m kafka.Message
		select {
		case <-ctx.Done():
			return
		case x, ok := <-fetched:
			if !ok {
				return
			}
			m = x
		}
		ev, err := sharelog.DecodeEnriched(m.Value)
		if err != nil {
			if r.deadLetter(ctx, []item{{msg: m}}, []error{sharelog.Permanent(err)}) != nil {
				return
			}
			continue
		}
		if !r.filter.Match(ev) {
			r.m.filtered.Inc()
			r.done(&m)
			continue
		}
		h := fnv.New32a()
		h.Write(m.Key)
		select {
		case lanes[h.Sum32()%uint32(len(lanes))] <- item{msg: m, ev: ev}:
		case <-ctx.Done():
			return
		}
	}
}

// lane batches the items of one lane and delivers them, a batch at a time.
func (r *Runner) lane(ctx context.Context, in <-chan item) {
	var (
		batch []item
		bytes int
		timer = time.NewTimer(time.Hour)
	)
	timer.Stop()
	flush := func() bool {
		err := r.deliver(ctx, batch)
		batch, bytes = batch[:0:0], 0
		timer.Stop()
		return err == nil
	}
	for {
		select {
		case <-ctx.Done():
			return
		case it, ok := <-in:
			if !ok {
				return
			}
			if len(batch) == 0 {
				timer.Reset(r.opts.BatchWait)
			}
			batch = append(batch, it)
			bytes += len(it.msg.Value)
			if len(batch) >= r.opts.BatchEvents || bytes >= r.opts.BatchBytes {
				if !flush() {
					return
				}
			}
		case <-timer.C:
			if len(batch) > 0 && !flush() {
				return
			}
		}
	}
}

// errDisabled is deliver's answer once the destination has asked not to be
// called again.
var errDisabled = errors.New("delivery: the destination asked not to be called again")

// deliver sends items until the destination has taken or refused each of
// them; it returns an error only when ctx ends first or the sink is
// disabled (errDisabled), leaving the rest uncommitted.
func (r *Runner) deliver(ctx context.Context, items []item) error {
	pending := items
	for attempt := 0; len(pending) > 0; attempt++ {
		if r.disabled.Load() {
			return errDisabled
		}
		events := make([]*sharelog.Event, len(pending))
		for i, it := range pending {
			events[i] = it.ev
		}
		wctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
		err := r.sink.Write(wctx, events)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.m.batch.Observe(float64(len(pending)))
		var (
			be *sharelog.BatchError
			de *sharelog.DisabledError
		)
		switch {
		case err == nil:
			r.onAccepted(pending)
			return nil
		case errors.As(err, &de):
			r.disabled.Store(true)
			r.m.disabled.Set(1)
			r.log.Error("the destination asked not to be called again: deliveries to this sink stop until it is restarted; its backlog waits in Kafka", "err", err)
			return errDisabled
		case errors.As(err, &be) && len(be.Errs) == len(pending):
			var ok, retry, dead []item
			var reasons []error
			for i, e := range be.Errs {
				switch {
				case e == nil:
					ok = append(ok, pending[i])
				case sharelog.IsPermanent(e):
					dead, reasons = append(dead, pending[i]), append(reasons, e)
				default:
					retry = append(retry, pending[i])
					err = e
				}
			}
			r.onAccepted(ok)
			if len(dead) > 0 {
				if err := r.onRefused(ctx, dead, reasons); err != nil {
					return err
				}
			}
			pending = retry
		case sharelog.IsPermanent(err):
			if len(pending) == 1 {
				return r.onRefused(ctx, pending, []error{err})
			}
			// Split to find the events refused; the others go through.
			half := len(pending) / 2
			if err := r.deliver(ctx, pending[:half]); err != nil {
				return err
			}
			return r.deliver(ctx, pending[half:])
		}
		if len(pending) == 0 {
			return nil
		}
		r.m.events.WithLabelValues("retried").Add(float64(len(pending)))
		d := r.backoff(attempt, err)
		r.log.Warn("delivery failed; retrying", "events", len(pending), "attempt", attempt+1, "wait", d, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
	}
	return nil
}

// backoff is the wait before retry number attempt+1: the destination's
// Retry-After when it gave one, else exponential with full jitter between
// half and all of RetryInitial·2^attempt, capped at RetryMax.
func (r *Runner) backoff(attempt int, err error) time.Duration {
	if after, ok := sharelog.RetryAfter(err); ok && after > 0 {
		return min(after, time.Hour)
	}
	d := r.opts.RetryInitial << min(attempt, 30)
	if d <= 0 || d > r.opts.RetryMax {
		d = r.opts.RetryMax
	}
	return d/2 + rand.N(d/2+1)
}

// delivered marks items accepted.
func (r *Runner) delivered(items []item) {
	now := time.Now()
	for _, it := range items {
		if p := it.ev.Pipeline; p != nil && !p.EnrichedAt.IsZero() {
			r.m.latency.Observe(now.Sub(p.EnrichedAt).Seconds())
		}
		r.done(&it.msg)
	}
	r.m.events.WithLabelValues("delivered").Add(float64(len(items)))
}

// deadLetter writes each item to the DLQ with its reason (reasons[i], or
// the last one for the rest), retrying until Kafka takes them or ctx ends,
// and then marks them done.
func (r *Runner) deadLetter(ctx context.Context, items []item, reasons []error) error {
	msgs := make([]kafka.Message, len(items))
	for i, it := range items {
		msgs[i] = it.msg
		r.log.Warn("event refused by the destination; sent to the DLQ", "partition", it.msg.Partition, "offset", it.msg.Offset, "reason", reasons[min(i, len(reasons)-1)])
	}
	if err := r.cons.Load().DeadLetter(ctx, "sink:"+r.name, msgs, reasons...); err != nil {
		return err
	}
	r.m.events.WithLabelValues("dead_lettered").Add(float64(len(items)))
	return nil
}
