package webhook

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sharelog/sharelog"
)

// kind names the error kind the delivery engine sees.
func kind(err error) string {
	var (
		de *sharelog.DisabledError
		be *sharelog.BatchError
		re *sharelog.RetryableError
	)
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &de):
		return "disabled"
	case errors.As(err, &be):
		return "batch"
	case sharelog.IsPermanent(err):
		return "permanent"
	case errors.As(err, &re):
		return "retryable"
	}
	return "other"
}

func TestStatusClassification(t *testing.T) {
	date := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	cases := []struct {
		code       int
		retryAfter string
		want       string
		after      time.Duration // of a retryable answer
	}{
		{200, "", "ok", 0},
		{201, "", "ok", 0},
		{202, "", "ok", 0},
		{204, "", "ok", 0},
		{299, "", "ok", 0},
		{301, "", "permanent", 0},
		{302, "", "permanent", 0},
		{307, "", "permanent", 0},
		{400, "", "permanent", 0},
		{401, "", "permanent", 0},
		{403, "", "permanent", 0},
		{404, "", "permanent", 0},
		{405, "", "permanent", 0},
		{409, "", "permanent", 0},
		{413, "", "permanent", 0},
		{422, "", "permanent", 0},
		{408, "", "retryable", 0},
		{429, "7", "retryable", 7 * time.Second},
		{429, date, "retryable", 90 * time.Second},
		{429, "soon", "retryable", 0},
		{500, "", "retryable", 0},
		{502, "", "retryable", 0},
		{503, "120", "retryable", 2 * time.Minute},
		{504, "", "retryable", 0},
		{599, "", "retryable", 0},
		{410, "", "disabled", 0},
	}
	for _, c := range cases {
		t.Run(http.StatusText(c.code)+c.retryAfter, func(t *testing.T) {
			rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
				if c.retryAfter != "" {
					w.Header().Set("Retry-After", c.retryAfter)
				}
				if c.code >= 300 && c.code < 400 {
					w.Header().Set("Location", "/elsewhere")
				}
				w.WriteHeader(c.code)
				w.Write([]byte("answer\x00 from\nthe receiver"))
			})
			s := newSink(t, testConfig(t, rc.URL+"/in?token=s3cr3t"), Deps{})
			err := s.Write(context.Background(), testBatch(1))
			if got := kind(err); got != c.want {
				t.Fatalf("%d: %s (%v), want %s", c.code, got, err, c.want)
			}
			if len(rc.requests()) != 1 {
				t.Errorf("%d requests; redirects must not be followed", len(rc.requests()))
			}
			if err == nil {
				return
			}
			if after, _ := sharelog.RetryAfter(err); after < c.after-2*time.Second || after > c.after {
				t.Errorf("Retry-After %q: wait %s, want %s", c.retryAfter, after, c.after)
			}
			msg := err.Error()
			if !strings.Contains(msg, rc.URL) || !strings.Contains(msg, "answer� from the receiver") {
				t.Errorf("error %q should name the endpoint and quote the answer, printable", msg)
			}
			if strings.Contains(msg, "s3cr3t") || strings.Contains(msg, "/in") {
				t.Errorf("error %q shows the URL's path or query", msg)
			}
		})
	}
}

func TestGoneDisablesTheSink(t *testing.T) {
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, body []byte) { w.WriteHeader(http.StatusGone) })
	var logs strings.Builder
	cfg := testConfig(t, rc.URL)
	cfg.Mode = ModeSingle
	s := newSink(t, cfg, Deps{Logger: slogTo(&logs)})
	err := s.Write(context.Background(), testBatch(3))
	if kind(err) != "disabled" {
		t.Fatalf("410 in the middle of a batch: %v, want a DisabledError for the whole", err)
	}
	err2 := s.Write(context.Background(), testBatch(2))
	if kind(err2) != "disabled" || err2 != err {
		t.Errorf("after 410: %v, want the same DisabledError", err2)
	}
	if n := len(rc.requests()); n != 1 {
		t.Errorf("%d requests: after 410 nothing more may be sent", n)
	}
	if !strings.Contains(logs.String(), "410 Gone") || strings.Count(logs.String(), "\n") != 1 {
		t.Errorf("log: %q, want one line saying 410 Gone", logs.String())
	}
}

func TestSingleModePartialFailures(t *testing.T) {
	batch := testBatch(4)
	refuse := map[string]int{}
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		if code, ok := refuse[r.Header.Get("Webhook-Id")]; ok {
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(code)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	s := newSink(t, testConfig(t, rc.URL), Deps{})

	// A refused event does not stop the ones after it.
	refuse[batch[1].ID] = http.StatusUnprocessableEntity
	err := s.Write(context.Background(), batch)
	var be *sharelog.BatchError
	if !errors.As(err, &be) || len(be.Errs) != 4 {
		t.Fatalf("%v, want a BatchError of 4", err)
	}
	for i, want := range []string{"ok", "permanent", "ok", "ok"} {
		if got := kind(be.Errs[i]); got != want {
			t.Errorf("event %d: %s, want %s", i, got, want)
		}
	}
	if n := len(rc.requests()); n != 4 {
		t.Errorf("%d requests, want 4", n)
	}

	// A retryable failure stops the batch there, to keep the order.
	rc.mu.Lock()
	rc.reqs = nil
	rc.mu.Unlock()
	refuse = map[string]int{batch[2].ID: http.StatusServiceUnavailable}
	err = s.Write(context.Background(), batch)
	if !errors.As(err, &be) {
		t.Fatalf("%v, want a BatchError", err)
	}
	for i, want := range []string{"ok", "ok", "retryable", "retryable"} {
		if got := kind(be.Errs[i]); got != want {
			t.Errorf("event %d: %s, want %s", i, got, want)
		}
		if after, _ := sharelog.RetryAfter(be.Errs[i]); want == "retryable" && after != 3*time.Second {
			t.Errorf("event %d: Retry-After %s, want the answer's 3s", i, after)
		}
	}
	if n := len(rc.requests()); n != 3 {
		t.Errorf("%d requests: the event after a retryable failure must not be sent", n)
	}

	// One event: its error, not a BatchError.
	refuse = map[string]int{batch[0].ID: http.StatusBadRequest}
	if err := s.Write(context.Background(), batch[:1]); kind(err) != "permanent" {
		t.Errorf("one refused event: %v, want a PermanentError", err)
	}
}

func TestBatchModeFailsWhole(t *testing.T) {
	code := http.StatusBadRequest
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, body []byte) { w.WriteHeader(code) })
	cfg := testConfig(t, rc.URL)
	cfg.Mode = ModeBatch
	s := newSink(t, cfg, Deps{})
	if err := s.Write(context.Background(), testBatch(10)); kind(err) != "permanent" {
		t.Errorf("400 to a batch: %v, want a PermanentError (the engine splits the batch)", err)
	}
	code = http.StatusTooManyRequests
	if err := s.Write(context.Background(), testBatch(10)); kind(err) != "retryable" {
		t.Errorf("429 to a batch: %v, want a RetryableError", err)
	}
}

func TestNetworkErrorsAreRetryable(t *testing.T) {
	t.Run("connection refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		s := newSink(t, testConfig(t, "http://"+addr+"/?token=s3cr3t"), Deps{})
		err = s.Write(context.Background(), testBatch(1))
		if kind(err) != "retryable" || strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("%v, want a RetryableError without the query", err)
		}
	})
	t.Run("connection closed without an answer", func(t *testing.T) {
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
			c, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				c.Close()
			}
		})
		s := newSink(t, testConfig(t, rc.URL), Deps{})
		if err := s.Write(context.Background(), testBatch(1)); kind(err) != "retryable" {
			t.Errorf("%v, want a RetryableError", err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		release := make(chan struct{})
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		})
		defer close(release)
		cfg := testConfig(t, rc.URL)
		cfg.Timeout = 200 * time.Millisecond
		s := newSink(t, cfg, Deps{})
		start := time.Now()
		err := s.Write(context.Background(), testBatch(1))
		if kind(err) != "retryable" {
			t.Errorf("%v, want a RetryableError", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("the 200ms timeout took %s", d)
		}
	})
	t.Run("context ends", func(t *testing.T) {
		var n atomic.Int32
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
			n.Add(1)
			<-r.Context().Done()
		})
		s := newSink(t, testConfig(t, rc.URL), Deps{})
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		err := s.Write(ctx, testBatch(3))
		var be *sharelog.BatchError
		if !errors.As(err, &be) || kind(be.Errs[0]) != "retryable" || kind(be.Errs[2]) != "retryable" {
			t.Errorf("%v, want a BatchError of retryable errors", err)
		}
		if n.Load() != 1 {
			t.Errorf("%d requests after the context ended, want 1", n.Load())
		}
	})
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":                               0,
		"0":                              0,
		"5":                              5 * time.Second,
		" 30 ":                           30 * time.Second,
		"-1":                             0,
		"1.5":                            0,
		"99999999999999999999":           0,
		"999999999999":                   365 * 24 * time.Hour,
		"Sun, 22 Nov 2026 10:01:00 GMT":  time.Minute,
		"Sunday, 22-Nov-26 10:00:30 GMT": 30 * time.Second,
		"Sun, 22 Nov 2026 09:00:00 GMT":  0,
		"tomorrow":                       0,
	} {
		if got := retryAfter(v, now); got != want {
			t.Errorf("Retry-After %q: %s, want %s", v, got, want)
		}
	}
}

func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"", "0", "120", "Sun, 22 Nov 2026 10:01:00 GMT", "-5", "1e9"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		if d := retryAfter(v, now); d < 0 || d > 365*24*time.Hour {
			t.Errorf("Retry-After %q: %s", v, d)
		}
	})
}

func TestQuoteSnippet(t *testing.T) {
	for in, want := range map[string]string{
		"":                       "",
		"  \n ":                  "",
		`{"error":"bad"}`:        `: {"error":"bad"}`,
		"a\r\nb\tc":              ": a  b c",
		"\x1b[31mred\xff":        ": �[31mred�",
		strings.Repeat("x", 300): ": " + strings.Repeat("x", 198) + "…",
	} {
		if got := quoteSnippet([]byte(in)); got != want {
			t.Errorf("quoteSnippet(%q) = %q, want %q", in, got, want)
		}
	}
}

// slogTo logs text lines to w.
func slogTo(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, nil))
}
