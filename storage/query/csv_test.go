package query_test

import (
	"bytes"
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/storage/query"
	"golang.org/x/text/unicode/norm"
)

// csvEvents are an enriched visitor download, a denied deletion by an API
// key with no enriched group, and an anonymous open with no email.
func csvEvents() []*sharelog.Event {
	return []*sharelog.Event{{
		ID:        "0193a1b2-c3d4-7e5f-8a9b-000000000001",
		Time:      time.Date(2026, 11, 22, 8, 15, 3, 123456789, time.UTC),
		Workspace: sharelog.Workspace{ID: "ws-1", Name: "Acme Legal"},
		Actor:     sharelog.Actor{Type: sharelog.ActorAnonymous, VisitorEmail: "alice@ext.example"},
		Action:    sharelog.LinkDownloaded,
		Result:    sharelog.Success,
		File:      &sharelog.File{ID: "f-9", Name: "contract.pdf", Size: 48213, Path: "/Deals/2026/contract.pdf"},
		Link:      &sharelog.Link{ID: "lnk-7"},
		Client:    sharelog.Client{IP: "203.0.113.5", UserAgent: "Mozilla/5.0", Kind: sharelog.ClientBrowser},
		Server:    &sharelog.Server{Region: "eu-central-2", Node: "n1"},
		Geo:       &sharelog.Geo{CountryCode: "CH", CountryName: "Switzerland", City: "Zürich"},
		Platform:  &sharelog.Platform{OSName: "macOS", ClientName: "Safari", DeviceType: sharelog.DeviceDesktop},
		Session:   &sharelog.Session{LinkSessionID: "ls_4f2a", Seq: 3},
	}, {
		ID:        "0193a1b2-c3d4-7e5f-8a9b-000000000002",
		Time:      time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC),
		Workspace: sharelog.Workspace{ID: "ws-1"},
		Actor:     sharelog.Actor{Type: sharelog.ActorAPIKey, APIKeyID: "key-42"},
		Action:    sharelog.FileDeleted,
		Result:    sharelog.Denied,
		Reason:    "read_only",
		File:      &sharelog.File{ID: "f-10", Name: "empty.txt"},
		Client:    sharelog.Client{IP: "2001:db8::1", Kind: sharelog.ClientAPI},
	}, {
		ID:        "0193a1b2-c3d4-7e5f-8a9b-000000000003",
		Time:      time.Date(2026, 11, 22, 9, 30, 0, 0, time.UTC),
		Workspace: sharelog.Workspace{ID: "ws-1", Name: "Acme Legal"},
		Actor:     sharelog.Actor{Type: sharelog.ActorAnonymous},
		Action:    sharelog.LinkOpened,
		Result:    sharelog.Success,
		Link:      &sharelog.Link{ID: "lnk-7"},
		Client:    sharelog.Client{IP: "198.51.100.7", Kind: sharelog.ClientBrowser},
		Geo:       &sharelog.Geo{CountryCode: "DE"},
	}}
}

func csvWrite(t *testing.T, shape query.CSVShape, events []*sharelog.Event) string {
	t.Helper()
	var buf bytes.Buffer
	w := query.NewCSVWriter(&buf, shape)
	for _, ev := range events {
		if err := w.Write(ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := w.Rows(); got != int64(len(events)) {
		t.Errorf("Rows() = %d, want %d", got, len(events))
	}
	return buf.String()
}

func TestCSVExactBytes(t *testing.T) {
	for _, tc := range []struct {
		shape query.CSVShape
		want  string
	}{{
		query.AccessLog,
		"timestamp,linkSessionId,event,email,ipAddress,country,city,osName,clientName,fileName\n" +
			"2026-11-22T08:15:03.123456Z,ls_4f2a,link.downloaded,alice@ext.example,203.0.113.5,Switzerland,Zürich,macOS,Safari,contract.pdf\n" +
			"2026-11-22T09:00:00.000000Z,,file.deleted,,2001:db8::1,,,,,empty.txt\n" +
			"2026-11-22T09:30:00.000000Z,,link.opened,,198.51.100.7,DE,,,,\n",
	}, {
		query.AuditLog,
		"timestamp,user,action,file,fileId,size,ipAddress,region,device,result,workspace\n" +
			"2026-11-22T08:15:03.123456Z,anonymous,link.downloaded,/Deals/2026/contract.pdf,f-9,48213,203.0.113.5,eu-central-2,desktop,success,Acme Legal\n" +
			"2026-11-22T09:00:00.000000Z,api_key:key-42,file.deleted,empty.txt,f-10,0,2001:db8::1,,,denied:read_only,ws-1\n" +
			"2026-11-22T09:30:00.000000Z,anonymous,link.opened,,,,198.51.100.7,,,success,Acme Legal\n",
	}} {
		t.Run(string(tc.shape), func(t *testing.T) {
			if got := csvWrite(t, tc.shape, csvEvents()); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestCSVUser(t *testing.T) {
	ev := csvEvents()[0]
	ev.Actor = sharelog.Actor{Type: sharelog.ActorUser, Email: "bob@corp.example", VisitorEmail: "alice@ext.example"}
	out := csvWrite(t, query.AuditLog, []*sharelog.Event{ev})
	if !strings.Contains(out, "Z,bob@corp.example,link.downloaded,") {
		t.Errorf("audit user is not the actor email:\n%s", out)
	}
	out = csvWrite(t, query.AccessLog, []*sharelog.Event{ev})
	if !strings.Contains(out, ",link.downloaded,alice@ext.example,") {
		t.Errorf("access email is not the visitor email:\n%s", out)
	}
	ev.Actor = sharelog.Actor{Type: "system"}
	out = csvWrite(t, query.AuditLog, []*sharelog.Event{ev})
	if !strings.Contains(out, "Z,system,link.downloaded,") {
		t.Errorf("audit user of a system actor is not \"system\":\n%s", out)
	}
}

func TestCSVHeaderOnly(t *testing.T) {
	for _, shape := range []query.CSVShape{query.AccessLog, query.AuditLog} {
		var buf bytes.Buffer
		w := query.NewCSVWriter(&buf, shape)
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil { // a second flush writes nothing more
			t.Fatal(err)
		}
		want := strings.Join(shape.Header(), ",") + "\n"
		if buf.String() != want || w.Rows() != 0 {
			t.Errorf("%s: got %q, %d rows; want %q, 0 rows", shape, buf.String(), w.Rows(), want)
		}
	}
}

func TestCSVHeader(t *testing.T) {
	if got, want := strings.Join(query.AccessLog.Header(), ", "), "timestamp, linkSessionId, event, email, ipAddress, country, city, osName, clientName, fileName"; got != want {
		t.Errorf("access header %q, want %q", got, want)
	}
	if got, want := strings.Join(query.AuditLog.Header(), ", "), "timestamp, user, action, file, fileId, size, ipAddress, region, device, result, workspace"; got != want {
		t.Errorf("audit header %q, want %q", got, want)
	}
	h := query.AuditLog.Header()
	h[0] = "changed"
	if query.AuditLog.Header()[0] != "timestamp" {
		t.Error("Header returns a slice shared between calls")
	}
	if query.CSVShape("json").Header() != nil {
		t.Error("unknown shape has a header")
	}
}

func TestCSVInjection(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"=HYPERLINK(\"http://evil.example\",\"x\")", "'=HYPERLINK(\"http://evil.example\",\"x\")"},
		{"+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"},
		{"-2+3", "'-2+3"},
		{"@SUM(1+1)", "'@SUM(1+1)"},
		// A leading tab, CR or LF is guarded itself (OWASP), and the formula
		// after it too, for a reader that splits on tabs or line breaks.
		{"\t=1+1", "'\t'=1+1"},
		{"\r=1+1", "'\r'=1+1"},
		{"\n=1+1", "'\n'=1+1"},
		{"\tplain", "'\tplain"},
		// Leading blanks before a formula.
		{" =cmd|' /C calc'!A0", "' =cmd|' /C calc'!A0"},
		{"  @SUM(A1)", "'  @SUM(A1)"},
		{"\u00a0\u3000+1", "'\u00a0\u3000+1"}, // no-break and ideographic space
		{"\ufeff\u200b=1", "'\ufeff\u200b=1"}, // byte order mark, zero-width space
		{"\x00\x1b-1", "'\x00\x1b-1"},         // control characters
		{"\v=1", "'\v=1"},                     // vertical tab
		// Full-width, small and other compatibility forms of = + - @.
		{"＝cmd|' /C calc'!A0", "'＝cmd|' /C calc'!A0"}, // U+FF1D
		{"＋1", "'＋1"},           // U+FF0B
		{"－1", "'－1"},           // U+FF0D
		{"＠SUM(1)", "'＠SUM(1)"}, // U+FF20
		{"﹦1", "'﹦1"},           // U+FE66 small equals
		{"\u22121", "'\u22121"}, // minus sign
		{" ＝1", "' ＝1"},
		// A separator then a formula: a spreadsheet splitting on ";" (de/fr
		// locales), ",", tabs or line breaks would start a cell there.
		{";=cmd|' /C calc'!A0", ";'=cmd|' /C calc'!A0"},
		{"x;=1", "x;'=1"},
		{"x; =1", "x; '=1"},
		{"x,=1", "x,'=1"},
		{"x, -1", "x, '-1"},
		{"x;＝1", "x;'＝1"},
		{"x\t=1", "x\t'=1"},
		{"x;\t=1", "x;\t'=1"},
		{"x\r@1", "x\r'@1"}, // a bare CR: encoding/csv reads CRLF in a field back as LF
		{"x\n+1", "x\n'+1"},
		{";;=1", ";;'=1"},
		{"=1;=2", "'=1;'=2"},
		{"a;=1,+2", "a;'=1,'+2"},
		// Ordinary values stay readable.
		{"a=b.pdf", "a=b.pdf"},
		{"'quoted", "'quoted"},
		{"';=1", "';'=1"},
		{"first-last@ext.example", "first-last@ext.example"},
		{"::1", "::1"},
		{"2001:db8::1", "2001:db8::1"},
		{"Q3 report; final.pdf", "Q3 report; final.pdf"},
		{"a - b.pdf", "a - b.pdf"},
		{"x;", "x;"},
		{" plain", " plain"},
		{"", ""},
	} {
		ev := csvEvents()[0]
		ev.File.Name = tc.in
		ev.Actor.VisitorEmail = tc.in
		ev.Workspace.Name = tc.in
		out := csvWrite(t, query.AccessLog, []*sharelog.Event{ev})
		rec := csvRead(t, out)[1]
		if rec[9] != tc.want || rec[3] != tc.want {
			t.Errorf("%q: fileName %q, email %q; want %q", tc.in, rec[9], rec[3], tc.want)
		}
		out = csvWrite(t, query.AuditLog, []*sharelog.Event{ev})
		if rec := csvRead(t, out)[1]; rec[10] != cmp.Or(tc.want, "ws-1") {
			t.Errorf("%q: workspace %q; want %q", tc.in, rec[10], tc.want)
		}
	}
}

func csvRead(t *testing.T, s string) [][]string {
	t.Helper()
	r := csv.NewReader(strings.NewReader(s))
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatalf("encoding/csv cannot read our output: %v\n%s", err, s)
	}
	return recs
}

func TestCSVRoundTrip(t *testing.T) {
	awkward := []string{
		"plain",
		"comma, inside",
		`"quoted" and "more"`,
		"line one\nline two",
		" leading and trailing space ",
		"unicode: Zürich 東京 🚀 \ufeffbom",
		`a "quote", a comma, and a` + "\nnewline",
		`\.`,
		"",
	}
	var events []*sharelog.Event
	for i, v := range awkward {
		ev := csvEvents()[0]
		ev.File.Name, ev.File.Path = v, v
		ev.Geo.City = v
		ev.Platform.ClientName = v
		ev.Workspace.Name = v
		ev.Session.LinkSessionID = v
		ev.Time = ev.Time.Add(time.Duration(i) * time.Second)
		events = append(events, ev)
	}
	for _, shape := range []query.CSVShape{query.AccessLog, query.AuditLog} {
		recs := csvRead(t, csvWrite(t, shape, events))
		if len(recs) != len(awkward)+1 || !slices.Equal(recs[0], shape.Header()) {
			t.Fatalf("%s: %d records, header %q", shape, len(recs), recs[0])
		}
		for i, v := range awkward {
			rec := recs[i+1]
			want := map[int]string{1: v, 6: v, 8: v, 9: v} // linkSessionId, city, clientName, fileName
			if shape == query.AuditLog {
				want = map[int]string{3: v, 10: cmp.Or(v, "ws-1")} // file, workspace
			}
			for col, w := range want {
				if rec[col] != w {
					t.Errorf("%s row %d column %s: got %q, want %q", shape, i, recs[0][col], rec[col], w)
				}
			}
		}
	}
}

type csvFailWriter struct{ n int }

var errCSVDiskFull = errors.New("disk full")

func (w *csvFailWriter) Write(p []byte) (int, error) {
	w.n++
	return 0, errCSVDiskFull
}

func TestCSVWriteError(t *testing.T) {
	fw := &csvFailWriter{}
	w := query.NewCSVWriter(fw, query.AuditLog)
	if err := w.Write(csvEvents()[0]); err != nil {
		t.Fatalf("buffered write failed early: %v", err)
	}
	if err := w.Flush(); !errors.Is(err, errCSVDiskFull) {
		t.Fatalf("Flush = %v, want %v", err, errCSVDiskFull)
	}
	calls := fw.n
	if err := w.Write(csvEvents()[1]); !errors.Is(err, errCSVDiskFull) {
		t.Errorf("Write after failure = %v, want the first error", err)
	}
	if err := w.Flush(); !errors.Is(err, errCSVDiskFull) {
		t.Errorf("second Flush = %v, want the first error", err)
	}
	if fw.n != calls {
		t.Errorf("wrote %d more times after the error", fw.n-calls)
	}
	if w.Rows() != 1 {
		t.Errorf("Rows() = %d, want 1", w.Rows())
	}
}

func TestCSVBadInput(t *testing.T) {
	var buf bytes.Buffer
	w := query.NewCSVWriter(&buf, "json")
	if err := w.Write(csvEvents()[0]); err == nil || !strings.Contains(err.Error(), `"json"`) {
		t.Errorf("Write with unknown shape = %v", err)
	}
	if err := w.Flush(); err == nil {
		t.Error("Flush with unknown shape succeeded")
	}
	if buf.Len() != 0 {
		t.Errorf("unknown shape wrote %q", buf.String())
	}
	w = query.NewCSVWriter(&buf, query.AccessLog)
	if err := w.Write(nil); err == nil {
		t.Error("Write(nil) succeeded")
	}
}

func TestParseCSVShape(t *testing.T) {
	for in, want := range map[string]query.CSVShape{"access": query.AccessLog, "audit": query.AuditLog, "AUDIT": query.AuditLog} {
		if got, err := query.ParseCSVShape(in); err != nil || got != want {
			t.Errorf("ParseCSVShape(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "json", "access "} {
		_, err := query.ParseCSVShape(in)
		if err == nil || !strings.Contains(err.Error(), `"`+in+`"`) {
			t.Errorf("ParseCSVShape(%q) error %v does not name the value", in, err)
		}
	}
}

// FuzzCSVFormulaGuard writes arbitrary user-chosen values through both CSV
// shapes, reads the output back with encoding/csv and checks every cell a
// spreadsheet could see: no cell starts, after blanks and with full-width
// and other compatibility forms normalised, with a formula character; no
// cell starts with TAB, CR or LF; no separator is followed (after blanks) by
// a formula character; and a value with no formula character at all comes
// back unchanged.
func FuzzCSVFormulaGuard(f *testing.F) {
	for _, s := range []string{
		"=1+1", " =cmd|' /C calc'!A0", "＝cmd", "＋1", "－1", "＠x", "\t=1", "\r\n=1", "\n@1",
		";=cmd|' /C calc'!A0", "x,=1", "x;\t=1", "a;=1,+2", "\ufeff=1", "\u200b\u00a0-1", "\u22121",
		"﹦1", "⁼1", "contract.pdf", "alice@ext.example", "::1", "Q3; final", "'=1", "\xff=1", ";\xff=",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ev := csvEvents()[0]
		ev.File.Name, ev.File.Path, ev.File.ID = s, s, s
		ev.Actor.VisitorEmail, ev.Actor.Email = s, s
		ev.Workspace.Name = s
		ev.Geo.City, ev.Platform.ClientName, ev.Session.LinkSessionID = s, s, s
		for _, shape := range []query.CSVShape{query.AccessLog, query.AuditLog} {
			var buf bytes.Buffer
			w := query.NewCSVWriter(&buf, shape)
			if err := w.Write(ev); err != nil {
				t.Fatal(err)
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			recs, err := csv.NewReader(&buf).ReadAll()
			if err != nil {
				t.Fatalf("%s: encoding/csv cannot read our output: %v", shape, err)
			}
			if len(recs) != 2 {
				t.Fatalf("%s: %d records, want 2", shape, len(recs))
			}
			for col, cell := range recs[1] {
				if msg := fuzzUnguarded(cell); msg != "" {
					t.Errorf("%s column %s: %q from %q: %s", shape, recs[0][col], cell, s, msg)
				}
			}
			if !fuzzHasFormulaChar(s) && s != "" && !strings.ContainsAny(s[:1], "\t\r\n") && !strings.Contains(s, "\r") {
				user := map[query.CSVShape]int{query.AccessLog: 9, query.AuditLog: 3}[shape] // fileName, file
				if got := recs[1][user]; got != s {
					t.Errorf("%s: harmless %q written as %q", shape, s, got)
				}
			}
		}
	})
}

// fuzzUnguarded returns why a spreadsheet could read cell, or a piece of it,
// as a formula; "" when it cannot.
func fuzzUnguarded(cell string) string {
	if cell != "" && strings.ContainsAny(cell[:1], "\t\r\n") {
		return "starts with TAB, CR or LF"
	}
	if fuzzFormulaStart(cell) {
		return "starts with a formula after blanks"
	}
	for i, r := range cell {
		switch r {
		case ',', ';', '\t', '\r', '\n':
			if fuzzFormulaStart(cell[i+1:]) {
				return fmt.Sprintf("separator %q at %d is followed by a formula", r, i)
			}
		}
	}
	return ""
}

// fuzzFormulaStart reports whether s, after leading white space, control
// and format characters, starts with = + - @ or U+2212, once its first
// character is put in its compatibility form (NFKC folds the full-width
// and small forms).
func fuzzFormulaStart(s string) bool {
	s = strings.TrimLeftFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r)
	})
	r, _ := utf8.DecodeRuneInString(s)
	return r != utf8.RuneError && fuzzFormulaRune(r)
}

func fuzzFormulaRune(r rune) bool {
	f, _ := utf8.DecodeRuneInString(norm.NFKC.String(string(r)))
	return strings.ContainsRune("=+-@\u2212", r) || strings.ContainsRune("=+-@\u2212", f)
}

func fuzzHasFormulaChar(s string) bool {
	for _, r := range s {
		if fuzzFormulaRune(r) {
			return true
		}
	}
	return false
}
