package sinktest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sharelog/sharelog"
)

// httpSink is the smallest honest sink: a JSON array per batch, POSTed; the
// answer is 200 with per-event statuses, 503 to retry, 400 to refuse the
// batch. It exists to test the suite and the engine under it.
type httpSink struct{ url string }

func (s httpSink) Write(ctx context.Context, batch []*sharelog.Event) error {
	var body bytes.Buffer
	body.WriteByte('[')
	for i, ev := range batch {
		if i > 0 {
			body.WriteByte(',')
		}
		body.Write(ev.AppendJSON(nil))
	}
	body.WriteByte(']')
	req, _ := http.NewRequestWithContext(ctx, "POST", s.url, &body)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return sharelog.Retryable(err, 0)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	switch {
	case resp.StatusCode == 200:
		return nil
	case resp.StatusCode == 400:
		return sharelog.Permanent(fmt.Errorf("HTTP 400"))
	default:
		return sharelog.Retryable(fmt.Errorf("HTTP %d", resp.StatusCode), 0)
	}
}

func (httpSink) Close() error { return nil }

type httpDest struct {
	Recorder
	srv *httptest.Server
}

func newHTTPDest(t *testing.T) *httpDest {
	d := &httpDest{}
	d.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fail, err := d.Begin(r.Context())
		if err != nil {
			return
		}
		if fail {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(503)
			return
		}
		var evs []struct{ ID string }
		if err := json.NewDecoder(r.Body).Decode(&evs); err != nil {
			t.Errorf("body: %v", err)
			w.WriteHeader(500)
			return
		}
		var ids []string
		for _, ev := range evs {
			if d.Rejected(ev.ID) {
				w.WriteHeader(400)
				return
			}
			ids = append(ids, ev.ID)
		}
		d.Accept(ids...)
	}))
	t.Cleanup(d.srv.Close)
	return d
}

func TestSuiteWithReferenceSink(t *testing.T) {
	Run(t, Harness{New: func(t *testing.T) (sharelog.Sink, Destination) {
		d := newHTTPDest(t)
		return httpSink{url: d.srv.URL}, d
	}})
}
