package kafkax

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestFetchLogEscalatesOnlyPersistentErrors: failed fetches are DEBUG (at
// most one per 10 s) until they have gone on for 30 s, then one WARN per
// 30 s; a fetched message or a quiet gap of more than 20 s starts over.
func TestFetchLogEscalatesOnlyPersistentErrors(t *testing.T) {
	h := &captureHandler{}
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	l := NewFetchLog(slog.New(h), "topic", "t", "partition", 2)
	l.now = func() time.Time { return now }
	fail := func(d time.Duration) {
		now = now.Add(d)
		l.Failed(errors.New("connection refused"), "backoff", time.Second)
	}
	count := func() (debug, warn int) {
		for _, r := range h.all() {
			if r.level >= slog.LevelWarn {
				warn++
			} else {
				debug++
			}
		}
		return debug, warn
	}

	// An error a second for 29 s: DEBUG, one per 10 s at most.
	fail(0)
	for range 29 {
		fail(time.Second)
	}
	if debug, warn := count(); warn != 0 || debug != 3 {
		t.Fatalf("29 s of errors: %d DEBUG, %d WARN; want 3 DEBUG, no WARN: %v", debug, warn, h.all())
	}
	// A message fetched ends the episode: 29 s more stay DEBUG.
	l.Fetched()
	for range 30 {
		fail(time.Second)
	}
	if _, warn := count(); warn != 0 {
		t.Fatalf("WARN after a message was fetched: %v", h.all())
	}
	// On to 90 s without a message: WARN at 30, 60 and 90 s.
	for range 61 {
		fail(time.Second)
	}
	if _, warn := count(); warn != 3 {
		t.Fatalf("%d WARN records over 90 s of errors, want 3: %v", warn, h.all())
	}
	if r, _ := h.first(slog.LevelWarn, ""); !strings.Contains(r.msg, "connection refused") {
		t.Errorf("the WARN does not say the error: %q", r.msg)
	}
	// A quiet gap ends the episode too.
	fail(21 * time.Second)
	if _, warn := count(); warn != 3 {
		t.Error("an error after a quiet gap was logged at WARN")
	}
	// No logger: nothing to write to, no panic.
	NewFetchLog(nil).Failed(errors.New("x"))
}
