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
	cfg.API.Tokens = []api.Token{{Name: "acme", Workspaces: []string{"ws-acme"}, SHA256: sumA}, {Name: "other", Workspaces: []string{"ws-other"}, SHA256: sumB}}
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
	post(archived...)

	// The browser.
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chrome), chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1400, 900))
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
			run(what, chromedp.Evaluate(js, &ok))
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

	// Login: a wrong token shows the API's error, the right one opens the
	// live page.
	run("open", chromedp.Navigate(base+"/"), chromedp.WaitVisible("#login-token", chromedp.ByID),
		browser.SetDownloadBehavior(browser.SetDownloadBehaviorBehaviorAllow).WithDownloadPath(downloads))
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
	shot(t, ctx, artifacts, "access-log")

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
	waitJS("activity chart", `!!document.querySelector("#activity-chart rect") && document.querySelector(".count-downloads").textContent === "12"`, 20*time.Second)
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
	l1, l2, other := mk("ws-acme", "lk-live-1", sharelog.LinkOpened), mk("ws-acme", "lk-live-2", sharelog.LinkOpened), mk("ws-other", "lk-live-1", sharelog.LinkOpened)
	post(l1, l2, other)
	waitJS("live events", fmt.Sprintf(`!!document.querySelector('#live-rows tr[data-id="%s"]') && !!document.querySelector('#live-rows tr[data-id="%s"]')`, l1.ID, l2.ID), 30*time.Second)
	run("filter", chromedp.SetValue(`#live-filter input[name="link"]`, "lk-live-1", chromedp.ByQuery), chromedp.Click(`#live-filter button[type="submit"]`, chromedp.ByQuery))
	time.Sleep(500 * time.Millisecond) // the filter message is answered before the next events
	m1, m2 := mk("ws-acme", "lk-live-1", sharelog.LinkDownloaded), mk("ws-acme", "lk-live-2", sharelog.LinkDownloaded)
	post(m2, m1)
	waitJS("filtered event", fmt.Sprintf(`!!document.querySelector('#live-rows tr[data-id="%s"]')`, m1.ID), 30*time.Second)
	time.Sleep(500 * time.Millisecond)
	got := rowIDs("live-rows")
	if len(got) != 1 || got[0] != m1.ID {
		t.Fatalf("after the filter link=lk-live-1 the live table holds %v, want only %s", got, m1.ID)
	}
	run("detail", chromedp.Click(`#live-rows tr`, chromedp.ByQuery))
	waitJS("detail", `document.getElementById("live-detail").textContent.includes("Session:  ls_")`, 5*time.Second)
	shot(t, ctx, artifacts, "live")
	if others[other.ID] || strings.Contains(strings.Join(got, ","), other.ID) {
		t.Fatal("a ws-other event reached the live page")
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
