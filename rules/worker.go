package rules

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/internal/kafkax"
)

// Deps are what a Worker needs from its process. Conn is required; a nil
// Logger is quiet and a nil Registerer registers nothing.
type Deps struct {
	Conn       *kafkax.Conn
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Worker runs the rules on Kafka as the consumer group <prefix>-rules of
// <prefix>.enriched. One goroutine per assigned partition evaluates that
// partition's events in offset order (so one link's events in order); the
// Engine, shared by the partitions of a worker, sees every subject of them,
// so subjects that span links (an IP, a workspace, a visitor) are counted
// over all the partitions a worker owns: exactly, when one worker owns them
// all.
//
// What an event raises (alerts, commands, state records) is produced with
// acks=all before the event's offset is committed, and the commit follows at
// once, so an alert is raised once. After a restart or a rebalance the
// Worker rebuilds its state before consuming: the state topic (countries
// seen, inactive links) is read back whole, and each partition's last
// MaxWindow (by message time) before the committed offset is replayed into
// the Engine with its output dropped, because it was produced before. If the
// process dies between producing and committing, the events after the last
// commit are evaluated again and raise the same alerts with the same ids
// (see docs/rules.md, "Alerts are events"), which every sink and the archive drop as
// repeats.
type Worker struct {
	rules  []Rule
	conn   *kafkax.Conn
	topics kafkax.Topics
	group  string
	log    *slog.Logger
	m      *metrics

	mu     sync.Mutex // guards engine
	engine *Engine
}

// NewWorker returns a Worker for the rules (defaults applied).
func NewWorker(rs []Rule, deps Deps) (*Worker, error) {
	if deps.Conn == nil {
		return nil, errors.New("rules: no Kafka connection")
	}
	if _, err := New(rs); err != nil {
		return nil, err
	}
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	kc := deps.Conn.Config()
	return &Worker{rules: rs, conn: deps.Conn, topics: kc.Topics(), group: kc.Group("rules"),
		log: log.With("role", "rules"), m: newMetrics(deps.Registerer)}, nil
}

// Group is the worker's consumer group.
func (w *Worker) Group() string { return w.group }

// Topics creates the worker's topics if missing: alerts and commands, and
// the compacted state topic.
func (w *Worker) Topics(ctx context.Context) error {
	if err := w.conn.EnsureTopics(ctx, w.topics.Alerts, w.topics.Commands); err != nil {
		return err
	}
	return w.conn.EnsureCompactedTopics(ctx, w.topics.RulesState)
}

// Run consumes until ctx ends; it returns nil then, or an error that stops
// the worker (its topics cannot be created). It is a handler on
// kafkax.ConsumePartitions: the state is rebuilt when partitions are
// assigned (assign) and dropped when they are revoked, each partition's
// events are evaluated in offset order, and an event's offset is committed
// once what it raised is produced.
func (w *Worker) Run(ctx context.Context) error {
	if err := w.Topics(ctx); err != nil {
		return err
	}
	writer := w.conn.NewWriter()
	defer writer.Close()
	return w.conn.ConsumePartitions(ctx, kafkax.PartitionsConfig{
		ConsumeConfig: kafkax.ConsumeConfig{Group: w.group, Topic: w.topics.Enriched,
			CommitInterval: time.Second, Logger: w.log},
		OnAssign: w.assign,
		OnRevoke: w.revoke,
	}, func(ctx context.Context, cl *kafkax.Claim, m kafka.Message) {
		w.handle(ctx, writer, cl, m)
	})
}

// assign rebuilds the state for the partitions assigned: the state topic,
// and each partition's recent events before the offset it resumes at.
func (w *Worker) assign(ctx context.Context, assigned []kafkax.Assignment) error {
	engine, err := New(w.rules)
	if err != nil {
		return err
	}
	start := time.Now()
	restored, err := w.restoreState(ctx, engine)
	if err != nil {
		return fmt.Errorf("reading the state topic: %w", err)
	}
	replayed := 0
	for _, a := range assigned {
		n, err := w.replay(ctx, engine, a.Partition, a.Offset)
		if err != nil {
			return fmt.Errorf("replaying partition %d: %w", a.Partition, err)
		}
		replayed += n
	}
	w.mu.Lock()
	w.engine = engine
	w.mu.Unlock()
	w.m.replayed.Add(float64(replayed))
	w.log.Info("rules state rebuilt", "partitions", len(assigned), "state_records", restored, "events_replayed", replayed,
		"tracked", engine.Tracked(), "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// revoke drops the state: the next assignment rebuilds it.
func (w *Worker) revoke([]int) {
	w.mu.Lock()
	w.engine = nil
	w.mu.Unlock()
	w.m.tracked.Set(0)
}

// handle evaluates one event of a partition (called in offset order) and
// acknowledges it once what it raised is produced; that is committed at
// once, so that it is not raised again.
func (w *Worker) handle(ctx context.Context, writer *kafka.Writer, cl *kafkax.Claim, m kafka.Message) {
	out, ok := w.observe(m)
	if ok && !out.Empty() {
		if err := w.produce(ctx, writer, out); err != nil {
			return // revoked or stopping: the event is evaluated again by the next owner
		}
		cl.Ack(m)
		cl.Commit() //nolint:errcheck // logged; the next commit retries
		return
	}
	cl.Ack(m)
}

// observe decodes and evaluates one message.
func (w *Worker) observe(m kafka.Message) (Output, bool) {
	ev, err := sharelog.DecodeEnriched(m.Value)
	if err != nil {
		// The sinks dead-letter such messages; the rules skip them.
		w.m.undecodable.Inc()
		return Output{}, false
	}
	w.mu.Lock()
	out := w.engine.Observe(ev)
	tracked := w.engine.Tracked()
	w.mu.Unlock()
	w.m.evaluated.Inc()
	w.m.tracked.Set(float64(tracked))
	for _, a := range out.Alerts {
		w.m.alerts.WithLabelValues(a.Alert.Rule, string(a.Alert.Severity)).Inc()
		w.log.Info("alert raised", "rule", a.Alert.Rule, "subject", a.Alert.Subject, "count", a.Alert.Count, "id", a.ID)
	}
	w.m.commands.Add(float64(len(out.Commands)))
	return out, true
}

// produce writes an event's output, retrying until it is acknowledged or ctx
// ends.
func (w *Worker) produce(ctx context.Context, writer *kafka.Writer, out Output) error {
	var msgs []kafka.Message
	for _, a := range out.Alerts {
		v, err := a.Encode()
		if err != nil {
			w.log.Error("alert not encodable; dropped", "rule", a.Alert.Rule, "err", err)
			continue
		}
		key := []byte(a.Key())
		msgs = append(msgs, kafka.Message{Topic: w.topics.Alerts, Key: key, Value: v},
			kafka.Message{Topic: w.topics.Enriched, Key: key, Value: v})
	}
	for _, c := range out.Commands {
		v, err := c.Encode()
		if err != nil {
			continue
		}
		msgs = append(msgs, kafka.Message{Topic: w.topics.Commands, Key: []byte(c.Key()), Value: v})
	}
	for _, s := range out.State {
		var v []byte // a tombstone deletes the key
		if s.Value != "" {
			v = []byte(s.Value)
		}
		msgs = append(msgs, kafka.Message{Topic: w.topics.RulesState, Key: []byte(s.Key), Value: v})
	}
	backoff := 100 * time.Millisecond
	for {
		err := writer.WriteMessages(ctx, msgs...)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		w.log.Warn("producing alerts failed; retrying", "err", err, "backoff", backoff)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// restoreState reads the state topic from its start to its end as it is now
// into engine, and returns the number of records.
func (w *Worker) restoreState(ctx context.Context, engine *Engine) (int, error) {
	ends, err := w.endOffsets(ctx, w.topics.RulesState)
	if err != nil {
		return 0, err
	}
	n := 0
	for p, end := range ends {
		err := w.read(ctx, w.topics.RulesState, p, kafka.FirstOffset, end, func(m kafka.Message) {
			engine.Restore(StateRecord{Key: string(m.Key), Value: string(m.Value)})
			n++
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// replay feeds engine the events of the partition's last MaxWindow before
// offset (by message time), dropping what they raise: it was produced
// before they were committed.
func (w *Worker) replay(ctx context.Context, engine *Engine, partition int, offset int64) (int, error) {
	window := engine.MaxWindow()
	if window == 0 || offset <= 0 {
		return 0, nil // nothing committed yet (FirstOffset is negative)
	}
	r := w.conn.NewPartitionReader(w.topics.Enriched, partition)
	defer r.Close()
	if err := r.SetOffset(offset - 1); err != nil {
		return 0, err
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	last, err := r.ReadMessage(rctx)
	cancel()
	if err != nil {
		return 0, fmt.Errorf("reading the last committed event (offset %d): %w", offset-1, err)
	}
	// Message times are when the event was enriched, a little after the
	// event: a minute more covers the difference.
	from := last.Time.Add(-window - time.Minute)
	n := 0
	err = w.readFrom(ctx, w.topics.Enriched, partition, func(r *kafka.Reader) error {
		return r.SetOffsetAt(ctx, from)
	}, offset, func(m kafka.Message) {
		if ev, err := sharelog.DecodeEnriched(m.Value); err == nil {
			engine.Observe(ev)
			n++
		}
	})
	return n, err
}

// read calls fn for each message of the partition in [from, end).
func (w *Worker) read(ctx context.Context, topic string, partition int, from, end int64, fn func(kafka.Message)) error {
	return w.readFrom(ctx, topic, partition, func(r *kafka.Reader) error { return r.SetOffset(from) }, end, fn)
}

func (w *Worker) readFrom(ctx context.Context, topic string, partition int, seek func(*kafka.Reader) error, end int64, fn func(kafka.Message)) error {
	r := w.conn.NewPartitionReader(topic, partition)
	defer r.Close()
	if err := seek(r); err != nil {
		return err
	}
	if r.Offset() >= end && r.Offset() >= 0 {
		return nil
	}
	for {
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		m, err := r.ReadMessage(rctx)
		cancel()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if m.Offset >= end {
			return nil
		}
		fn(m)
		if m.Offset+1 >= end {
			return nil
		}
	}
}

// endOffsets returns the next offset of each partition of topic that has
// messages.
func (w *Worker) endOffsets(ctx context.Context, topic string) (map[int]int64, error) {
	client := w.conn.Client()
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, err
	}
	var reqs []kafka.OffsetRequest
	for _, t := range md.Topics {
		if t.Error != nil {
			return nil, t.Error
		}
		for _, p := range t.Partitions {
			reqs = append(reqs, kafka.FirstOffsetOf(p.ID), kafka.LastOffsetOf(p.ID))
		}
	}
	resp, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return nil, err
	}
	out := map[int]int64{}
	for _, po := range resp.Topics[topic] {
		if po.Error != nil {
			return nil, po.Error
		}
		if po.LastOffset > po.FirstOffset {
			out[po.Partition] = po.LastOffset
		}
	}
	return out, nil
}

type metrics struct {
	events *prometheus.CounterVec
	// events' children, resolved once: they count every event.
	evaluated, undecodable prometheus.Counter
	alerts                 *prometheus.CounterVec
	commands               prometheus.Counter
	replayed               prometheus.Counter
	tracked                prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sharelog_rules_events_total",
			Help: "Enriched events the rules saw, by outcome (evaluated, undecodable)."}, []string{"outcome"}),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sharelog_rules_alerts_total",
			Help: "Alerts raised, by rule and severity."}, []string{"rule", "severity"}),
		commands: prometheus.NewCounter(prometheus.CounterOpts{Name: "sharelog_rules_commands_total",
			Help: "Commands sent to the link and file server (link.deactivate)."}),
		replayed: prometheus.NewCounter(prometheus.CounterOpts{Name: "sharelog_rules_replayed_events_total",
			Help: "Events replayed to rebuild the rules' windows after a start or rebalance."}),
		tracked: prometheus.NewGauge(prometheus.GaugeOpts{Name: "sharelog_rules_tracked_subjects",
			Help: "Links, visitors, IPs and workspaces the rules hold state for."}),
	}
	m.evaluated, m.undecodable = m.events.WithLabelValues("evaluated"), m.events.WithLabelValues("undecodable")
	if reg != nil {
		reg.MustRegister(m.events, m.alerts, m.commands, m.replayed, m.tracked)
	}
	return m
}
