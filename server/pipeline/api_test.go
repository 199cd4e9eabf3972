package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sharelog "github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/config"
	"github.com/sharelog/sharelog/server/api"
	"github.com/sharelog/sharelog/storage/archive"
)

// apiGet sends GET url with the bearer token and returns status and body.
func apiGet(t *testing.T, url, token string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

// TestAPIRoleAlone starts the api role with no Kafka configured and no
// broker allowed: it serves the archive, generates its token once and
// keeps it.
func TestAPIRoleAlone(t *testing.T) {
	cfg := &config.Config{DataDir: t.TempDir()}
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Log.Level = "warn"
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	evs := []*sharelog.Event{event("lnk-1", "81.2.69.160", ""), event("lnk-1", "81.2.69.161", "")}
	dir, _ := archive.PartitionDir(cfg.Archive.Dir, "ws-acme", evs[0].Time)
	if _, _, err := archive.WriteFile(dir, evs, archive.Options{}); err != nil {
		t.Fatal(err)
	}

	run := func() (*Pipeline, string, func()) {
		var notice bytes.Buffer
		p, err := Start(context.Background(), cfg, API, Options{Notice: &notice})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		return p, notice.String(), func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run: %v", err)
			}
		}
	}
	p, notice, stop := run()
	if p.Brokers() != nil {
		t.Fatalf("brokers %v without Kafka", p.Brokers())
	}
	path := filepath.Join(cfg.DataDir, "api.token")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(raw))
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 || !strings.HasPrefix(token, api.TokenPrefix) {
		t.Fatalf("token file %v %q", fi.Mode(), token)
	}
	if !strings.Contains(notice, token) {
		t.Fatalf("the generated token is not in the notice:\n%s", notice)
	}
	get(t, "http://"+p.Addr()+"/readyz", 200)
	code, body := apiGet(t, "http://"+p.Addr()+"/v1/events?workspace=ws-acme", token)
	var page struct {
		Events []json.RawMessage `json:"events"`
	}
	if code != 200 || json.Unmarshal(body, &page) != nil || len(page.Events) != 2 {
		t.Fatalf("%d %s", code, body)
	}
	if code, _ := apiGet(t, "http://"+p.Addr()+"/v1/events", "slt_wrong"); code != 401 {
		t.Fatalf("wrong token: %d", code)
	}
	if metrics := get(t, "http://"+p.Addr()+"/metrics", 200); !strings.Contains(metrics, `sharelog_api_requests_total{code="200",endpoint="events"} 1`) {
		t.Fatalf("metrics lack the request:\n%s", metrics)
	}
	stop()

	// Started again: the same token, not printed.
	p, notice, stop = run()
	defer stop()
	if strings.Contains(notice, token) {
		t.Fatal("the token was printed a second time")
	}
	if code, body := apiGet(t, "http://"+p.Addr()+"/v1/links/lnk-1/activity", token); code != 200 {
		t.Fatalf("activity: %d %s", code, body)
	}
}

// TestConfiguredTokensReplaceTheGeneratedOne: with api.tokens set, no token
// is generated and only the configured ones work, each in its workspaces.
func TestConfiguredTokensReplaceTheGeneratedOne(t *testing.T) {
	cfg := &config.Config{DataDir: t.TempDir()}
	cfg.HTTP.Addr = "127.0.0.1:0"
	tok, sum := api.NewToken()
	cfg.API.Tokens = []api.Token{{Name: "other", Workspaces: []string{"ws-other"}, SHA256: sum}}
	cfg.SetDefaults()
	var notice bytes.Buffer
	p, err := Start(context.Background(), cfg, API, Options{Notice: &notice})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() { cancel(); <-done }()
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "api.token")); !os.IsNotExist(err) || notice.Len() > 0 {
		t.Fatalf("a token was generated: %v %q", err, notice.String())
	}
	if code, body := apiGet(t, "http://"+p.Addr()+"/v1/events?workspace=ws-acme", tok); code != 403 {
		t.Fatalf("%d %s", code, body)
	}

	// A bad tokens file stops the start, naming the field.
	cfg2 := *cfg
	cfg2.API.TokensFile = filepath.Join(t.TempDir(), "none")
	if _, err := Start(context.Background(), &cfg2, API, Options{}); err == nil || !strings.HasPrefix(err.Error(), "api.tokens_file: ") {
		t.Fatalf("err = %v", err)
	}
}

// TestPostedEventsAreQueryable runs ingest, enrich, archive and the API in
// one process, as `sharelog run` does: events posted to POST /v1/events come
// back from GET /v1/events on the same address, enriched.
func TestPostedEventsAreQueryable(t *testing.T) {
	cfg := testConfig(t)
	cfg.Archive.MaxFileAge = 200 * time.Millisecond
	tok, sum := api.NewToken()
	cfg.API.Tokens = []api.Token{{Name: "acme", Workspaces: []string{"ws-acme"}, SHA256: sum}}
	p := start(t, cfg, Ingest|Enrich|Archive|API)

	var evs []*sharelog.Event
	for range 12 {
		evs = append(evs, event("link-q", "81.2.69.160", chromeWin))
	}
	if code, _, resp := post(t, p.Addr(), testKey, ndjson(t, evs...), nil); code != 202 {
		t.Fatalf("POST: %d %+v", code, resp)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body := apiGet(t, "http://"+p.Addr()+"/v1/events?link=link-q", tok)
		var page struct {
			Events []*sharelog.Event `json:"events"`
		}
		if code != 200 || json.Unmarshal(body, &page) != nil {
			t.Fatalf("%d %s", code, body)
		}
		if len(page.Events) == len(evs) {
			if page.Events[0].ID != evs[len(evs)-1].ID || page.Events[0].Geo == nil || page.Events[0].Session == nil {
				t.Fatalf("newest event %+v", page.Events[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events queryable after 30s", len(page.Events), len(evs))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
