package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/config"
	"github.com/sharelog/sharelog/internal/kafkatest"
	"github.com/sharelog/sharelog/internal/testgeo"
	"github.com/sharelog/sharelog/rules"
	"github.com/sharelog/sharelog/server/api"
	"github.com/sharelog/sharelog/server/pipeline"
)

const ingestKey = "console-test-ingest-key-0123456789"

// TestConsoleInChromium drives the console in headless Chromium (Debian's
// chromium) against the real pipeline in this process: login, the access
// log with pagination and both CSV exports, the link activity report with
// its chart, the live page receiving posted events and narrowed by a
// filter, the alerts page; a workspace-A token never shows workspace B.
// At 1280x800: no page scrolls sideways, a row's details open in a side
// panel beside the row, the Workspace column shows for a token of several
// workspaces (listed or "*") and not for one of a single workspace, the live
// table waits for events with a message, the chart has a legend of its two
// series in their colours, the login hint names data/api.token.
// Screenshots go to $SHARELOG_TEST_ARTIFACTS (else a temporary directory).
func TestConsoleInChromium(t *testing.T) {
	chrome, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("SHARELOG_TEST_REQUIRE_BROWSER") == "1" {
			t.Fatal("chromium is required (SHARELOG_TEST_REQUIRE_BROWSER=1) but not installed: apt-get install chromium")
		}
		t.Skip("chromium is not installed (apt-get install chromium); the console's browser tests are skipped")
	}
	artifacts := os.Getenv("SHARELOG_TEST_ARTIFACTS")
	if artifacts == "" {
		artifacts = t.TempDir()
	}
	os.MkdirAll(artifacts, 0o755)
	downloads := t.TempDir()

	// The pipeline, as `sharelog run` has it, with tokens for two workspaces.
	cfg := &config.Config{DataDir: t.TempDir()}
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Kafka.Embedded.Addr = "127.0.0.1:0"
	cfg.Kafka.Partitions = 4
	cfg.Ingest.Keys = []string{ingestKey}
	cfg.Enrich.Workers = 1
	cfg.Enrich.Session.Secret = "an-enrich-session-secret-of-32-bytes!"
	cfg.Archive.MaxFileAge = 200 * time.Millisecond
	cfg.Log.Level = "warn"
	cfg.GeoIP.CityDB = []string{testgeo.WriteCityDB(t)}
	cfg.Rules = &[]rules.Rule{{Name: "brute-force", Type: rules.PasswordBruteForce, Threshold: 3}}
	tokA, sumA := api.NewToken()
	_, sumB := api.NewToken()
	tokMulti, sumMulti := api.NewToken()
	tokAll, sumAll := api.NewToken()
	cfg.API.Tokens = []api.Token{{Name: "acme", Workspaces: []string{"ws-acme"}, SHA256: sumA}, {Name: "other", Workspaces: []string{"ws-other"}, SHA256: sumB},
		{Name: "both", Workspaces: []string{"ws-acme", "ws-other"}, SHA256: sumMulti}, {Name: "all", Workspaces: []string{api.AllWorkspaces}, SHA256: sumAll}}
	if real := kafkatest.Real(); real != nil {
		cfg.Kafka.Brokers = real
		cfg.Kafka.TopicPrefix = kafkatest.Prefix(t)
	}
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.Start(context.Background(), cfg, pipeline.Ingest|pipeline.Enrich|pipeline.Archive|pipeline.API|pipeline.Rules, pipeline.Options{Embedded: true})
	if err != nil {
		t.Fatal(err)
	}
	pctx, pcancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(pctx) }()
	t.Cleanup(func() { pcancel(); <-done })
	base := "http://" + p.Addr()

	var n atomic.Int64
	mk := func(ws, link string, action sharelog.Action) *sharelog.Event {
		i := n.Add(1)
		ev := &sharelog.Event{
			ID: fmt.Sprintf("0193a1b2-c3d4-7e5f-8a9b-%012x", i), Time: time.Now().UTC().Add(-time.Hour).Add(time.Duration(i) * time.Second),
			Workspace: sharelog.Workspace{ID: ws}, Actor: sharelog.Actor{Type: sharelog.ActorAnonymous, VisitorEmail: "visitor@example.org"},
			Action: action, Result: sharelog.Success, File: &sharelog.File{ID: "f-1", Name: "contract.pdf", Size: 52133},
			Link:   &sharelog.Link{ID: link},
			Client: sharelog.Client{IP: "81.2.69.160", UserAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", Kind: sharelog.ClientBrowser},
		}
		if action == sharelog.LinkPasswordFailed {
			ev.Result, ev.Reason, ev.File = sharelog.Denied, "wrong_password", nil
		}
		return ev
	}
	post := func(evs ...*sharelog.Event) {
		t.Helper()
		var body bytes.Buffer
		for _, ev := range evs {
			b, _ := json.Marshal(ev)
			body.Write(append(b, '\n'))
		}
		req, _ := http.NewRequest("POST", base+"/v1/events", &body)
		req.Header.Set("Authorization", "Bearer "+ingestKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 202 {
			t.Fatalf("POST /v1/events: %v %v", err, resp)
		}
		resp.Body.Close()
	}
	others := map[string]bool{}
	var archived []*sharelog.Event
	for i := range 25 {
		archived = append(archived, mk("ws-acme", []string{"lk-a", "lk-b"}[i%2], []sharelog.Action{sharelog.LinkOpened, sharelog.LinkDownloaded}[i%2]))
	}
	for range 5 {
		ev := mk("ws-other", "lk-a", sharelog.LinkOpened)
		others[ev.ID] = true
		archived = append(archived, ev)
	}
	for range 3 {
		archived = append(archived, mk("ws-acme", "lk-bf", sharelog.LinkPasswordFailed))
	}
	for range 4 { // lk-b: opens besides its 12 downloads, for the chart
		archived = append(archived, mk("ws-acme", "lk-b", sharelog.LinkOpened))
	}
	post(archived...)

	// The browser.
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chrome), chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1280, 800))
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer acancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, tcancel := context.WithTimeout(ctx, 3*time.Minute)
	defer tcancel()
	run := func(what string, actions ...chromedp.Action) {
		t.Helper()
		if err := chromedp.Run(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	// waitJS polls a JavaScript condition until it is true.
	waitJS := func(what, js string, timeout time.Duration, between ...chromedp.Action) {
		t.Helper()
		deadline := time.Now().Add(timeout)
		for {
			var ok bool
			// shown(id): the element is laid out (not display: none).
			run(what, chromedp.Evaluate(`(() => { const shown = (id) => document.getElementById(id).getClientRects().length > 0; return `+js+`; })()`, &ok))
			if ok {
				return
			}
			if time.Now().After(deadline) {
				shot(t, ctx, artifacts, "failed-"+strings.ReplaceAll(what, " ", "-"))
				t.Fatalf("%s: not true after %s: %s", what, timeout, js)
			}
			if len(between) > 0 {
				run(what, between...)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	rowIDs := func(tbody string) []string {
		var ids []string
		run("rows", chromedp.Evaluate(`[...document.querySelectorAll("#`+tbody+` tr")].map(r => r.dataset.id)`, &ids))
		return ids
	}
	// fits checks that the page does not scroll sideways at 1,280 px.
	fits := func(what string) {
		t.Helper()
		var w struct{ Inner, Scroll int }
		run(what, chromedp.Evaluate(`({inner: window.innerWidth, scroll: document.documentElement.scrollWidth})`, &w))
		if w.Inner != 1280 || w.Scroll > w.Inner {
			shot(t, ctx, artifacts, "failed-fits-"+strings.ReplaceAll(what, " ", "-"))
			t.Fatalf("%s: the page is %d px wide in a %d px window (want a 1280 px window, no horizontal scroll)", what, w.Scroll, w.Inner)
		}
	}
	// workspaceColumn says whether the Workspace column of view is shown.
	workspaceColumn := func(view string) bool {
		t.Helper()
		var shown bool
		run("workspace column", chromedp.Evaluate(`(() => {
			const th = document.querySelector("#`+view+`-table th.c-ws"), td = document.querySelector("#`+view+`-rows td.c-ws");
			return th.getBoundingClientRect().width > 0 && !!td && td.getBoundingClientRect().width > 0;
		})()`, &shown))
		return shown
	}
	// besideRow opens the details of row n (0: the first) of view and checks
	// that the side panel is to the right of the row, level with it, inside
	// the window.
	besideRow := func(view string, n int) {
		t.Helper()
		sel := fmt.Sprintf("#%s-rows tr:nth-child(%d)", view, n+1)
		var b struct {
			Row, Panel struct{ Left, Top, Right, Bottom float64 }
			VW, VH     float64
		}
		// Wait for the page's last load to draw the table: a load that
		// finishes after the click would draw it again and close the panel.
		waitJS("table drawn", `!document.getElementById("`+view+`-rows").hasAttribute("aria-busy")`, 20*time.Second)
		run("open details", chromedp.ScrollIntoView(sel, chromedp.ByQuery), chromedp.Click(sel, chromedp.ByQuery))
		waitJS("side panel", `shown("`+view+`-panel") && document.getElementById("`+view+`-detail").textContent.includes("Workspace:")`, 5*time.Second)
		run("boxes", chromedp.Evaluate(`(() => {
			const box = (el) => { const r = el.getBoundingClientRect(); return {left: r.left, top: r.top, right: r.right, bottom: r.bottom}; };
			return {row: box(document.querySelector("`+sel+`")), panel: box(document.getElementById("`+view+`-panel")), vw: innerWidth, vh: innerHeight};
		})()`, &b))
		r, p := b.Row, b.Panel
		switch {
		case p.Left < r.Right:
			t.Errorf("%s row %d: the panel (x %.0f..%.0f) is not beside the row (x %.0f..%.0f)", view, n, p.Left, p.Right, r.Left, r.Right)
		case p.Top > r.Top || p.Bottom < r.Bottom:
			t.Errorf("%s row %d: the panel (y %.0f..%.0f) is not level with the row (y %.0f..%.0f)", view, n, p.Top, p.Bottom, r.Top, r.Bottom)
		case p.Top < 0 || p.Bottom > b.VH+1 || p.Right > b.VW || r.Top < 0 || r.Bottom > b.VH:
			t.Errorf("%s row %d: the panel (%+v) or the row (%+v) is outside the %.0fx%.0f window", view, n, p, r, b.VW, b.VH)
		}
		if t.Failed() {
			shot(t, ctx, artifacts, "failed-panel-"+view)
			t.FailNow()
		}
	}
	// loginAs logs out if logged in, then logs in with tok.
	loginAs := func(tok string) {
		t.Helper()
		run("log out", chromedp.Evaluate(`document.getElementById("logout").hidden || document.getElementById("logout").click()`, nil),
			chromedp.WaitVisible("#login-token", chromedp.ByID))
		run("log in", chromedp.SetValue("#login-token", tok, chromedp.ByID), chromedp.Click(`#login-form button[type="submit"]`, chromedp.ByQuery),
			chromedp.WaitVisible("#page-live", chromedp.ByID))
	}

	// Login: a wrong token shows the API's error, the right one opens the
	// live page.
	run("open", chromedp.EmulateViewport(1280, 800), chromedp.Navigate(base+"/"), chromedp.WaitVisible("#login-token", chromedp.ByID),
		browser.SetDownloadBehavior(browser.SetDownloadBehaviorBehaviorAllow).WithDownloadPath(downloads))
	// The hint names the file where `sharelog run` keeps its generated token.
	waitJS("login hint", `document.getElementById("login-hint").textContent.includes("data/api.token")`, 5*time.Second)
	fits("login")
	shot(t, ctx, artifacts, "login")
	run("bad login", chromedp.SendKeys("#login-token", "slt_not-a-token", chromedp.ByID), chromedp.Click(`#login-form button[type="submit"]`, chromedp.ByQuery))
	waitJS("login error", `document.getElementById("login-error").textContent.includes("token")`, 10*time.Second)
	run("login", chromedp.SetValue("#login-token", tokA, chromedp.ByID), chromedp.Click(`#login-form button[type="submit"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#page-live", chromedp.ByID))

	// Access log: pages of 10, newest first, only ws-acme.
	run("log", chromedp.Navigate(base+"/console/#/log"), chromedp.WaitVisible("#log-filter", chromedp.ByID),
		chromedp.SetValue(`#log-filter input[name="limit"]`, "10", chromedp.ByQuery))
	waitJS("archived events listed", `document.querySelectorAll("#log-rows tr").length === 10`, 60*time.Second,
		chromedp.Click(`#log-filter button[type="submit"]`, chromedp.ByQuery))
	first := rowIDs("log-rows")
	run("older", chromedp.Click("#log-older", chromedp.ByID))
	waitJS("second page", `document.getElementById("log-page").textContent.startsWith("page 2")`, 10*time.Second)
	second := rowIDs("log-rows")
	if len(second) != 10 || first[0] == second[0] || first[9] <= second[0] {
		t.Fatalf("pages not consecutive, newest first:\n%v\n%v", first, second)
	}
	for _, id := range append(first, second...) {
		if others[id] {
			t.Fatalf("an event of ws-other was shown to the ws-acme token: %s", id)
		}
	}
	// A single-workspace token: no Workspace column; the table fits, with
	// the side panel open too.
	if workspaceColumn("log") {
		t.Fatal("the ws-acme token's access log shows a Workspace column")
	}
	fits("access log")
	besideRow("log", 7)
	fits("access log with details")
	shot(t, ctx, artifacts, "access-log")
	run("close details", chromedp.Click("#log-panel .panel-close", chromedp.ByQuery))
	waitJS("panel closed", `!shown("log-panel") && !document.querySelector("#log-rows tr.selected")`, 5*time.Second)

	// Both CSV exports download a file with the documented header.
	for shape, header := range map[string]string{
		"access": "timestamp,linkSessionId,event,email,ipAddress,country,city,osName,clientName,fileName",
		"audit":  "timestamp,user,action,file,fileId,size,ipAddress,region,device,result,workspace",
	} {
		before, _ := filepath.Glob(filepath.Join(downloads, "*.csv"))
		run("export "+shape, chromedp.Click("#export-"+shape, chromedp.ByID))
		var file string
		deadline := time.Now().Add(20 * time.Second)
		for file == "" && time.Now().Before(deadline) {
			now, _ := filepath.Glob(filepath.Join(downloads, "*.csv"))
			if len(now) > len(before) {
				for _, f := range now {
					if !contains(before, f) {
						file = f
					}
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		if file == "" {
			t.Fatalf("export %s: no file downloaded", shape)
		}
		time.Sleep(200 * time.Millisecond) // written completely
		data, _ := os.ReadFile(file)
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if strings.TrimSpace(lines[0]) != header || len(lines) < 2 {
			t.Fatalf("export %s (%s): %d lines, header %q", shape, filepath.Base(file), len(lines), lines[0])
		}
		t.Logf("export %s: %s, %d lines", shape, filepath.Base(file), len(lines))
	}

	// Link activity: the counts and the chart.
	run("link", chromedp.Navigate(base+"/console/#/link/lk-b"))
	waitJS("activity chart", `!!document.querySelector("#activity-chart rect") && document.querySelector(".count-downloads").textContent === "12" &&
		document.querySelector(".count-opens").textContent === "4"`, 20*time.Second)
	// The legend names both series, each in the colour of its bars, and the
	// two colours differ.
	var legend []struct{ Series, Label, Swatch, Bar string }
	run("legend", chromedp.Evaluate(`[...document.querySelectorAll("#chart-legend li")].map(li => ({
		series: li.dataset.series, label: li.textContent.trim(),
		swatch: getComputedStyle(li.querySelector(".swatch")).backgroundColor,
		bar: getComputedStyle(document.querySelector("#activity-chart rect." + li.dataset.series)).fill}))`, &legend))
	if len(legend) != 2 || legend[0].Label != "Opens" || legend[1].Label != "Downloads" || legend[0].Swatch == legend[1].Swatch ||
		legend[0].Swatch != legend[0].Bar || legend[1].Swatch != legend[1].Bar {
		t.Fatalf("chart legend: %+v; want Opens and Downloads, each the colour of its bars, two colours", legend)
	}
	fits("link activity")
	shot(t, ctx, artifacts, "link-activity")

	// Alerts: the brute-force alert, from the archive.
	run("alerts", chromedp.Navigate(base+"/console/#/alerts"))
	waitJS("alert listed", `[...document.querySelectorAll("#alerts-rows tr")].some(r => r.textContent.includes("brute-force") && r.textContent.includes("link:lk-bf"))`, 60*time.Second,
		chromedp.Evaluate(`location.hash = "#/log"; location.hash = "#/alerts"`, nil))
	shot(t, ctx, artifacts, "alerts")

	// Live: events posted after the page opened appear; a filter narrows
	// them; ws-other never shows.
	run("live", chromedp.Navigate(base+"/console/#/live"))
	waitJS("stream open", `document.getElementById("live-status").textContent === "live"`, 20*time.Second)
	// Chromium offers permessage-deflate and the server takes it: the
	// events below arrive compressed.
	waitJS("stream compressed", `document.getElementById("live-status").title.includes("permessage-deflate")`, 5*time.Second)
	// No event yet: the page says it waits for them, and shows no table.
	waitJS("waiting for events", `shown("live-empty") && document.getElementById("live-empty").textContent.includes("Waiting for events") &&
		!shown("live-table") && !shown("live-panel") && document.querySelectorAll("#live-rows tr").length === 0`, 5*time.Second)
	fits("live, waiting")
	shot(t, ctx, artifacts, "live-waiting")
	l1, l2, other := mk("ws-acme", "lk-live-1", sharelog.LinkOpened), mk("ws-acme", "lk-live-2", sharelog.LinkOpened), mk("ws-other", "lk-live-1", sharelog.LinkOpened)
	post(l1, l2, other)
	waitJS("live events", fmt.Sprintf(`!!document.querySelector('#live-rows tr[data-id="%s"]') && !!document.querySelector('#live-rows tr[data-id="%s"]')`, l1.ID, l2.ID), 30*time.Second)
	waitJS("waiting state replaced", `!shown("live-empty") && shown("live-table")`, 5*time.Second)
	run("filter", chromedp.SetValue(`#live-filter input[name="link"]`, "lk-live-1", chromedp.ByQuery), chromedp.Click(`#live-filter button[type="submit"]`, chromedp.ByQuery))
	time.Sleep(500 * time.Millisecond) // the filter message is answered before the next events
	// A new filter empties the table: waiting again, for matching events.
	waitJS("waiting for filtered events", `shown("live-empty") && document.getElementById("live-empty").textContent.includes("match the filter") && !shown("live-table")`, 5*time.Second)
	m1, m2 := mk("ws-acme", "lk-live-1", sharelog.LinkDownloaded), mk("ws-acme", "lk-live-2", sharelog.LinkDownloaded)
	post(m2, m1)
	waitJS("filtered event", fmt.Sprintf(`!!document.querySelector('#live-rows tr[data-id="%s"]')`, m1.ID), 30*time.Second)
	time.Sleep(500 * time.Millisecond)
	got := rowIDs("live-rows")
	if len(got) != 1 || got[0] != m1.ID {
		t.Fatalf("after the filter link=lk-live-1 the live table holds %v, want only %s", got, m1.ID)
	}
	besideRow("live", 0)
	waitJS("detail", `document.getElementById("live-detail").textContent.includes("Session:  ls_")`, 5*time.Second)
	fits("live with details")
	if workspaceColumn("live") {
		t.Fatal("the ws-acme token's live table shows a Workspace column")
	}
	shot(t, ctx, artifacts, "live")
	if others[other.ID] || strings.Contains(strings.Join(got, ","), other.ID) {
		t.Fatal("a ws-other event reached the live page")
	}

	// Tokens of several workspaces, listed or "*": the Workspace column
	// shows both workspaces; the page still fits, and the details of a row
	// far down the page open beside it. A single-workspace token after
	// them has no column again.
	for _, tok := range []struct{ name, value string }{{"listed", tokMulti}, {"all", tokAll}} {
		loginAs(tok.value)
		run("log "+tok.name, chromedp.Navigate(base+"/console/#/log"), chromedp.WaitVisible("#log-filter", chromedp.ByID),
			chromedp.SetValue(`#log-filter input[name="limit"]`, "40", chromedp.ByQuery), chromedp.Click(`#log-filter button[type="submit"]`, chromedp.ByQuery))
		waitJS("both workspaces listed", `(() => { const ws = [...document.querySelectorAll("#log-rows td.c-ws")].map(td => td.textContent);
			return ws.includes("ws-acme") && ws.includes("ws-other"); })()`, 20*time.Second)
		if !workspaceColumn("log") {
			t.Fatalf("the %s token's access log has no Workspace column", tok.name)
		}
		fits("access log, " + tok.name + " token")
		besideRow("log", 29)
		fits("access log with details, " + tok.name + " token")
		shot(t, ctx, artifacts, "access-log-workspaces-"+tok.name)
	}
	loginAs(tokA)
	run("log acme", chromedp.Navigate(base+"/console/#/log"))
	waitJS("acme events listed", `document.querySelectorAll("#log-rows tr").length > 0`, 20*time.Second)
	if workspaceColumn("log") {
		t.Fatal("after a multi-workspace token logged out, the ws-acme token's access log shows a Workspace column")
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// shot saves a screenshot of the page as a test artefact.
func shot(t *testing.T, ctx context.Context, dir, name string) {
	var png []byte
	if err := chromedp.Run(ctx, chromedp.FullScreenshot(&png, 100)); err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(dir, "console-"+name+".png")
	if err := os.WriteFile(path, png, 0o644); err == nil {
		t.Logf("screenshot: %s", path)
	}
}
