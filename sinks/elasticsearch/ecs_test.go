package elasticsearch

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sharelog/sharelog"
)

// decodeDoc encodes ev as the sink does and decodes the document, checking
// it is JSON with no key twice.
func decodeDoc(t *testing.T, ev *sharelog.Event) map[string]any {
	t.Helper()
	b := appendDocument(nil, ev, classify(ev.Action), "")
	if err := checkJSON(b); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestECSMapping checks the mapping table of the README, field by field,
// on the fixture's events.
func TestECSMapping(t *testing.T) {
	evs := fixture()
	for _, c := range []struct {
		ev   int
		path string
		want any // nil: absent; json.Number for numbers
	}{
		{0, "@timestamp", "2026-11-22T23:59:58.123456Z"},
		{2, "@timestamp", "2026-11-22T23:30:00Z"}, // in UTC whatever the zone
		{0, "ecs.version", ECSVersion},
		{0, "event.id", "0193a1b2-c3d4-7e5f-8a9b-000000000001"},
		{0, "event.kind", "event"},
		{0, "event.action", "link.downloaded"},
		{0, "event.outcome", "success"},
		{1, "event.outcome", "failure"}, // denied
		{3, "event.outcome", "failure"}, // error
		{0, "event.reason", nil},
		{1, "event.reason", "wrong_password"},
		{0, "event.dataset", "sharelog.access"},
		{2, "event.dataset", "sharelog.audit"},
		{0, "event.module", "sharelog"},
		{0, "event.created", "2026-11-22T23:59:59.25Z"},
		{1, "event.created", nil},
		{0, "organization.id", "ws-acme"},
		{0, "organization.name", "Acme AG"},
		{0, "user.name", "visitor@example.org"},
		{0, "user.email", "visitor@example.org"}, // the visitor's, lacking a member's
		{2, "user.email", "alice@acme.example"},
		{3, "user.id", "key_31ab"},
		{3, "user.name", "key_31ab"},
		{1, "user.name", "anonymous"},
		{4, "user.name", "system"},
		{0, "source.ip", "81.2.69.160"},
		{1, "source.ip", "2a02:8100::1"},
		{0, "source.geo.country_iso_code", "CH"},
		{0, "source.geo.country_name", "Switzerland"},
		{0, "source.geo.region_name", "Zurich"},
		{0, "source.geo.city_name", "Zürich"},
		{0, "source.geo.location.lat", json.Number("47.3769")},
		{0, "source.geo.location.lon", json.Number("8.5417")},
		{1, "source.geo", nil},
		{0, "user_agent.original", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0.0.0 Safari/537.36"},
		{0, "user_agent.name", "Chrome"},
		{0, "user_agent.version", "131.0.0.0"},
		{0, "user_agent.os.name", "Windows"},
		{0, "user_agent.os.version", "10"},
		{0, "user_agent.device.name", "desktop"},
		{4, "user_agent", nil},
		{0, "file.name", "Q3 report.pdf"},
		{0, "file.size", json.Number("1048576")},
		{0, "file.path", "/Finance/Q3 report.pdf"},
		{2, "file.name", "plan \"final\"\\v2\t.dwg"},
		{1, "file", nil},
		{0, "cloud.region", "eu-central-2"},
		{0, "host.name", "web-3"},
		{2, "host", nil},
		{0, "sharelog.actor.type", "anonymous"},
		{0, "sharelog.actor.visitor_email", "visitor@example.org"},
		{1, "sharelog.result", "denied"},
		{3, "sharelog.result", "error"},
		{0, "sharelog.client.kind", "browser"},
		{0, "sharelog.file.id", "f-1"},
		{0, "sharelog.link.id", "lnk-7f3a"},
		{0, "sharelog.session.id", "ls_9c1e"},
		{0, "sharelog.session.seq", json.Number("3")},
		{0, "sharelog.session.started", false},
		{0, "sharelog.geo.accuracy_radius_km", json.Number("20")},
		{0, "sharelog.geo.database", "GeoLite2-City"},
		{0, "sharelog.geo.database_build", "2026-11-18"},
		{0, "sharelog.pipeline.schema_version", json.Number("1")},
		{0, "sharelog.pipeline.topic", "sharelog.raw"},
		{0, "sharelog.pipeline.partition", json.Number("2")},
		{0, "sharelog.pipeline.offset", json.Number("81723")},
		{0, "data_stream", nil}, // mode index
	} {
		doc := decodeDoc(t, evs[c.ev])
		got := lookup(doc, c.path)
		if c.want == nil {
			if got != nil {
				t.Errorf("event %d: %s = %v, want it absent", c.ev, c.path, got)
			}
			continue
		}
		if got != c.want {
			t.Errorf("event %d: %s = %#v, want %#v", c.ev, c.path, got, c.want)
		}
	}

	// Lists.
	doc := decodeDoc(t, evs[0])
	for path, want := range map[string]string{
		"event.category": `["file","web"]`, "event.type": `["access"]`,
		"related.user": `["visitor@example.org"]`, "related.ip": `["81.2.69.160"]`,
	} {
		if got, _ := json.Marshal(lookup(doc, path)); string(got) != want {
			t.Errorf("%s = %s, want %s", path, got, want)
		}
	}
	// A member who typed another address as visitor: both related.
	ev := *evs[2]
	ev.Actor.VisitorEmail = "alice@private.example"
	if got, _ := json.Marshal(lookup(decodeDoc(t, &ev), "related.user")); string(got) != `["alice@acme.example","alice@private.example"]` {
		t.Errorf("related.user = %s", got)
	}
	ev.Actor.VisitorEmail = "alice@acme.example"
	if got, _ := json.Marshal(lookup(decodeDoc(t, &ev), "related.user")); string(got) != `["alice@acme.example"]` {
		t.Errorf("related.user with the same address twice = %s", got)
	}
}

// TestClassification: every action has a dataset, category and type that
// ECS allows together.
func TestClassification(t *testing.T) {
	allowed := map[string][]string{ // ECS 8 event.category → allowed event.type
		"authentication":      {"start", "end", "info"},
		"configuration":       {"access", "change", "creation", "deletion", "info"},
		"file":                {"access", "change", "creation", "deletion", "info"},
		"iam":                 {"admin", "change", "creation", "deletion", "group", "info", "user"},
		"intrusion_detection": {"allowed", "denied", "info"},
		"web":                 {"access", "error", "info"},
	}
	for _, a := range sharelog.Actions {
		cl := classify(a)
		if cl.category == "" {
			t.Errorf("%s: no category", a)
			continue
		}
		var cats, types []string
		json.Unmarshal([]byte(cl.category), &cats)
		json.Unmarshal([]byte(cl.typ), &types)
		for _, typ := range types {
			ok := false
			for _, c := range cats {
				for _, al := range allowed[c] {
					ok = ok || al == typ
				}
			}
			if !ok {
				t.Errorf("%s: type %s is allowed by none of %v", a, typ, cats)
			}
		}
		access := false
		switch a {
		case sharelog.LinkOpened, sharelog.LinkViewed, sharelog.LinkDownloaded, sharelog.LinkSaved, sharelog.LinkPasswordFailed, sharelog.AccessBlocked:
			access = true
		}
		want := map[bool]string{true: DatasetAccess, false: DatasetAudit}[access]
		if a == sharelog.AlertRaised {
			want = DatasetAlert
		}
		if cl.dataset != want {
			t.Errorf("%s: dataset %s, want %s", a, cl.dataset, want)
		}
	}
	if cl := classify("link.teleported"); cl.dataset != DatasetAudit || cl.category != "" {
		t.Errorf("unknown action: %+v", cl)
	}
	if got := decodeDoc(t, &sharelog.Event{ID: "x", Action: "link.teleported", Result: "maybe"}); lookup(got, "event.category") != nil || lookup(got, "event.outcome") != "unknown" {
		t.Errorf("unknown action and result: %v", got["event"])
	}
}

// TestBadCoordinates: a location that is not a coordinate is left out,
// the rest of the geo kept.
func TestBadCoordinates(t *testing.T) {
	for _, ll := range [][2]float64{{math.NaN(), 1}, {1, math.Inf(1)}, {91, 0}, {0, -180.5}} {
		ev := *fixture()[0]
		ev.Geo = &sharelog.Geo{CountryCode: "CH", Latitude: f64(ll[0]), Longitude: f64(ll[1])}
		doc := decodeDoc(t, &ev)
		if lookup(doc, "source.geo.location") != nil || lookup(doc, "source.geo.country_iso_code") != "CH" {
			t.Errorf("%v: source.geo = %v", ll, lookup(doc, "source.geo"))
		}
	}
	ev := *fixture()[0]
	ev.Geo = &sharelog.Geo{Latitude: f64(1e-7), Longitude: f64(-180)}
	if got := lookup(decodeDoc(t, &ev), "source.geo.location.lat"); got != json.Number("0.0000001") {
		t.Errorf("tiny latitude %v", got)
	}
}

// FuzzDocument: any strings give a valid document with no key twice, and
// each string reads back as it was (invalid UTF-8 as U+FFFD).
func FuzzDocument(f *testing.F) {
	f.Add("alice@acme.example", "Q3 \"report\".pdf", "Mozilla/5.0", "Zürich", "ws-1", 47.3, 8.5)
	f.Add("\x00\x1f\x7f", "\xff\xfe", "\u2028\u2029", "<>&", "", math.NaN(), math.Inf(-1))
	f.Add("\\", "\"", "\n\r\t", "\xed\xa0\x80", "日本", -90.0, 180.0)
	f.Fuzz(func(t *testing.T, email, file, ua, city, ws string, lat, lon float64) {
		ev := &sharelog.Event{
			ID: "0193a1b2-c3d4-7e5f-8a9b-000000000001", Time: time.Unix(1_800_000_000, 0),
			Workspace: sharelog.Workspace{ID: ws, Name: city},
			Actor:     sharelog.Actor{Type: sharelog.ActorUser, Email: email, VisitorEmail: city},
			Action:    sharelog.LinkSaved, Result: sharelog.Denied, Reason: ua,
			File:     &sharelog.File{ID: file, Name: file, Path: ua},
			Link:     &sharelog.Link{ID: ws},
			Client:   sharelog.Client{IP: ws, UserAgent: ua, Kind: sharelog.ClientKind(city)},
			Geo:      &sharelog.Geo{City: city, Latitude: &lat, Longitude: &lon, Database: email},
			Platform: &sharelog.Platform{OSName: ua, DeviceType: sharelog.DeviceType(file)},
			Session:  &sharelog.Session{LinkSessionID: email},
			Server:   &sharelog.Server{Region: city, Node: file},
		}
		b := appendDocument(nil, ev, classify(ev.Action), `"data_stream":{"type":"logs"}`)
		if err := checkJSON(b); err != nil {
			t.Fatalf("%v: %s", err, b)
		}
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		for path, want := range map[string]string{"sharelog.session.id": email, "file.name": file, "source.geo.city_name": city, "event.reason": ua} {
			if want == "" {
				continue
			}
			if got := lookup(doc, path); got != fffd(want) {
				t.Errorf("%s = %q, want %q", path, got, want)
			}
		}
	})
}

// fffd replaces each byte that is not UTF-8 by U+FFFD, as appendString does.
func fffd(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// FuzzAnswer: any answer to a 2xx request gives nil only for a bulk
// answer storing every event, and otherwise an error or a BatchError of one
// entry per event; never a panic.
func FuzzAnswer(f *testing.F) {
	f.Add([]byte(`{"errors":false,"items":[{"index":{"status":201}},{"index":{"status":200}}]}`))
	f.Add([]byte(`{"errors":true,"items":[{"index":{"status":400,"error":{"type":"x","reason":"y","caused_by":{"type":"z"}}}},{"index":{"status":429,"error":"str"}}]}`))
	f.Add([]byte(`{"errors":true,"items":[{"create":{}},null]}`))
	f.Add([]byte(`{"errors":null,"items":{}}`))
	s := &Sink{action: "index", m: newMetrics()}
	batch := fixture()[:2]
	f.Fuzz(func(t *testing.T, answer []byte) {
		err := s.itemErrors(batch, answer, 0)
		var be *sharelog.BatchError
		switch {
		case err == nil:
			var a bulkAnswer
			if json.Unmarshal(answer, &a) != nil || len(a.Items) != 2 {
				t.Fatalf("nil for %s", answer)
			}
			for _, it := range a.Items {
				if it.Index.Status/100 != 2 {
					t.Fatalf("nil for %s", answer)
				}
			}
		case strings.Contains(err.Error(), "batch:"):
			if !asBatch(err, &be) || len(be.Errs) != 2 {
				t.Fatalf("%v", err)
			}
		}
	})
}

func asBatch(err error, be **sharelog.BatchError) bool {
	b, ok := err.(*sharelog.BatchError)
	*be = b
	return ok
}

// TestIndexTemplate: index-template.json maps every field the sink writes
// explicitly, with a type that takes the value written.
func TestIndexTemplate(t *testing.T) {
	raw, err := os.ReadFile("index-template.json")
	if err != nil {
		t.Fatal(err)
	}
	var tmpl struct {
		Template struct {
			Mappings struct {
				Properties map[string]any `json:"properties"`
			} `json:"mappings"`
		} `json:"template"`
	}
	if err := json.Unmarshal(raw, &tmpl); err != nil {
		t.Fatal(err)
	}
	var check func(path string, v any, props map[string]any)
	check = func(path string, v any, props map[string]any) {
		i := strings.LastIndexByte(path, '.')
		m, _ := props[path[i+1:]].(map[string]any)
		if m == nil {
			t.Errorf("%s is not in index-template.json", path)
			return
		}
		typ, _ := m["type"].(string)
		if arr, ok := v.([]any); ok && len(arr) > 0 {
			v = arr[0]
		}
		switch v := v.(type) {
		case map[string]any:
			if typ == "geo_point" {
				return
			}
			sub, _ := m["properties"].(map[string]any)
			for k, w := range v {
				check(path+"."+k, w, sub)
			}
			return
		case string:
			if typ == "date" {
				if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
					t.Errorf("%s: %q is no date", path, v)
				}
				return
			}
			if typ == "ip" {
				return
			}
			if typ != "keyword" {
				t.Errorf("%s: string in a %s", path, typ)
			}
		case json.Number:
			if typ != "long" && typ != "integer" {
				t.Errorf("%s: number in a %s", path, typ)
			}
		case bool:
			if typ != "boolean" {
				t.Errorf("%s: boolean in a %s", path, typ)
			}
		}
	}
	for _, ev := range fixture() {
		for k, v := range decodeDoc(t, ev) {
			check(k, v, tmpl.Template.Mappings.Properties)
		}
	}
}

// TestNoAddress: an event without client address (which ingest refuses,
// but the sink does not rely on it) has no empty source.ip or related.ip.
func TestNoAddress(t *testing.T) {
	ev := *fixture()[1]
	ev.Client.IP = ""
	doc := decodeDoc(t, &ev)
	if lookup(doc, "source") != nil || lookup(doc, "related") != nil {
		t.Errorf("source %v, related %v", lookup(doc, "source"), lookup(doc, "related"))
	}
	ev.Geo = &sharelog.Geo{CountryCode: "CH"}
	doc = decodeDoc(t, &ev)
	if lookup(doc, "source.geo.country_iso_code") != "CH" || lookup(doc, "source.ip") != nil {
		t.Errorf("source %v", lookup(doc, "source"))
	}
}

// TestAlertDocument: an alert.raised event is an ECS alert with the
// rule's severity and the alert under sharelog.alert.
func TestAlertDocument(t *testing.T) {
	ev := sharelog.Event{
		ID: "0193a1b2-c3d4-7e5f-8a9b-000000000009", Time: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC),
		Workspace: sharelog.Workspace{ID: "ws-acme"}, Actor: sharelog.Actor{Type: sharelog.ActorAnonymous},
		Action: sharelog.AlertRaised, Result: sharelog.Denied, Reason: "wrong_password", Link: &sharelog.Link{ID: "lk_9"},
		Client: sharelog.Client{IP: "203.0.113.7", Kind: sharelog.ClientBrowser},
		Alert: &sharelog.Alert{Rule: "brute-force", Type: "password_brute_force", Severity: sharelog.SeverityHigh, Action: sharelog.LinkPasswordFailed,
			Subject: "link:lk_9", Count: 12, WindowSeconds: 300, Evidence: []string{"a", "b"}, Summary: "12 wrong passwords"},
	}
	doc := decodeDoc(t, &ev)
	for path, want := range map[string]any{
		"event.kind": "alert", "event.severity": json.Number("73"), "event.dataset": "sharelog.alert", "sharelog.alert.rule": "brute-force",
		"sharelog.alert.action": "link.password_failed", "sharelog.alert.count": json.Number("12"), "sharelog.alert.summary": "12 wrong passwords",
	} {
		if got := lookup(doc, path); got != want {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
	if ev := lookup(doc, "sharelog.alert.evidence").([]any); len(ev) != 2 {
		t.Errorf("evidence %v", ev)
	}
}
