package webhook

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/sinks/sinktest"
)

// destination is a Standard Webhooks receiver for the shared suite: it
// verifies every request with the reference library (401 if it fails),
// fails transiently with 503 and "Retry-After: 0", and refuses a request
// holding a rejected event with 400.
type destination struct {
	sinktest.Recorder
	srv      *httptest.Server
	mode     Mode
	wh       *standardwebhooks.Webhook
	problems atomic.Int32
	problem  atomic.Value // string: the first
}

func newDestination(t *testing.T, mode Mode, secret string) *destination {
	d := &destination{mode: mode, wh: verifier(t, secret)}
	d.srv = httptest.NewServer(http.HandlerFunc(d.serve))
	t.Cleanup(func() {
		d.srv.Close()
		if n := d.problems.Load(); n > 0 {
			t.Errorf("the receiver found %d bad requests, the first: %v", n, d.problem.Load())
		}
	})
	return d
}

func (d *destination) bad(w http.ResponseWriter, why string) {
	if d.problems.Add(1) == 1 {
		d.problem.Store(why)
	}
	http.Error(w, why, http.StatusUnauthorized)
}

func (d *destination) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	if err := d.wh.Verify(body, r.Header); err != nil {
		d.bad(w, err.Error())
		return
	}
	var ids []string
	if d.mode == ModeBatch {
		var b struct{ Events []sharelog.Event }
		if err := json.Unmarshal(body, &b); err != nil || len(b.Events) == 0 {
			d.bad(w, "batch body is not {\"events\":[...]}")
			return
		}
		evs := make([]*sharelog.Event, len(b.Events))
		for i := range b.Events {
			evs[i] = &b.Events[i]
			ids = append(ids, b.Events[i].ID)
		}
		if r.Header.Get("Webhook-Id") != BatchID(evs) {
			d.bad(w, "webhook-id is not the batch id")
			return
		}
	} else {
		ev, err := sharelog.DecodeEnriched(body)
		if err != nil || ev.ID != r.Header.Get("Webhook-Id") {
			d.bad(w, "single body is not an event with the webhook-id")
			return
		}
		ids = []string{ev.ID}
	}
	fail, err := d.Begin(r.Context())
	if err != nil {
		return // the sink gave up (shutdown)
	}
	if fail {
		w.Header().Set("Retry-After", "0")
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	for _, id := range ids {
		if d.Rejected(id) {
			http.Error(w, `{"error":"event `+id+` refused"}`, http.StatusBadRequest)
			return
		}
	}
	d.Accept(ids...)
	w.WriteHeader(http.StatusNoContent)
}

func TestSuite(t *testing.T) {
	for _, mode := range []Mode{ModeSingle, ModeBatch} {
		t.Run(string(mode), func(t *testing.T) {
			sinktest.Run(t, sinktest.Harness{New: func(t *testing.T) (sharelog.Sink, sinktest.Destination) {
				sec := newSecret(t)
				d := newDestination(t, mode, sec)
				cfg := testConfig(t, d.srv.URL+"/hooks", sec, newSecret(t))
				cfg.Mode = mode
				s, err := New(cfg, Deps{})
				if err != nil {
					t.Fatal(err)
				}
				return s, d
			}})
		})
	}
}
