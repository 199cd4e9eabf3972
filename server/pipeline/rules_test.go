package pipeline

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/rules"
	"github.com/sharelog/sharelog/server/api"
)

// TestRulesRaiseAlertsEndToEnd runs `sharelog run`'s roles: wrong passwords
// posted to POST /v1/events raise an alert on <prefix>.alerts and a
// link.deactivate command on <prefix>.commands, and the alert reaches the
// archive like any other event (GET /v1/events?action=alert.raised).
func TestRulesRaiseAlertsEndToEnd(t *testing.T) {
	cfg := testConfig(t)
	cfg.Archive.MaxFileAge = 200 * time.Millisecond
	cfg.Rules = &[]rules.Rule{{Type: rules.PasswordBruteForce, Threshold: 5, Severity: sharelog.SeverityCritical}}
	cfg.SetDefaults()
	tok, sum := api.NewToken()
	cfg.API.Tokens = []api.Token{{Name: "acme", Workspaces: []string{"ws-acme"}, SHA256: sum}}
	p := start(t, cfg, Ingest|Enrich|Archive|API|Rules)

	var evs []*sharelog.Event
	for range 5 {
		ev := event("link-bf", "81.2.69.160", chromeWin)
		ev.Action, ev.Result, ev.Reason = sharelog.LinkPasswordFailed, sharelog.Denied, "wrong_password"
		evs = append(evs, ev)
	}
	if code, _, resp := post(t, p.Addr(), testKey, ndjson(t, evs...), nil); code != 202 {
		t.Fatalf("POST: %d %+v", code, resp)
	}
	topics := cfg.Kafka.Topics()
	alerts := consume(t, p.Brokers(), topics.Alerts, 1, 60*time.Second)
	if len(alerts) != 1 {
		t.Fatalf("%d alerts", len(alerts))
	}
	a, err := sharelog.DecodeEnriched(alerts[0].Value)
	if err != nil || a.Action != sharelog.AlertRaised || a.Alert.Rule != "password_brute_force" || a.Alert.Count != 5 ||
		len(a.Alert.Evidence) != 5 || a.Alert.Evidence[4] != evs[4].ID || a.Geo == nil || a.Platform == nil {
		t.Fatalf("alert %v %+v", err, a)
	}
	cmds := consume(t, p.Brokers(), topics.Commands, 1, 30*time.Second)
	var cmd rules.Command
	if len(cmds) != 1 || json.Unmarshal(cmds[0].Value, &cmd) != nil || cmd.Link != "link-bf" || cmd.AlertID != a.ID {
		t.Fatalf("commands %+v", cmds)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body := apiGet(t, "http://"+p.Addr()+"/v1/events?action=alert.raised", tok)
		var page struct {
			Events []*sharelog.Event `json:"events"`
		}
		if code != 200 || json.Unmarshal(body, &page) != nil {
			t.Fatalf("%d %s", code, body)
		}
		if len(page.Events) == 1 {
			if got := page.Events[0]; got.ID != a.ID || got.Alert == nil || got.Alert.Summary != a.Alert.Summary {
				t.Fatalf("archived alert %+v", got)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alert not queryable after 30 s: %s", body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
