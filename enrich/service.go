package enrich

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	sharelog "github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/enrich/session"
	"github.com/sharelog/sharelog/internal/kafkax"
)

// Deps are what the enrich role is given rather than builds.
type Deps struct {
	Conn *kafkax.Conn
	// Enrichers are the shared, concurrency-safe enrichers applied in order
	// (geo, platform). The session enricher is made per partition.
	Enrichers []sharelog.Enricher
	// SessionSecret keys link_session_id; nil disables sessions.
	SessionSecret []byte
	Logger        *slog.Logger          // nil: quiet
	Registerer    prometheus.Registerer // nil: no metrics
	Now           func() time.Time      // nil: time.Now
}

// Service runs the enrich workers. Run it once.
type Service struct {
	cfg     Config
	deps    Deps
	topics  kafkax.Topics
	group   string
	writer  *kafka.Writer
	log     *slog.Logger
	metrics *metrics
}

type metrics struct {
	events      *prometheus.CounterVec
	produced    *prometheus.CounterVec
	retries     prometheus.Counter
	commitErrs  prometheus.Counter
	fetchErrs   prometheus.Counter
	latency     prometheus.Histogram
	batch       prometheus.Histogram
	visitors    *prometheus.GaugeVec
	sessionsNew prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sharelog_enrich_events_total", Help: "Raw events handled by the enrich workers, by outcome (enriched, dlq).",
		}, []string{"outcome"}),
		produced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sharelog_kafka_produced_total", Help: "Messages produced and acknowledged by all in-sync replicas, by topic.",
		}, []string{"topic"}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sharelog_enrich_produce_retries_total", Help: "Produce attempts of a batch that failed and were retried.",
		}),
		commitErrs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sharelog_enrich_commit_errors_total", Help: "Offset commits that failed (the batch will be delivered again).",
		}),
		fetchErrs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sharelog_enrich_fetch_errors_total", Help: "Fetches that failed (the reader retries; Kafka unreachable or partitions moving).",
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "sharelog_enrich_latency_seconds",
			Help:    "Time from the raw message's append to Kafka until its enriched message was acknowledged.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sharelog_enrich_batch_size", Help: "Messages per enrich batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 8),
		}),
		visitors: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sharelog_enrich_session_visitors", Help: "Visitors whose session state is held, per worker.",
		}, []string{"worker"}),
		sessionsNew: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sharelog_enrich_sessions_started_total", Help: "Link sessions opened.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.events, m.produced, m.retries, m.commitErrs, m.fetchErrs, m.latency, m.batch, m.visitors, m.sessionsNew)
	}
	return m
}

// New returns the enrich service. cfg must be valid and defaulted.
func New(cfg Config, deps Deps) (*Service, error) {
	if deps.Conn == nil {
		return nil, errors.New("enrich: no Kafka connection")
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.SessionSecret != nil && len(deps.SessionSecret) < session.MinSecretLen {
		return nil, fmt.Errorf("enrich: session secret is shorter than %d bytes", session.MinSecretLen)
	}
	kc := deps.Conn.Config()
	return &Service{
		cfg:     cfg,
		deps:    deps,
		topics:  kc.Topics(),
		group:   kc.Group("enrich"),
		writer:  deps.Conn.NewWriter(),
		log:     deps.Logger.With("role", "enrich"),
		metrics: newMetrics(deps.Registerer),
	}, nil
}

// Group is the consumer group the workers join.
func (s *Service) Group() string { return s.group }

// Run starts cfg.Workers consumers and returns when ctx ends and each has
// finished its batch in hand (produced and committed, within
// ShutdownTimeout). The batch in hand at shutdown is either committed after
// being produced, or not committed at all (it is then delivered again):
// nothing is lost. Kafka errors do not end Run (see worker); the error is the
// producer's, from closing it.
func (s *Service) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for i := range s.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.worker(ctx, i)
		}()
	}
	wg.Wait()
	return s.writer.Close()
}

// worker runs one consumer of the group until ctx ends. A fetch error does
// not end it (see kafkax.Fetch): a Kafka outage turns into lag, not into an
// exit.
func (s *Service) worker(ctx context.Context, id int) {
	log := s.log.With("worker", id)
	var newTracker func() *session.Tracker
	if s.deps.SessionSecret != nil {
		newTracker = func() *session.Tracker {
			return session.NewTracker(s.deps.SessionSecret, s.cfg.Session.Timeout, s.cfg.Session.MaxVisitors)
		}
	}
	proc := NewProcessor(Topics{Enriched: s.topics.Enriched, DLQ: s.topics.DLQ}, s.deps.Enrichers, newTracker, s.deps.Now)
	// The consumer fetches into a bounded queue, so that the worker can
	// take whatever is already there as one batch, and commits what the
	// worker acknowledges: a batch once it is produced.
	cons := s.deps.Conn.Consume(ctx, kafkax.ConsumeConfig{
		Group: s.group, Topic: s.topics.Raw, Queue: s.cfg.BatchSize, Logger: log,
		OnFetchError:  func(error) { s.metrics.fetchErrs.Inc() },
		OnCommitError: func(error) { s.metrics.commitErrs.Inc() },
	})
	defer func() {
		if err := cons.Close(); err != nil {
			log.Warn("closing the consumer", "err", err)
		}
	}()
	fetched := cons.Messages()

	log.Info("enrich worker started", "group", s.group, "topic", s.topics.Raw)
	batch := make([]kafka.Message, 0, s.cfg.BatchSize)
	out := make([]kafka.Message, 0, s.cfg.BatchSize)
	visitorsGauge := s.metrics.visitors.WithLabelValues(fmt.Sprint(id))
	for {
		batch = batch[:0]
		select {
		case <-ctx.Done():
			return
		case m, ok := <-fetched:
			if !ok {
				return
			}
			batch = append(batch, m)
		}
		batch = s.fill(ctx, fetched, batch)
		out = out[:0]
		dlq := 0
		for i := range batch {
			msg, dead := proc.Process(&batch[i])
			if dead {
				dlq++
				log.Warn("event to DLQ", "partition", batch[i].Partition, "offset", batch[i].Offset, "reason", string(msg.Headers[0].Value))
			}
			out = append(out, msg)
		}
		// Finish the batch even if shutdown begins: produced then committed,
		// or, past the shutdown timeout, left uncommitted for redelivery.
		if err := s.deliver(ctx, out); err != nil {
			return // only on shutdown: nothing committed, redelivered later
		}
		proc.Release()
		cons.Ack(batch...)
		s.commit(ctx, cons) // a failure is logged and counted; the next commit retries
		now := s.deps.Now()
		for i := range batch {
			s.metrics.latency.Observe(now.Sub(batch[i].Time).Seconds())
		}
		s.metrics.batch.Observe(float64(len(batch)))
		s.metrics.events.WithLabelValues("enriched").Add(float64(len(batch) - dlq))
		s.metrics.events.WithLabelValues("dlq").Add(float64(dlq))
		s.metrics.produced.WithLabelValues(s.topics.Enriched).Add(float64(len(batch) - dlq))
		s.metrics.produced.WithLabelValues(s.topics.DLQ).Add(float64(dlq))
		visitors, started := proc.Sessions()
		visitorsGauge.Set(float64(visitors))
		s.metrics.sessionsNew.Add(float64(started))
	}
}

// fill adds to batch what arrives within BatchWait, up to BatchSize.
func (s *Service) fill(ctx context.Context, fetched <-chan kafka.Message, batch []kafka.Message) []kafka.Message {
	var timer *time.Timer
	for len(batch) < s.cfg.BatchSize {
		select {
		case m, ok := <-fetched:
			if !ok {
				return batch
			}
			batch = append(batch, m)
			continue
		default:
		}
		if s.cfg.BatchWait <= 0 {
			return batch
		}
		if timer == nil {
			timer = time.NewTimer(s.cfg.BatchWait)
			defer timer.Stop()
		}
		select {
		case m, ok := <-fetched:
			if !ok {
				return batch
			}
			batch = append(batch, m)
		case <-timer.C:
			return batch
		case <-ctx.Done():
			return batch
		}
	}
	return batch
}

// deliver produces msgs, retrying with back-off while Kafka refuses, until
// it succeeds or, after ctx ended, ShutdownTimeout passed.
func (s *Service) deliver(ctx context.Context, msgs []kafka.Message) error {
	wctx, cancel := s.graceful(ctx)
	defer cancel()
	backoff := 100 * time.Millisecond
	for {
		err := s.writer.WriteMessages(wctx, msgs...)
		if err == nil {
			return nil
		}
		if wctx.Err() != nil {
			return err
		}
		s.metrics.retries.Inc()
		s.log.Warn("produce failed; retrying", "messages", len(msgs), "err", summarize(err), "backoff", backoff)
		select {
		case <-wctx.Done():
			return err
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// commit commits what the worker acknowledged, within ShutdownTimeout after
// ctx ended.
func (s *Service) commit(ctx context.Context, cons *kafkax.Consumer) error {
	cctx, cancel := s.graceful(ctx)
	defer cancel()
	return cons.Commit(cctx)
}

// graceful returns a context that lives on ShutdownTimeout after ctx ends.
func (s *Service) graceful(ctx context.Context) (context.Context, context.CancelFunc) {
	gctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(s.cfg.ShutdownTimeout, cancel)
		context.AfterFunc(gctx, func() { t.Stop() })
	})
	return gctx, func() { stop(); cancel() }
}

// summarize shortens kafka.WriteErrors (one entry per message) to its first
// error and a count.
func summarize(err error) error {
	var we kafka.WriteErrors
	if errors.As(err, &we) {
		for _, e := range we {
			if e != nil {
				return fmt.Errorf("%d of %d messages failed, first: %w", we.Count(), len(we), e)
			}
		}
	}
	return err
}
