package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/tools/simulate"
)

// webhookReceiver is a receiver as a customer would run it: it verifies
// every request with the Standard Webhooks reference library and records
// the events, in arrival order.
type webhookReceiver struct {
	srv    *httptest.Server
	secret string
	mu     sync.Mutex
	events []*sharelog.Event
	bad    []string
}

func newWebhookReceiver(t *testing.T) *webhookReceiver {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	r := &webhookReceiver{secret: "whsec_" + base64.StdEncoding.EncodeToString(key)}
	wh, err := standardwebhooks.NewWebhook(r.secret)
	if err != nil {
		t.Fatal(err)
	}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if err := wh.Verify(body, req.Header); err != nil {
			r.bad = append(r.bad, err.Error())
			w.WriteHeader(400)
			return
		}
		ev, err := sharelog.DecodeEnriched(body)
		if err != nil || req.Header.Get("webhook-id") != ev.ID {
			r.bad = append(r.bad, fmt.Sprintf("body %.80s: %v", body, err))
			w.WriteHeader(400)
			return
		}
		r.events = append(r.events, ev)
		w.WriteHeader(204)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *webhookReceiver) received() ([]*sharelog.Event, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*sharelog.Event(nil), r.events...), append([]string(nil), r.bad...)
}

// webhookConfig writes a configuration with one webhook sink to the
// receiver and returns its path.
func webhookConfig(t *testing.T, dataDir string, r *webhookReceiver, extra string) string {
	t.Helper()
	secrets := filepath.Join(dataDir, "webhook.secrets")
	if err := os.WriteFile(secrets, []byte(r.secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`data_dir: %s
%s
sinks:
  - name: hook
    type: webhook
    delivery: {batch_wait: 50ms, retry_initial: 20ms, retry_max: 200ms}
    webhook:
      url: %s/events
      secrets: {file: %s}
      allow_http: true
      allow_private: [127.0.0.1]
`, dataDir, extra, r.srv.URL, secrets)
	path := filepath.Join(dataDir, "sharelog.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestReplayCommand replays two archived days to a webhook: every event of
// the range arrives, signed, oldest first, and nothing outside the range.
func TestReplayCommand(t *testing.T) {
	dataDir := t.TempDir()
	all := archiveFixture(t, dataDir)
	r := newWebhookReceiver(t)
	cfg := webhookConfig(t, dataDir, r, "")
	_, stderr, err := sharelogCmd(t, dataDir, "replay", "--config", cfg, "--sink", "hook", "--from", "2026-11-21", "--to", "2026-11-22")
	if err != nil {
		t.Fatalf("replay: %v\n%s", err, stderr)
	}
	var want []string
	for _, ev := range all {
		if d := ev.Time.Format(time.DateOnly); d == "2026-11-21" || d == "2026-11-22" {
			want = append(want, ev.ID)
		}
	}
	got, bad := r.received()
	if len(bad) > 0 {
		t.Fatalf("receiver refused requests: %v", bad)
	}
	if len(got) != len(want) || len(want) == 0 {
		t.Fatalf("received %d events, want %d\n%s", len(got), len(want), stderr)
	}
	seen := map[string]bool{}
	for i, ev := range got {
		seen[ev.ID] = true
		if i > 0 && ev.Time.Before(got[i-1].Time) {
			t.Fatalf("event %d (%s) is older than the one before: not oldest first", i, ev.Time)
		}
	}
	for _, id := range want {
		if !seen[id] {
			t.Fatalf("event %s of the range was not replayed", id)
		}
	}
	if !strings.Contains(stderr, fmt.Sprintf("replayed %s events to hook", thousands(int64(len(want))))) || !strings.Contains(stderr, " 0 refused") {
		t.Fatalf("summary: %s", stderr)
	}
	if _, stderr, err := sharelogCmd(t, dataDir, "replay", "--config", cfg, "--sink", "nope", "--from", "2026-11-21", "--to", "2026-11-22"); err == nil || !strings.Contains(stderr, `"nope" is not configured`) {
		t.Fatalf("unknown sink: %v %s", err, stderr)
	}
}

// TestRunDeliversToWebhook: `sharelog run` with a webhook sink configured
// delivers what is posted to the ingest API, enriched and signed.
func TestRunDeliversToWebhook(t *testing.T) {
	dataDir := t.TempDir()
	r := newWebhookReceiver(t)
	addr := freeAddr(t)
	cfg := webhookConfig(t, dataDir, r, fmt.Sprintf("http: {addr: %q}\ningest: {keys: [run-test-key-0123456789abcdef]}\nkafka: {embedded: {addr: %q}}", addr, freeAddr(t)))
	cmd := exec.Command(binary, "run", "--config", cfg)
	cmd.Env = append(os.Environ(), "SHARELOG_LOG_LEVEL=warn")
	var stderr syncBuffer
	cmd.Stderr, cmd.Stdout = &stderr, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	clock := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	gen := simulate.NewGenerator(simulate.Config{Seed: 5}, func() time.Time { clock = clock.Add(time.Second); return clock })
	evs := gen.Batch(200)
	var body bytes.Buffer
	for _, ev := range evs {
		b, _ := json.Marshal(ev)
		body.Write(append(b, '\n'))
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		req, _ := http.NewRequest("POST", "http://"+addr+"/v1/events", bytes.NewReader(body.Bytes()))
		req.Header.Set("Authorization", "Bearer run-test-key-0123456789abcdef")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 202 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("ingest never answered 202 (%v)\n%s", err, stderr.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	for {
		got, bad := r.received()
		if len(bad) > 0 {
			t.Fatalf("receiver refused requests: %v", bad)
		}
		posted := map[string]bool{}
		for _, ev := range evs {
			posted[ev.ID] = true
		}
		ids := map[string]bool{}
		for _, ev := range got {
			if ev.Pipeline == nil {
				t.Fatalf("event %s arrived without the pipeline group: not the enriched event", ev.ID)
			}
			if posted[ev.ID] {
				ids[ev.ID] = true
				continue
			}
			// The default detection rules run too: what else arrives is
			// their alerts on the posted events.
			if ev.Action != sharelog.AlertRaised || ev.Alert == nil || len(ev.Alert.Evidence) == 0 || !posted[ev.Alert.Evidence[len(ev.Alert.Evidence)-1]] {
				t.Fatalf("webhook received an event that was not posted and is no alert on them: %+v", ev)
			}
		}
		if len(ids) == len(evs) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhook received %d of %d events\n%s", len(ids), len(evs), stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestSinkCommandRefusesUnknownName(t *testing.T) {
	dataDir := t.TempDir()
	r := newWebhookReceiver(t)
	cfg := webhookConfig(t, dataDir, r, "kafka: {brokers: [\"127.0.0.1:1\"]}")
	_, stderr, err := sharelogCmd(t, dataDir, "sink", "nope", "--config", cfg)
	if err == nil || !strings.Contains(stderr, `sink "nope" is not configured (sinks: [hook])`) {
		t.Fatalf("%v\n%s", err, stderr)
	}
}
