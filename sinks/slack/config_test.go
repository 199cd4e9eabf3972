package slack

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/internal/secret"
)

func TestConfigYAML(t *testing.T) {
	src := `
token: {env: SLACK_BOT_TOKEN}
api_url: http://127.0.0.1:9/api/
timeout: 3s
routes:
  - channel: "#security-alerts"
    min_severity: high
  - name: acme-soc
    webhook_url: {file: /etc/sharelog/acme-webhook}
    workspaces: [ws-acme]
    rules: [brute-force, new-country]
`
	var c Config
	if err := yaml.Unmarshal([]byte(src), &c); err != nil {
		t.Fatal(err)
	}
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	want := Config{
		Token:   secret.Ref{Env: "SLACK_BOT_TOKEN"},
		APIURL:  "http://127.0.0.1:9/api/",
		Timeout: 3 * time.Second,
		Routes: []Route{
			{Channel: "#security-alerts", MinSeverity: sharelog.SeverityHigh},
			{Name: "acme-soc", WebhookURL: secret.Ref{File: "/etc/sharelog/acme-webhook"}, Workspaces: []string{"ws-acme"}, Rules: []string{"brute-force", "new-country"}, MinSeverity: sharelog.SeverityLow},
		},
	}
	if !equalConfig(c, want) {
		t.Errorf("got %+v\nwant %+v", c, want)
	}
	var d Config
	d.Routes = []Route{{WebhookURL: secret.Ref{Env: "X"}}}
	d.SetDefaults()
	if d.APIURL != DefaultAPIURL || d.Timeout != DefaultTimeout || d.Routes[0].name(0) != "webhook-0" || d.Routes[0].MinSeverity != sharelog.SeverityLow {
		t.Errorf("defaults: %+v", d)
	}
}

func equalConfig(a, b Config) bool {
	if a.Token != b.Token || a.APIURL != b.APIURL || a.Timeout != b.Timeout || len(a.Routes) != len(b.Routes) {
		return false
	}
	for i := range a.Routes {
		x, y := a.Routes[i], b.Routes[i]
		if x.Name != y.Name || x.Channel != y.Channel || x.WebhookURL != y.WebhookURL || x.MinSeverity != y.MinSeverity ||
			!slices.Equal(x.Workspaces, y.Workspaces) || !slices.Equal(x.Rules, y.Rules) {
			return false
		}
	}
	return true
}

func TestConfigValidate(t *testing.T) {
	hook := secret.Ref{Env: "HOOK"}
	for _, c := range []struct {
		name string
		cfg  Config
		want []string
	}{
		{"no routes", Config{}, []string{"routes: at least one route is required"}},
		{"channel without token", Config{Routes: []Route{{WebhookURL: hook}, {Channel: "#sec"}}},
			[]string{"token: required: routes[1] posts to a channel with the bot token"}},
		{"both", Config{Token: hook, Routes: []Route{{Channel: "#sec", WebhookURL: hook}}},
			[]string{"routes[0]: set channel (bot token) or webhook_url (incoming webhook), not both"}},
		{"neither", Config{Routes: []Route{{Name: "x"}}},
			[]string{"routes[0]: set channel (posted with the bot token) or webhook_url (an incoming webhook)"}},
		{"bad channel", Config{Token: hook, Routes: []Route{{WebhookURL: hook}, {Channel: "#Security Alerts"}}},
			[]string{`routes[1].channel: "#Security Alerts" is neither a channel name`}},
		{"bad webhook ref", Config{Routes: []Route{{WebhookURL: secret.Ref{Env: "A", File: "/b"}}}},
			[]string{"routes[0].webhook_url: set file or env, not both"}},
		{"bad token ref", Config{Token: secret.Ref{Env: "A", File: "/b"}, Routes: []Route{{Channel: "#sec"}}},
			[]string{"token: set file or env, not both"}},
		{"filters", Config{Routes: []Route{{WebhookURL: hook, Workspaces: []string{"ws-a", "", "ws-a"}, Rules: []string{"r", "r", " "}, MinSeverity: "urgent"}}},
			[]string{`routes[0].workspaces[1]: empty`, `routes[0].workspaces[2]: "ws-a" is listed twice`, `routes[0].rules[1]: "r" is listed twice`, `routes[0].rules[2]: empty`, `routes[0].min_severity: "urgent" is not one of low, medium, high, critical`}},
		{"duplicate names", Config{Token: hook, Routes: []Route{{Channel: "#sec"}, {Channel: "#sec", MinSeverity: "high"}}},
			[]string{`routes[1].name: "#sec" is also the name of routes[0]`}},
		{"bad name", Config{Routes: []Route{{Name: "a b", WebhookURL: hook}}},
			[]string{`routes[0].name: "a b" must be`}},
		{"api_url http", Config{APIURL: "http://slack.example.com/api/", Routes: []Route{{WebhookURL: hook}}},
			[]string{"api_url: must be https (http is accepted for a loopback address only)"}},
		{"api_url relative", Config{APIURL: "slack.com/api", Routes: []Route{{WebhookURL: hook}}},
			[]string{"api_url: must be an absolute https URL"}},
		{"timeout", Config{Timeout: time.Millisecond, Routes: []Route{{WebhookURL: hook}}},
			[]string{"timeout: 1ms must be between 100ms and 10m"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.cfg.SetDefaults()
			err := c.cfg.Validate()
			if err == nil {
				t.Fatal("no error")
			}
			lines := strings.Split(err.Error(), "\n")
			for _, w := range c.want {
				if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, w) }) {
					t.Errorf("no line starting %q in\n%v", w, err)
				}
			}
			if len(lines) != len(c.want) {
				t.Errorf("%d errors, want %d:\n%v", len(lines), len(c.want), err)
			}
		})
	}
}

func TestNewReadsSecrets(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "hook")
	if err := os.WriteFile(file, []byte("# the SOC's webhook\nhttp://127.0.0.1:1/services/T/B/X\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TEST_SLACK_HOOK_BAD", "http://hooks.example.com/services/T/B/SECRET")
	for _, c := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"ok", Config{Routes: []Route{{WebhookURL: secret.Ref{File: file}}}}, ""},
		{"token missing", Config{Token: secret.Ref{Env: "TEST_SLACK_NO_SUCH_VAR"}, Routes: []Route{{Channel: "#sec"}}},
			"slack: token: environment variable TEST_SLACK_NO_SUCH_VAR is not set"},
		{"webhook file missing", Config{Routes: []Route{{WebhookURL: secret.Ref{File: filepath.Join(dir, "nope")}}}},
			"slack: routes[0].webhook_url: open " + filepath.Join(dir, "nope")},
		{"webhook http", Config{Routes: []Route{{WebhookURL: secret.Ref{Env: "TEST_SLACK_HOOK_BAD"}}}},
			"slack: routes[0].webhook_url: the URL read from $TEST_SLACK_HOOK_BAD must be https"},
		{"invalid", Config{}, "slack: routes: at least one route is required"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := New(c.cfg, Deps{})
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				s.Close()
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), c.want) {
				t.Fatalf("New = %v; want %q", err, c.want)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("the error shows the webhook URL: %v", err)
			}
		})
	}
	// New works on a copy: the caller's Config is not changed.
	cfg := Config{Routes: []Route{{WebhookURL: secret.Ref{File: file}}}}
	if _, err := New(cfg, Deps{}); err != nil || cfg.Timeout != 0 || cfg.Routes[0].MinSeverity != "" {
		t.Errorf("New changed the caller's config: %+v (%v)", cfg, err)
	}
}

func TestRouteFilters(t *testing.T) {
	srv := newSlackServer(t)
	cfg := Config{
		Token:  envRef(t, "TEST_SLACK_BOT_TOKEN", testToken),
		APIURL: srv.GetAPIURL(),
		Routes: []Route{
			{Channel: "#all"},
			{Channel: "#acme", Workspaces: []string{"ws-acme", "ws-acme-eu"}},
			{Channel: "#brute", Rules: []string{"brute-force"}},
			{Channel: "#critical", MinSeverity: sharelog.SeverityCritical},
			{Channel: "#acme-high", Workspaces: []string{"ws-acme"}, MinSeverity: sharelog.SeverityHigh},
		},
	}
	s := newTestSink(t, cfg, Deps{Now: newClock().now})
	mk := func(id, ws, rule string, sev sharelog.Severity) *sharelog.Event {
		ev := testAlert(id, "link:"+id, 3)
		ev.Workspace.ID, ev.Alert.Rule, ev.Alert.Severity = ws, rule, sev
		return ev
	}
	want := map[string][]string{
		"acme-high-brute":  {"#all", "#acme", "#brute", "#acme-high"},
		"acme-low-mass":    {"#all", "#acme"},
		"acmeeu-crit-mass": {"#all", "#acme", "#critical"},
		"other-crit-brute": {"#all", "#brute", "#critical"},
		"other-med-mass":   {"#all"},
		"acme-med-brute":   {"#all", "#acme", "#brute"},
	}
	write(t, s,
		mk("acme-high-brute", "ws-acme", "brute-force", sharelog.SeverityHigh),
		mk("acme-low-mass", "ws-acme", "mass", sharelog.SeverityLow),
		mk("acmeeu-crit-mass", "ws-acme-eu", "mass", sharelog.SeverityCritical),
		mk("other-crit-brute", "ws-other", "brute-force", sharelog.SeverityCritical),
		mk("other-med-mass", "ws-other", "mass", sharelog.SeverityMedium),
		mk("acme-med-brute", "ws-acme", "brute-force", sharelog.SeverityMedium),
	)
	got := map[string][]string{}
	for _, c := range srv.Calls() {
		got[alertID(c.Blocks)] = append(got[alertID(c.Blocks)], c.Channel)
	}
	for id, chans := range want {
		if !slices.Equal(got[id], chans) {
			t.Errorf("%s went to %v, want %v", id, got[id], chans)
		}
	}
	if len(got) != len(want) {
		t.Errorf("alerts delivered: %v", got)
	}

	// An alert no route selects is accepted and counted.
	only := newTestSink(t, Config{Token: cfg.Token, APIURL: cfg.APIURL, Routes: []Route{{Channel: "#crit", MinSeverity: sharelog.SeverityCritical}}}, Deps{})
	write(t, only, mk("low", "ws-acme", "x", sharelog.SeverityLow))
	if n := testutil.ToFloat64(only.m.unrouted); n != 1 {
		t.Errorf("unrouted = %v, want 1", n)
	}
}
