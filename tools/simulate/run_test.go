package simulate

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sharelog "github.com/sharelog/sharelog"
)

// countingServer accepts NDJSON batches and counts their valid events.
func countingServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		items, err := sharelog.ParseBatch(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for _, it := range items {
			if it.Err != nil {
				http.Error(w, it.Err.Error(), http.StatusBadRequest)
				return
			}
		}
		n.Add(int64(len(items)))
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestRunAchievesRate(t *testing.T) {
	srv, received := countingServer(t)
	s := &HTTPSender{URL: srv.URL + "/v1/events", Key: "k", Client: srv.Client()}
	const rate, dur = 4000, 750 * time.Millisecond
	st, err := Run(context.Background(), Config{Seed: 1, Workspaces: 5}, rate, dur, 50, 3, s, nil)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := int64(rate * dur.Seconds()) // 3000
	if st.Sent < want*7/10 || st.Sent > want {
		t.Errorf("sent %d events, want about %d", st.Sent, want)
	}
	if st.Failed != 0 {
		t.Errorf("%d failed", st.Failed)
	}
	if got := received.Load(); got != st.Sent {
		t.Errorf("server received %d events, Run counted %d", got, st.Sent)
	}
	if st.Elapsed <= 0 {
		t.Errorf("elapsed %v", st.Elapsed)
	}
}

// failingSender fails every other batch.
type failingSender struct {
	calls atomic.Int64
	ok    atomic.Int64
}

func (f *failingSender) Send(ctx context.Context, batch []*sharelog.Event) error {
	if f.calls.Add(1)%2 == 0 {
		return errors.New("broker unavailable")
	}
	f.ok.Add(int64(len(batch)))
	return nil
}

func TestRunCountsFailuresAndGoesOn(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))
	s := &failingSender{}
	st, err := Run(context.Background(), Config{Seed: 2, Workspaces: 2}, 2000, 300*time.Millisecond, 20, 2, s, logger)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if st.Failed == 0 || st.Sent == 0 {
		t.Fatalf("sent %d, failed %d; want both", st.Sent, st.Failed)
	}
	if st.Sent != s.ok.Load() {
		t.Errorf("Run counted %d sent, sender accepted %d", st.Sent, s.ok.Load())
	}
	if total := st.Sent + st.Failed; total < 400 || total > 600 {
		t.Errorf("%d events in all, want about 600", total)
	}
	mu.Lock()
	defer mu.Unlock()
	if !bytes.Contains(logs.Bytes(), []byte("broker unavailable")) {
		t.Errorf("send error not logged: %s", logs.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestRunUntilContextEnds(t *testing.T) {
	s := &failingSender{}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	st, err := Run(ctx, Config{Seed: 3, Workspaces: 1}, 1000, 0, 10, 1, s, nil)
	if err != nil {
		t.Fatalf("Run with duration 0 ended by its context: %v", err)
	}
	if st.Sent+st.Failed == 0 {
		t.Fatal("nothing sent")
	}
	// A context that ends before the duration is an error.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	if _, err := Run(ctx2, Config{Seed: 3, Workspaces: 1}, 1000, time.Hour, 10, 1, s, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run cut short: %v, want the context's error", err)
	}
}

func TestRunArguments(t *testing.T) {
	s := &failingSender{}
	for _, c := range []struct {
		rate int
		dur  time.Duration
		s    Sender
	}{{0, time.Second, s}, {-5, time.Second, s}, {10, -time.Second, s}, {10, time.Second, nil}} {
		if _, err := Run(context.Background(), Config{}, c.rate, c.dur, 10, 1, c.s, nil); err == nil {
			t.Errorf("Run(rate %d, duration %v, sender %v) accepted", c.rate, c.dur, c.s)
		}
	}
}

func TestShareOf(t *testing.T) {
	for _, c := range []struct{ total, workers int }{{20, 1}, {20, 3}, {20, 4}, {5, 8}, {7, 7}, {1, 2}} {
		sum, next := 0, 0
		for i := range c.workers {
			n, first := shareOf(c.total, c.workers, i)
			if n < 1 {
				t.Fatalf("shareOf(%d, %d, %d) = %d workspaces", c.total, c.workers, i, n)
			}
			if c.total >= c.workers && first != next {
				t.Fatalf("shareOf(%d, %d, %d) starts at %d, want %d", c.total, c.workers, i, first, next)
			}
			sum += n
			next = first + n
		}
		if want := max(c.total, c.workers); sum != want {
			t.Errorf("shareOf(%d, %d): %d workspaces in all, want %d", c.total, c.workers, sum, want)
		}
	}
}
