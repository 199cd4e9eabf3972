package pipeline

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack/slacktest"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/internal/secret"
	"github.com/sharelog/sharelog/rules"
	"github.com/sharelog/sharelog/sinks/registry"
	"github.com/sharelog/sharelog/sinks/slack"
)

// TestWrongPasswordsReachSlack: `sharelog run`'s roles with a Slack sink.
// Ten wrong passwords posted to POST /v1/events raise the brute-force
// alert at 5 and again at 10; Slack (slack-go's slacktest server) gets one
// chat.postMessage to the rule's channel naming the link, the IP and the
// count, then one chat.update of that message with the new count.
func TestWrongPasswordsReachSlack(t *testing.T) {
	type call struct{ method, channel, ts, text, blocks string }
	var mu sync.Mutex
	var calls []call
	srv := slacktest.NewTestServer(func(c slacktest.Customize) {
		h := func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			v, _ := url.ParseQuery(string(body))
			mu.Lock()
			calls = append(calls, call{strings.TrimPrefix(r.URL.Path, "/"), v.Get("channel"), v.Get("ts"), v.Get("text"), v.Get("blocks")})
			n := len(calls)
			mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			if v.Get("token") != "xoxb-test-token" {
				io.WriteString(w, `{"ok":false,"error":"invalid_auth"}`)
				return
			}
			fmt.Fprintf(w, `{"ok":true,"channel":"CSEC","ts":"1795000000.%06d"}`, n)
		}
		c.Handle("/chat.postMessage", h)
		c.Handle("/chat.update", h)
	})
	srv.Start()
	defer srv.Stop()
	t.Setenv("TEST_SLACK_TOKEN", "xoxb-test-token")

	cfg := testConfig(t)
	cfg.Rules = &[]rules.Rule{{Name: "brute-force", Type: rules.PasswordBruteForce, Threshold: 5, Severity: sharelog.SeverityCritical}}
	cfg.Sinks = []registry.Config{{Name: "slack-soc", Type: "slack", Section: &slack.Config{
		Token: secret.Ref{Env: "TEST_SLACK_TOKEN"}, APIURL: srv.GetAPIURL(),
		Routes: []slack.Route{{Channel: "#sec-alerts", MinSeverity: sharelog.SeverityHigh}},
	}}}
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	p := start(t, cfg, Ingest|Enrich|Rules|Sinks)

	var evs []*sharelog.Event
	for range 10 {
		ev := event("link-slack", "81.2.69.160", chromeWin)
		ev.Action, ev.Result, ev.Reason = sharelog.LinkPasswordFailed, sharelog.Denied, "wrong_password"
		evs = append(evs, ev)
	}
	if code, _, resp := post(t, p.Addr(), testKey, ndjson(t, evs...), nil); code != 202 {
		t.Fatalf("POST: %d %+v", code, resp)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		got := append([]call(nil), calls...)
		mu.Unlock()
		if len(got) >= 2 {
			post, upd := got[0], got[1]
			if post.method != "chat.postMessage" || post.channel != "#sec-alerts" || !strings.Contains(post.blocks, "link-slack") ||
				!strings.Contains(post.blocks, "81.2.69.160") || !strings.Contains(post.blocks, "5 wrong passwords") {
				t.Fatalf("first call %+v", post)
			}
			if upd.method != "chat.update" || upd.channel != "CSEC" || upd.ts != "1795000000.000001" || !strings.Contains(upd.blocks, "10 wrong passwords") {
				t.Fatalf("second call %+v", upd)
			}
			var blocks []map[string]any
			if err := json.Unmarshal([]byte(post.blocks), &blocks); err != nil || len(blocks) < 3 {
				t.Fatalf("blocks %v %s", err, post.blocks)
			}
			time.Sleep(time.Second) // nothing more comes
			mu.Lock()
			defer mu.Unlock()
			if len(calls) != 2 {
				t.Fatalf("%d calls, want a post and an update: %+v", len(calls), calls[2:])
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Slack got %d calls in 60 s: %+v", len(got), got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
