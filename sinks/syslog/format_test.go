package syslog

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sharelog/sharelog"
)

// fullEvent is an enriched event with every field the formats map.
func fullEvent() *sharelog.Event {
	lat, lon := 47.37, 8.54
	return &sharelog.Event{
		ID:        "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
		Time:      time.Date(2026, 11, 22, 10, 0, 1, 234_567_000, time.UTC),
		Workspace: sharelog.Workspace{ID: "ws-acme", Name: "Acme | Finance"},
		Actor:     sharelog.Actor{Type: sharelog.ActorAnonymous, VisitorEmail: "eve@example.com"},
		Action:    sharelog.LinkPasswordFailed,
		Result:    sharelog.Denied,
		Reason:    "wrong_password",
		File:      &sharelog.File{ID: "f-42", Name: `Q4 a=b\c|d "final".pdf`, Size: 1048576, Path: "/Finance/Q4.pdf"},
		Link:      &sharelog.Link{ID: "lnk-7"},
		Client:    sharelog.Client{IP: "203.0.113.9", UserAgent: "Mozilla/5.0 (X11; Linux x86_64)", Kind: sharelog.ClientBrowser},
		Server:    &sharelog.Server{Region: "eu-central-2", Node: "node-3"},
		Geo:       &sharelog.Geo{CountryCode: "CH", CountryName: "Switzerland", City: "Zürich", Latitude: &lat, Longitude: &lon},
		Platform:  &sharelog.Platform{OSName: "Linux", ClientName: "Firefox", DeviceType: sharelog.DeviceDesktop},
		Session:   &sharelog.Session{LinkSessionID: "ls-9f2", Seq: 3},
	}
}

func testConfig(format string) Config {
	cfg := Config{Address: "127.0.0.1:514", Format: format, Hostname: "web-1"}
	cfg.SetDefaults()
	return cfg
}

func encode(t testing.TB, cfg Config, ev *sharelog.Event) string {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	b, _ := newEncoder(cfg, cfg.Hostname).appendMessage(nil, ev)
	return string(b)
}

func TestCEFExact(t *testing.T) {
	got := encode(t, testConfig(FormatCEF), fullEvent())
	// local0 (16) * 8 + warning (4) = 132.
	want := `<132>1 2026-11-22T10:00:01.234Z web-1 sharelog - link.password_failed - ` +
		`CEF:0|sharelog|sharelog|1|link.password_failed|Link password failed (denied)|7|` +
		`rt=1795341601234 externalId=0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b cat=link act=link.password_failed ` +
		`outcome=denied reason=wrong_password suser=eve@example.com src=203.0.113.9 ` +
		`cs1Label=linkId cs1=lnk-7 cs2Label=workspaceId cs2=ws-acme ` +
		`fileId=f-42 fname=Q4 a\=b\\c|d "final".pdf fsize=1048576 filePath=/Finance/Q4.pdf ` +
		`cs3Label=linkSessionId cs3=ls-9f2 cs4Label=sourceCountry cs4=CH cs5Label=sourceCity cs5=Zürich ` +
		`cs6Label=serverRegion cs6=eu-central-2 deviceExternalId=node-3 ` +
		`flexString1Label=clientKind flexString1=browser flexString2Label=actorType flexString2=anonymous ` +
		`requestClientApplication=Mozilla/5.0 (X11; Linux x86_64)`
	if got != want {
		t.Errorf("CEF message\n got %s\nwant %s", got, want)
	}
}

func TestLEEFExact(t *testing.T) {
	got := encode(t, testConfig(FormatLEEF), fullEvent())
	want := "<132>1 2026-11-22T10:00:01.234Z web-1 sharelog - link.password_failed - " +
		"LEEF:2.0|sharelog|sharelog|1|link.password_failed|x09|" +
		"devTime=2026-11-22T10:00:01.234+0000\tdevTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSSZ\tcat=denied\tsev=7\t" +
		"eventId=0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b\tusrName=eve@example.com\tsrc=203.0.113.9\t" +
		"reason=wrong_password\tactorType=anonymous\tlinkId=lnk-7\tworkspaceId=ws-acme\tworkspaceName=Acme | Finance\t" +
		"fileId=f-42\tfileName=Q4 a=b\\c|d \"final\".pdf\tfileSize=1048576\tfilePath=/Finance/Q4.pdf\t" +
		"linkSessionId=ls-9f2\tsrcCountry=CH\tsrcCity=Zürich\tserverRegion=eu-central-2\tserverNode=node-3\t" +
		"clientKind=browser\tuserAgent=Mozilla/5.0 (X11; Linux x86_64)"
	if got != want {
		t.Errorf("LEEF message\n got %q\nwant %q", got, want)
	}
}

func TestLEEFCaretDelimiter(t *testing.T) {
	cfg := testConfig(FormatLEEF)
	cfg.LEEFDelimiter = "^"
	ev := minimalEvent()
	ev.File = &sharelog.File{ID: "f-1", Name: "a^b\tc.txt"}
	got := encode(t, cfg, ev)
	want := "<134>1 2026-11-22T10:00:00.000Z web-1 sharelog - file.uploaded - " +
		"LEEF:2.0|sharelog|sharelog|1|file.uploaded|^|" +
		"devTime=2026-11-22T10:00:00.000+0000^devTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSSZ^cat=success^sev=3^" +
		"eventId=0193a1b2-c3d4-7e5f-8a9b-000000000001^usrName=ann@example.com^src=2001:db8::1^actorType=user^" +
		"workspaceId=ws-1^fileId=f-1^fileName=a b c.txt^clientKind=cli"
	if got != want {
		t.Errorf("LEEF message\n got %q\nwant %q", got, want)
	}
}

// minimalEvent is a raw event with only the required fields.
func minimalEvent() *sharelog.Event {
	return &sharelog.Event{
		ID:        "0193a1b2-c3d4-7e5f-8a9b-000000000001",
		Time:      time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC),
		Workspace: sharelog.Workspace{ID: "ws-1"},
		Actor:     sharelog.Actor{Type: sharelog.ActorUser, Email: "ann@example.com"},
		Action:    sharelog.FileUploaded,
		Result:    sharelog.Success,
		Client:    sharelog.Client{IP: "2001:db8::1", Kind: sharelog.ClientCLI},
	}
}

func TestCEFMinimal(t *testing.T) {
	cfg := testConfig(FormatCEF)
	cfg.Facility = "authpriv"
	cfg.Vendor, cfg.Product, cfg.ProductVersion = "Acme Corp", "Share", "2.4.1"
	got := encode(t, cfg, minimalEvent())
	// authpriv (10) * 8 + informational (6) = 86.
	want := "<86>1 2026-11-22T10:00:00.000Z web-1 sharelog - file.uploaded - " +
		"CEF:0|Acme Corp|Share|2.4.1|file.uploaded|File uploaded|3|" +
		"rt=1795341600000 externalId=0193a1b2-c3d4-7e5f-8a9b-000000000001 cat=file act=file.uploaded outcome=success " +
		"suser=ann@example.com src=2001:db8::1 cs2Label=workspaceId cs2=ws-1 " +
		"flexString1Label=clientKind flexString1=cli flexString2Label=actorType flexString2=user"
	if got != want {
		t.Errorf("CEF message\n got %s\nwant %s", got, want)
	}
}

func TestCEFEscaping(t *testing.T) {
	for _, tc := range []struct{ in, header, value string }{
		{`plain`, `plain`, `plain`},
		{`a|b`, `a\|b`, `a|b`},
		{`a\b`, `a\\b`, `a\\b`},
		{`a=b`, `a=b`, `a\=b`},
		{"a\nb\r\nc", "a b  c", `a\nb\r\nc`},
		{"tab\there", "tab here", "tab here"},
		{"nul\x00del\x7f", "nul del ", "nul del "},
		{"c1\u0085x", "c1 x", "c1 x"},
		{"bad\xffutf8", "bad\uFFFDutf8", "bad\uFFFDutf8"},
		{`\=|`, `\\=\|`, `\\\=|`},
		{"Zürich 東京", "Zürich 東京", "Zürich 東京"},
	} {
		if got := string(appendCEFHeader(nil, tc.in)); got != tc.header {
			t.Errorf("header %q: got %q, want %q", tc.in, got, tc.header)
		}
		if got := string(appendCEFValue(nil, tc.in)); got != tc.value {
			t.Errorf("value %q: got %q, want %q", tc.in, got, tc.value)
		}
	}
}

func TestLEEFEscaping(t *testing.T) {
	for _, tc := range []struct {
		in    string
		delim byte
		want  string
	}{
		{"a=b|c\\d", '\t', "a=b|c\\d"},
		{"a\tb", '\t', "a b"},
		{"a^b\tc", '^', "a b c"},
		{"line\nbreak\r", '^', "line break "},
		{"bad\xff", '\t', "bad\uFFFD"},
	} {
		if got := string(appendLEEFValue(nil, tc.in, tc.delim)); got != tc.want {
			t.Errorf("value %q delim %q: got %q, want %q", tc.in, tc.delim, got, tc.want)
		}
	}
	if got := string(appendLEEFHeader(nil, "a|b\nc")); got != "a b c" {
		t.Errorf("header: got %q", got)
	}
}

func TestSeverity(t *testing.T) {
	for _, tc := range []struct {
		action sharelog.Action
		result sharelog.Result
		reason string
		want   level
	}{
		{sharelog.AccessBlocked, sharelog.Denied, "ip_blocked", level{8, 8, 4}},
		{sharelog.LinkOpened, sharelog.Denied, "domain_restricted", level{8, 8, 4}},
		{sharelog.LinkOpened, sharelog.Denied, "ip_blocked", level{8, 8, 4}},
		{sharelog.LinkPasswordFailed, sharelog.Denied, "wrong_password", level{7, 7, 4}},
		{sharelog.LinkDownloaded, sharelog.Denied, "wrong_password", level{7, 7, 4}},
		{sharelog.LinkOpened, sharelog.Denied, "expired", level{5, 5, 5}},
		{sharelog.FileUploaded, sharelog.Error, "storage_unavailable", level{5, 5, 5}},
		{sharelog.LinkCreated, sharelog.Success, "", level{4, 4, 5}},
		{sharelog.LinkSettingsChanged, sharelog.Success, "", level{4, 4, 5}},
		{sharelog.LinkRevoked, sharelog.Success, "", level{4, 4, 5}},
		{sharelog.FileDeleted, sharelog.Success, "", level{4, 4, 5}},
		{sharelog.MemberInvited, sharelog.Success, "", level{4, 4, 5}},
		{sharelog.MemberRemoved, sharelog.Success, "", level{4, 4, 5}},
		{sharelog.MemberRoleChanged, sharelog.Success, "", level{4, 4, 5}},
		{sharelog.LinkOpened, sharelog.Success, "", level{3, 3, 6}},
		{sharelog.LinkDownloaded, sharelog.Success, "", level{3, 3, 6}},
		{sharelog.LinkExpired, sharelog.Success, "", level{3, 3, 6}},
		{sharelog.RetentionApplied, sharelog.Success, "max_age: 3 events", level{3, 3, 6}},
	} {
		ev := &sharelog.Event{Action: tc.action, Result: tc.result, Reason: tc.reason}
		if got := levelOf(ev); got != tc.want {
			t.Errorf("%s %s %s: got %+v, want %+v", tc.action, tc.result, tc.reason, got, tc.want)
		}
	}
	// Every action has a level in range.
	for _, a := range sharelog.Actions {
		for _, r := range []sharelog.Result{sharelog.Success, sharelog.Denied, sharelog.Error} {
			lv := levelOf(&sharelog.Event{Action: a, Result: r})
			if lv.cef < 0 || lv.cef > 10 || lv.leef < 1 || lv.leef > 10 || lv.syslog < 0 || lv.syslog > 7 {
				t.Errorf("%s %s: level %+v out of range", a, r, lv)
			}
		}
	}
}

func TestPRIByFacility(t *testing.T) {
	for fac, want := range map[string]string{"local0": "<134>", "authpriv": "<86>", "local7": "<190>", "13": "<110>", "kern": "<6>"} {
		cfg := testConfig(FormatCEF)
		cfg.Facility = fac
		if got := encode(t, cfg, minimalEvent()); !strings.HasPrefix(got, want+"1 ") {
			t.Errorf("facility %s: %.12s…, want %s", fac, got, want)
		}
	}
}

func TestTruncation(t *testing.T) {
	ev := minimalEvent()
	ev.Client.UserAgent = strings.Repeat("é", 400) + strings.Repeat(`\`, 400) // 800 + 400 bytes, escaped to 800
	for _, format := range []string{FormatCEF, FormatLEEF} {
		for size := 480; size <= 1400; size++ {
			cfg := testConfig(format)
			cfg.MaxMessageSize = size
			enc := newEncoder(cfg, "web-1")
			full, _ := newEncoder(testConfig(format), "web-1").appendMessage(nil, ev)
			got, cut := enc.appendMessage(nil, ev)
			if cut != (len(full) > size) {
				t.Fatalf("%s %d: cut %v for a message of %d bytes", format, size, cut, len(full))
			}
			if len(got) > size || len(got) < size-3 && cut {
				t.Fatalf("%s %d: %d bytes", format, size, len(got))
			}
			if !utf8.Valid(got) {
				t.Fatalf("%s %d: cut inside a character", format, size)
			}
			if !bytes.HasPrefix(full, got) {
				t.Fatalf("%s %d: not a prefix of the whole message", format, size)
			}
			if format == FormatCEF {
				bs := len(got) - len(bytes.TrimRight(got, `\`))
				if bs%2 != 0 {
					t.Fatalf("%s %d: ends in half an escape", format, size)
				}
			}
		}
	}
}

// parseCEF splits a CEF message into its 7 header fields and its extension,
// unescaping both as a CEF reader does.
func parseCEF(t testing.TB, msg string) ([]string, map[string]string) {
	t.Helper()
	var header []string
	var cur strings.Builder
	i := 0
	for ; i < len(msg) && len(header) < 7; i++ {
		switch c := msg[i]; {
		case c == '\\' && i+1 < len(msg) && (msg[i+1] == '\\' || msg[i+1] == '|'):
			cur.WriteByte(msg[i+1])
			i++
		case c == '|':
			header = append(header, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	if len(header) != 7 {
		t.Fatalf("CEF header of %q: %d fields", msg, len(header))
	}
	ext := msg[i:]
	// Keys start after a space (or at the start) and end at an unescaped
	// "=".
	type kv struct{ key, start int }
	var keys []kv
	for j := 0; j < len(ext); j++ {
		if ext[j] == '\\' {
			j++
			continue
		}
		if ext[j] != '=' {
			continue
		}
		k := strings.LastIndexByte(ext[:j], ' ') + 1
		keys = append(keys, kv{k, j + 1})
	}
	out := map[string]string{}
	for n, k := range keys {
		end := len(ext)
		if n+1 < len(keys) {
			end = keys[n+1].key - 1
		}
		key := ext[k.key : k.start-1]
		if _, dup := out[key]; dup {
			t.Fatalf("CEF key %s twice in %q", key, msg)
		}
		out[key] = unescapeCEF(ext[k.start:end])
	}
	return header, out
}

func unescapeCEF(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			default:
				b.WriteByte(s[i])
			}
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// sanitized is what a value becomes on the wire once read back: control
// characters other than line breaks are spaces, each invalid UTF-8 byte is
// U+FFFD (as encoding/json has it).
func sanitized(s string, keepBreaks bool) string {
	var b strings.Builder
	for _, r := range s { // an invalid byte reads as U+FFFD
		if (r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0)) && !(keepBreaks && (r == '\n' || r == '\r')) {
			r = ' '
		}
		b.WriteRune(r)
	}
	return b.String()
}

// syslogBody returns the MSG of an RFC 5424 message the sink wrote: after
// the 7th space (PRI+VERSION, TIMESTAMP, HOSTNAME, APP-NAME, PROCID, MSGID,
// SD "-").
func syslogBody(t testing.TB, msg string) string {
	t.Helper()
	s := msg
	for range 7 {
		i := strings.IndexByte(s, ' ')
		if i < 0 {
			t.Fatalf("not an RFC 5424 message: %q", msg)
		}
		s = s[i+1:]
	}
	return s
}

func FuzzCEF(f *testing.F) {
	f.Add("Q4 report.pdf", "Mozilla/5.0", "ws=1")
	f.Add(`a\|b=c`, "x\ny\rz", `\`)
	f.Add("bad\xff", "\x00\x7f", "end\\")
	enc := newEncoder(testConfig(FormatCEF), "web-1")
	f.Fuzz(func(t *testing.T, name, ua, ws string) {
		ev := minimalEvent()
		ev.File = &sharelog.File{ID: "f-1", Name: name}
		ev.Client.UserAgent = ua
		ev.Workspace.ID = ws
		ev.Reason = name
		msg, _ := enc.appendMessage(nil, ev)
		if bytes.ContainsAny(msg, "\r\n") {
			t.Fatalf("line break in %q", msg)
		}
		if !utf8.Valid(msg) {
			t.Fatalf("invalid UTF-8 in %q", msg)
		}
		header, ext := parseCEF(t, syslogBody(t, string(msg)))
		if header[4] != "file.uploaded" {
			t.Fatalf("signature %q", header[4])
		}
		for key, want := range map[string]string{"fname": name, "requestClientApplication": ua, "cs2": ws, "reason": name} {
			if want = sanitized(want, true); want == "" {
				continue
			}
			if got := ext[key]; got != want {
				t.Fatalf("%s: read back %q, want %q (message %q)", key, got, want, msg)
			}
		}
	})
}

func FuzzLEEF(f *testing.F) {
	f.Add("Q4 report.pdf", "Mozilla/5.0", byte('\t'))
	f.Add("a^b\tc=d|e", "x\ny", byte('^'))
	enc := map[byte]*encoder{}
	for _, d := range []byte{'\t', '^', '#'} {
		cfg := testConfig(FormatLEEF)
		cfg.LEEFDelimiter = string(d)
		enc[d] = newEncoder(cfg, "web-1")
	}
	f.Fuzz(func(t *testing.T, name, ua string, d byte) {
		e := enc[d]
		if e == nil {
			e = enc['\t']
		}
		ev := minimalEvent()
		ev.File = &sharelog.File{ID: "f-1", Name: name}
		ev.Client.UserAgent = ua
		msg, _ := e.appendMessage(nil, ev)
		if bytes.ContainsAny(msg, "\r\n") {
			t.Fatalf("line break in %q", msg)
		}
		body := syslogBody(t, string(msg))
		parts := strings.SplitN(body, "|", 7)
		if len(parts) != 7 || parts[0] != "LEEF:2.0" {
			t.Fatalf("LEEF header of %q", body)
		}
		attrs := map[string]string{}
		for _, a := range strings.Split(parts[6], string(e.delim)) {
			k, v, ok := strings.Cut(a, "=")
			if !ok {
				t.Fatalf("attribute %q without =", a)
			}
			if _, dup := attrs[k]; dup {
				t.Fatalf("key %s twice", k)
			}
			attrs[k] = v
		}
		clean := func(s string) string {
			return strings.ReplaceAll(sanitized(s, false), string(e.delim), " ")
		}
		if w := clean(name); w != "" && attrs["fileName"] != w {
			t.Fatalf("fileName %q, want %q", attrs["fileName"], w)
		}
		if w := clean(ua); w != "" && attrs["userAgent"] != w {
			t.Fatalf("userAgent %q, want %q", attrs["userAgent"], w)
		}
	})
}

func TestCEFParsesBack(t *testing.T) {
	ev := fullEvent()
	header, ext := parseCEF(t, syslogBody(t, encode(t, testConfig(FormatCEF), ev)))
	if fmt.Sprint(header) != "[CEF:0 sharelog sharelog 1 link.password_failed Link password failed (denied) 7]" {
		t.Errorf("header %q", header)
	}
	if ext["fname"] != ev.File.Name || ext["cs5"] != "Zürich" || ext["suser"] != "eve@example.com" || ext["externalId"] != ev.ID {
		t.Errorf("extension %v", ext)
	}
}
