package delivery

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/internal/kafkatest"
	"github.com/sharelog/sharelog/internal/kafkax"
)

func TestBackoff(t *testing.T) {
	r := &Runner{opts: Options{RetryInitial: 100 * time.Millisecond, RetryMax: time.Second}}
	for attempt, want := range []time.Duration{100, 200, 400, 800, 1000, 1000} {
		want *= time.Millisecond
		for range 20 {
			d := r.backoff(attempt, errors.New("x"))
			if d < want/2 || d > want {
				t.Fatalf("attempt %d: %v, want within [%v, %v]", attempt, d, want/2, want)
			}
		}
	}
	if d := r.backoff(0, sharelog.Retryable(errors.New("429"), 7*time.Second)); d != 7*time.Second {
		t.Fatalf("Retry-After not honoured: %v", d)
	}
}

func TestFilterAndOptionsValidate(t *testing.T) {
	f := Filter{Workspaces: []string{"w1"}, Actions: []string{"link.*", "file.deleted"}, Results: []string{"denied"}}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	ev := &sharelog.Event{Workspace: sharelog.Workspace{ID: "w1"}, Action: sharelog.LinkPasswordFailed, Result: sharelog.Denied}
	if !f.Match(ev) {
		t.Fatal("no match")
	}
	ev.Result = sharelog.Success
	if f.Match(ev) {
		t.Fatal("result not filtered")
	}
	bad := Filter{Actions: []string{"link.teleported"}, Results: []string{"ok"}}
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), `actions[0]: "link.teleported"`) || !strings.Contains(err.Error(), `results[0]: "ok"`) {
		t.Fatalf("%v", err)
	}
	var o Options
	o.SetDefaults()
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	o.Concurrency, o.RetryMax = 0, time.Millisecond
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "concurrency:") || !strings.Contains(err.Error(), "retry_max:") {
		t.Fatalf("%v", err)
	}
}

// funcSink answers with a function of the batch.
type funcSink struct {
	mu     sync.Mutex
	answer func(batch []*sharelog.Event) error
	got    []string
	calls  int
}

func (s *funcSink) Write(_ context.Context, batch []*sharelog.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	err := s.answer(batch)
	var be *sharelog.BatchError
	switch {
	case err == nil:
		for _, ev := range batch {
			s.got = append(s.got, ev.ID)
		}
	case errors.As(err, &be):
		for i, ev := range batch {
			if be.Errs[i] == nil {
				s.got = append(s.got, ev.ID)
			}
		}
	}
	return err
}

func (s *funcSink) Close() error { return nil }

func (s *funcSink) received() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got)
}

type rig struct {
	conn *kafkax.Conn
	reg  *prometheus.Registry
	ids  []string
}

func newRig(t *testing.T, n int, mutate func(i int, ev *sharelog.Event)) *rig {
	t.Helper()
	cfg := kafkax.Config{TopicPrefix: kafkatest.Prefix(t), Partitions: 3}
	cfg.SetDefaults()
	conn, err := kafkax.NewConn(cfg, kafkatest.Brokers(t, 3))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	tp := cfg.Topics()
	if err := conn.EnsureTopics(context.Background(), tp.Enriched, tp.DLQ); err != nil {
		t.Fatal(err)
	}
	w := conn.NewWriter()
	defer w.Close()
	r := &rig{conn: conn, reg: prometheus.NewRegistry()}
	var msgs []kafka.Message
	for i := range n {
		ev := &sharelog.Event{
			ID: fmt.Sprintf("0193a1b2-c3d4-7e5f-8a9b-%012d", i), Time: time.Date(2026, 11, 22, 10, 0, i, 0, time.UTC),
			Workspace: sharelog.Workspace{ID: "w1"}, Actor: sharelog.Actor{Type: sharelog.ActorAnonymous},
			Action: sharelog.LinkOpened, Result: sharelog.Success, Link: &sharelog.Link{ID: fmt.Sprintf("l%d", i%5)},
			Client: sharelog.Client{IP: "192.0.2.1", Kind: sharelog.ClientBrowser},
		}
		if mutate != nil {
			mutate(i, ev)
		}
		b, err := ev.Encode()
		if err != nil {
			t.Fatal(err)
		}
		r.ids = append(r.ids, ev.ID)
		msgs = append(msgs, kafka.Message{Topic: tp.Enriched, Key: []byte(ev.Key()), Value: b})
	}
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *rig) run(t *testing.T, sink sharelog.Sink, f Filter, opts Options) (*Runner, func()) {
	t.Helper()
	if opts.BatchEvents == 0 {
		opts.BatchEvents = 10
	}
	opts.BatchWait, opts.RetryInitial, opts.RetryMax = 20*time.Millisecond, 5*time.Millisecond, 20*time.Millisecond
	opts.SetDefaults()
	run, err := New("t", sink, f, opts, Deps{Conn: r.conn, Registerer: r.reg})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run.Run(ctx) }()
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	return run, stop
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestBatchErrorRetriesOnlyTheRetryable: per-event answers: accepted events
// are not sent again, retryable ones are, refused ones go to the DLQ.
func TestBatchErrorRetriesOnlyTheRetryable(t *testing.T) {
	r := newRig(t, 40, nil)
	var mu sync.Mutex
	tries := map[string]int{}
	sink := &funcSink{answer: func(batch []*sharelog.Event) error {
		mu.Lock()
		defer mu.Unlock()
		be := &sharelog.BatchError{Errs: make([]error, len(batch))}
		failed := false
		for i, ev := range batch {
			tries[ev.ID]++
			n := ev.ID[len(ev.ID)-2:]
			switch {
			case n == "07" || n == "21":
				be.Errs[i], failed = sharelog.Permanent(errors.New("mapper_parsing_exception")), true
			case (n == "03" || n == "30") && tries[ev.ID] < 3:
				be.Errs[i], failed = sharelog.Retryable(errors.New("es_rejected_execution_exception"), 0), true
			}
		}
		if !failed {
			return nil
		}
		return be
	}}
	_, stop := r.run(t, sink, Filter{}, Options{})
	defer stop()
	waitFor(t, "38 deliveries and 2 dead letters", func() bool {
		return len(sink.received()) >= 38 && testutil.ToFloat64(findCounter(t, r.reg, "dead_lettered")) == 2
	})
	stop = func() {}
	got := sink.received()
	mu.Lock()
	defer mu.Unlock()
	for _, id := range r.ids {
		n := id[len(id)-2:]
		want := 1
		switch n {
		case "03", "30":
			want = 3
		}
		if tries[id] != want && n != "07" && n != "21" {
			t.Errorf("%s sent %d times, want %d", id, tries[id], want)
		}
	}
	if slices.Contains(got, r.ids[7]) || len(got) != 38 {
		t.Fatalf("received %d events", len(got))
	}
}

func findCounter(t *testing.T, reg *prometheus.Registry, outcome string) prometheus.Collector {
	t.Helper()
	return counterOf{reg: reg, outcome: outcome}
}

// counterOf reads sharelog_sink_events_total{outcome} from a registry.
type counterOf struct {
	reg     *prometheus.Registry
	outcome string
}

func (c counterOf) Describe(chan<- *prometheus.Desc) {}
func (c counterOf) Collect(ch chan<- prometheus.Metric) {
	mfs, _ := c.reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "sharelog_sink_events_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" && l.GetValue() == c.outcome {
					ch <- prometheus.MustNewConstMetric(prometheus.NewDesc("x", "x", nil, nil), prometheus.CounterValue, m.GetCounter().GetValue())
				}
			}
		}
	}
}

// TestDisabledStopsDeliveries: after a DisabledError nothing more is sent
// and nothing is committed, so a restart delivers everything again.
func TestDisabledStopsDeliveries(t *testing.T) {
	r := newRig(t, 30, nil)
	sink := &funcSink{answer: func([]*sharelog.Event) error {
		return &sharelog.DisabledError{Err: errors.New("HTTP 410 Gone")}
	}}
	const lanes = 3
	_, stop := r.run(t, sink, Filter{}, Options{Concurrency: lanes})
	waitFor(t, "the disabled gauge", func() bool { return gauge(r.reg, "sharelog_sink_disabled") == 1 })
	time.Sleep(300 * time.Millisecond)
	sink.mu.Lock()
	calls := sink.calls
	sink.mu.Unlock()
	stop()
	// At most one call per lane: each lane may have sent its batch before
	// the first answer disabled the sink, none after.
	if calls > lanes {
		t.Fatalf("%d calls after the destination said 410", calls)
	}
	r.reg = prometheus.NewRegistry()
	ok := &funcSink{answer: func([]*sharelog.Event) error { return nil }}
	_, stop2 := r.run(t, ok, Filter{}, Options{})
	defer stop2()
	waitFor(t, "redelivery after restart", func() bool { return len(ok.received()) == 30 })
}

func gauge(reg *prometheus.Registry, name string) float64 {
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return -1
}

// TestFilterSkipsAndCommits: events the filter does not select are never
// written, and are committed (a restart does not see them again).
func TestFilterSkipsAndCommits(t *testing.T) {
	r := newRig(t, 30, func(i int, ev *sharelog.Event) {
		if i%3 == 0 {
			ev.Action, ev.Result, ev.Reason = sharelog.LinkPasswordFailed, sharelog.Denied, "wrong_password"
		}
	})
	sink := &funcSink{answer: func([]*sharelog.Event) error { return nil }}
	_, stop := r.run(t, sink, Filter{Actions: []string{"link.password_failed"}}, Options{})
	waitFor(t, "10 events", func() bool { return len(sink.received()) == 10 })
	waitFor(t, "20 filtered", func() bool { return testutil.ToFloat64(findCounter(t, r.reg, "filtered")) == 20 })
	time.Sleep(400 * time.Millisecond) // a commit tick
	stop()
	r.reg = prometheus.NewRegistry()
	again := &funcSink{answer: func([]*sharelog.Event) error { return nil }}
	_, stop2 := r.run(t, again, Filter{}, Options{})
	defer stop2()
	time.Sleep(time.Second)
	if n := len(again.received()); n != 0 {
		t.Fatalf("%d events delivered again after a clean restart", n)
	}
}

// TestMemoryStaysBoundedWhileDown: with the destination failing, what is
// taken from Kafka stays bounded by the lanes and the fetch buffer.
func TestMemoryStaysBoundedWhileDown(t *testing.T) {
	r := newRig(t, 3000, nil)
	sink := &funcSink{answer: func([]*sharelog.Event) error { return sharelog.Retryable(errors.New("503"), 0) }}
	run, stop := r.run(t, sink, Filter{}, Options{BatchEvents: 10, Concurrency: 2})
	defer stop()
	time.Sleep(2 * time.Second)
	// fetch buffer (10) + per lane: one batch in delivery, a queue of 10,
	// one message in hand.
	if n, bound := run.inFlight(), 10+2*(10+10+1)+1; n > bound {
		t.Fatalf("%d messages in flight while the destination is down, bound %d", n, bound)
	}
}

func TestReplay(t *testing.T) {
	var events []*sharelog.Event
	for i := range 100 {
		events = append(events, &sharelog.Event{ID: fmt.Sprintf("e%03d", i), Link: &sharelog.Link{ID: "l"}})
	}
	first := true
	sink := &funcSink{answer: func(batch []*sharelog.Event) error {
		if first {
			first = false
			return sharelog.Retryable(errors.New("503"), 0)
		}
		for _, ev := range batch {
			if ev.ID == "e042" {
				return sharelog.Permanent(errors.New("HTTP 400"))
			}
		}
		return nil
	}}
	opts := Options{BatchEvents: 16, RetryInitial: time.Millisecond, RetryMax: 5 * time.Millisecond}
	opts.SetDefaults()
	var refused []string
	var progress []int64
	st, err := Replay(context.Background(), sink, opts, nil, func(fn func(*sharelog.Event) error) error {
		for _, ev := range events {
			if err := fn(ev); err != nil {
				return err
			}
		}
		return nil
	}, func(ev *sharelog.Event, reason error) {
		refused = append(refused, ev.ID+": "+reason.Error())
	}, func(s ReplayStats) { progress = append(progress, s.Accepted+s.Refused) })
	if err != nil {
		t.Fatal(err)
	}
	if st.Read != 100 || st.Accepted != 99 || st.Refused != 1 || len(refused) != 1 || !strings.HasPrefix(refused[0], "e042: permanent: HTTP 400") {
		t.Fatalf("%+v %v", st, refused)
	}
	got := sink.received()
	want := make([]string, 0, 99)
	for _, ev := range events {
		if ev.ID != "e042" {
			want = append(want, ev.ID)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("order: %v", got)
	}
	if len(progress) != 7 || progress[6] != 100 {
		t.Fatalf("progress %v", progress)
	}
	gone := &funcSink{answer: func([]*sharelog.Event) error { return &sharelog.DisabledError{Err: errors.New("410")} }}
	if _, err := Replay(context.Background(), gone, opts, nil, func(fn func(*sharelog.Event) error) error { return fn(events[0]) }, nil, nil); !errors.Is(err, errDisabled) {
		t.Fatalf("disabled destination: %v", err)
	}
}
