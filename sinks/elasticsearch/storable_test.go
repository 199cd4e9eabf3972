package elasticsearch

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/internal/eventtest"
)

// FuzzStorable: for every event ingest accepts (see eventtest.Storable),
// the _bulk body of modes index and data_stream, alone and after another
// event, is NDJSON of an action line and a document line per event, each
// one JSON object with no key twice: the action (index, or create) names
// an index and has the event id as _id; the ECS document has the event id
// as event.id, the workspace as organization.id and organization.name
// (absent when the workspace has no name), and the event's time as
// @timestamp.
func FuzzStorable(f *testing.F) {
	sinks := map[string]*Sink{
		"index":    newSink(f, Config{URL: "http://127.0.0.1:9200"}, Deps{}),
		"create":   newSink(f, Config{URL: "http://127.0.0.1:9200", Mode: ModeDataStream}, Deps{}),
		"template": newSink(f, Config{URL: "http://127.0.0.1:9200", Index: "sharelog-{dataset}-{yyyy.MM.dd}"}, Deps{}),
	}
	other := fixture()[0]
	eventtest.Storable(f, func(t *testing.T, ev *sharelog.Event) {
		for action, s := range sinks {
			if action == "template" {
				action = "index"
			}
			for _, batch := range [][]*sharelog.Event{{ev}, {other, ev}} {
				checkBulk(t, action, s.encode(batch), batch)
			}
		}
	})
}

// checkBulk reads body as Elasticsearch reads a _bulk request.
func checkBulk(t *testing.T, action string, body []byte, batch []*sharelog.Event) {
	t.Helper()
	if !bytes.HasSuffix(body, []byte("\n")) {
		t.Fatalf("the body does not end in a newline: %q", body)
	}
	lines := bytes.Split(body[:len(body)-1], []byte("\n"))
	if len(lines) != 2*len(batch) {
		t.Fatalf("%d lines for %d events:\n%s", len(lines), len(batch), body)
	}
	for i, want := range batch {
		meta, doc := lines[2*i], lines[2*i+1]
		for _, line := range [][]byte{meta, doc} {
			if err := checkJSON(line); err != nil {
				t.Fatalf("event %d: %v: %s", i, err, line)
			}
		}
		var m map[string]struct {
			Index string  `json:"_index"`
			ID    *string `json:"_id"`
		}
		if err := json.Unmarshal(meta, &m); err != nil || len(m) != 1 {
			t.Fatalf("event %d: action line %s: %v", i, meta, err)
		}
		a, ok := m[action]
		if !ok || a.Index == "" || a.ID == nil || *a.ID != want.ID {
			t.Fatalf("event %d: action line %s, want %s with _id %q", i, meta, action, want.ID)
		}
		var d struct {
			Timestamp string `json:"@timestamp"`
			Event     struct {
				ID string `json:"id"`
			} `json:"event"`
			Organization struct {
				ID   string  `json:"id"`
				Name *string `json:"name"`
			} `json:"organization"`
		}
		if err := json.Unmarshal(doc, &d); err != nil {
			t.Fatalf("event %d: document: %v: %s", i, err, doc)
		}
		if d.Event.ID != want.ID {
			t.Fatalf("event %d: event.id %q, want %q", i, d.Event.ID, want.ID)
		}
		if o := d.Organization; o.ID != want.Workspace.ID || (o.Name == nil) != (want.Workspace.Name == "") || o.Name != nil && *o.Name != want.Workspace.Name {
			t.Fatalf("event %d: organization %s, want workspace %+v", i, doc, want.Workspace)
		}
		if ts, err := time.Parse(time.RFC3339Nano, d.Timestamp); err != nil || !ts.Equal(want.Time) {
			t.Fatalf("event %d: @timestamp %q (%v), want %s", i, d.Timestamp, err, want.Time)
		}
	}
}
