package email

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/internal/secret"
	"github.com/sharelog/sharelog/internal/tlsconf"
)

const testPassword = "s3cret-Passw0rd"

var testNow = time.Date(2026, 11, 22, 10, 5, 0, 0, time.UTC)

// testConfig is a config for ts: STARTTLS required, trusting its CA through
// ca_file, logging in as sharelog.
func testConfig(t testing.TB, ts *testServer) *Config {
	t.Helper()
	env := "SHARELOG_TEST_SMTP_PASSWORD"
	t.Setenv(env, testPassword)
	return &Config{
		SMTP: SMTP{
			Address:  ts.addr,
			Username: "sharelog",
			Password: secret.Ref{Env: env},
			From:     "sharelog <sharelog@example.com>",
			HELO:     "sharelog.test",
			Timeout:  5 * time.Second,
			Config:   tlsconf.Config{CAFile: ts.caFile},
		},
		LinkNotifications: []LinkNotification{
			{Link: "lk_9", To: []string{"Owner <owner@example.com>"}, Actions: []sharelog.Action{sharelog.LinkOpened, sharelog.LinkDownloaded}},
			{Link: "lk_7", To: []string{"other@example.com"}},
		},
		Alerts: &Alerts{To: []string{"secops@example.com"}, MinSeverity: sharelog.SeverityMedium},
	}
}

func newSink(t testing.TB, cfg *Config, deps Deps) *Sink {
	t.Helper()
	if deps.Now == nil {
		deps.Now = func() time.Time { return testNow }
	}
	s, err := New(*cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var base = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// linkEvent is a successful event of action on link, number n.
func linkEvent(n int, link string, action sharelog.Action) *sharelog.Event {
	return &sharelog.Event{
		ID:        fmt.Sprintf("0193a1b2-c3d4-7e5f-8a9b-%012d", n),
		Time:      base.Add(time.Duration(n) * 10 * time.Second),
		Workspace: sharelog.Workspace{ID: "ws-acme", Name: "Acme"},
		Actor:     sharelog.Actor{Type: sharelog.ActorAnonymous, VisitorEmail: fmt.Sprintf("v%d@example.org", n)},
		Action:    action,
		Result:    sharelog.Success,
		File:      &sharelog.File{ID: "f-1", Name: "Q4 report.pdf", Size: 1234, Path: "/Finance/Q4 report.pdf"},
		Link:      &sharelog.Link{ID: link},
		Client:    sharelog.Client{IP: fmt.Sprintf("203.0.113.%d", n), UserAgent: "Mozilla/5.0", Kind: sharelog.ClientBrowser},
		Geo:       &sharelog.Geo{CountryCode: "CH", CountryName: "Switzerland", City: "Zürich"},
		Platform:  &sharelog.Platform{OSName: "Windows", OSVersion: "10", ClientName: "Chrome", ClientVersion: "131", DeviceType: sharelog.DeviceDesktop},
	}
}

// alertEvent is an alert.raised event of severity sev.
func alertEvent(n int, sev sharelog.Severity, rule, typ string) *sharelog.Event {
	ev := linkEvent(n, "lk_9", sharelog.AlertRaised)
	ev.Alert = &sharelog.Alert{
		Rule: rule, Type: typ, Severity: sev, Subject: "link:lk_9", Count: 12, WindowSeconds: 300,
		Since: base.Add(-5 * time.Minute), Evidence: []string{"ev-1", "ev-2", "ev-3"},
		Summary: "12 wrong passwords on link lk_9 within 5 minutes from 203.0.113.7",
	}
	return ev
}

func ids(evs ...*sharelog.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.ID
	}
	return out
}

func TestLinkNotificationsAreBatchedPerRecipientAndLink(t *testing.T) {
	ts := newTestServer(t, serverOpts{users: map[string]string{"sharelog": testPassword}})
	s := newSink(t, testConfig(t, ts), Deps{})

	d1, d2, d3 := linkEvent(1, "lk_9", sharelog.LinkDownloaded), linkEvent(2, "lk_9", sharelog.LinkDownloaded), linkEvent(3, "lk_9", sharelog.LinkDownloaded)
	d2.File.Name = `Q4 report.pdf` // same file
	d3.Actor = sharelog.Actor{Type: sharelog.ActorUser, Email: "ana@example.com"}
	notOptedIn := linkEvent(4, "lk_other", sharelog.LinkDownloaded)
	denied := linkEvent(5, "lk_9", sharelog.LinkDownloaded)
	denied.Result, denied.Reason = sharelog.Denied, "wrong_password"
	viewed := linkEvent(6, "lk_9", sharelog.LinkViewed) // lk_9 opted in for opened and downloaded only
	upload := linkEvent(7, "lk_9", sharelog.FileUploaded)
	lowAlert := alertEvent(8, sharelog.SeverityLow, "pw", "password_brute_force")

	batch := []*sharelog.Event{d1, notOptedIn, d2, denied, viewed, upload, lowAlert, d3}
	if err := s.Write(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	got := ts.received()
	if len(got) != 1 {
		t.Fatalf("%d mails, want 1", len(got))
	}
	r := got[0]
	if r.From != "sharelog@example.com" || !slices.Equal(r.Rcpts, []string{"owner@example.com"}) {
		t.Errorf("MAIL FROM %q RCPT TO %q", r.From, r.Rcpts)
	}
	if r.AuthUser != "sharelog" || !r.AuthTLS || !r.TLS {
		t.Errorf("auth user %q, auth over TLS %v, TLS %v: want sharelog after STARTTLS", r.AuthUser, r.AuthTLS, r.TLS)
	}
	p := parse(t, r.Data)
	if want := `[sharelog] "Q4 report.pdf" downloaded 3 times via link lk_9`; p.Subject != want {
		t.Errorf("subject %q, want %q", p.Subject, want)
	}
	if !slices.Equal(p.IDs, ids(d1, d2, d3)) {
		t.Errorf("event ids %v, want %v", p.IDs, ids(d1, d2, d3))
	}
	for _, h := range []string{"From", "To", "Date", "Message-Id", "Mime-Version"} {
		if p.Header.Get(h) == "" {
			t.Errorf("header %s missing", h)
		}
	}
	if from, _ := p.Header.AddressList("From"); len(from) != 1 || from[0].Name != "sharelog" || from[0].Address != "sharelog@example.com" {
		t.Errorf("From %v", from)
	}
	if to, _ := p.Header.AddressList("To"); len(to) != 1 || to[0].Address != "owner@example.com" || to[0].Name != "Owner" {
		t.Errorf("To %v", to)
	}
	if date, err := p.Header.Date(); err != nil || !date.Equal(testNow) {
		t.Errorf("Date %v (%v), want %v", date, err, testNow)
	}
	for _, want := range []string{
		"Your share link lk_9 was used 3 times.",
		"2026-11-22 10:00:10 UTC  downloaded",
		"2026-11-22 10:00:30 UTC  downloaded",
		"v1@example.org (visitor)", "ana@example.com",
		"203.0.113.2, Zürich, Switzerland",
		"Chrome 131 on Windows 10 (desktop)",
		"Q4 report.pdf (/Finance/Q4 report.pdf)",
		"Acme (ws-acme)",
		d1.ID,
	} {
		if !strings.Contains(p.Text, want) {
			t.Errorf("text part lacks %q:\n%s", want, p.Text)
		}
	}
	if n := strings.Count(p.Text, "  downloaded\n"); n != 3 {
		t.Errorf("text lists %d downloads, want 3", n)
	}
	if n := strings.Count(p.HTML, "<td>downloaded</td>"); n != 3 {
		t.Errorf("html lists %d downloads, want 3:\n%s", n, p.HTML)
	}
	for _, want := range []string{"203.0.113.1", "Zürich, Switzerland", "v1@example.org (visitor)"} {
		if !strings.Contains(p.HTML, want) {
			t.Errorf("html part lacks %q", want)
		}
	}
}

func TestMixedActionsAndEscaping(t *testing.T) {
	ts := newTestServer(t, serverOpts{users: map[string]string{"sharelog": testPassword}})
	s := newSink(t, testConfig(t, ts), Deps{})
	o := linkEvent(1, "lk_7", sharelog.LinkOpened)
	d := linkEvent(2, "lk_7", sharelog.LinkSaved)
	for _, ev := range []*sharelog.Event{o, d} {
		ev.File.Name = "Bericht <b>Zürich</b> – «Q4»\r\nBcc: evil@example.com.pdf"
	}
	if err := s.Write(context.Background(), []*sharelog.Event{o, d}); err != nil {
		t.Fatal(err)
	}
	got := ts.received()
	if len(got) != 1 || !slices.Equal(got[0].Rcpts, []string{"other@example.com"}) {
		t.Fatalf("mails %+v", got)
	}
	p := parse(t, got[0].Data)
	want := `[sharelog] "Bericht <b>Zürich</b> – «Q4»  Bcc: evil@example.com.pdf" opened once, saved once via link lk_7`
	if p.Subject != want {
		t.Errorf("subject\n%q, want\n%q", p.Subject, want)
	}
	if !strings.Contains(p.Header.Get("Subject"), "=?utf-8?q?") {
		t.Errorf("subject not Q-encoded: %q", p.Header.Get("Subject"))
	}
	if p.Header.Get("Bcc") != "" {
		t.Errorf("header injection: Bcc %q", p.Header.Get("Bcc"))
	}
	if strings.Contains(p.HTML, "<b>Zürich</b>") || !strings.Contains(p.HTML, "&lt;b&gt;Zürich&lt;/b&gt;") {
		t.Errorf("html not escaped:\n%s", p.HTML)
	}
	if !strings.Contains(p.Text, "Bericht <b>Zürich</b> – «Q4»") {
		t.Errorf("text part lacks the file name:\n%s", p.Text)
	}
}

func TestAlerts(t *testing.T) {
	ts := newTestServer(t, serverOpts{users: map[string]string{"sharelog": testPassword}})
	cfg := testConfig(t, ts)
	cfg.Alerts.Rules = []string{"pw-bf", "impossible_travel"}
	s := newSink(t, cfg, Deps{})
	low := alertEvent(1, sharelog.SeverityLow, "pw-bf", "password_brute_force")
	high := alertEvent(2, sharelog.SeverityHigh, "pw-bf", "password_brute_force")
	otherRule := alertEvent(3, sharelog.SeverityCritical, "mass", "mass_download")
	byType := alertEvent(4, sharelog.SeverityMedium, "travel-1", "impossible_travel")
	byType.Alert.Subject = "visitor:ana@example.com"
	if err := s.Write(context.Background(), []*sharelog.Event{low, high, otherRule, byType}); err != nil {
		t.Fatal(err)
	}
	got := ts.received()
	if len(got) != 2 {
		t.Fatalf("%d mails, want 2 (high pw-bf and medium impossible_travel)", len(got))
	}
	p := parse(t, got[0].Data)
	if !slices.Equal(got[0].Rcpts, []string{"secops@example.com"}) {
		t.Errorf("RCPT TO %v", got[0].Rcpts)
	}
	if want := "[sharelog][high] password brute force on link lk_9"; p.Subject != want {
		t.Errorf("subject %q, want %q", p.Subject, want)
	}
	if !slices.Equal(p.IDs, []string{high.ID}) {
		t.Errorf("event ids %v", p.IDs)
	}
	for _, want := range []string{
		"12 wrong passwords on link lk_9 within 5 minutes from 203.0.113.7",
		"pw-bf (password_brute_force)",
		"12 events within 5m0s, since 2026-11-22 09:55:00 UTC",
		"ev-1", "ev-3", "203.0.113.2, Zürich, Switzerland",
	} {
		if !strings.Contains(p.Text, want) {
			t.Errorf("text lacks %q:\n%s", want, p.Text)
		}
		if !strings.Contains(p.HTML, want) {
			t.Errorf("html lacks %q", want)
		}
	}
	p2 := parse(t, got[1].Data)
	if want := "[sharelog][medium] impossible travel on visitor ana@example.com"; p2.Subject != want {
		t.Errorf("subject %q, want %q", p2.Subject, want)
	}
}

// errorsOf returns the per-event errors of Write's answer.
func errorsOf(err error, n int) []error {
	var be *sharelog.BatchError
	if errors.As(err, &be) {
		return be.Errs
	}
	out := make([]error, n)
	for i := range out {
		out[i] = err
	}
	return out
}

func TestRecipientRefusedIsPermanentAndNotResent(t *testing.T) {
	ts := newTestServer(t, serverOpts{users: map[string]string{"sharelog": testPassword}})
	ts.rejectRcpt("gone@example.com", 550)
	cfg := testConfig(t, ts)
	cfg.Alerts.To = []string{"secops@example.com", "gone@example.com"}
	s := newSink(t, cfg, Deps{})
	al := alertEvent(1, sharelog.SeverityHigh, "pw", "password_brute_force")
	for attempt := range 2 {
		err := s.Write(context.Background(), []*sharelog.Event{al})
		if !sharelog.IsPermanent(err) || !strings.Contains(err.Error(), "550") || !strings.Contains(err.Error(), "gone@example.com") {
			t.Fatalf("attempt %d: %v; want a permanent error naming the 550 and the recipient", attempt, err)
		}
	}
	got := ts.received()
	if len(got) != 1 || !slices.Equal(got[0].Rcpts, []string{"secops@example.com"}) {
		t.Fatalf("mails %+v; want one to secops only (not again on the second attempt)", got)
	}
}

func TestMessageRefusedIsPermanent(t *testing.T) {
	ts := newTestServer(t, serverOpts{users: map[string]string{"sharelog": testPassword}})
	ts.failData(554)
	s := newSink(t, testConfig(t, ts), Deps{})
	batch := []*sharelog.Event{linkEvent(1, "lk_9", sharelog.LinkOpened), linkEvent(2, "lk_9", sharelog.LinkOpened)}
	err := s.Write(context.Background(), batch)
	if !sharelog.IsPermanent(err) {
		t.Fatalf("%v, want permanent (the engine splits the batch)", err)
	}
	// Split in halves, each alone: sent.
	for _, ev := range batch {
		if err := s.Write(context.Background(), []*sharelog.Event{ev}); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(ts.received()); n != 2 {
		t.Fatalf("%d mails, want 2", n)
	}
}

func TestTransientFailureRetriedWithoutDuplicates(t *testing.T) {
	ts := newTestServer(t, serverOpts{users: map[string]string{"sharelog": testPassword}})
	ts.failData(0, 451) // the first mail passes, the second is deferred
	reg := prometheus.NewRegistry()
	s := newSink(t, testConfig(t, ts), Deps{Registerer: reg})
	a1, b1, a2, b2 := linkEvent(1, "lk_9", sharelog.LinkOpened), linkEvent(2, "lk_7", sharelog.LinkSaved), linkEvent(3, "lk_9", sharelog.LinkDownloaded), linkEvent(4, "lk_7", sharelog.LinkOpened)
	ignored := linkEvent(5, "lk_x", sharelog.LinkOpened)
	batch := []*sharelog.Event{a1, b1, a2, ignored, b2}
	err := s.Write(context.Background(), batch)
	if err == nil || sharelog.IsPermanent(err) {
		t.Fatalf("%v, want retryable", err)
	}
	errs := errorsOf(err, len(batch))
	for i, want := range []bool{false, true, false, false, true} {
		if (errs[i] != nil) != want || errs[i] != nil && (sharelog.IsPermanent(errs[i]) || !strings.Contains(errs[i].Error(), "451")) {
			t.Errorf("event %d: %v; want failed=%v, retryable 451", i, errs[i], want)
		}
	}
	// The engine retries the whole batch (or only the failed events):
	// either way lk_9's owner is not mailed again.
	if err := s.Write(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(context.Background(), []*sharelog.Event{b1, b2}); err != nil {
		t.Fatal(err)
	}
	got := ts.received()
	if len(got) != 2 {
		t.Fatalf("%d mails, want 2 (no duplicates)", len(got))
	}
	seen := map[string]bool{}
	for _, r := range got {
		for _, id := range parse(t, r.Data).IDs {
			if seen[id] {
				t.Errorf("event %s mailed twice", id)
			}
			seen[id] = true
		}
	}
	if v := testutil.ToFloat64(s.m.mails.WithLabelValues(kindLink, outcomeDuplicate)); v != 0 {
		// Duplicates are left out per recipient and event when planning;
		// a mail with nothing left is counted as duplicate.
		t.Logf("duplicates counted: %v", v)
	}
	if v := testutil.ToFloat64(s.m.mails.WithLabelValues(kindLink, outcomeSent)); v != 2 {
		t.Errorf("sent counter %v, want 2", v)
	}
}

func TestWrongPasswordDisablesTheSink(t *testing.T) {
	ts := newTestServer(t, serverOpts{users: map[string]string{"sharelog": "another password"}})
	reg := prometheus.NewRegistry()
	s := newSink(t, testConfig(t, ts), Deps{Registerer: reg})
	batch := []*sharelog.Event{linkEvent(1, "lk_9", sharelog.LinkOpened)}
	err := s.Write(context.Background(), batch)
	var de *sharelog.DisabledError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "535") || strings.Contains(err.Error(), testPassword) {
		t.Fatalf("%v; want a DisabledError naming 535, without the password", err)
	}
	if err := s.Write(context.Background(), batch); !errors.As(err, &de) {
		t.Fatalf("second write: %v, want disabled at once", err)
	}
	if ts.authFails != 1 {
		t.Errorf("%d failed logins, want 1 (no retry with bad credentials)", ts.authFails)
	}
	if v := testutil.ToFloat64(s.m.disabled); v != 1 {
		t.Errorf("disabled gauge %v", v)
	}
	if len(ts.received()) != 0 {
		t.Error("mail sent")
	}
}

func TestNoCredentialsWithoutTLS(t *testing.T) {
	ts := newTestServer(t, serverOpts{noTLS: true, users: map[string]string{"sharelog": testPassword}})
	for _, mode := range []TLSMode{StartTLSRequired, StartTLSOpportunistic} {
		cfg := testConfig(t, ts)
		cfg.SMTP.StartTLS = mode
		s := newSink(t, cfg, Deps{})
		err := s.Write(context.Background(), []*sharelog.Event{linkEvent(1, "lk_9", sharelog.LinkOpened)})
		var de *sharelog.DisabledError
		if err == nil || sharelog.IsPermanent(err) || errors.As(err, &de) {
			t.Errorf("%s: %v; want retryable", mode, err)
		}
	}
	if ts.authFails != 0 || len(ts.received()) != 0 {
		t.Errorf("credentials or mail sent in clear")
	}
	// starttls: none with a username is refused by Validate.
	cfg := testConfig(t, ts)
	cfg.SMTP.StartTLS = StartTLSNone
	if _, err := New(*cfg, Deps{}); err == nil || !strings.Contains(err.Error(), "smtp.starttls") {
		t.Errorf("New: %v", err)
	}
	// Unless explicitly allowed.
	cfg.SMTP.AllowInsecureAuth = true
	s := newSink(t, cfg, Deps{})
	if err := s.Write(context.Background(), []*sharelog.Event{linkEvent(1, "lk_9", sharelog.LinkOpened)}); err != nil {
		t.Fatal(err)
	}
	if got := ts.received(); len(got) != 1 || got[0].TLS || got[0].AuthUser != "sharelog" {
		t.Errorf("mails %+v", got)
	}
}

func TestImplicitTLSAndLogin(t *testing.T) {
	ts := newTestServer(t, serverOpts{implicitTLS: true, noTLS: true, users: map[string]string{"sharelog": testPassword}})
	cfg := testConfig(t, ts)
	cfg.SMTP.ImplicitTLS = true
	cfg.SMTP.Auth = AuthLogin
	s := newSink(t, cfg, Deps{})
	if err := s.Write(context.Background(), []*sharelog.Event{linkEvent(1, "lk_9", sharelog.LinkOpened)}); err != nil {
		t.Fatal(err)
	}
	if got := ts.received(); len(got) != 1 || !got[0].AuthTLS || got[0].AuthUser != "sharelog" {
		t.Errorf("mails %+v", got)
	}
}

func TestUntrustedCertificateIsRetryable(t *testing.T) {
	ts := newTestServer(t, serverOpts{users: map[string]string{"sharelog": testPassword}})
	cfg := testConfig(t, ts)
	cfg.SMTP.CAFile = ""
	s := newSink(t, cfg, Deps{})
	err := s.Write(context.Background(), []*sharelog.Event{linkEvent(1, "lk_9", sharelog.LinkOpened)})
	if err == nil || sharelog.IsPermanent(err) || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("%v; want a retryable STARTTLS error", err)
	}
	if ts.authFails != 0 || len(ts.received()) != 0 {
		t.Error("credentials or mail sent")
	}
}

// TestCAFileIsTrustedInsteadOfSystemRoots: smtp.ca_file is tlsconf's
// ca_file. A server whose certificate its authority signed is accepted; one
// of another authority is refused before any credential is sent, even when
// the base configuration (Deps.TLSConfig) trusts that other authority:
// ca_file replaces the roots, it does not add to them.
func TestCAFileIsTrustedInsteadOfSystemRoots(t *testing.T) {
	users := map[string]string{"sharelog": testPassword}
	ours := newTestServer(t, serverOpts{users: users})
	otherCert := newOtherCert(t, "another SMTP authority")
	theirs := newTestServer(t, serverOpts{users: users, cert: &otherCert})
	ev := []*sharelog.Event{linkEvent(1, "lk_9", sharelog.LinkOpened)}

	cfg := testConfig(t, ours) // ca_file: our authority
	if err := newSink(t, cfg, Deps{}).Write(context.Background(), ev); err != nil {
		t.Fatalf("server of the ca_file's authority: %v", err)
	}
	if got := ours.received(); len(got) != 1 || !got[0].TLS {
		t.Fatalf("mails %+v, want one over TLS", got)
	}

	theirRoots := x509.NewCertPool()
	if !theirRoots.AppendCertsFromPEM(mustRead(t, otherCert.caFile)) {
		t.Fatal("no certificate in the other authority's file")
	}
	for _, deps := range []Deps{{}, {TLSConfig: &tls.Config{RootCAs: theirRoots}}} {
		cfg := testConfig(t, theirs) // still ca_file: our authority
		cfg.SMTP.CAFile = ours.caFile
		err := newSink(t, cfg, deps).Write(context.Background(), ev)
		var unknown x509.UnknownAuthorityError
		if !errors.As(err, &unknown) || sharelog.IsPermanent(err) {
			t.Errorf("base roots %v: server of another authority: %v; want a retryable unknown authority error", deps.TLSConfig != nil, err)
		}
	}
	// Without ca_file, the base's roots are used.
	cfg = testConfig(t, theirs)
	cfg.SMTP.CAFile = ""
	if err := newSink(t, cfg, Deps{TLSConfig: &tls.Config{RootCAs: theirRoots}}).Write(context.Background(), ev); err != nil {
		t.Errorf("no ca_file, base roots of the server's authority: %v", err)
	}
	if theirs.authFails != 0 || len(theirs.received()) != 1 {
		t.Errorf("other server: %d failed logins, %d mails; want 0 and 1 (the base roots' session)", theirs.authFails, len(theirs.received()))
	}

	// The roots are the file's alone.
	s := newSink(t, testConfig(t, ours), Deps{TLSConfig: &tls.Config{RootCAs: theirRoots}})
	want := x509.NewCertPool()
	want.AppendCertsFromPEM(mustRead(t, ours.caFile))
	if s.tls.RootCAs == nil || !s.tls.RootCAs.Equal(want) {
		t.Error("the roots are not exactly the ca_file's certificates")
	}
	if s.tls.ServerName != "127.0.0.1" || s.tls.MinVersion != tls.VersionTLS12 {
		t.Errorf("server name %q, min version %x; want the host of address, TLS 1.2", s.tls.ServerName, s.tls.MinVersion)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNetworkErrorIsRetryable(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	cfg := testConfig(t, ts)
	cfg.SMTP.Username, cfg.SMTP.Password = "", secret.Ref{}
	cfg.SMTP.Address = "127.0.0.1:1" // nothing listens
	s := newSink(t, cfg, Deps{})
	err := s.Write(context.Background(), []*sharelog.Event{linkEvent(1, "lk_9", sharelog.LinkOpened)})
	if _, ok := sharelog.RetryAfter(err); !ok {
		t.Fatalf("%v, want retryable", err)
	}
	// Nothing to mail: no connection, no error.
	if err := s.Write(context.Background(), []*sharelog.Event{linkEvent(2, "lk_none", sharelog.LinkOpened)}); err != nil {
		t.Fatal(err)
	}
}

func TestLinkNotificationsFile(t *testing.T) {
	ts := newTestServer(t, serverOpts{users: map[string]string{"sharelog": testPassword}})
	path := filepath.Join(t.TempDir(), "links.yaml")
	os.WriteFile(path, []byte("- link: lk_file\n  to: [filer@example.com]\n  actions: [link.downloaded]\n"), 0o600)
	cfg := testConfig(t, ts)
	cfg.LinkNotificationsFile = path
	s := newSink(t, cfg, Deps{})
	if err := s.Write(context.Background(), []*sharelog.Event{linkEvent(1, "lk_file", sharelog.LinkOpened), linkEvent(2, "lk_file", sharelog.LinkDownloaded)}); err != nil {
		t.Fatal(err)
	}
	got := ts.received()
	if len(got) != 1 || !slices.Equal(got[0].Rcpts, []string{"filer@example.com"}) {
		t.Fatalf("mails %+v", got)
	}
	if p := parse(t, got[0].Data); p.Subject != `[sharelog] "Q4 report.pdf" downloaded once via link lk_file` {
		t.Errorf("subject %q", p.Subject)
	}

	os.WriteFile(path, []byte("- link: lk_file\n  to: [not an address]\n  actoins: []\n"), 0o600)
	if _, err := New(*cfg, Deps{}); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("New with a bad file: %v", err)
	}
	os.WriteFile(path, []byte("- link: lk_file\n  to: [not an address]\n"), 0o600)
	if _, err := New(*cfg, Deps{}); err == nil || !strings.Contains(err.Error(), "[0].to[0]") {
		t.Errorf("New with a bad entry: %v", err)
	}
}

func TestWriteEndsWithItsContext(t *testing.T) {
	ts := newTestServer(t, serverOpts{suite: true, users: map[string]string{"sharelog": testPassword}})
	release := ts.Stall()
	defer release()
	s := newSink(t, testConfig(t, ts), Deps{})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.Write(ctx, []*sharelog.Event{linkEvent(1, "lk_9", sharelog.LinkOpened)})
	if err == nil || sharelog.IsPermanent(err) {
		t.Fatalf("%v, want retryable", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Write took %s after its context ended", d)
	}
}
