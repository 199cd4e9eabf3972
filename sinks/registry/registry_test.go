package registry_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sharelog/sharelog/config"
	"github.com/sharelog/sharelog/sinks/registry"
)

func load(t testing.TB, yaml string) error {
	_, err := loadConfig(t, yaml)
	return err
}

func loadConfig(t testing.TB, yaml string) (*config.Config, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := config.Load(path, nil)
	return cfg, err
}

func TestSinksConfiguration(t *testing.T) {
	t.Setenv("HOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	t.Setenv("HEC_TOKEN", "00000000-0000-0000-0000-000000000000")
	good := `
sinks:
  - name: hook
    type: webhook
    filter: {actions: ["link.*"], results: [denied]}
    webhook: {url: "https://hooks.example.com/sharelog", secrets: {env: HOOK_SECRET}}
  - name: splunk-soc
    type: splunk
    delivery: {batch_events: 200}
    splunk: {url: "https://splunk.example.com:8088", token: {env: HEC_TOKEN}, ack: true}
  - name: es
    type: elasticsearch
    elasticsearch: {url: "https://es.example.com:9200", mode: data_stream, auth: {api_key: {env: HEC_TOKEN}}}
  - name: qradar
    type: syslog
    syslog: {network: tcp, address: "qradar.example.com:514", format: leef}
  - name: slack-soc
    type: slack
    slack: {token: {env: HEC_TOKEN}, routes: [{channel: "#sec-alerts", min_severity: high}]}
  - name: mail
    type: email
    email:
      smtp: {address: "smtp.example.com:587", username: sharelog, password: {env: HEC_TOKEN}, from: "sharelog <sharelog@example.com>"}
      link_notifications: [{link: lk_9, to: [owner@example.com]}]
      alerts: {to: [secops@example.com]}
`
	cfg, err := loadConfig(t, good)
	if err != nil {
		t.Fatalf("good configuration refused: %v", err)
	}
	reg := prometheus.NewRegistry()
	for _, c := range cfg.Sinks {
		s, err := registry.New(c, registry.Deps{Registerer: reg})
		if err != nil || s == nil {
			t.Fatalf("sink %s (%s): %v", c.Name, c.Type, err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("close %s: %v", c.Name, err)
		}
		// A second sink of the type, with its own name, shares the
		// registry; one with the same name is an error, not a panic.
		other := c
		other.Name += "-2"
		if s, err := registry.New(other, registry.Deps{Registerer: reg}); err != nil {
			t.Errorf("second %s sink: %v", c.Type, err)
		} else {
			s.Close()
		}
		if s, err := registry.New(c, registry.Deps{Registerer: reg}); err == nil || !strings.Contains(err.Error(), "registering metrics") {
			t.Errorf("%s sink registered twice under one name: %v", c.Type, err)
			if s != nil {
				s.Close()
			}
		}
	}
	// The alert sinks' defaults: Slack gets alerts only, email batches a
	// minute.
	if f := cfg.Sinks[4].Filter.Actions; len(f) != 1 || f[0] != "alert.raised" {
		t.Errorf("slack filter %v", f)
	}
	if w := cfg.Sinks[5].Delivery.BatchWait; w != time.Minute {
		t.Errorf("email batch_wait %s", w)
	}
	if len(cfg.Sinks) != len(registry.Types) {
		t.Errorf("the good configuration has %d sinks, there are %d types: test each", len(cfg.Sinks), len(registry.Types))
	}
	for _, tc := range []struct{ yaml, want string }{
		{"sinks: [{name: a, type: kafka}]", `sinks[0].type: "kafka" is not one of`},
		{"sinks: [{name: a, type: webhook}]", "sinks[0].webhook: required for type webhook"},
		{"sinks: [{name: a, type: webhook, webhook: {url: 'ftp://x', secrets: {env: HOOK_SECRET}}}]", "sinks[0].webhook.url:"},
		{"sinks: [{name: a, type: webhook, splunk: {url: 'https://x'}, webhook: {url: 'https://x', secrets: {env: HOOK_SECRET}}}]", `sinks[0].splunk: section given for a sink of type "webhook"`},
		{"sinks: [{name: Bad Name, type: webhook, webhook: {url: 'https://x', secrets: {env: HOOK_SECRET}}}]", "sinks[0].name:"},
		{"sinks: [{name: archive, type: webhook, webhook: {url: 'https://x', secrets: {env: HOOK_SECRET}}}]", `sinks[0].name: "archive"`},
		{"sinks: [{name: a, type: webhook, webhook: {url: 'https://x', secrets: {env: HOOK_SECRET}}}, {name: a, type: webhook, webhook: {url: 'https://y', secrets: {env: HOOK_SECRET}}}]", `sinks[1].name: "a" is also the name of sinks[0]`},
		{"sinks: [{name: a, type: webhook, filter: {actions: [link.teleported]}, webhook: {url: 'https://x', secrets: {env: HOOK_SECRET}}}]", "sinks[0].filter.actions[0]:"},
		{"sinks: [{name: a, type: webhook, delivery: {concurrency: 1000}, webhook: {url: 'https://x', secrets: {env: HOOK_SECRET}}}]", "sinks[0].delivery.concurrency:"},
		{"sinks: [{name: a, type: slack}]", "sinks[0].slack: required for type slack"},
		{"sinks: [{name: a, type: email, email: {}}]", "sinks[0].email.smtp.address:"},
		{"sinks: [{name: s, type: splunk, delivery: {timeout: 10s}, splunk: {url: 'https://x', token: {env: HEC_TOKEN}, ack: true}}]", "sinks[0].delivery.timeout: 10s must be longer than splunk.ack_timeout"},
		// Unknown keys are refused with their line, in the section as in the
		// entry's own keys.
		{"sinks:\n- name: a\n  type: webhook\n  webhook: {url: 'https://x', secrets: {env: HOOK_SECRET}, bogus: 1}", "line 4: field bogus not found in type webhook.Config"},
		{"sinks:\n- name: a\n  type: webhook\n  filter: {actionz: [x]}\n  webhook: {url: 'https://x', secrets: {env: HOOK_SECRET}}", "line 4: field actionz not found in type delivery.Filter"},
		{"sinks:\n- name: a\n  typo: webhook", "line 3: field typo not found in type registry.Config"},
		{"sinks: [{name: a, type: webhook, webhook: }]", "sinks[0].webhook: required for type webhook"},
	} {
		err := load(t, tc.yaml)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s\nerror %v\nwant it to contain %q", tc.yaml, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "whsec_") {
			t.Errorf("a secret leaked into an error: %v", err)
		}
	}
	if len(registry.Types) == 0 {
		t.Fatal("no sink types")
	}
}
