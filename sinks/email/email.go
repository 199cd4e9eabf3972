// Package email is the email notification sink. It mails two things through
// an SMTP submission server:
//
//   - to the owner of an opted-in share link, the successful opens, views,
//     downloads and saves of that link (Config.LinkNotifications): every
//     notification of one batch of the delivery engine for the same
//     recipient and link is one mail listing each event, so with the
//     engine's batch_wait at DefaultBatchWait (1 minute) a burst of
//     downloads is one mail, not one per download;
//   - to a security address, the alert.raised events of sharelog's
//     detection rules, from a least severity on (Config.Alerts).
//
// Every other event is accepted and ignored.
//
// A mail is multipart/alternative (text/plain and text/html, UTF-8, quoted
// printable) and carries the ids of its events in the header
// X-Sharelog-Event-Ids, a Message-ID derived from them and its recipient,
// and Auto-Submitted: auto-generated.
//
// Write opens one SMTP session per call (STARTTLS, then AUTH), sends the
// batch's mails and returns nil only once the server accepted each of them
// (250 after DATA). A 5xx for a recipient or a message refuses its events
// for good (*sharelog.PermanentError, or per event in a *sharelog.BatchError);
// a 4xx, a network error or a timeout is retryable; a refused login (535,
// 530, 534, 538) or a refused sender (5xx to MAIL FROM) disables the sink
// (*sharelog.DisabledError): retrying with wrong credentials cannot help and
// dead-lettering every notification would lose them, so the engine stops
// and keeps the backlog in Kafka until the sink is restarted with a fixed
// configuration. The sink remembers, bounded, which (recipient, event) pairs
// the server accepted, so a batch retried after a partial success mails
// nobody twice.
package email

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sharelog/sharelog"
)

// Deps are what the sink needs besides its configuration. Zero fields mean
// quiet defaults.
type Deps struct {
	Logger     *slog.Logger          // nil: quiet
	Registerer prometheus.Registerer // nil: metrics kept, not exported
	Now        func() time.Time      // nil: time.Now; the Date header's clock
	// TLSConfig, when set, is the base of the TLS client configuration
	// (its RootCAs, certificates…); the sink clones it and sets the smtp
	// TLS settings over it: the server name, smtp.ca_file instead of its
	// RootCAs, smtp.cert_file instead of its certificates,
	// insecure_skip_verify and min_version.
	TLSConfig *tls.Config
}

// Mail kinds, for metrics and logs.
const (
	kindLink  = "link"
	kindAlert = "alert"
)

// Sink mails notifications and alerts. It is safe for concurrent use.
type Sink struct {
	cfg      Config
	from     *mail.Address
	fromHdr  string
	domain   string // of From, for Message-ID
	helo     string
	password string
	tls      *tls.Config
	links    map[string][]linkRcpt
	alertTo  []*mail.Address
	rules    map[string]bool
	log      *slog.Logger
	m        *metrics
	now      func() time.Time
	sent     *accepted
	disabled atomic.Pointer[sharelog.DisabledError]
}

// linkRcpt is one recipient of one link's notifications.
type linkRcpt struct {
	addr    *mail.Address
	actions map[sharelog.Action]bool
}

// New returns a sink for cfg (a copy is taken, defaults applied and
// validated). It reads the password and link_notifications_file now; errors
// name the file or the variable, never a secret.
func New(cfg Config, deps Deps) (*Sink, error) {
	c := cfg
	c.LinkNotifications = slices.Clone(c.LinkNotifications)
	for i := range c.LinkNotifications {
		c.LinkNotifications[i].Actions = slices.Clone(c.LinkNotifications[i].Actions)
	}
	if c.Alerts != nil {
		a := *c.Alerts
		c.Alerts = &a
	}
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("email: %w", err)
	}
	s := &Sink{cfg: c, log: deps.Logger, now: deps.Now, sent: newAccepted(rememberSize)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("smtp", c.SMTP.Address)
	if s.now == nil {
		s.now = time.Now
	}
	s.from, _ = mail.ParseAddress(c.SMTP.From) // valid: checked above
	s.fromHdr = s.from.String()
	s.domain = "sharelog.invalid"
	if at := strings.LastIndexByte(s.from.Address, '@'); at >= 0 && at < len(s.from.Address)-1 {
		s.domain = s.from.Address[at+1:]
	}
	s.helo = c.SMTP.HELO
	if s.helo == "" {
		if h, err := os.Hostname(); err == nil && h != "" && !strings.ContainsAny(h, " \t\r\n") {
			s.helo = h
		} else {
			s.helo = "localhost"
		}
	}
	if c.SMTP.Username != "" {
		pw, err := c.SMTP.Password.Load()
		if err != nil {
			return nil, fmt.Errorf("email: smtp.password: %w", err)
		}
		s.password = pw[0]
	}
	var err error
	if s.tls, err = tlsConfig(c.SMTP, deps.TLSConfig); err != nil {
		return nil, fmt.Errorf("email: %w", err)
	}
	entries := c.LinkNotifications
	if c.LinkNotificationsFile != "" {
		more, err := readLinkFile(c.LinkNotificationsFile)
		if err != nil {
			return nil, fmt.Errorf("email: link_notifications_file: %w", err)
		}
		entries = append(entries, more...)
	}
	s.links = indexLinks(entries)
	if a := c.Alerts; a != nil {
		for _, to := range a.To {
			addr, _ := parseRecipient(to) // valid: checked above
			s.alertTo = append(s.alertTo, addr)
		}
		if len(a.Rules) > 0 {
			s.rules = map[string]bool{}
			for _, r := range a.Rules {
				s.rules[strings.TrimSpace(r)] = true
			}
		}
	}
	if s.m, err = newMetrics(deps.Registerer); err != nil {
		return nil, fmt.Errorf("email: %w", err)
	}
	if c.SMTP.InsecureSkipVerify {
		s.log.Warn("smtp.insecure_skip_verify is set: the SMTP server's certificate is not checked")
	}
	return s, nil
}

// indexLinks merges the entries by link and recipient (address compared
// without case), the actions of a recipient listed twice for a link joined.
func indexLinks(entries []LinkNotification) map[string][]linkRcpt {
	out := map[string][]linkRcpt{}
	for _, e := range entries {
		link := strings.TrimSpace(e.Link)
		for _, to := range e.To {
			addr, err := parseRecipient(to)
			if err != nil {
				continue // validated before
			}
			rs := out[link]
			i := slices.IndexFunc(rs, func(r linkRcpt) bool { return strings.EqualFold(r.addr.Address, addr.Address) })
			if i < 0 {
				rs = append(rs, linkRcpt{addr: addr, actions: map[sharelog.Action]bool{}})
				i = len(rs) - 1
			}
			for _, a := range e.Actions {
				rs[i].actions[a] = true
			}
			out[link] = rs
		}
	}
	return out
}

// message is one mail to send: its events (indexes in the batch), its
// header recipients and the envelope recipients not yet sent these events.
type message struct {
	kind   string
	link   string
	to     []*mail.Address
	rcpts  []string
	events []int
	ids    []string // the events' ids

	err      error    // nil once sent to every rcpt
	accepted []string // rcpts the server took
}

// plan makes the mails of a batch, in the order of their first event,
// leaving out what the server accepted in an earlier attempt.
func (s *Sink) plan(batch []*sharelog.Event) []*message {
	var msgs []*message
	byKey := map[string]*message{}
	for i, ev := range batch {
		if ev == nil {
			continue
		}
		switch {
		case ev.Action == sharelog.AlertRaised:
			if !s.wantAlert(ev) {
				continue
			}
			m := &message{kind: kindAlert, to: s.alertTo, events: []int{i}, ids: []string{ev.ID}}
			if ev.Link != nil {
				m.link = ev.Link.ID
			}
			for _, a := range s.alertTo {
				if !s.sent.has(a.Address, ev.ID) {
					m.rcpts = append(m.rcpts, a.Address)
				}
			}
			if len(m.rcpts) == 0 {
				s.m.mails.WithLabelValues(kindAlert, outcomeDuplicate).Inc()
				continue
			}
			msgs = append(msgs, m)
		case ev.Result == sharelog.Success && ev.Link != nil && ev.Link.ID != "":
			for _, r := range s.links[ev.Link.ID] {
				if !r.actions[ev.Action] || s.sent.has(r.addr.Address, ev.ID) {
					continue
				}
				key := strings.ToLower(r.addr.Address) + "\x00" + ev.Link.ID
				m := byKey[key]
				if m == nil {
					m = &message{kind: kindLink, link: ev.Link.ID, to: []*mail.Address{r.addr}, rcpts: []string{r.addr.Address}}
					byKey[key] = m
					msgs = append(msgs, m)
				}
				m.events = append(m.events, i)
				m.ids = append(m.ids, ev.ID)
			}
		}
	}
	return msgs
}

// wantAlert reports whether ev is an alert to mail.
func (s *Sink) wantAlert(ev *sharelog.Event) bool {
	a := s.cfg.Alerts
	if a == nil || ev.Alert == nil {
		return false
	}
	if ev.Alert.Severity.Rank() < a.MinSeverity.Rank() {
		return false
	}
	if s.rules != nil && !s.rules[ev.Alert.Rule] && !s.rules[ev.Alert.Type] {
		return false
	}
	return true
}

// Write mails the notifications and alerts of batch and returns nil once the
// SMTP server accepted every one of them (see the package documentation for
// the errors).
func (s *Sink) Write(ctx context.Context, batch []*sharelog.Event) error {
	if d := s.disabled.Load(); d != nil {
		return d
	}
	msgs := s.plan(batch)
	if len(msgs) == 0 {
		return nil
	}
	s.send(ctx, batch, msgs)
	return s.outcome(batch, msgs)
}

// outcome turns the mails' results into Write's answer.
func (s *Sink) outcome(batch []*sharelog.Event, msgs []*message) error {
	errs := make([]error, len(batch))
	failed := false
	for _, m := range msgs {
		if m.err == nil {
			continue
		}
		var de *sharelog.DisabledError
		if errors.As(m.err, &de) {
			if s.disabled.CompareAndSwap(nil, de) {
				s.m.disabled.Set(1)
				s.log.Error("the SMTP server refused the login or the sender: no more mail until the smtp section is fixed and sharelog restarted; the backlog waits in Kafka", "err", de.Err)
			}
			return s.disabled.Load()
		}
		failed = true
		for _, i := range m.events {
			// A retryable failure wins over a permanent one for the
			// same event (two recipients): the retry sends to the
			// recipient that failed for a while, the refusal comes
			// back alone.
			if errs[i] == nil || sharelog.IsPermanent(errs[i]) {
				errs[i] = m.err
			}
		}
	}
	if !failed {
		return nil
	}
	// A mail of several events refused for good: the engine splits the
	// batch until the refused event is alone (accepted mails are not sent
	// again: s.sent remembers them).
	for _, m := range msgs {
		if m.err != nil && sharelog.IsPermanent(m.err) && len(m.events) > 1 {
			for _, i := range m.events {
				if errs[i] != nil && sharelog.IsPermanent(errs[i]) {
					return m.err
				}
			}
		}
	}
	same := true
	for _, e := range errs {
		if e == nil || e != errs[0] {
			same = false
			break
		}
	}
	if same {
		return errs[0]
	}
	return &sharelog.BatchError{Errs: errs}
}

// Close releases nothing: every Write's connection is closed when it
// returns.
func (s *Sink) Close() error { return nil }
