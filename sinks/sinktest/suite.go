package sinktest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/internal/kafkatest"
	"github.com/sharelog/sharelog/internal/kafkax"
	"github.com/sharelog/sharelog/sinks/delivery"
)

// Run runs the suite: each case makes a sink with h.New, runs it under the
// delivery engine against a Kafka-protocol broker on loopback (the embedded
// one, or the brokers of SHARELOG_TEST_KAFKA_BROKERS), produces enriched
// events and checks what the destination received.
func Run(t *testing.T, h Harness) {
	t.Run("delivers every event", func(t *testing.T) {
		e := newEnv(t, h)
		ids := e.produce(t, 240, 12)
		e.start(t, e.sink)
		e.waitReceived(t, ids)
	})
	t.Run("keeps the order of each link", func(t *testing.T) {
		e := newEnv(t, h)
		ids := e.produce(t, 300, 6)
		e.start(t, e.sink)
		got := e.waitReceived(t, ids)
		// The first arrival of each event, per link, is in the order the
		// link's events were produced.
		first := firstArrivals(got)
		for link, want := range e.byLink {
			var order []string
			for _, id := range first {
				if e.linkOf[id] == link {
					order = append(order, id)
				}
			}
			if !slices.Equal(order, want) {
				t.Fatalf("link %s: received in order\n%v\nproduced in order\n%v", link, order, want)
			}
		}
	})
	t.Run("retries a failing destination until it accepts", func(t *testing.T) {
		e := newEnv(t, h)
		e.dest.FailNext(3)
		ids := e.produce(t, 50, 5)
		e.start(t, e.sink)
		e.waitReceived(t, ids)
	})
	t.Run("sends a refused event to the DLQ without holding back the others", func(t *testing.T) {
		e := newEnv(t, h)
		ids := e.produce(t, 60, 3)
		refused := []string{ids[7], ids[31]}
		for _, id := range refused {
			if !e.dest.Reject(id) {
				t.Skip("the destination's protocol cannot refuse one event")
			}
		}
		e.start(t, e.sink)
		var rest []string
		for _, id := range ids {
			if !slices.Contains(refused, id) {
				rest = append(rest, id)
			}
		}
		got := e.waitReceived(t, rest)
		for _, id := range refused {
			if slices.Contains(got, id) {
				t.Errorf("refused event %s was reported as accepted", id)
			}
		}
		dead := e.readDLQ(t, len(refused))
		for _, id := range refused {
			stage, reason := dead[id][0], dead[id][1]
			if stage != "sink:"+e.name || reason == "" {
				t.Errorf("DLQ entry of %s: stage %q, reason %q; want stage sink:%s and a reason", id, stage, reason, e.name)
			}
		}
	})
	t.Run("loses nothing when shut down in the middle of a batch", func(t *testing.T) {
		e := newEnv(t, h)
		release := e.dest.Stall()
		ids := e.produce(t, 120, 4)
		// The first runner's sink must outlive it: the second runner uses
		// it again, as a restarted process would use a new one.
		stop := e.start(t, keepOpen{e.sink})
		time.Sleep(1500 * time.Millisecond) // a batch is now waiting on the stalled destination
		stop()
		release()
		e.start(t, e.sink)
		e.waitReceived(t, ids)
	})
}

// keepOpen hides Close, so that a sink survives its first runner.
type keepOpen struct{ sharelog.Sink }

func (keepOpen) Close() error { return nil }

// env is one case's broker, topics, sink and destination.
type env struct {
	name    string
	brokers []string
	conn    *kafkax.Conn
	sink    sharelog.Sink
	dest    Destination
	byLink  map[string][]string
	linkOf  map[string]string
	alerts  bool
}

func newEnv(t *testing.T, h Harness) *env {
	t.Helper()
	cfg := kafkax.Config{TopicPrefix: kafkatest.Prefix(t), Partitions: 4}
	cfg.SetDefaults()
	brokers := kafkatest.Brokers(t, cfg.Partitions)
	conn, err := kafkax.NewConn(cfg, brokers)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	topics := cfg.Topics()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := conn.EnsureTopics(ctx, topics.Raw, topics.Enriched, topics.DLQ); err != nil {
		t.Fatal(err)
	}
	sink, dest := h.New(t)
	e := &env{name: "suite", brokers: brokers, conn: conn, sink: sink, dest: dest, byLink: map[string][]string{}, linkOf: map[string]string{}, alerts: h.Alerts}
	return e
}

// produce writes n enriched events over links links to the enriched topic
// and returns their ids in production order.
func (e *env) produce(t *testing.T, n, links int) []string {
	t.Helper()
	w := e.conn.NewWriter()
	defer w.Close()
	base := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	ids := make([]string, n)
	msgs := make([]kafka.Message, n)
	for i := range n {
		link := fmt.Sprintf("lnk-suite-%d", i%links)
		ev := &sharelog.Event{
			ID:        fmt.Sprintf("0193a1b2-c3d4-7e5f-8a9b-%012d", i),
			Time:      base.Add(time.Duration(i) * time.Second),
			Workspace: sharelog.Workspace{ID: "ws-suite", Name: "Suite"},
			Actor:     sharelog.Actor{Type: sharelog.ActorAnonymous, VisitorEmail: fmt.Sprintf("v%d@example.com", i%7)},
			Action:    []sharelog.Action{sharelog.LinkOpened, sharelog.LinkViewed, sharelog.LinkDownloaded}[i%3],
			Result:    sharelog.Success,
			File:      &sharelog.File{ID: fmt.Sprintf("f-%d", i%links), Name: "Q4 report, \"final\".pdf", Size: int64(1000 + i), Path: "/Finance/Q4.pdf"},
			Link:      &sharelog.Link{ID: link},
			Client:    sharelog.Client{IP: fmt.Sprintf("203.0.113.%d", 1+i%200), UserAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64)", Kind: sharelog.ClientBrowser},
			Server:    &sharelog.Server{Region: "eu-central-2", Node: "node-1"},
			Geo:       &sharelog.Geo{CountryCode: "CH", CountryName: "Switzerland", City: "Zürich"},
			Platform:  &sharelog.Platform{OSName: "Windows", OSVersion: "10", ClientName: "Chrome", ClientVersion: "131", DeviceType: sharelog.DeviceDesktop},
			Session:   &sharelog.Session{LinkSessionID: fmt.Sprintf("ls-%d", i%links), Seq: 1 + i/links, Started: i < links},
			Pipeline:  &sharelog.Pipeline{EnrichedAt: time.Now().UTC(), SchemaVersion: sharelog.SchemaVersion, Topic: "raw", Partition: 0, Offset: int64(i)},
		}
		raw := *ev
		raw.Geo, raw.Platform, raw.Session, raw.Pipeline = nil, nil, nil, nil
		if err := raw.Validate(); err != nil {
			t.Fatalf("suite event: %v", err)
		}
		if e.alerts {
			ev.Alert = &sharelog.Alert{Rule: "suite", Type: "password_brute_force", Severity: sharelog.SeverityHigh, Action: ev.Action,
				Subject: "link:" + link, Count: 1 + i/links, WindowSeconds: 300, Since: base, Evidence: []string{ev.ID},
				Summary: "suite alert on " + link}
			ev.Action = sharelog.AlertRaised
		}
		value, err := ev.Encode()
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = ev.ID
		msgs[i] = kafka.Message{Topic: e.conn.Config().Topics().Enriched, Key: []byte(ev.Key()), Value: value}
		e.byLink[link] = append(e.byLink[link], ev.ID)
		e.linkOf[ev.ID] = link
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// One message at a time per key keeps the production order of each
	// link; the writer batches them.
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	return ids
}

// start runs a delivery runner for sink and returns a function that stops
// it and waits for it; the test's clean-up stops it too.
func (e *env) start(t *testing.T, sink sharelog.Sink) (stop func()) {
	t.Helper()
	opts := delivery.Options{BatchEvents: 16, BatchWait: 50 * time.Millisecond, Concurrency: 3, RetryInitial: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond, Timeout: 5 * time.Second}
	opts.SetDefaults()
	r, err := delivery.New(e.name, sink, delivery.Filter{}, opts, delivery.Deps{Conn: e.conn})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("runner: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("the runner did not stop within 30 s of its context ending")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// waitReceived waits until the destination has accepted every id of want and
// returns everything it received.
func (e *env) waitReceived(t *testing.T, want []string) []string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := e.dest.Received()
		missing := 0
		seen := map[string]bool{}
		for _, id := range got {
			seen[id] = true
		}
		for _, id := range want {
			if !seen[id] {
				missing++
			}
		}
		if missing == 0 {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60 s the destination is missing %d of %d events (received %d)", missing, len(want), len(got))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// readDLQ reads n messages of the DLQ: per event id, the stage and error
// headers.
func (e *env) readDLQ(t *testing.T, n int) map[string][2]string {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: e.brokers, Topic: e.conn.Config().Topics().DLQ, GroupID: e.conn.Config().TopicPrefix + "-dlq-check",
		StartOffset: kafka.FirstOffset, MaxWait: 200 * time.Millisecond,
	})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := map[string][2]string{}
	for len(out) < n {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatalf("DLQ: %d of %d messages read: %v", len(out), n, err)
		}
		ev, err := sharelog.DecodeEnriched(m.Value)
		if err != nil {
			t.Fatalf("DLQ message: %v", err)
		}
		var stage, reason string
		for _, h := range m.Headers {
			switch h.Key {
			case kafkax.HeaderStage:
				stage = string(h.Value)
			case kafkax.HeaderError:
				reason = string(h.Value)
			}
		}
		out[ev.ID] = [2]string{stage, reason}
	}
	return out
}

func firstArrivals(ids []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// Recorder is a ready-made part of a Destination: the ids accepted, in
// order, and the failures the suite asked for. Test servers embed it.
type Recorder struct {
	mu       sync.Mutex
	received []string
	failNext int
	rejected map[string]bool
	stall    chan struct{}
}

// Received implements Destination.
func (r *Recorder) Received() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.received)
}

// FailNext implements Destination.
func (r *Recorder) FailNext(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failNext += n
}

// Reject implements Destination for protocols that can refuse one event.
func (r *Recorder) Reject(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rejected == nil {
		r.rejected = map[string]bool{}
	}
	r.rejected[id] = true
	return true
}

// Stall implements Destination.
func (r *Recorder) Stall() (release func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ch := make(chan struct{})
	r.stall = ch
	var once sync.Once
	return func() {
		once.Do(func() {
			r.mu.Lock()
			r.stall = nil
			r.mu.Unlock()
			close(ch)
		})
	}
}

// Begin is called by the test server at the start of each delivery
// (request or connection). It waits while the destination is stalled (or
// until ctx ends, returning its error), then reports whether this delivery
// must fail.
func (r *Recorder) Begin(ctx context.Context) (fail bool, err error) {
	r.mu.Lock()
	stall := r.stall
	r.mu.Unlock()
	if stall != nil {
		select {
		case <-stall:
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failNext > 0 {
		r.failNext--
		return true, nil
	}
	return false, nil
}

// Rejected reports whether the suite asked to refuse the event with this id.
func (r *Recorder) Rejected(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rejected[id]
}

// Accept records ids as accepted, in order.
func (r *Recorder) Accept(ids ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.received = append(r.received, ids...)
}
