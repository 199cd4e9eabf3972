package ingest

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestHandlerRefusesHostileEvents: each event that a later stage could read
// differently or not store is refused with a 400 naming its field, and the
// valid event of the same batch is still accepted.
func TestHandlerRefusesHostileEvents(t *testing.T) {
	h := newHandler(t, func(c *Config) { c.MaxPast, c.MaxFuture = 120*24*time.Hour, 5*time.Minute })
	srv := newServer(t, h)
	defer srv.Close()
	now := time.Now().UTC()
	event := func(n int, workspace, tm, extra string) string {
		return `{"id":"0193a1b2-c3d4-7e5f-8a9b-0000000000` + string(rune('a'+n/16)) + string("0123456789abcdef"[n%16]) + `","time":"` + tm +
			`","workspace":{"id":"` + workspace + `"},"actor":{"type":"anonymous"},"action":"link.opened","result":"success","link":{"id":"lnk-1"},` +
			`"client":{"ip":"192.0.2.1","user_agent":"curl/8.5.0","kind":"cli"}` + extra + `}`
	}
	fresh := now.Add(-time.Hour).Format(time.RFC3339)
	bad := []struct{ line, field, msg string }{
		{event(1, "..", fresh, ""), "workspace.id", `may not be`},
		{event(2, "a..b", fresh, ""), "workspace.id", `may not be`},
		{event(3, "ws-a", fresh, `,"WORKSPACE":{"id":"ws-b"}`), "WORKSPACE", "case-sensitive"},
		{event(4, "ws-a", fresh, `,"workspace":{"id":"ws-b"}`), "workspace", "more than once"},
		{event(5, "ws-a", "0001-01-01T00:00:00Z", ""), "time", "outside the accepted window"},
		{event(6, "ws-a", "0000-01-01T00:00:00Z", ""), "time", "outside the accepted window"},
		{event(7, "ws-a", "9999-12-31T00:00:00Z", ""), "time", "outside the accepted window"},
		{event(8, "ws-a", now.Add(time.Hour).Format(time.RFC3339), ""), "time", "outside the accepted window"},
		{strings.Replace(event(9, "ws-a", fresh, ""), "curl/8.5.0", "curl/\xff", 1), "client.user_agent", "not valid UTF-8"},
	}
	var body strings.Builder
	for _, b := range bad {
		body.WriteString(b.line + "\n")
	}
	body.WriteString(event(10, "ws-a", fresh, "") + "\n")
	req, _ := http.NewRequest("POST", srv.URL+"/v1/events", strings.NewReader(body.String()))
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var got Response
	if err := json.Unmarshal(raw, &got); err != nil || resp.StatusCode != 400 {
		t.Fatalf("%d %s", resp.StatusCode, raw)
	}
	if got.Accepted != 1 || got.Rejected != len(bad) || len(got.Errors) != len(bad) {
		t.Fatalf("accepted %d rejected %d: %s", got.Accepted, got.Rejected, raw)
	}
	for i, b := range bad {
		e := got.Errors[i]
		if e.Line != i+1 || len(e.Fields) != 1 || e.Fields[0].Field != b.field || !strings.Contains(e.Fields[0].Message, b.msg) {
			t.Errorf("line %d: %+v, want %s: …%s…", i+1, e, b.field, b.msg)
		}
	}
}
