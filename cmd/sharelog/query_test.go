package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	sharelog "github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/storage/archive"
	"github.com/sharelog/sharelog/storage/query"
	"github.com/sharelog/sharelog/tools/simulate"
)

const (
	accessHeader = "timestamp,linkSessionId,event,email,ipAddress,country,city,osName,clientName,fileName"
	auditHeader  = "timestamp,user,action,file,fileId,size,ipAddress,region,device,result,workspace"
)

// archiveFixture writes simulated events of two workspaces over four days
// (2026-11-20 to 2026-11-23) into <dataDir>/archive and returns them.
func archiveFixture(t *testing.T, dataDir string) []*sharelog.Event {
	t.Helper()
	clock := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	gen := simulate.NewGenerator(simulate.Config{Seed: 11, Workspaces: 2, LinksPerWorkspace: 5, UsersPerWorkspace: 4}, func() time.Time {
		clock = clock.Add(7 * time.Minute)
		return clock
	})
	evs := gen.Batch(4 * 24 * 60 / 7)
	byDir := map[string][]*sharelog.Event{}
	for _, ev := range evs {
		if err := ev.Validate(); err != nil {
			t.Fatal(err)
		}
		dir, err := archive.PartitionDir(filepath.Join(dataDir, "archive"), ev.Workspace.ID, ev.Time)
		if err != nil {
			t.Fatal(err)
		}
		byDir[dir] = append(byDir[dir], ev)
	}
	for dir, part := range byDir {
		if _, _, err := archive.WriteFile(dir, part, archive.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	return evs
}

// sharelogCmd runs the binary in dataDir's environment and returns stdout
// and stderr.
func sharelogCmd(t *testing.T, dataDir string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "SHARELOG_DATA_DIR="+dataDir, "SHARELOG_LOG_LEVEL=warn")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// expectedCSV is the export computed in the test's own process.
func expectedCSV(t *testing.T, root string, f query.Filter, shape query.CSVShape) string {
	t.Helper()
	var b bytes.Buffer
	w := query.NewCSVWriter(&b, shape)
	if _, err := query.New(root).Each(context.Background(), f, nil, w.Write); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestExportCommand(t *testing.T) {
	dataDir := t.TempDir()
	evs := archiveFixture(t, dataDir)
	ws := evs[0].Workspace.ID
	from, to := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	want := 0
	for _, ev := range evs {
		if ev.Workspace.ID == ws && !ev.Time.Before(from) && ev.Time.Before(to) {
			want++
		}
	}

	// A workspace's audit log over two days (--to is the last day).
	out := filepath.Join(t.TempDir(), "audit.csv")
	_, stderr, err := sharelogCmd(t, dataDir, "export", "--workspace", ws, "--from", "2026-11-21", "--to", "2026-11-22", "-o", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(got), "\n"), "\n")
	if lines[0] != auditHeader || len(lines)-1 != want || want == 0 {
		t.Fatalf("header %q, %d rows; want %d", lines[0], len(lines)-1, want)
	}
	f := query.Filter{Workspaces: []string{ws}, From: from, To: to}
	if exp := expectedCSV(t, filepath.Join(dataDir, "archive"), f, query.AuditLog); string(got) != exp {
		t.Fatal("the exported file differs from the engine's export")
	}
	if !regexp.MustCompile(`^exported [0-9,]+ events \(the audit log of `+ws+`, 2 days\) to `+regexp.QuoteMeta(out)+` in `).MatchString(stderr) ||
		!strings.Contains(stderr, thousands(int64(want))) || strings.Contains(stderr, "\r") {
		t.Fatalf("summary: %q", stderr)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".*partial")); len(left) > 0 {
		t.Fatalf("temp files left: %v", left)
	}

	// A link's access log, to standard output, over every day.
	var link string
	for _, ev := range evs {
		if ev.Link != nil && ev.Action == sharelog.LinkDownloaded {
			link = ev.Link.ID
			break
		}
	}
	stdout, stderr, err := sharelogCmd(t, dataDir, "export", "--link", link)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	all, _ := archive.Workspaces(filepath.Join(dataDir, "archive"))
	if !strings.HasPrefix(stdout, accessHeader+"\n") || strings.Count(stdout, "\n") < 2 ||
		stdout != expectedCSV(t, filepath.Join(dataDir, "archive"), query.Filter{Workspaces: all, Link: link}, query.AccessLog) {
		t.Fatalf("link export:\n%s", stdout)
	}

	// Mistakes are refused before anything is written.
	for _, args := range [][]string{
		{"export"},
		{"export", "--workspace", ws, "--from", "last week"},
		{"export", "--workspace", ws, "--shape", "excel"},
		{"export", "--workspace", ws, "--from", "2026-11-22", "--to", "2026-11-21"},
	} {
		if _, stderr, err := sharelogCmd(t, dataDir, args...); err == nil || !strings.Contains(stderr, "sharelog: ") {
			t.Errorf("%v: %v %s", args, err, stderr)
		}
	}
}

func TestQueryCommand(t *testing.T) {
	dataDir := t.TempDir()
	evs := archiveFixture(t, dataDir)
	ws := evs[0].Workspace.ID

	stdout, stderr, err := sharelogCmd(t, dataDir, "query", "--workspace", ws, "--action", "link.*", "--limit", "0", "--format", "ndjson")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var want []string
	for i := len(evs) - 1; i >= 0; i-- {
		if ev := evs[i]; ev.Workspace.ID == ws && strings.HasPrefix(string(ev.Action), "link.") {
			want = append(want, ev.ID)
		}
	}
	var got []string
	sc := bufio.NewScanner(strings.NewReader(stdout))
	for sc.Scan() {
		var ev sharelog.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatal(err)
		}
		got = append(got, ev.ID)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("ndjson: %d events, want %d newest first", len(got), len(want))
	}

	// Pages: the cursor printed on stderr continues where the page ended.
	stdout, stderr, err = sharelogCmd(t, dataDir, "query", "--workspace", ws, "--action", "link.*", "--limit", "5", "--format", "json")
	var page struct {
		Events     []sharelog.Event `json:"events"`
		NextCursor string           `json:"next_cursor"`
	}
	if err != nil || json.Unmarshal([]byte(stdout), &page) != nil || len(page.Events) != 5 || page.Events[4].ID != want[4] || page.NextCursor == "" {
		t.Fatalf("%v %s\n%s", err, stderr, stdout)
	}
	stdout, stderr, err = sharelogCmd(t, dataDir, "query", "--workspace", ws, "--action", "link.*", "--limit", "2", "--cursor", page.NextCursor, "--format", "table")
	if err != nil || !strings.HasPrefix(stdout, "TIME ") || strings.Count(stdout, "\n") != 3 || !strings.Contains(stderr, "more events: add --cursor c1.") {
		t.Fatalf("%v\n%s\n%s", err, stdout, stderr)
	}

	if _, stderr, err := sharelogCmd(t, dataDir, "query"); err == nil || !strings.Contains(stderr, "--workspace is required") {
		t.Fatalf("no workspace: %v %s", err, stderr)
	}
	if _, stderr, err := sharelogCmd(t, dataDir, "query", "--all-workspaces", "--ip", "10.0.0.0/33"); err == nil || !strings.Contains(stderr, "ip: ") {
		t.Fatalf("bad ip: %v %s", err, stderr)
	}
}

// TestAPICommand starts `sharelog api` (no Kafka) over an archive: it
// generates and prints a token, serves GET /v1/events with it, and with a
// token made by `sharelog token` in api.tokens_file, that token's
// workspaces only.
func TestAPICommand(t *testing.T) {
	dataDir := t.TempDir()
	evs := archiveFixture(t, dataDir)
	httpAddr := freeAddr(t)
	start := func(env ...string) (*exec.Cmd, *syncBuffer) {
		cmd := exec.Command(binary, "api")
		cmd.Env = append(os.Environ(), append(env, "SHARELOG_DATA_DIR="+dataDir, "SHARELOG_HTTP_ADDR="+httpAddr, "SHARELOG_LOG_LEVEL=warn")...)
		out := new(syncBuffer)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if resp, err := http.Get("http://" + httpAddr + "/readyz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					return cmd, out
				}
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("not ready:\n%s", out.String())
			}
		}
	}
	stop := func(cmd *exec.Cmd, out *syncBuffer) {
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Fatalf("exit: %v\n%s", err, out.String())
		}
	}
	get := func(token, path string) (int, []byte) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+httpAddr+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, body
	}

	cmd, out := start()
	raw, err := os.ReadFile(filepath.Join(dataDir, "api.token"))
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(raw))
	if !strings.Contains(out.String(), token) {
		t.Fatalf("the generated token is not printed:\n%s", out.String())
	}
	code, body := get(token, "/v1/events?limit=10000")
	var page struct {
		Events []json.RawMessage `json:"events"`
	}
	if code != 200 || json.Unmarshal(body, &page) != nil || len(page.Events) != len(evs) {
		t.Fatalf("%d, %d events of %d", code, len(page.Events), len(evs))
	}
	if code, _ := get("", "/v1/events"); code != 401 {
		t.Fatalf("no token: %d", code)
	}
	stop(cmd, out)

	// A token for one workspace, from `sharelog token`, in a tokens file.
	ws := evs[0].Workspace.ID
	stdout, stderr, err := sharelogCmd(t, dataDir, "token", "--name", "one", "--workspace", ws)
	if err != nil {
		t.Fatalf("%v %s", err, stderr)
	}
	m := regexp.MustCompile(`(?m)^    (slt_[0-9a-f]{64})$`).FindStringSubmatch(stdout)
	line := regexp.MustCompile(`(?m)^one [0-9a-f]{64} .*$`).FindString(stdout)
	if m == nil || line == "" || strings.Count(stdout, m[1]) != 1 {
		t.Fatalf("token output:\n%s", stdout)
	}
	tokensFile := filepath.Join(t.TempDir(), "api.tokens")
	os.WriteFile(tokensFile, []byte(line+"\n"), 0o600)
	cmd, out = start("SHARELOG_API_TOKENS_FILE=" + tokensFile)
	defer stop(cmd, out)
	if code, _ := get(token, "/v1/events"); code != 401 {
		t.Fatalf("the generated token still works with tokens configured: %d", code)
	}
	code, body = get(m[1], "/v1/events?limit=10000")
	json.Unmarshal(body, &page)
	for _, raw := range page.Events {
		if !strings.Contains(string(raw), `"workspace":{"id":"`+ws+`"`) {
			t.Fatalf("token of %s got %s", ws, raw)
		}
	}
	if code != 200 || len(page.Events) == 0 || len(page.Events) == len(evs) {
		t.Fatalf("%d, %d events", code, len(page.Events))
	}
	var other string
	for _, ev := range evs {
		if ev.Workspace.ID != ws {
			other = ev.Workspace.ID
		}
	}
	if code, body := get(m[1], "/v1/events?workspace="+other+"&format=csv"); other == "" || code != 403 {
		t.Fatalf("other workspace %q: %d %s", other, code, body)
	}
	if code, body := get(m[1], "/v1/events?workspace="+ws+"&format=csv"); code != 200 || !strings.HasPrefix(string(body), auditHeader+"\n") {
		t.Fatalf("CSV: %d %.200s", code, body)
	}
}

func TestProgressBar(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(&b, true, 4)
	now := p.start
	p.now = func() time.Time { return now }
	now = now.Add(time.Second)
	p.update(1, 12345)
	now = now.Add(50 * time.Millisecond)
	p.update(1, 12400) // too soon: not drawn
	now = now.Add(time.Second)
	p.update(4, 20000) // the last day is always drawn
	p.clear()
	want := "\r[######------------------] 1/4 days  12,345 events  12,345 events/s\x1b[K" +
		"\r[########################] 4/4 days  20,000 events  9,756 events/s\x1b[K" +
		"\r\x1b[K"
	if b.String() != want {
		t.Fatalf("%q\nwant\n%q", b.String(), want)
	}
	b.Reset()
	off := newProgress(&b, false, 4)
	off.update(4, 1)
	off.clear()
	if b.Len() != 0 || isTerminal(&b) {
		t.Fatalf("drawn while off: %q", b.String())
	}
	for n, s := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -4200: "-4,200"} {
		if got := thousands(n); got != s {
			t.Errorf("thousands(%d) = %q", n, got)
		}
	}
}
