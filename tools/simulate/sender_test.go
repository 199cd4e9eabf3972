package simulate

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sharelog "github.com/sharelog/sharelog"
)

// readBody returns the request body, gunzipped when it says gzip.
func readBody(t *testing.T, r *http.Request) []byte {
	t.Helper()
	var rd io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			t.Errorf("gzip body: %v", err)
			return nil
		}
		rd = zr
	}
	b, err := io.ReadAll(rd)
	if err != nil {
		t.Errorf("read body: %v", err)
	}
	return b
}

func TestHTTPSenderSends(t *testing.T) {
	for _, gz := range []bool{false, true} {
		name := "plain"
		if gz {
			name = "gzip"
		}
		t.Run(name, func(t *testing.T) {
			batch := NewGenerator(Config{Seed: 21}, nil).Batch(200)
			var (
				mu  sync.Mutex
				got []sharelog.Item
			)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch {
				case r.Method != http.MethodPost:
					t.Errorf("method %s, want POST", r.Method)
				case r.URL.Path != "/v1/events":
					t.Errorf("path %s", r.URL.Path)
				case r.Header.Get("Authorization") != "Bearer sk_test_123":
					t.Errorf("Authorization %q", r.Header.Get("Authorization"))
				case r.Header.Get("Content-Type") != "application/x-ndjson":
					t.Errorf("Content-Type %q", r.Header.Get("Content-Type"))
				case gz != (r.Header.Get("Content-Encoding") == "gzip"):
					t.Errorf("Content-Encoding %q with Gzip %v", r.Header.Get("Content-Encoding"), gz)
				}
				body := readBody(t, r)
				if n := bytes.Count(body, []byte("\n")); n != len(batch) {
					t.Errorf("%d lines for %d events", n, len(batch))
				}
				items, err := sharelog.ParseBatch(body)
				if err != nil {
					t.Errorf("ParseBatch: %v", err)
				}
				mu.Lock()
				got = items
				mu.Unlock()
				w.WriteHeader(http.StatusAccepted)
			}))
			defer srv.Close()

			s := &HTTPSender{URL: srv.URL + "/v1/events", Key: "sk_test_123", Client: srv.Client(), Gzip: gz}
			if err := s.Send(context.Background(), batch); err != nil {
				t.Fatalf("Send: %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(got) != len(batch) {
				t.Fatalf("server parsed %d events, sent %d", len(got), len(batch))
			}
			for i, it := range got {
				if it.Err != nil {
					t.Fatalf("event %d: %v", i, it.Err)
				}
				want, _ := batch[i].Encode()
				have, _ := it.Event.Encode()
				if !bytes.Equal(want, have) {
					t.Fatalf("event %d changed on the way:\n sent %s\n got  %s", i, want, have)
				}
			}
		})
	}
}

func TestHTTPSenderRetriesBackPressure(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "kafka is busy", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	s := &HTTPSender{URL: srv.URL + "/v1/events", Key: "k"}
	if err := s.Send(context.Background(), NewGenerator(Config{Seed: 1}, nil).Batch(10)); err != nil {
		t.Fatalf("Send after a 503: %v", err)
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("%d requests, want 2", n)
	}
}

func TestHTTPSenderGivesUpWhenContextEnds(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusTooManyRequests) // no Retry-After: back off
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 800*time.Millisecond)
	defer cancel()
	s := &HTTPSender{URL: srv.URL}
	err := s.Send(ctx, NewGenerator(Config{Seed: 1}, nil).Batch(1))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send under endless 429: %v, want the context's error", err)
	}
	if calls.Load() < 2 {
		t.Fatalf("%d requests; want retries before giving up", calls.Load())
	}
}

func TestHTTPSenderBadRequest(t *testing.T) {
	const body = `{"errors":[{"index":0,"line":1,"field":"client.ip","message":"\"x\" is not an IP address"}]}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, body)
	}))
	defer srv.Close()
	s := &HTTPSender{URL: srv.URL}
	err := s.Send(context.Background(), NewGenerator(Config{Seed: 1}, nil).Batch(3))
	if err == nil || !strings.Contains(err.Error(), body) {
		t.Fatalf("Send on 400: %v; want the response body in the error", err)
	}
	if !sharelog.IsPermanent(err) {
		t.Errorf("a 400 is not a permanent error: %v", err)
	}
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusBadRequest {
		t.Errorf("no *StatusError with 400 in %v", err)
	}
}

func TestHTTPSenderOtherStatus(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, "invalid ingest key", http.StatusUnauthorized)
	}))
	defer srv.Close()
	s := &HTTPSender{URL: srv.URL, Key: "wrong"}
	err := s.Send(context.Background(), NewGenerator(Config{Seed: 1}, nil).Batch(3))
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "invalid ingest key") {
		t.Fatalf("Send on 401: %v; want status and body", err)
	}
	if sharelog.IsPermanent(err) {
		t.Errorf("a 401 marked permanent: %v", err)
	}
	if calls.Load() != 1 {
		t.Errorf("%d requests; a 401 is not retried", calls.Load())
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 3, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"3", 3 * time.Second, true},
		{"0", 0, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{"Tue, 03 Nov 2026 12:00:05 GMT", 5 * time.Second, true},
		{"Tue, 03 Nov 2026 11:00:00 GMT", 0, true},
	} {
		got, ok := parseRetryAfter(c.in, now)
		if got != c.want || ok != c.ok {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}
