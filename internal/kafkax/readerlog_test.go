package kafkax

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// logRecord is what captureHandler keeps of a record.
type logRecord struct {
	time  time.Time
	level slog.Level
	msg   string // the record's message and its "msg" attribute
}

// captureHandler keeps every record, at every level.
type captureHandler struct {
	mu      sync.Mutex
	records []logRecord
}

func (h *captureHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *captureHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *captureHandler) WithGroup(string) slog.Handler            { return h }
func (h *captureHandler) Handle(_ context.Context, r slog.Record) error {
	text := r.Message
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "msg" || a.Key == "err" {
			text += ": " + a.Value.String()
		}
		return true
	})
	h.mu.Lock()
	h.records = append(h.records, logRecord{time: r.Time, level: r.Level, msg: text})
	h.mu.Unlock()
	return nil
}

func (h *captureHandler) all() []logRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]logRecord(nil), h.records...)
}

// first returns the first record at level or above whose text holds substr.
func (h *captureHandler) first(level slog.Level, substr string) (logRecord, bool) {
	for _, r := range h.all() {
		if r.level >= level && strings.Contains(r.msg, substr) {
			return r, true
		}
	}
	return logRecord{}, false
}

func TestReaderLogEscalatesOnlyPersistentErrors(t *testing.T) {
	h := &captureHandler{}
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	l := newReaderLog(slog.New(h), 30*time.Second, 20*time.Second, "group", "g", "topic", "t")
	l.now = func() time.Time { return now }
	at := func(d time.Duration, text string) {
		now = now.Add(d)
		l.Printf("%s", text)
	}
	warnings := func() (n int) {
		for _, r := range h.all() {
			if r.level >= slog.LevelWarn {
				n++
			}
		}
		return n
	}

	// Transient errors, each healed within the quiet gap: never WARN.
	for range 10 {
		at(25*time.Second, "the kafka reader got an unknown error: i/o timeout")
	}
	at(0, "[27] Rebalance In Progress")
	if n := warnings(); n != 0 {
		t.Fatalf("%d WARN records for errors 25 s apart: %v", n, h.all())
	}
	// Errors every second: DEBUG for 30 s, then one WARN per 30 s.
	for range 29 {
		at(time.Second, "error initializing the kafka reader: connection refused")
	}
	if n := warnings(); n != 0 {
		t.Fatalf("WARN after 29 s of errors: %v", h.all())
	}
	for range 61 {
		at(time.Second, "error initializing the kafka reader: connection refused")
	}
	if n := warnings(); n != 3 { // at 30 s, 60 s and 90 s
		t.Fatalf("%d WARN records over 90 s of errors, want 3", n)
	}
	r, _ := h.first(slog.LevelWarn, "")
	if !strings.Contains(r.msg, "connection refused") {
		t.Errorf("the WARN does not say the error: %q", r.msg)
	}
	// A quiet gap ends the episode: the next error is DEBUG again.
	at(21*time.Second, "the kafka reader got an unknown error: i/o timeout")
	if n := warnings(); n != 3 {
		t.Fatalf("an error after a quiet gap was logged at WARN")
	}
}

// slowFetches makes the broker take d before handling each fetch request,
// as a broker does that pauses (garbage collection, a slow disk, a loaded
// machine).
func slowFetches(e *Embedded, d time.Duration) {
	e.cluster.ControlKey(kmsg.Fetch.Int16(), func(kmsg.Request) (kmsg.Response, error, bool) {
		e.cluster.KeepControl()
		e.cluster.SleepControl(func() { time.Sleep(d) })
		return nil, nil, false // then handle it as usual
	})
}

// embeddedConn starts a broker of the test's own (these tests stop it) and
// a Conn to it with topic names of the test.
func embeddedConn(t *testing.T) (*Embedded, *Conn) {
	t.Helper()
	e, err := StartEmbedded(EmbeddedConfig{Addr: "127.0.0.1:0"}, t.TempDir(), 3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	cfg := Config{TopicPrefix: fmt.Sprintf("readerlog-%d", time.Now().UnixNano()), Partitions: 3}
	cfg.SetDefaults()
	conn, err := NewConn(cfg, []string{e.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	if err := conn.EnsureTopics(context.Background(), cfg.Topics().Raw); err != nil {
		t.Fatal(err)
	}
	return e, conn
}

// startReader runs a group reader of the Raw topic with Fetch (with the
// Conn's thresholds), logging to h, until the test ends.
func startReader(t *testing.T, conn *Conn, h *captureHandler) *kafka.Reader {
	t.Helper()
	logger := slog.New(h)
	topic := conn.Config().Topics().Raw
	r := conn.NewGroupReader(conn.Config().Group("readerlog"), topic, logger)
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan kafka.Message, 10)
	done := make(chan struct{})
	ep := episode{warnAfter: conn.readerWarnAfter, quiet: conn.readerQuiet}
	go func() { fetch(ctx, r, out, logger, nil, nil, ep); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		r.Close()
	})
	return r
}

// waitFetches waits until r has sent n fetch requests (at most 60 s).
func waitFetches(t *testing.T, r *kafka.Reader, n int64) {
	t.Helper()
	var fetches int64
	deadline := time.Now().Add(60 * time.Second)
	for fetches < n {
		if time.Now().After(deadline) {
			t.Fatalf("the reader sent %d fetches in 60 s, want %d", fetches, n)
		}
		time.Sleep(50 * time.Millisecond)
		fetches += r.Stats().Fetches
	}
}

// TestIdleReaderOnSlowBrokerIsQuiet reads an idle topic from a broker that
// takes 300 ms to handle each fetch — longer than the 250 ms the reader
// used to give a long poll's answer — for many long polls. The answers
// arrive, nothing times out, and nothing is logged at WARN.
func TestIdleReaderOnSlowBrokerIsQuiet(t *testing.T) {
	e, conn := embeddedConn(t)
	conn.readerWarnAfter = time.Second // a WARN, if any error recurred
	slowFetches(e, 300*time.Millisecond)
	h := &captureHandler{}
	r := startReader(t, conn, h)
	// 3 partitions: about 8 long polls each, over more than 3 s.
	waitFetches(t, r, 24)
	if rec, ok := h.first(slog.LevelWarn, ""); ok {
		t.Errorf("WARN on an idle topic: %s", rec.msg)
	}
	if rec, ok := h.first(slog.LevelDebug, "i/o timeout"); ok {
		t.Errorf("a long poll timed out: %s", rec.msg)
	}
}

// TestStoppedBrokerWarnsAfterThreshold stops the broker under a reader:
// its errors are DEBUG at first and WARN once they have gone on for
// readerWarnAfter.
func TestStoppedBrokerWarnsAfterThreshold(t *testing.T) {
	e, conn := embeddedConn(t)
	conn.readerWarnAfter = 2 * time.Second
	h := &captureHandler{}
	r := startReader(t, conn, h)
	waitFetches(t, r, 6) // partitions assigned, long polls going
	e.Close()

	deadline := time.Now().Add(60 * time.Second)
	var warn logRecord
	for {
		var ok bool
		if warn, ok = h.first(slog.LevelWarn, "kafka reader failing"); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no WARN 60 s after the broker stopped; records: %v", h.all())
		}
		time.Sleep(100 * time.Millisecond)
	}
	firstErr, ok := h.first(slog.LevelDebug, "kafka reader error; retrying")
	if !ok {
		t.Fatalf("the first errors were not logged at DEBUG: %v", h.all())
	}
	for _, r := range h.all() {
		if got := r.time.Sub(firstErr.time); r.level >= slog.LevelWarn && got < conn.readerWarnAfter {
			t.Errorf("WARN %s after the first error, before the threshold %s: %s", got, conn.readerWarnAfter, r.msg)
		}
	}
	if !strings.Contains(warn.msg, "connection refused") {
		t.Errorf("the WARN does not say what fails: %s", warn.msg)
	}
}
