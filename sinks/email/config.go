package email

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/mail"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/internal/cfgerr"
	"github.com/sharelog/sharelog/internal/secret"
	"github.com/sharelog/sharelog/internal/tlsconf"
)

// DefaultBatchWait is what the registry should default this sink's
// delivery.batch_wait to: the delivery engine's batch window is what turns
// the notifications of one link "within a minute" into one email (every
// notification of one Write for the same recipient and link is one mail).
// A shorter window sends more, smaller mails; a longer one delays them.
const DefaultBatchWait = time.Minute

// DefaultTimeout bounds each step of an SMTP session (dial, TLS handshake,
// one command and its answer, one message's data and its answer).
const DefaultTimeout = 30 * time.Second

// DefaultLinkActions are the actions a link notification reports when its
// entry names none.
var DefaultLinkActions = []sharelog.Action{sharelog.LinkOpened, sharelog.LinkViewed, sharelog.LinkDownloaded, sharelog.LinkSaved}

// TLSMode says whether the sink upgrades a plain connection with STARTTLS.
type TLSMode string

// STARTTLS modes.
const (
	// StartTLSRequired (default) fails the session when the server does
	// not offer STARTTLS or the handshake fails.
	StartTLSRequired TLSMode = "required"
	// StartTLSOpportunistic upgrades when the server offers STARTTLS
	// (and then requires the handshake and the certificate to be good),
	// else goes on in clear, without sending credentials unless
	// allow_insecure_auth is set.
	StartTLSOpportunistic TLSMode = "opportunistic"
	// StartTLSNone never upgrades (a relay on loopback).
	StartTLSNone TLSMode = "none"
)

// AuthMechanism names the SASL mechanism used to log in.
type AuthMechanism string

// Mechanisms.
const (
	// AuthAuto uses PLAIN when the server offers it, else LOGIN.
	AuthAuto  AuthMechanism = "auto"
	AuthPlain AuthMechanism = "plain"
	AuthLogin AuthMechanism = "login"
)

// Config configures the email sink: the SMTP server, which links notify
// their owners, and where alerts go.
type Config struct {
	SMTP SMTP `yaml:"smtp"`
	// LinkNotifications opts links in: each downloaded/opened (…) event of
	// such a link, with result success, is mailed to the entry's
	// recipients, all the notifications of one Write for the same
	// recipient and link in one mail.
	LinkNotifications []LinkNotification `yaml:"link_notifications"`
	// LinkNotificationsFile, when set, is a YAML file holding more entries
	// (a list, in the same form as link_notifications), read by New.
	LinkNotificationsFile string `yaml:"link_notifications_file"`
	// Alerts, when set, mails alert.raised events to a security address.
	Alerts *Alerts `yaml:"alerts"`
	// SubjectPrefix starts every subject (default "[sharelog]").
	SubjectPrefix string `yaml:"subject_prefix"`
}

// SMTP is the submission server and how to talk to it.
type SMTP struct {
	// Address is host:port of the server (587 for submission with
	// STARTTLS, 465 with implicit_tls, 25 for a relay).
	Address string `yaml:"address"`
	// Username and Password log in (SASL PLAIN or LOGIN) after TLS. No
	// username: no AUTH.
	Username string     `yaml:"username"`
	Password secret.Ref `yaml:"password"`
	// Auth is auto (default: PLAIN if offered, else LOGIN), plain or login.
	Auth AuthMechanism `yaml:"auth"`
	// StartTLS is required (default), opportunistic or none; ignored with
	// ImplicitTLS.
	StartTLS TLSMode `yaml:"starttls"`
	// ImplicitTLS speaks TLS from the first byte (SMTPS, port 465).
	ImplicitTLS bool `yaml:"implicit_tls"`
	// AllowInsecureAuth permits sending the credentials over a connection
	// that is not TLS (starttls: none, or opportunistic with a server that
	// offers no STARTTLS). Off, the sink refuses.
	AllowInsecureAuth bool `yaml:"allow_insecure_auth"`
	// From is the sender, "Name <address>" or "address"; its address is
	// the envelope sender (MAIL FROM) too.
	From string `yaml:"from"`
	// HELO is the name sent in EHLO (default: the host name).
	HELO string `yaml:"helo"`
	// Timeout bounds each step: dial, handshake, each command, each
	// message's data (default 30s).
	Timeout time.Duration `yaml:"timeout"`
	// Config is sharelog's one TLS client configuration, for STARTTLS and
	// implicit_tls alike, its keys inline in smtp (smtp.ca_file, as
	// before): ca_file, a PEM file of the authorities that sign the
	// server's certificate, trusted instead of the system roots; cert_file
	// and key_file, a client certificate; server_name, the name the
	// server's certificate must hold (default: the host of Address);
	// insecure_skip_verify, any certificate, encryption without
	// authentication of the server, for tests only; min_version (1.2 or
	// 1.3). See tlsconf.Config.
	//
	// Earlier versions added ca_file to the system roots; it now replaces
	// them, as in every other tls section. A server whose certificate a
	// public CA signs needs no ca_file; to trust both, put the system
	// roots into the file too.
	tlsconf.Config `yaml:",inline"`
}

// LinkNotification opts one link in.
type LinkNotification struct {
	// Link is the link id (event link.id).
	Link string `yaml:"link"`
	// To are the recipients, the link's owner typically.
	To []string `yaml:"to"`
	// Actions are the link actions that notify (default link.opened,
	// link.viewed, link.downloaded, link.saved).
	Actions []sharelog.Action `yaml:"actions"`
}

// Alerts says where alert.raised events are mailed, and which.
type Alerts struct {
	To []string `yaml:"to"`
	// MinSeverity is the least severity mailed (default low: all).
	MinSeverity sharelog.Severity `yaml:"min_severity"`
	// Rules, when not empty, limits the mails to the alerts of these rules,
	// by rule name or by type (password_brute_force, …).
	Rules []string `yaml:"rules"`
}

// SetDefaults fills unset fields.
func (c *Config) SetDefaults() {
	if c.SMTP.StartTLS == "" {
		c.SMTP.StartTLS = StartTLSRequired
	}
	if c.SMTP.Auth == "" {
		c.SMTP.Auth = AuthAuto
	}
	if c.SMTP.Timeout == 0 {
		c.SMTP.Timeout = DefaultTimeout
	}
	if c.SubjectPrefix == "" {
		c.SubjectPrefix = "[sharelog]"
	}
	for i := range c.LinkNotifications {
		c.LinkNotifications[i].setDefaults()
	}
	if c.Alerts != nil && c.Alerts.MinSeverity == "" {
		c.Alerts.MinSeverity = sharelog.SeverityLow
	}
}

func (n *LinkNotification) setDefaults() {
	if len(n.Actions) == 0 {
		n.Actions = append([]sharelog.Action(nil), DefaultLinkActions...)
	}
}

// Validate reports every wrong field, each named by its path relative to the
// sink's section ("smtp.address: ..."). It reads neither the password nor the
// link notifications file: New does.
func (c Config) Validate() error {
	var errs []error
	add := func(path string, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	s := c.SMTP
	if host, port, err := net.SplitHostPort(s.Address); err != nil || host == "" {
		add("smtp.address", "%q must be host:port", s.Address)
	} else if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		add("smtp.address", "%q has an invalid port", s.Address)
	}
	switch s.StartTLS {
	case StartTLSRequired, StartTLSOpportunistic, StartTLSNone:
	default:
		add("smtp.starttls", "%q must be required, opportunistic or none", s.StartTLS)
	}
	switch s.Auth {
	case AuthAuto, AuthPlain, AuthLogin:
	default:
		add("smtp.auth", "%q must be auto, plain or login", s.Auth)
	}
	if s.Username != "" {
		if bad := badLine(s.Username); bad != "" {
			add("smtp.username", "%s", bad)
		}
		if err := s.Password.Validate(); err != nil {
			add("smtp.password", "%v", err)
		}
		if !s.ImplicitTLS && s.StartTLS == StartTLSNone && !s.AllowInsecureAuth {
			add("smtp.starttls", "none would send the password in clear; use required (or implicit_tls), or set smtp.allow_insecure_auth: true")
		}
	} else if !s.Password.IsZero() {
		add("smtp.password", "set without smtp.username")
	}
	if s.From == "" {
		add("smtp.from", "required: the sender, as \"sharelog <sharelog@example.com>\"")
	} else if _, err := mail.ParseAddress(s.From); err != nil {
		add("smtp.from", "%q is not an address: %v", s.From, err)
	}
	if s.HELO != "" && (strings.ContainsAny(s.HELO, " \t\r\n") || len(s.HELO) > 255) {
		add("smtp.helo", "%q must be a host name", s.HELO)
	}
	if s.Timeout < 100*time.Millisecond || s.Timeout > 10*time.Minute {
		add("smtp.timeout", "%s must be between 100ms and 10m", s.Timeout)
	}
	if s.ServerName != "" && strings.ContainsAny(s.ServerName, " \t\r\n/") {
		add("smtp.server_name", "%q must be a host name", s.ServerName)
	}
	if err := s.Config.Validate(); err != nil {
		errs = append(errs, cfgerr.Prefix("smtp", err))
	}
	for i, n := range c.LinkNotifications {
		errs = append(errs, n.validate(fmt.Sprintf("link_notifications[%d]", i))...)
	}
	if c.Alerts != nil {
		a := c.Alerts
		if len(a.To) == 0 {
			add("alerts.to", "required: at least one recipient")
		}
		errs = append(errs, validateAddrs("alerts.to", a.To)...)
		if a.MinSeverity.Rank() < 0 {
			add("alerts.min_severity", "%q must be low, medium, high or critical", a.MinSeverity)
		}
		for i, r := range a.Rules {
			if strings.TrimSpace(r) == "" {
				add(fmt.Sprintf("alerts.rules[%d]", i), "empty")
			}
		}
	}
	if strings.ContainsAny(c.SubjectPrefix, "\r\n") {
		add("subject_prefix", "must be one line")
	}
	if len(c.LinkNotifications) == 0 && c.LinkNotificationsFile == "" && c.Alerts == nil {
		errs = append(errs, errors.New("nothing to mail: set link_notifications, link_notifications_file or alerts"))
	}
	return errors.Join(errs...)
}

func (n LinkNotification) validate(path string) []error {
	var errs []error
	if strings.TrimSpace(n.Link) == "" {
		errs = append(errs, fmt.Errorf("%s.link: required: the link id", path))
	}
	if len(n.To) == 0 {
		errs = append(errs, fmt.Errorf("%s.to: required: at least one recipient", path))
	}
	errs = append(errs, validateAddrs(path+".to", n.To)...)
	for i, a := range n.Actions {
		if !a.Valid() || !a.NeedsLink() {
			errs = append(errs, fmt.Errorf("%s.actions[%d]: %q is not a link action (link.opened, link.viewed, link.downloaded, link.saved, …)", path, i, a))
		}
	}
	return errs
}

func validateAddrs(path string, addrs []string) []error {
	var errs []error
	for i, a := range addrs {
		if _, err := parseRecipient(a); err != nil {
			errs = append(errs, fmt.Errorf("%s[%d]: %v", path, i, err))
		}
	}
	return errs
}

// parseRecipient parses one recipient ("a@b" or "Name <a@b>").
func parseRecipient(s string) (*mail.Address, error) {
	a, err := mail.ParseAddress(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not an email address: %v", s, err)
	}
	if bad := badLine(a.Address); bad != "" {
		return nil, fmt.Errorf("%q: %s", s, bad)
	}
	return a, nil
}

func badLine(s string) string {
	if strings.ContainsAny(s, "\r\n") {
		return "must not hold line breaks"
	}
	return ""
}

// readLinkFile reads link_notifications_file: a YAML list of entries.
// Errors name the file and the entry.
func readLinkFile(path string) ([]LinkNotification, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var list []LinkNotification
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&list); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var errs []error
	for i := range list {
		list[i].setDefaults()
		for _, e := range list[i].validate(fmt.Sprintf("[%d]", i)) {
			errs = append(errs, fmt.Errorf("%s: %w", path, e))
		}
	}
	return list, errors.Join(errs...)
}
