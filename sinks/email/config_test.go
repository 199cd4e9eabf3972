package email

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/internal/secret"
	"github.com/sharelog/sharelog/internal/tlsconf"
)

func TestConfigYAMLAndDefaults(t *testing.T) {
	const doc = `
smtp:
  address: smtp.example.com:587
  username: sharelog
  password: {env: SMTP_PASSWORD}
  from: "sharelog <sharelog@example.com>"
  ca_file: /etc/ssl/smtp-ca.pem
  server_name: mail.example.com
  min_version: "1.3"
link_notifications:
  - link: lk_9
    to: [owner@example.com]
    actions: [link.opened, link.downloaded]
  - link: lk_7
    to: [other@example.com]
alerts: {to: [secops@example.com], min_severity: medium, rules: []}
`
	var c Config
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.SMTP.StartTLS != StartTLSRequired || c.SMTP.Timeout != 30*time.Second || c.SMTP.Auth != AuthAuto || c.SubjectPrefix != "[sharelog]" {
		t.Errorf("defaults: %+v", c.SMTP)
	}
	if got := c.LinkNotifications[1].Actions; len(got) != 4 || got[0] != sharelog.LinkOpened || got[3] != sharelog.LinkSaved {
		t.Errorf("default actions %v", got)
	}
	// The TLS keys are tlsconf's, inline in smtp.
	if want := (tlsconf.Config{CAFile: "/etc/ssl/smtp-ca.pem", ServerName: "mail.example.com", MinVersion: "1.3"}); c.SMTP.Config != want {
		t.Errorf("smtp TLS %+v, want %+v", c.SMTP.Config, want)
	}
	if c.Alerts.MinSeverity != sharelog.SeverityMedium || c.SMTP.Password != (secret.Ref{Env: "SMTP_PASSWORD"}) {
		t.Errorf("alerts %+v password %+v", c.Alerts, c.SMTP.Password)
	}
	if DefaultBatchWait != time.Minute {
		t.Errorf("DefaultBatchWait %s", DefaultBatchWait)
	}
}

func TestConfigValidateNamesFields(t *testing.T) {
	c := Config{
		SMTP: SMTP{
			Address:  "smtp.example.com",
			Username: "u",
			StartTLS: "sometimes",
			Auth:     "cram-md5",
			From:     "not an address",
			HELO:     "two words",
			Timeout:  time.Millisecond,
			Config:   tlsconf.Config{CertFile: "client.pem", MinVersion: "1.1"},
		},
		LinkNotifications: []LinkNotification{
			{Link: "", To: nil},
			{Link: "lk", To: []string{"ok@example.com", "bad"}, Actions: []sharelog.Action{"file.uploaded", "link.nope"}},
		},
		Alerts: &Alerts{MinSeverity: "urgent", Rules: []string{" "}},
	}
	err := c.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"smtp.address:", "smtp.starttls:", "smtp.auth:", "smtp.password:", "smtp.from:", "smtp.helo:", "smtp.timeout:",
		"smtp.cert_file:", "smtp.min_version:",
		"link_notifications[0].link:", "link_notifications[0].to:", "link_notifications[1].to[1]:",
		"link_notifications[1].actions[0]:", "link_notifications[1].actions[1]:",
		"alerts.to:", "alerts.min_severity:", "alerts.rules[0]:",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}

	var empty Config
	empty.SMTP = SMTP{Address: "localhost:25", From: "a@example.com"}
	empty.SetDefaults()
	if err := empty.Validate(); err == nil || !strings.Contains(err.Error(), "nothing to mail") {
		t.Errorf("empty: %v", err)
	}
	empty.SMTP.Password = secret.Ref{Env: "X"}
	if err := empty.Validate(); err == nil || !strings.Contains(err.Error(), "smtp.password: set without smtp.username") {
		t.Errorf("password alone: %v", err)
	}
}

func TestNewReportsSecretsWithoutShowingThem(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	cfg := testConfig(t, ts)
	cfg.SMTP.Password = secret.Ref{Env: "SHARELOG_TEST_UNSET_VARIABLE"}
	if _, err := New(*cfg, Deps{}); err == nil || !strings.Contains(err.Error(), "smtp.password") || !strings.Contains(err.Error(), "SHARELOG_TEST_UNSET_VARIABLE") {
		t.Errorf("New: %v", err)
	}
	cfg = testConfig(t, ts)
	cfg.SMTP.CAFile = "/nonexistent/ca.pem"
	if _, err := New(*cfg, Deps{}); err == nil || !strings.Contains(err.Error(), "smtp.ca_file") {
		t.Errorf("New: %v", err)
	}
	// New does not change the caller's config.
	cfg = testConfig(t, ts)
	cfg.LinkNotifications[1].Actions = nil
	if _, err := New(*cfg, Deps{}); err != nil {
		t.Fatal(err)
	}
	if cfg.LinkNotifications[1].Actions != nil || cfg.SMTP.StartTLS != "" {
		t.Errorf("New changed its argument: %+v", cfg)
	}
}
