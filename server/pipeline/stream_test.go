package pipeline

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/server/api"
)

// TestPostedEventsAppearOnTheLiveStream: with ingest, enrich and the API in
// one process (as sharelog run), a WebSocket client of GET /v1/stream
// receives the events posted after it connected, enriched, filtered to its
// link.
func TestPostedEventsAppearOnTheLiveStream(t *testing.T) {
	cfg := testConfig(t)
	tok, sum := api.NewToken()
	cfg.API.Tokens = []api.Token{{Name: "acme", Workspaces: []string{"ws-acme"}, SHA256: sum}}
	p := start(t, cfg, Ingest|Enrich|API)

	c, resp, err := websocket.DefaultDialer.Dial("ws://"+p.Addr()+"/v1/stream?link=link-live", http.Header{"Authorization": {"Bearer " + tok}})
	if err != nil {
		t.Fatalf("dial: %v %v", err, resp)
	}
	defer c.Close()
	time.Sleep(200 * time.Millisecond) // the hub registers the client after the upgrade

	want := map[string]bool{}
	var evs []*sharelog.Event
	for i := range 6 {
		link := []string{"link-live", "link-other"}[i%2]
		ev := event(link, "81.2.69.160", chromeWin)
		evs = append(evs, ev)
		if link == "link-live" {
			want[ev.ID] = true
		}
	}
	if code, _, r := post(t, p.Addr(), testKey, ndjson(t, evs...), nil); code != 202 {
		t.Fatalf("POST: %d %+v", code, r)
	}
	got := map[string]bool{}
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	for len(got) < len(want) {
		_, data, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("after %d of %d events: %v", len(got), len(want), err)
		}
		var m struct {
			Type   string            `json:"type"`
			Events []*sharelog.Event `json:"events"`
		}
		if err := json.Unmarshal(data, &m); err != nil || m.Type != "events" {
			t.Fatalf("message %s", data)
		}
		for _, ev := range m.Events {
			if !want[ev.ID] || ev.Link.ID != "link-live" || ev.Geo == nil || ev.Platform == nil || ev.Pipeline == nil {
				t.Fatalf("unexpected event on the stream: %+v", ev)
			}
			got[ev.ID] = true
		}
	}
}
