package webhook

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/internal/eventtest"
)

// FuzzStorable: for every event ingest accepts (see eventtest.Storable),
// the batch body, alone and after another event, is one JSON object
// {"events":[…]} that encoding/json reads with each event's id and
// workspace (id and name) as they were, and the receiver's Standard
// Webhooks library verifies the request signed over it.
func FuzzStorable(f *testing.F) {
	secret := newSecret(f)
	s := newSink(f, testConfig(f, "https://hooks.example.com/sharelog", secret), Deps{})
	wh := verifier(f, secret)
	other := testEvent(1, "lnk-other")
	eventtest.Storable(f, func(t *testing.T, ev *sharelog.Event) {
		for _, batch := range [][]*sharelog.Event{{ev}, {other, ev}} {
			body := s.batchBody(batch)
			var got struct {
				Events []struct {
					ID        string `json:"id"`
					Workspace struct {
						ID   string `json:"id"`
						Name string `json:"name"`
					} `json:"workspace"`
				} `json:"events"`
			}
			dec := json.NewDecoder(bytes.NewReader(body))
			if err := dec.Decode(&got); err != nil || dec.More() {
				t.Fatalf("body of %d events does not decode (%v, trailing data %v): %s", len(batch), err, dec.More(), body)
			}
			if len(got.Events) != len(batch) {
				t.Fatalf("%d events read back, %d sent: %s", len(got.Events), len(batch), body)
			}
			for i, want := range batch {
				g := got.Events[i]
				if g.ID != want.ID || g.Workspace.ID != want.Workspace.ID || g.Workspace.Name != want.Workspace.Name {
					t.Fatalf("event %d read back as id %q workspace %q/%q, want %q %q/%q", i, g.ID, g.Workspace.ID, g.Workspace.Name, want.ID, want.Workspace.ID, want.Workspace.Name)
				}
			}
			id, ts := BatchID(batch), time.Now().Unix()
			header := http.Header{}
			header.Set("webhook-id", id)
			header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
			header.Set("webhook-signature", s.sign(id, ts, body))
			if err := wh.Verify(body, header); err != nil {
				t.Fatalf("the receiver's library refuses the signed body: %v", err)
			}
		}
	})
}
