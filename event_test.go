package sharelog

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func validEvent() map[string]any {
	return map[string]any{
		"id":        "0193a1b2-c3d4-7e5f-8a9b-000000000001",
		"time":      "2026-11-22T09:00:00Z",
		"workspace": map[string]any{"id": "ws-acme"},
		"actor":     map[string]any{"type": "user", "email": "alice@acme.example"},
		"action":    "link.downloaded",
		"result":    "success",
		"link":      map[string]any{"id": "lnk-1"},
		"file":      map[string]any{"id": "f-1", "name": "a.pdf", "size": 10},
		"client":    map[string]any{"ip": "81.2.69.160", "user_agent": "curl/8.5.0", "kind": "cli"},
	}
}

func TestValidEventsFromTestdata(t *testing.T) {
	data, err := os.ReadFile("testdata/valid-events.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	items, err := ParseBatch(data)
	if err != nil || len(items) != 5 {
		t.Fatalf("%d items, %v", len(items), err)
	}
	for _, it := range items {
		if it.Err != nil {
			t.Errorf("line %d: %v", it.Line, it.Err)
		}
	}
	if items[1].Event.Time.Nanosecond() != 123456000 || items[1].Event.Key() != "lnk-1" || items[3].Event.Key() != "ws-acme" {
		t.Errorf("decoded wrongly: %+v %+v", items[1].Event, items[3].Event)
	}
}

// TestValidation changes one thing of a valid event and expects exactly the
// named field in the error.
func TestValidation(t *testing.T) {
	long := strings.Repeat("x", 5000)
	for _, tc := range []struct {
		name  string
		edit  func(m map[string]any)
		field string
		msg   string
	}{
		{"missing id", func(m map[string]any) { delete(m, "id") }, "id", "is required"},
		{"bad id", func(m map[string]any) { m["id"] = "12345" }, "id", "neither a UUID nor a ULID"},
		{"long id", func(m map[string]any) { m["id"] = long }, "id", "longer than the limit of 64"},
		{"nil uuid", func(m map[string]any) { m["id"] = "00000000-0000-0000-0000-000000000000" }, "id", "nil id"},
		{"nil ulid", func(m map[string]any) { m["id"] = "00000000000000000000000000" }, "id", "nil id"},
		{"user with api key", func(m map[string]any) {
			m["actor"] = map[string]any{"type": "user", "email": "a@b.example", "api_key_id": "k1"}
		}, "actor.api_key_id", "only given for an api_key actor"},
		{"missing time", func(m map[string]any) { delete(m, "time") }, "time", "is required"},
		{"non-UTC time", func(m map[string]any) { m["time"] = "2026-11-22T10:00:00+01:00" }, "time", "must be UTC"},
		{"unparseable time", func(m map[string]any) { m["time"] = "yesterday" }, "time", "not an RFC 3339 time"},
		{"missing workspace", func(m map[string]any) { delete(m, "workspace") }, "workspace.id", "is required"},
		{"workspace id chars", func(m map[string]any) { m["workspace"] = map[string]any{"id": "ws/1"} }, "workspace.id", "may hold only"},
		{"actor type", func(m map[string]any) { m["actor"] = map[string]any{"type": "robot"} }, "actor.type", "not one of"},
		{"user without email", func(m map[string]any) { m["actor"] = map[string]any{"type": "user"} }, "actor.email", "is required"},
		{"bad email", func(m map[string]any) { m["actor"] = map[string]any{"type": "user", "email": "alice"} }, "actor.email", "not an email"},
		{"api key without id", func(m map[string]any) { m["actor"] = map[string]any{"type": "api_key"} }, "actor.api_key_id", "is required"},
		{"unknown action", func(m map[string]any) { m["action"] = "link.exploded" }, "action", "not a known action"},
		{"system with email", func(m map[string]any) {
			m["actor"] = map[string]any{"type": "system", "email": "a@b.example"}
		}, "actor", "a system actor has no email"},
		{"system with api key", func(m map[string]any) { m["actor"] = map[string]any{"type": "system", "api_key_id": "k1"} }, "actor", "a system actor has no"},
		{"system with visitor email", func(m map[string]any) {
			m["actor"] = map[string]any{"type": "system", "visitor_email": "v@b.example"}
		}, "actor", "a system actor has no"},
		{"retention by a user", func(m map[string]any) {
			retention(m)
			m["actor"] = map[string]any{"type": "user", "email": "a@b.example"}
		}, "actor.type", "must be system for retention.applied"},
		{"retention without summary", func(m map[string]any) { retention(m); delete(m, "reason") }, "reason", "is required for retention.applied"},
		{"retention denied", func(m map[string]any) { retention(m); m["result"] = "denied" }, "result", "must be success for retention.applied"},
		{"long summary", func(m map[string]any) { retention(m); m["reason"] = strings.Repeat("x", 257) }, "reason", "limit of 256"},
		{"summary with a newline", func(m map[string]any) { retention(m); m["reason"] = "max_age: 3 events\nerasure" }, "reason", "control character"},
		{"summary on another action", func(m map[string]any) { m["result"] = "denied"; m["reason"] = "erasure: 4 events" }, "reason", "may hold only"},
		{"bad result", func(m map[string]any) { m["result"] = "maybe" }, "result", "not one of"},
		{"denied without reason", func(m map[string]any) { m["result"] = "denied" }, "reason", "is required when result is denied"},
		{"success with reason", func(m map[string]any) { m["reason"] = "expired" }, "reason", "only given when"},
		{"link action without link", func(m map[string]any) { delete(m, "link") }, "link", "is required for link.downloaded"},
		{"file action without file", func(m map[string]any) { m["action"] = "file.deleted"; delete(m, "file") }, "file", "is required for file.deleted"},
		{"negative size", func(m map[string]any) { m["file"] = map[string]any{"id": "f", "size": -1} }, "file.size", "negative"},
		{"long file name", func(m map[string]any) { m["file"] = map[string]any{"id": "f", "name": long} }, "file.name", "limit of 1024"},
		{"control char", func(m map[string]any) { m["file"] = map[string]any{"id": "f", "name": "a\nb"} }, "file.name", "control character"},
		{"bad ip", func(m map[string]any) {
			m["client"] = map[string]any{"ip": "300.1.1.1", "kind": "cli"}
		}, "client.ip", "not an IP address"},
		{"missing ip", func(m map[string]any) { m["client"] = map[string]any{"kind": "cli"} }, "client.ip", "is required"},
		{"bad kind", func(m map[string]any) { m["client"] = map[string]any{"ip": "::1", "kind": "fax"} }, "client.kind", "not one of"},
		{"long user agent", func(m map[string]any) {
			m["client"] = map[string]any{"ip": "::1", "kind": "cli", "user_agent": long}
		}, "client.user_agent", "limit of 2048"},
		{"unknown field", func(m map[string]any) { m["colour"] = "red" }, "colour", "not a field"},
		{"enriched field", func(m map[string]any) { m["geo"] = map[string]any{"city": "Bern"} }, "geo", "set by the pipeline"},
		{"wrong type", func(m map[string]any) { m["file"] = map[string]any{"id": "f", "size": "big"} }, "file.size", "must be a number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := validEvent()
			tc.edit(m)
			data, _ := json.Marshal(m)
			_, err := DecodeRaw(data)
			fe, ok := err.(FieldErrors)
			if !ok {
				t.Fatalf("err = %#v, want FieldErrors", err)
			}
			for _, e := range fe {
				if e.Field == tc.field && strings.Contains(e.Message, tc.msg) {
					return
				}
			}
			t.Fatalf("errors %v lack %s: …%s…", fe, tc.field, tc.msg)
		})
	}
}

// retention makes m a retention.applied event.
func retention(m map[string]any) {
	m["actor"] = map[string]any{"type": "system"}
	m["action"] = "retention.applied"
	m["reason"] = "max_age: 1200 events before 2026-07-25; inactive_link: 30 events of 2 links; erasure: 4 events"
	delete(m, "link")
	delete(m, "file")
}

// TestRetentionAppliedIsValid: sharelog's own audit event, a system actor
// and a summary as the reason of a success, passes and round-trips; a
// system actor is named "system".
func TestRetentionAppliedIsValid(t *testing.T) {
	m := validEvent()
	retention(m)
	m["client"] = map[string]any{"ip": "127.0.0.1", "kind": "api"}
	m["server"] = map[string]any{"node": "archive-1"}
	data, _ := json.Marshal(m)
	ev, err := DecodeRaw(data)
	if err != nil {
		t.Fatal(err)
	}
	out, err := ev.Encode()
	if err != nil {
		t.Fatal(err)
	}
	again, err := DecodeRaw(out)
	if err != nil || again.Reason != m["reason"] || again.Action != RetentionApplied || again.Actor.Name() != "system" {
		t.Fatalf("%+v %v", again, err)
	}
	if !RetentionApplied.Valid() || RetentionApplied.NeedsLink() || !slices.Contains(Actions, RetentionApplied) {
		t.Fatal("retention.applied is not a valid action without a link, in Actions")
	}
	for _, a := range Actions {
		if !a.Valid() {
			t.Errorf("%s is in Actions but not Valid", a)
		}
	}
}

// TestProducersCannotRaiseAlerts: alert.raised and the alert group are
// sharelog's own; a raw event with either is refused with the field named.
func TestProducersCannotRaiseAlerts(t *testing.T) {
	m := validEvent()
	m["action"] = "alert.raised"
	data, _ := json.Marshal(m)
	_, err := DecodeRaw(data)
	if err == nil || !strings.Contains(err.Error(), "action: alert.raised is made by sharelog's detection rules") {
		t.Fatalf("alert.raised accepted from a producer: %v", err)
	}
	m = validEvent()
	m["alert"] = map[string]any{"rule": "r", "evidence": []string{"x"}}
	data, _ = json.Marshal(m)
	if _, err := DecodeRaw(data); err == nil || !strings.Contains(err.Error(), "alert: is set by the pipeline") {
		t.Fatalf("alert group accepted from a producer: %v", err)
	}
	if !AlertRaised.Valid() || AlertRaised.NeedsLink() || SeverityHigh.Rank() != 2 || Severity("x").Rank() != -1 {
		t.Fatal("alert.raised or severities wrong")
	}
}

func TestValidEventRoundTrips(t *testing.T) {
	data, _ := json.Marshal(validEvent())
	ev, err := DecodeRaw(data)
	if err != nil {
		t.Fatal(err)
	}
	out, err := ev.Encode()
	if err != nil {
		t.Fatal(err)
	}
	again, err := DecodeRaw(out)
	if err != nil {
		t.Fatalf("re-encoded event invalid: %v\n%s", err, out)
	}
	if again.ID != ev.ID || !again.Time.Equal(ev.Time) || again.File.Size != 10 || again.Actor.Name() != "alice@acme.example" {
		t.Fatalf("round trip changed the event: %+v", again)
	}
}

func TestParseBatchShapes(t *testing.T) {
	one, _ := json.Marshal(validEvent())
	pretty, _ := json.MarshalIndent(validEvent(), "", "  ")
	bad := []byte(`{"id":"x"}`)

	t.Run("ndjson with blank lines and a broken line", func(t *testing.T) {
		body := bytes.Join([][]byte{one, {}, []byte(`{"id":`), bad, one}, []byte("\n"))
		items, err := ParseBatch(body)
		if err != nil || len(items) != 4 {
			t.Fatalf("%d items, %v", len(items), err)
		}
		wantLines := []int{1, 3, 4, 5}
		for i, it := range items {
			if it.Line != wantLines[i] || it.Index != i {
				t.Errorf("item %d: line %d index %d", i, it.Line, it.Index)
			}
		}
		if items[0].Err != nil || items[3].Err != nil {
			t.Errorf("valid lines refused: %v %v", items[0].Err, items[3].Err)
		}
		if _, ok := items[1].Err.(*SyntaxError); !ok {
			t.Errorf("broken line: %v", items[1].Err)
		}
		if _, ok := items[2].Err.(FieldErrors); !ok {
			t.Errorf("invalid line: %v", items[2].Err)
		}
	})
	t.Run("array with lines", func(t *testing.T) {
		body := []byte("[\n  " + string(pretty) + ",\n  " + string(bad) + ",\n" + string(one) + "\n]")
		items, err := ParseBatch(body)
		if err != nil || len(items) != 3 {
			t.Fatalf("%d items, %v", len(items), err)
		}
		if items[0].Line != 2 || items[1].Line != 3+bytes.Count(pretty, []byte("\n")) || items[2].Line != items[1].Line+1 {
			t.Errorf("lines %d %d %d", items[0].Line, items[1].Line, items[2].Line)
		}
		if items[0].Err != nil || items[1].Err == nil || items[2].Err != nil {
			t.Errorf("errors %v %v %v", items[0].Err, items[1].Err, items[2].Err)
		}
	})
	t.Run("identical array elements", func(t *testing.T) {
		body := []byte("[" + string(one) + ",\n" + string(one) + ",\n" + string(one) + "]")
		items, _ := ParseBatch(body)
		if len(items) != 3 || items[0].Line != 1 || items[1].Line != 2 || items[2].Line != 3 {
			t.Fatalf("items %+v", items)
		}
	})
	t.Run("single pretty object", func(t *testing.T) {
		items, err := ParseBatch(pretty)
		if err != nil || len(items) != 1 || items[0].Err != nil {
			t.Fatalf("%v %v", items, err)
		}
	})
	t.Run("broken array", func(t *testing.T) {
		_, err := ParseBatch([]byte(`[` + string(one) + `, {"id": ]`))
		se, ok := err.(*SyntaxError)
		if !ok || se.Offset == 0 {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("empty", func(t *testing.T) {
		items, err := ParseBatch([]byte(" \n "))
		if err != nil || len(items) != 0 {
			t.Fatalf("%v %v", items, err)
		}
	})
}

func TestIDFormats(t *testing.T) {
	for id, want := range map[string]bool{
		"0193a1b2-c3d4-7e5f-8a9b-000000000001": true,
		"01JD4X8ZK9Q2W3E4R5T6Y7U8I9":           false, // I is not Crockford
		"01JD4X8ZK9Q2W3E4R5T6Y7V8H9":           true,
		"81JD4X8ZK9Q2W3E4R5T6Y7U8H9":           false, // overflows 128 bits
		"0193a1b2c3d47e5f8a9b000000000001":     false,
		"0193a1b2-c3d4-7e5f-8a9b-00000000000g": false,
	} {
		if got := isUUID(id) || isULID(id); got != want {
			t.Errorf("%s: %v, want %v", id, got, want)
		}
	}
}

func TestErrorKinds(t *testing.T) {
	if !IsPermanent(Permanent(os.ErrInvalid)) || IsPermanent(Retryable(os.ErrInvalid, 0)) {
		t.Fatal("IsPermanent")
	}
	if d, ok := RetryAfter(Retryable(os.ErrDeadlineExceeded, 3*time.Second)); !ok || d != 3*time.Second {
		t.Fatalf("RetryAfter = %v %v", d, ok)
	}
	if Permanent(nil) != nil || Retryable(nil, 0) != nil {
		t.Fatal("nil must stay nil")
	}
}
