package simulate

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	sharelog "github.com/sharelog/sharelog"
)

// Sender sends a batch of events to the pipeline. Send returns nil once the
// pipeline has accepted every event of the batch. Run calls Send from
// several goroutines at once, so a Sender used with Run must be safe for
// concurrent use. Implementations: HTTPSender here, and the Go client
// adapter elsewhere.
type Sender interface {
	Send(ctx context.Context, batch []*sharelog.Event) error
}

// HTTPSender POSTs batches as NDJSON to the ingest endpoint. It is safe for
// concurrent use.
type HTTPSender struct {
	// URL is the events endpoint, e.g. http://127.0.0.1:8080/v1/events.
	URL string
	// Key is the ingest key, sent as "Authorization: Bearer Key"; empty
	// sends no Authorization header.
	Key string
	// Client makes the requests; nil means http.DefaultClient.
	Client *http.Client
	// Gzip compresses the body (Content-Encoding: gzip).
	Gzip bool
}

// Bounds of the wait before a retry under back-pressure.
const (
	minRetryWait = 50 * time.Millisecond
	maxRetryWait = 30 * time.Second
	// maxErrorBody is how much of an error response's body is kept.
	maxErrorBody = 64 << 10
)

// StatusError is a response other than 202 Accepted (and other than 429 or
// 503, which Send retries). Body is the start of the response body.
type StatusError struct {
	StatusCode int
	Status     string
	Body       string
}

func (e *StatusError) Error() string {
	if e.Body == "" {
		return "ingest answered " + e.Status
	}
	return "ingest answered " + e.Status + ": " + e.Body
}

// Send POSTs the batch, one JSON event a line, and returns nil on 202
// Accepted. On 429 Too Many Requests and 503 Service Unavailable it waits as
// long as Retry-After says (seconds or an HTTP date; bounded to 30 s, and
// backing off from 250 ms when absent) and tries again, until ctx ends; it
// then returns an error wrapping ctx.Err(). On 400 Bad Request it returns a
// *sharelog.PermanentError wrapping a *StatusError that includes the
// response body, which names each invalid event. Any other status is a
// *StatusError with status and body; a transport error is returned as it is.
// Neither is retried.
func (s *HTTPSender) Send(ctx context.Context, batch []*sharelog.Event) error {
	body, err := encodeNDJSON(batch, s.Gzip)
	if err != nil {
		return err
	}
	client := s.Client
	if client == nil {
		client = http.DefaultClient
	}
	backoff := 250 * time.Millisecond
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/x-ndjson")
		req.Header.Set("User-Agent", "sharelog-simulate/1")
		if s.Gzip {
			req.Header.Set("Content-Encoding", "gzip")
		}
		if s.Key != "" {
			req.Header.Set("Authorization", "Bearer "+s.Key)
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		status, retryAfter := resp.StatusCode, resp.Header.Get("Retry-After")
		var msg []byte
		if status != http.StatusAccepted {
			msg, _ = io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		}
		// Drain a little so the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()

		switch status {
		case http.StatusAccepted:
			return nil
		case http.StatusTooManyRequests, http.StatusServiceUnavailable:
			wait, ok := parseRetryAfter(retryAfter, time.Now())
			if !ok {
				// No advice: back off exponentially, with jitter.
				wait = backoff/2 + time.Duration(rand.Int64N(int64(backoff)))
				backoff = min(2*backoff, 5*time.Second)
			}
			wait = min(max(wait, minRetryWait), maxRetryWait)
			timer := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				timer.Stop()
				return fmt.Errorf("ingest answered %d and the context ended before a retry succeeded: %w", status, ctx.Err())
			case <-timer.C:
			}
			continue
		}
		se := &StatusError{StatusCode: status, Status: resp.Status, Body: string(bytes.TrimSpace(msg))}
		if status == http.StatusBadRequest {
			return sharelog.Permanent(se)
		}
		return se
	}
}

// parseRetryAfter reads a Retry-After value: delay seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// encodeNDJSON encodes the batch one JSON object a line, gzipped when asked.
func encodeNDJSON(batch []*sharelog.Event, gz bool) ([]byte, error) {
	line := make([]byte, 0, 1024)
	var buf bytes.Buffer
	buf.Grow(len(batch) * 700)
	var w io.Writer = &buf
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(&buf)
		w = zw
	}
	for _, ev := range batch {
		line = append(ev.AppendJSON(line[:0]), '\n')
		if _, err := w.Write(line); err != nil {
			return nil, fmt.Errorf("encode event %s: %w", ev.ID, err)
		}
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}
