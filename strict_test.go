package sharelog

import (
	"strings"
	"testing"
	"time"
)

// ev2 is a valid raw event with its workspace and time as given.
func ev2(workspace, tm string) string {
	return `{"id":"0193a1b2-c3d4-7e5f-8a9b-000000000001","time":"` + tm + `","workspace":{"id":"` + workspace +
		`"},"actor":{"type":"anonymous"},"action":"link.opened","result":"success","link":{"id":"lnk-1"},"client":{"ip":"81.2.69.160","user_agent":"curl/8.5.0","kind":"cli"}}`
}

// TestDecodeRawIsStrict: what encoding/json resolves silently, DecodeRaw
// refuses, naming the field, so that no other JSON reader of the raw topic
// can see a different event than the pipeline.
func TestDecodeRawIsStrict(t *testing.T) {
	valid := ev2("ws-a", "2026-11-22T09:00:00Z")
	if _, err := DecodeRaw([]byte(valid)); err != nil {
		t.Fatalf("the base event is refused: %v", err)
	}
	for _, tc := range []struct{ name, in, field, msg string }{
		{"case-variant duplicate", strings.Replace(valid, `"actor"`, `"WORKSPACE":{"id":"ws-b"},"actor"`, 1), "WORKSPACE", `case-sensitive: "workspace"`},
		{"exact duplicate", strings.Replace(valid, `"actor"`, `"workspace":{"id":"ws-b"},"actor"`, 1), "workspace", "is given more than once"},
		{"duplicate inside a group", strings.Replace(valid, `"id":"ws-a"`, `"id":"ws-a","id":"ws-b"`, 1), "workspace.id", "is given more than once"},
		{"escaped duplicate", strings.Replace(valid, `"action"`, `"\u0061ction":"link.viewed","action"`, 1), "action", "is given more than once"},
		{"case variant alone", strings.Replace(valid, `"link":`, `"Link":`, 1), "Link", `case-sensitive: "link"`},
		{"Kelvin sign", strings.Replace(valid, `"kind"`, `"\u212aind"`, 1), "client.\u212aind", `case-sensitive: "kind"`},
		{"invalid UTF-8", strings.Replace(valid, "curl/8.5.0", "curl/\xff8.5.0", 1), "client.user_agent", "not valid UTF-8"},
		{"unpaired surrogate", strings.Replace(valid, "curl/8.5.0", `curl/\ud800`, 1), "client.user_agent", "not valid UTF-8"},
		{"workspace ..", ev2("..", "2026-11-22T09:00:00Z"), "workspace.id", `may not be "." or hold ".."`},
		{"workspace .", ev2(".", "2026-11-22T09:00:00Z"), "workspace.id", `may not be "." or hold ".."`},
		{"workspace ...", ev2("...", "2026-11-22T09:00:00Z"), "workspace.id", `may not be "." or hold ".."`},
		{"workspace a..b", ev2("a..b", "2026-11-22T09:00:00Z"), "workspace.id", `may not be "." or hold ".."`},
	} {
		_, err := DecodeRaw([]byte(tc.in))
		fe, ok := err.(FieldErrors)
		if !ok || len(fe) != 1 || fe[0].Field != tc.field || !strings.Contains(fe[0].Message, tc.msg) {
			t.Errorf("%s: %v, want %s: …%s…", tc.name, err, tc.field, tc.msg)
		}
	}
	// A valid U+FFFD and a paired surrogate escape are text like any other.
	for _, ua := range []string{"curl/\ufffd", `curl/\ufffd`, `curl/\ud83d\ude00`} {
		if _, err := DecodeRaw([]byte(strings.Replace(valid, "curl/8.5.0", ua, 1))); err != nil {
			t.Errorf("%s: %v", ua, err)
		}
	}
	// DecodeEnriched still reads as encoding/json does: our own topic.
	if ev, err := DecodeEnriched([]byte(strings.Replace(valid, `"actor"`, `"WORKSPACE":{"id":"ws-b"},"actor"`, 1))); err != nil || ev.Workspace.ID != "ws-b" {
		t.Errorf("lenient decoding: %+v %v", ev, err)
	}
}

// TestTimeWindow: one message for every time outside the window, the zero
// time included; the edges are inside.
func TestTimeWindow(t *testing.T) {
	now := time.Date(2026, 12, 8, 12, 0, 0, 0, time.UTC)
	p := Parser{Window: TimeWindow{MaxPast: 120 * 24 * time.Hour, MaxFuture: 5 * time.Minute}, Now: func() time.Time { return now }}
	for _, tm := range []string{"0000-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "2300-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z",
		"2026-08-10T11:59:59Z", "2026-12-08T12:05:00.000000001Z"} {
		_, err := p.Decode([]byte(ev2("ws-a", tm)))
		fe, ok := err.(FieldErrors)
		if !ok || len(fe) != 1 || fe[0].Field != "time" || !strings.Contains(fe[0].Message, "is outside the accepted window: from 120 days before") ||
			!strings.Contains(fe[0].Message, "to 5m0s after it") {
			t.Errorf("%s: %v", tm, err)
		}
	}
	for _, tm := range []string{"2026-08-10T12:00:00Z", "2026-12-08T12:05:00Z", "2026-12-08T11:00:00Z"} {
		if _, err := p.Decode([]byte(ev2("ws-a", tm))); err != nil {
			t.Errorf("%s: %v", tm, err)
		}
	}
	// Other errors are kept beside the window's.
	_, err := p.Decode([]byte(strings.Replace(ev2("ws-a", "9999-01-01T00:00:00Z"), `"kind":"cli"`, `"kind":"fax"`, 1)))
	if fe, ok := err.(FieldErrors); !ok || len(fe) != 2 || fe[0].Field != "client.kind" || fe[1].Field != "time" {
		t.Errorf("two faults: %v", err)
	}
	// A missing time is still "required"; without a window, any time goes.
	_, err = p.Decode([]byte(strings.Replace(ev2("ws-a", "x"), `"time":"x",`, "", 1)))
	if fe, ok := err.(FieldErrors); !ok || len(fe) != 1 || fe[0].Message != "is required" {
		t.Errorf("no time: %v", err)
	}
	if _, err := DecodeRaw([]byte(ev2("ws-a", "2300-01-01T00:00:00Z"))); err != nil {
		t.Errorf("no window: %v", err)
	}
	// The batch reader applies it to each event alone.
	items, err := p.ParseBatch([]byte(ev2("ws-a", "2026-12-08T11:00:00Z") + "\n" + ev2("ws-a", "9999-01-01T00:00:00Z")))
	if err != nil || len(items) != 2 || items[0].Err != nil || items[1].Err == nil {
		t.Fatalf("batch: %v %+v", err, items)
	}
}
