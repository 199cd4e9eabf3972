package api

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	sharelog "github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/storage/archive"
	"github.com/sharelog/sharelog/storage/query"
)

// The headers of DESIGN.md, "Exports", written out rather than taken from
// package query, so that a change there fails here.
const (
	accessHeader = "timestamp,linkSessionId,event,email,ipAddress,country,city,osName,clientName,fileName"
	auditHeader  = "timestamp,user,action,file,fileId,size,ipAddress,region,device,result,workspace"
)

var day0 = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)

// world is an archive of two workspaces, ws-a and ws-b, over three days,
// with one share link each (lnk-a, lnk-b) and the tokens that read them.
type world struct {
	root   string
	events map[string][]*sharelog.Event // by workspace
	tokens map[string]string            // token value by name: a, b, all
	srv    *httptest.Server
	h      *Handler
}

var countries = []struct{ code, name, city string }{
	{"CH", "Switzerland", "Zurich"}, {"DE", "Germany", "Berlin"}, {"FR", "France", "Paris"},
}

// newEvent returns a raw event that passes Validate, enriched afterwards
// with geo, platform and (on link events) session.
func newEvent(t testing.TB, n int, ws string, at time.Time, action sharelog.Action, link string) *sharelog.Event {
	t.Helper()
	ev := &sharelog.Event{
		ID:        fmt.Sprintf("0193a1b2-c3d4-7e5f-8a9b-%012x", n),
		Time:      at,
		Workspace: sharelog.Workspace{ID: ws, Name: "Workspace " + strings.ToUpper(ws[3:])},
		Actor:     sharelog.Actor{Type: sharelog.ActorAnonymous},
		Action:    action,
		Result:    sharelog.Success,
		Client:    sharelog.Client{IP: fmt.Sprintf("81.2.69.%d", n%7), UserAgent: "Mozilla/5.0", Kind: sharelog.ClientBrowser},
		Server:    &sharelog.Server{Region: "eu-central-2"},
		File:      &sharelog.File{ID: "f-" + ws, Name: "report, final.pdf", Size: 1234 + int64(n)},
	}
	if link != "" {
		ev.Link = &sharelog.Link{ID: link}
	}
	switch action {
	case sharelog.LinkPasswordFailed:
		ev.Result, ev.Reason = sharelog.Denied, "wrong_password"
	case sharelog.FileUploaded, sharelog.FileDownloaded:
		ev.Actor = sharelog.Actor{Type: sharelog.ActorUser, Email: fmt.Sprintf("user%d@%s.example", n%3, ws)}
	default:
		if n%4 == 0 {
			ev.Actor.VisitorEmail = fmt.Sprintf("visitor%d@example.org", n%5)
		}
	}
	if err := ev.Validate(); err != nil {
		t.Fatalf("test event %d: %v", n, err)
	}
	c := countries[n%len(countries)]
	ev.Geo = &sharelog.Geo{CountryCode: c.code, CountryName: c.name, City: c.city}
	ev.Platform = &sharelog.Platform{OSName: "macOS", ClientName: "Safari", DeviceType: sharelog.DeviceDesktop}
	if link != "" {
		ev.Session = &sharelog.Session{LinkSessionID: fmt.Sprintf("ls-%s-%d", link, n%6), Seq: 1, Started: true}
	}
	return ev
}

// linkActions is the mix of actions of the test events.
var linkActions = []sharelog.Action{sharelog.LinkOpened, sharelog.LinkViewed, sharelog.LinkDownloaded, sharelog.LinkPasswordFailed, sharelog.LinkSaved}

// newWorld writes perDay events a day for each workspace and starts the API
// over them.
func newWorld(t *testing.T, perDay int) *world {
	t.Helper()
	w := &world{root: t.TempDir(), events: map[string][]*sharelog.Event{}, tokens: map[string]string{}}
	n := 0
	for _, ws := range []string{"ws-a", "ws-b"} {
		for d := range 3 {
			var batch []*sharelog.Event
			for i := range perDay {
				n++
				at := day0.AddDate(0, 0, d).Add(time.Duration(i)*37*time.Second + time.Duration(n)*time.Microsecond)
				var ev *sharelog.Event
				if i%5 == 4 {
					ev = newEvent(t, n, ws, at, sharelog.FileUploaded, "")
				} else {
					ev = newEvent(t, n, ws, at, linkActions[i%len(linkActions)], "lnk-"+ws[3:])
				}
				batch = append(batch, ev)
			}
			w.write(t, batch)
			w.events[ws] = append(w.events[ws], batch...)
		}
	}
	w.start(t, Config{})
	return w
}

func (w *world) write(t testing.TB, evs []*sharelog.Event) {
	t.Helper()
	// Two files a partition, so that the engine merges.
	half := len(evs) / 2
	for _, part := range [][]*sharelog.Event{evs[:half], evs[half:]} {
		if len(part) == 0 {
			continue
		}
		dir, err := archive.PartitionDir(w.root, part[0].Workspace.ID, part[0].Time)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := archive.WriteFile(dir, part, archive.Options{RowGroupRows: 32}); err != nil {
			t.Fatal(err)
		}
	}
}

func (w *world) start(t *testing.T, cfg Config) {
	t.Helper()
	var tokens []Token
	for _, tk := range []struct {
		name string
		ws   []string
	}{{"a", []string{"ws-a"}}, {"b", []string{"ws-b"}}, {"all", []string{"*"}}} {
		value, digest := NewToken()
		w.tokens[tk.name] = value
		tokens = append(tokens, Token{Name: tk.name, Workspaces: tk.ws, SHA256: digest})
	}
	cfg.Tokens = tokens
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	auth, err := NewAuthenticator(tokens)
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHandler(cfg, Deps{ArchiveDir: w.root, Auth: auth, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for _, p := range Patterns {
		mux.Handle(p, h)
	}
	w.h, w.srv = h, httptest.NewServer(validated(t, mux))
	t.Cleanup(w.srv.Close)
}

// get sends GET path with the named token ("" for none) and extra headers.
func (w *world) get(t testing.TB, token, path string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, w.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+w.tokens[token])
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", path, err)
	}
	return resp, body
}

type eventsPage struct {
	Events     []json.RawMessage `json:"events"`
	NextCursor *string           `json:"next_cursor"`
	Stats      query.Stats       `json:"stats"`
}

func (w *world) page(t testing.TB, token, path string) eventsPage {
	t.Helper()
	resp, body := w.get(t, token, path)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	var pg eventsPage
	if err := json.Unmarshal(body, &pg); err != nil {
		t.Fatalf("GET %s: %v\n%s", path, err, body)
	}
	return pg
}

func decode(t testing.TB, raw json.RawMessage) *sharelog.Event {
	t.Helper()
	var ev sharelog.Event
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	return &ev
}

// readCSV parses an export and checks its header.
func readCSV(t testing.TB, body []byte, header string) [][]string {
	t.Helper()
	first, _, _ := strings.Cut(string(body), "\n")
	if first != header {
		t.Fatalf("CSV header\n%s\nwant\n%s", first, header)
	}
	recs, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
	if err != nil {
		t.Fatalf("CSV: %v\n%s", err, body)
	}
	return recs[1:]
}

func TestTokenSeesOnlyItsWorkspaces(t *testing.T) {
	w := newWorld(t, 20)
	nA, nB := len(w.events["ws-a"]), len(w.events["ws-b"])

	// JSON: token a gets all of ws-a and nothing of ws-b, whatever it asks.
	for _, path := range []string{"/v1/events?limit=1000", "/v1/events?limit=1000&action=link.*", "/v1/events?limit=1000&country=ch"} {
		pg := w.page(t, "a", path)
		if len(pg.Events) == 0 {
			t.Fatalf("%s: no events", path)
		}
		for _, raw := range pg.Events {
			if ev := decode(t, raw); ev.Workspace.ID != "ws-a" {
				t.Fatalf("%s: token a got an event of %s", path, ev.Workspace.ID)
			}
		}
	}
	if pg := w.page(t, "a", "/v1/events?limit=1000"); len(pg.Events) != nA || pg.NextCursor != nil {
		t.Fatalf("token a: %d events (next %v), want %d", len(pg.Events), pg.NextCursor, nA)
	}
	for _, path := range []string{"/v1/events?link=lnk-b", "/v1/events?user=user1@ws-b.example", "/v1/events?file=f-ws-b"} {
		if pg := w.page(t, "a", path); len(pg.Events) != 0 {
			t.Fatalf("%s: token a sees %d events of ws-b", path, len(pg.Events))
		}
		if pg := w.page(t, "b", path+"&limit=1000"); len(pg.Events) == 0 {
			t.Fatalf("%s: token b sees nothing", path)
		}
	}
	if pg := w.page(t, "all", "/v1/events?limit=1000"); len(pg.Events) != nA+nB {
		t.Fatalf("token all: %d events, want %d", len(pg.Events), nA+nB)
	}
	if pg := w.page(t, "all", "/v1/events?limit=1000&workspace=ws-b"); len(pg.Events) != nB {
		t.Fatalf("token all, workspace=ws-b: %d events, want %d", len(pg.Events), nB)
	}

	// CSV, by format and by Accept.
	for _, hdr := range [][]string{nil, {"Accept", "text/csv"}} {
		path := "/v1/events?shape=audit&format=csv"
		if hdr != nil {
			path = "/v1/events?shape=audit"
		}
		resp, body := w.get(t, "a", path, hdr...)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
		}
		rows := readCSV(t, body, auditHeader)
		if len(rows) != nA {
			t.Fatalf("%s: %d rows, want %d", path, len(rows), nA)
		}
		for _, r := range rows {
			if r[10] != "Workspace A" {
				t.Fatalf("token a's export holds a row of %q", r[10])
			}
		}
	}

	// Asking for another workspace is refused, naming it.
	for _, q := range []string{"workspace=ws-b", "workspace=ws-a,ws-b", "workspace=ws-a&workspace=ws-b", "workspace=ws-b&format=csv"} {
		resp, body := w.get(t, "a", "/v1/events?"+q)
		var e struct{ Error string }
		json.Unmarshal(body, &e)
		if resp.StatusCode != 403 || !strings.HasSuffix(e.Error, `may not read workspace "ws-b"`) {
			t.Fatalf("%s: %d %s", q, resp.StatusCode, body)
		}
	}
	resp, body := w.get(t, "a", "/v1/links/lnk-a/activity?workspace=ws-b")
	if resp.StatusCode != 403 {
		t.Fatalf("activity in ws-b: %d %s", resp.StatusCode, body)
	}

	// Another workspace's link is not found, exactly like a link that does
	// not exist.
	resp, other := w.get(t, "a", "/v1/links/lnk-b/activity")
	resp2, none := w.get(t, "a", "/v1/links/lnk-x/activity")
	if resp.StatusCode != 404 || resp2.StatusCode != 404 ||
		strings.Replace(string(other), "lnk-b", "lnk-x", 1) != string(none) {
		t.Fatalf("activity of ws-b's link: %d %s; of no link: %d %s", resp.StatusCode, other, resp2.StatusCode, none)
	}
	if resp, body := w.get(t, "b", "/v1/links/lnk-b/activity"); resp.StatusCode != 200 {
		t.Fatalf("token b, its own link: %d %s", resp.StatusCode, body)
	}
}

func TestPaginationReturnsEveryEventOnce(t *testing.T) {
	w := newWorld(t, 100)
	// A redelivered event archived twice must still come once.
	dup := *w.events["ws-a"][10]
	w.write(t, []*sharelog.Event{&dup, &dup})

	var all []*sharelog.Event
	for _, evs := range w.events {
		all = append(all, evs...)
	}
	slices.SortFunc(all, func(a, b *sharelog.Event) int {
		if c := b.Time.Compare(a.Time); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})

	for _, limit := range []int{7, 100, 600} {
		var got []string
		path := fmt.Sprintf("/v1/events?limit=%d", limit)
		for pages := 0; ; pages++ {
			if pages > len(all)+1 {
				t.Fatal("pagination does not end")
			}
			pg := w.page(t, "all", path)
			if len(pg.Events) > limit {
				t.Fatalf("page of %d events, limit %d", len(pg.Events), limit)
			}
			for _, raw := range pg.Events {
				got = append(got, decode(t, raw).ID)
			}
			if pg.NextCursor == nil {
				break
			}
			path = fmt.Sprintf("/v1/events?limit=%d&cursor=%s", limit, url.QueryEscape(*pg.NextCursor))
		}
		if len(got) != len(all) {
			t.Fatalf("limit %d: %d events, want %d", limit, len(got), len(all))
		}
		for i, ev := range all {
			if got[i] != ev.ID {
				t.Fatalf("limit %d: event %d is %s, want %s (newest first, each once)", limit, i, got[i], ev.ID)
			}
		}
	}

	// Filters hold across pages.
	var got int
	path := "/v1/events?limit=7&workspace=ws-b&action=link.downloaded"
	for {
		pg := w.page(t, "b", path)
		for _, raw := range pg.Events {
			if ev := decode(t, raw); ev.Action != sharelog.LinkDownloaded || ev.Workspace.ID != "ws-b" {
				t.Fatalf("unexpected event %+v", ev)
			}
			got++
		}
		if pg.NextCursor == nil {
			break
		}
		path = "/v1/events?limit=7&workspace=ws-b&action=link.downloaded&cursor=" + url.QueryEscape(*pg.NextCursor)
	}
	if got != 3*20 {
		t.Fatalf("%d downloads, want %d", got, 3*20)
	}

	// Pages of one event, over one day of one workspace.
	var ids []string
	path = "/v1/events?limit=1&workspace=ws-a&from=2026-11-21&to=2026-11-21"
	for {
		pg := w.page(t, "a", path)
		for _, raw := range pg.Events {
			ids = append(ids, decode(t, raw).ID)
		}
		if pg.NextCursor == nil {
			break
		}
		path = "/v1/events?limit=1&workspace=ws-a&from=2026-11-21&to=2026-11-21&cursor=" + url.QueryEscape(*pg.NextCursor)
	}
	var want []string
	for _, ev := range w.events["ws-a"][100:200] {
		want = append(want, ev.ID)
	}
	slices.Reverse(want)
	if !slices.Equal(ids, want) {
		t.Fatalf("pages of one: %d ids, want %d in order", len(ids), len(want))
	}
}

func TestEventsJSONIsThePipelineEncoding(t *testing.T) {
	w := newWorld(t, 10)
	pg := w.page(t, "a", "/v1/events?limit=1")
	want := w.events["ws-a"][len(w.events["ws-a"])-1] // the newest
	if got := string(pg.Events[0]); got != string(want.AppendJSON(nil)) {
		t.Fatalf("event JSON\n%s\nwant\n%s", got, want.AppendJSON(nil))
	}
	if pg.NextCursor == nil || pg.Stats.Files == 0 || pg.Stats.RowsScanned == 0 {
		t.Fatalf("next_cursor %v, stats %+v", pg.NextCursor, pg.Stats)
	}
	// No event at all: an empty list, not null.
	resp, body := w.get(t, "a", "/v1/events?from=2020-01-01&to=2020-01-02")
	if resp.StatusCode != 200 || !strings.HasPrefix(string(body), `{"events":[],"next_cursor":null,"stats":{`) {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}

func TestCSVExport(t *testing.T) {
	w := newWorld(t, 25)
	linkEvents := 0
	for _, ev := range w.events["ws-a"] {
		if ev.Link != nil {
			linkEvents++
		}
	}

	// A link: the access log by default.
	resp, body := w.get(t, "a", "/v1/events?format=csv&link=lnk-a")
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Fatalf("Content-Type %q", ct)
	}
	if cd := resp.Header.Get("Content-Disposition"); cd != "attachment; filename=sharelog-link-lnk-a-access.csv" {
		t.Fatalf("Content-Disposition %q", cd)
	}
	rows := readCSV(t, body, accessHeader)
	if len(rows) != linkEvents {
		t.Fatalf("%d rows, want %d", len(rows), linkEvents)
	}
	var newest *sharelog.Event
	for _, ev := range w.events["ws-a"] {
		if ev.Link != nil {
			newest = ev
		}
	}
	if rows[0][0] != newest.Time.Format(query.CSVTimeLayout) || rows[0][4] != newest.Client.IP {
		t.Fatalf("first row %q, want the newest event %s", rows[0], newest.ID)
	}

	// A workspace and a day: the audit log by default; the date as to
	// includes that day.
	resp, body = w.get(t, "a", "/v1/events?format=csv&workspace=ws-a&from=2026-11-21&to=2026-11-21")
	if cd := resp.Header.Get("Content-Disposition"); cd != "attachment; filename=sharelog-ws-a-audit-2026-11-21-to-2026-11-21.csv" {
		t.Fatalf("Content-Disposition %q", cd)
	}
	rows = readCSV(t, body, auditHeader)
	if len(rows) != 25 {
		t.Fatalf("%d rows for one day, want 25", len(rows))
	}
	for _, r := range rows {
		if !strings.HasPrefix(r[0], "2026-11-21T") {
			t.Fatalf("row of another day: %q", r)
		}
	}

	// Either shape on request; limit caps the rows; an empty export is the
	// header alone.
	_, body = w.get(t, "a", "/v1/events?shape=access&limit=3", "Accept", "application/json;q=0.5, text/csv")
	if rows := readCSV(t, body, accessHeader); len(rows) != 3 {
		t.Fatalf("%d rows, want 3", len(rows))
	}
	_, body = w.get(t, "a", "/v1/events?format=csv&link=lnk-a&shape=audit")
	readCSV(t, body, auditHeader)
	_, body = w.get(t, "a", "/v1/events?format=csv&from=2020-01-01&to=2020-01-02")
	if string(body) != auditHeader+"\n" {
		t.Fatalf("empty export: %q", body)
	}
	// format=json wins over Accept.
	if resp, _ := w.get(t, "a", "/v1/events?format=json", "Accept", "text/csv"); resp.Header.Get("Content-Type") != "application/json" {
		t.Fatal("format=json did not win over Accept: text/csv")
	}

	if got := testutil.ToFloat64(w.h.metrics.requests.WithLabelValues("export", "200")); got < 4 {
		t.Fatalf("sharelog_api_requests_total{endpoint=export,code=200} = %v", got)
	}
}

func TestCSVExportFailingMidwayIsCutOff(t *testing.T) {
	w := newWorld(t, 120)
	// The oldest day of ws-a gets a file that is not Parquet: the export
	// has streamed the two newer days when it meets it.
	dir, _ := archive.PartitionDir(w.root, "ws-a", day0)
	if err := os.WriteFile(filepath.Join(dir, "broken"+archive.Ext), []byte("not parquet at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, w.srv.URL+"/v1/events?format=csv&workspace=ws-a", nil)
	req.Header.Set("Authorization", "Bearer "+w.tokens["a"])
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		var n int
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			n++
		}
		err = sc.Err()
		resp.Body.Close()
		if err == nil {
			t.Fatalf("the export ended normally after %d lines, status %d", n, resp.StatusCode)
		}
		t.Logf("cut after %d lines: %v", n, err)
		if resp.StatusCode != 200 || n < 2 {
			t.Fatalf("status %d, %d lines before the cut", resp.StatusCode, n)
		}
	}

	// Broken where the export starts: nothing was sent yet, so a proper 500.
	dir, _ = archive.PartitionDir(w.root, "ws-b", day0.AddDate(0, 0, 2))
	os.WriteFile(filepath.Join(dir, "broken"+archive.Ext), []byte("not parquet at all"), 0o644)
	resp, body := w.get(t, "b", "/v1/events?format=csv")
	if resp.StatusCode != 500 || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Content-Disposition") != "" ||
		strings.Contains(string(body), w.root) {
		t.Fatalf("%d %v %s", resp.StatusCode, resp.Header, body)
	}
}

func TestBadParameters(t *testing.T) {
	w := newWorld(t, 5)
	for _, tc := range []struct{ path, want string }{
		{"/v1/events?from=yesterday", "from: "},
		{"/v1/events?to=2026-13-01", "to: "},
		{"/v1/events?from=2026-11-22&to=2026-11-01", "from: "},
		{"/v1/events?action=link.nope", "action: "},
		{"/v1/events?action=nope.*", "action: "},
		{"/v1/events?result=maybe", "result: "},
		{"/v1/events?ip=1.2.3", "ip: "},
		{"/v1/events?country=XYZ", "country: "},
		{"/v1/events?limit=0", "limit: "},
		{"/v1/events?limit=10001", "limit: "},
		{"/v1/events?limit=ten", "limit: "},
		{"/v1/events?cursor=abc", "cursor: "},
		{"/v1/events?format=xml", "format: "},
		{"/v1/events?format=csv&shape=tresorit", "shape: "},
		{"/v1/events?shape=audit", "shape: applies to CSV only"},
		{"/v1/events?user=a@x.example&user=b@x.example", "user: given 2 times"},
		{"/v1/events?workspace=../etc", "workspace: "},
		{"/v1/events?usr=a@x.example", `unknown parameter "usr"`},
		{"/v1/events?link=lnk-a&limt=5", `unknown parameter "limt"`},
		{"/v1/events?%zz", "not well-formed"},
		{"/v1/links/lnk-a/activity?from=soon", "from: "},
		{"/v1/links/lnk-a/activity?link=lnk-b", `unknown parameter "link"`},
		{"/v1/links/lnk-a/activity?from=2026-11-22&to=2026-11-20", "from: "},
	} {
		resp, body := w.get(t, "all", tc.path)
		var e struct{ Error string }
		if resp.StatusCode != 400 || json.Unmarshal(body, &e) != nil || !strings.Contains(e.Error, tc.want) {
			t.Errorf("%s: %d %s; want 400 with %q", tc.path, resp.StatusCode, body, tc.want)
		}
	}
	// Several at once are all named.
	_, body := w.get(t, "all", "/v1/events?ip=x&country=y&limit=-1")
	for _, p := range []string{"ip: ", "country: ", "limit: "} {
		if !strings.Contains(string(body), p) {
			t.Errorf("%s lacks %q", body, p)
		}
	}
}

func TestUnauthorized(t *testing.T) {
	w := newWorld(t, 2)
	valid := w.tokens["a"]
	for _, tc := range []struct {
		name, auth, challenge string
	}{
		{"none", "", `Bearer realm="sharelog"`},
		{"basic", "Basic " + valid, `Bearer realm="sharelog"`},
		{"empty bearer", "Bearer ", `Bearer realm="sharelog"`},
		{"wrong", "Bearer slt_0000000000000000000000000000000000000000000000000000000000000000", `Bearer realm="sharelog", error="invalid_token"`},
		{"truncated", "Bearer " + valid[:len(valid)-1], `Bearer realm="sharelog", error="invalid_token"`},
		{"the digest", "Bearer " + Digest(valid), `Bearer realm="sharelog", error="invalid_token"`},
	} {
		for _, path := range []string{"/v1/events", "/v1/events?format=csv", "/v1/links/lnk-a/activity"} {
			req, _ := http.NewRequest(http.MethodGet, w.srv.URL+path, nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != tc.challenge || strings.Contains(string(body), "ws-a") {
				t.Errorf("%s %s: %d %q %s", tc.name, path, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
			}
		}
	}
	// The scheme is case-insensitive.
	req, _ := http.NewRequest(http.MethodGet, w.srv.URL+"/v1/events", nil)
	req.Header.Set("Authorization", "bearer "+valid)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("lower-case bearer: %v %v", resp.StatusCode, err)
	}
}

func TestLinkActivity(t *testing.T) {
	w := newWorld(t, 20)
	var want struct {
		opens, views, downloads, saves, failed int64
		countries                              map[string]int64
		first, last                            time.Time
	}
	want.countries = map[string]int64{}
	for _, ev := range w.events["ws-a"] {
		if ev.Link == nil {
			continue
		}
		switch ev.Action {
		case sharelog.LinkOpened:
			want.opens++
		case sharelog.LinkViewed:
			want.views++
		case sharelog.LinkDownloaded:
			want.downloads++
		case sharelog.LinkSaved:
			want.saves++
		case sharelog.LinkPasswordFailed:
			want.failed++
		}
		want.countries[ev.Geo.CountryCode]++
		if want.first.IsZero() || ev.Time.Before(want.first) {
			want.first = ev.Time
		}
		if ev.Time.After(want.last) {
			want.last = ev.Time
		}
	}
	resp, body := w.get(t, "a", "/v1/links/lnk-a/activity")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var rep query.Activity
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.LinkID != "lnk-a" || rep.WorkspaceID != "ws-a" || rep.Opens != want.opens || rep.Views != want.views ||
		rep.Downloads != want.downloads || rep.Saves != want.saves || rep.FailedPasswords != want.failed ||
		rep.UniqueVisitors == 0 || rep.Sessions != 6 || len(rep.Days) != 3 ||
		!rep.FirstAccess.Equal(want.first) || !rep.LastAccess.Equal(want.last) {
		t.Fatalf("report %s", body)
	}
	for _, c := range rep.Countries {
		if want.countries[c.Code] != c.Count {
			t.Fatalf("country %s: %d, want %d", c.Code, c.Count, want.countries[c.Code])
		}
	}
	for _, key := range []string{`"opens"`, `"views"`, `"downloads"`, `"saves"`, `"failed_passwords"`, `"unique_visitors"`, `"sessions"`, `"countries"`, `"first_access"`, `"last_access"`, `"days"`} {
		if !strings.Contains(string(body), key) {
			t.Errorf("the report lacks %s", key)
		}
	}

	// One day.
	_, body = w.get(t, "a", "/v1/links/lnk-a/activity?from=2026-11-21&to=2026-11-21")
	var day query.Activity
	json.Unmarshal(body, &day)
	if len(day.Days) != 1 || day.Days[0].Date != "2026-11-21" || day.Opens+day.Views+day.Downloads+day.Saves+day.FailedPasswords != 16 {
		t.Fatalf("one day: %s", body)
	}
	// A range without events: a known link reports zeros, not 404.
	resp, body = w.get(t, "a", "/v1/links/lnk-a/activity?from=2025-01-01&to=2025-01-31")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"opens":0`) || !strings.Contains(string(body), `"first_access":null`) {
		t.Fatalf("quiet range: %d %s", resp.StatusCode, body)
	}
}

func TestNoWorkspaceYet(t *testing.T) {
	w := &world{root: filepath.Join(t.TempDir(), "archive"), tokens: map[string]string{}}
	w.start(t, Config{})
	if pg := w.page(t, "all", "/v1/events"); len(pg.Events) != 0 || pg.NextCursor != nil {
		t.Fatalf("%+v", pg)
	}
	if resp, body := w.get(t, "all", "/v1/events?format=csv"); resp.StatusCode != 200 || string(body) != auditHeader+"\n" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	if resp, _ := w.get(t, "all", "/v1/links/lnk-a/activity"); resp.StatusCode != 404 {
		t.Fatalf("activity: %d", resp.StatusCode)
	}
	if pg := w.page(t, "a", "/v1/events?workspace=ws-a"); len(pg.Events) != 0 {
		t.Fatalf("%+v", pg)
	}
}

func TestWantsCSV(t *testing.T) {
	for accept, want := range map[string]bool{
		"":                                     false,
		"*/*":                                  false,
		"application/json":                     false,
		"text/csv":                             true,
		"text/csv; charset=utf-8":              true,
		"text/csv;q=0":                         false,
		"application/json, text/csv;q=0.5":     false,
		"application/json;q=0.5, text/csv":     true,
		"text/html, text/csv;q=0.9, */*;q=0.8": true,
	} {
		if got := wantsCSV(accept); got != want {
			t.Errorf("wantsCSV(%q) = %v", accept, got)
		}
	}
}

func TestParseTimeBound(t *testing.T) {
	for _, tc := range []struct {
		in    string
		upper bool
		want  time.Time
	}{
		{"2026-11-22", false, time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)},
		{"2026-11-22", true, time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)},
		{"2026-11-22T09:30:00Z", true, time.Date(2026, 11, 22, 9, 30, 0, 0, time.UTC)},
		{"2026-11-22T09:30:00.5+01:00", false, time.Date(2026, 11, 22, 8, 30, 0, 5e8, time.UTC)},
	} {
		got, err := ParseTimeBound(tc.in, tc.upper)
		if err != nil || !got.Equal(tc.want) || got.Location() != time.UTC {
			t.Errorf("ParseTimeBound(%q, %v) = %v, %v", tc.in, tc.upper, got, err)
		}
	}
	for _, bad := range []string{"", "22.11.2026", "2026-11-22 09:30", "1732266000"} {
		if _, err := ParseTimeBound(bad, false); err == nil {
			t.Errorf("ParseTimeBound(%q) accepted", bad)
		}
	}
}

func TestTooManyInFlight(t *testing.T) {
	w := &world{root: t.TempDir(), tokens: map[string]string{}}
	w.start(t, Config{MaxInFlight: 1})
	w.h.slots <- struct{}{} // a query in flight
	resp, body := w.get(t, "all", "/v1/events")
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	<-w.h.slots
	if resp, body := w.get(t, "all", "/v1/events"); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}
