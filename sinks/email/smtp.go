package email

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"
	"strings"
	"time"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/internal/cfgerr"
)

// tlsConfig is the client TLS configuration: c's tlsconf.Config (ca_file
// instead of the system roots, a client certificate, TLS 1.2 at least) over
// a clone of base, when given (ca_file then replaces its RootCAs too), with
// the server name defaulting to the host of c.Address.
func tlsConfig(c SMTP, base *tls.Config) (*tls.Config, error) {
	cfg, err := c.ClientConfig()
	if err != nil {
		return nil, cfgerr.Prefix("smtp", err)
	}
	if base != nil {
		own := cfg
		cfg = base.Clone()
		cfg.MinVersion = max(cfg.MinVersion, own.MinVersion)
		cfg.InsecureSkipVerify = cfg.InsecureSkipVerify || own.InsecureSkipVerify
		if own.RootCAs != nil {
			cfg.RootCAs = own.RootCAs
		}
		if own.GetClientCertificate != nil {
			cfg.GetClientCertificate = own.GetClientCertificate
		}
	}
	cfg.ServerName = c.ServerName
	if cfg.ServerName == "" {
		cfg.ServerName, _, _ = net.SplitHostPort(c.Address)
	}
	return cfg, nil
}

// Stages of a session, for errors and their meaning.
const (
	stageConnect  = "connect"
	stageGreeting = "greeting"
	stageHello    = "EHLO"
	stageStartTLS = "STARTTLS"
	stageAuth     = "AUTH"
	stageMail     = "MAIL FROM"
	stageRcpt     = "RCPT TO"
	stageData     = "DATA"
)

// smtpError is a failure of one step, classified.
type smtpError struct {
	stage string
	rcpt  string
	err   error
}

func (e *smtpError) Error() string {
	if e.rcpt != "" {
		return fmt.Sprintf("smtp %s <%s>: %v", e.stage, e.rcpt, e.err)
	}
	return fmt.Sprintf("smtp %s: %v", e.stage, e.err)
}

func (e *smtpError) Unwrap() error { return e.err }

// classify wraps err, the failure at stage, as what it means to the engine:
// 4xx, network errors and timeouts are retryable; 5xx to a recipient or a
// message is permanent; a refused login or sender disables the sink.
func classify(stage, rcpt string, err error) error {
	e := &smtpError{stage: stage, rcpt: rcpt, err: err}
	var te *textproto.Error
	if !errors.As(err, &te) {
		return sharelog.Retryable(e, 0)
	}
	switch {
	case te.Code == 530 || te.Code == 534 || te.Code == 535 || te.Code == 538 || (stage == stageAuth && te.Code >= 500):
		// Authentication required, too weak, refused, or needs
		// encryption: a configuration problem.
		return &sharelog.DisabledError{Err: fmt.Errorf("%w (check smtp.username, smtp.password, smtp.auth and TLS)", e)}
	case stage == stageMail && te.Code >= 500:
		return &sharelog.DisabledError{Err: fmt.Errorf("%w (the server refuses the sender: check smtp.from)", e)}
	case te.Code >= 500 && (stage == stageRcpt || stage == stageData):
		return sharelog.Permanent(e)
	}
	return sharelog.Retryable(e, 0)
}

// connBroken reports whether err leaves the connection unusable: anything
// but an SMTP answer, or 421 (the server is closing the connection).
func connBroken(err error) bool {
	var te *textproto.Error
	return !errors.As(err, &te) || te.Code == 421
}

// session is one SMTP connection.
type session struct {
	s    *Sink
	conn net.Conn
	c    *smtp.Client
}

// deadline gives the next step the configured time.
func (ss *session) deadline() {
	ss.conn.SetDeadline(time.Now().Add(ss.s.cfg.SMTP.Timeout))
}

// dial connects, reads the greeting, says EHLO, upgrades with STARTTLS and
// logs in, as configured. The connection is closed when ctx ends.
func (s *Sink) dial(ctx context.Context) (*session, func(), error) {
	cfg := s.cfg.SMTP
	d := &net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}
	var (
		conn net.Conn
		err  error
	)
	if cfg.ImplicitTLS {
		conn, err = (&tls.Dialer{NetDialer: d, Config: s.tls}).DialContext(ctx, "tcp", cfg.Address)
	} else {
		conn, err = d.DialContext(ctx, "tcp", cfg.Address)
	}
	if err != nil {
		return nil, nil, classify(stageConnect, "", err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	ss := &session{s: s, conn: conn}
	closeAll := func() {
		stop()
		conn.Close()
	}
	fail := func(stage string, err error) (*session, func(), error) {
		closeAll()
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return nil, nil, classify(stage, "", err)
	}
	ss.deadline()
	host, _, _ := net.SplitHostPort(cfg.Address)
	if ss.c, err = smtp.NewClient(conn, host); err != nil {
		return fail(stageGreeting, err)
	}
	ss.deadline()
	if err := ss.c.Hello(s.helo); err != nil {
		return fail(stageHello, err)
	}
	hasTLS, _ := ss.c.Extension("STARTTLS")
	isTLS := cfg.ImplicitTLS
	if !cfg.ImplicitTLS {
		switch {
		case cfg.StartTLS == StartTLSNone:
		case hasTLS:
			ss.deadline()
			if err := ss.c.StartTLS(s.tls); err != nil {
				return fail(stageStartTLS, err)
			}
			isTLS = true
		case cfg.StartTLS == StartTLSRequired:
			return fail(stageStartTLS, errors.New("the server does not offer STARTTLS and smtp.starttls is required"))
		}
	}
	if cfg.Username != "" {
		if !isTLS && !cfg.AllowInsecureAuth {
			return fail(stageAuth, errors.New("the connection is not encrypted (the server offers no STARTTLS): the password is not sent in clear unless smtp.allow_insecure_auth is set"))
		}
		ok, mechs := ss.c.Extension("AUTH")
		if !ok {
			return fail(stageAuth, errors.New("the server offers no AUTH (is smtp.username needed?)"))
		}
		var a smtp.Auth
		switch m := strings.Fields(strings.ToUpper(mechs)); {
		case cfg.Auth == AuthPlain, cfg.Auth == AuthAuto && containsFold(m, "PLAIN"):
			a = &plainAuth{user: cfg.Username, pass: s.password, allowClear: cfg.AllowInsecureAuth}
		case cfg.Auth == AuthLogin, cfg.Auth == AuthAuto && containsFold(m, "LOGIN"):
			a = &loginAuth{user: cfg.Username, pass: s.password, allowClear: cfg.AllowInsecureAuth}
		default:
			return fail(stageAuth, fmt.Errorf("the server offers neither PLAIN nor LOGIN (it offers %q)", mechs))
		}
		ss.deadline()
		if err := ss.c.Auth(a); err != nil {
			s.m.sessions.WithLabelValues("auth_failed").Inc()
			closeAll()
			return nil, nil, classify(stageAuth, "", err)
		}
	}
	s.m.sessions.WithLabelValues("ok").Inc()
	return ss, func() {
		ss.deadline()
		ss.c.Quit()
		closeAll()
	}, nil
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// send sends msgs over one session, recording each one's result.
func (s *Sink) send(ctx context.Context, batch []*sharelog.Event, msgs []*message) {
	start := time.Now()
	defer func() { s.m.sessionTime.Observe(time.Since(start).Seconds()) }()
	ss, done, err := s.dial(ctx)
	if err != nil {
		var de *sharelog.DisabledError
		if !errors.As(err, &de) {
			s.m.sessions.WithLabelValues("error").Inc()
		}
		s.log.Warn("SMTP session failed", "err", err)
		for _, m := range msgs {
			m.err = err
			s.m.mails.WithLabelValues(m.kind, outcomeDeferred).Inc()
		}
		return
	}
	defer done()
	date := s.now()
	for i, m := range msgs {
		body := s.compose(batch, m, date)
		err := ss.sendOne(m, body)
		if err == nil {
			s.m.mails.WithLabelValues(m.kind, outcomeSent).Inc()
			continue
		}
		if ctx.Err() != nil {
			err = sharelog.Retryable(fmt.Errorf("%w (%v)", ctx.Err(), err), 0)
		}
		m.err = err
		if sharelog.IsPermanent(err) {
			s.m.mails.WithLabelValues(m.kind, outcomeRefused).Inc()
		} else {
			s.m.mails.WithLabelValues(m.kind, outcomeDeferred).Inc()
		}
		s.log.Warn("mail not accepted", "kind", m.kind, "link", m.link, "events", len(m.events), "err", err)
		if ctx.Err() != nil || connBroken(err) {
			for _, rest := range msgs[i+1:] {
				rest.err = err
				s.m.mails.WithLabelValues(rest.kind, outcomeDeferred).Inc()
			}
			return
		}
		var de *sharelog.DisabledError
		if errors.As(err, &de) {
			return
		}
		ss.deadline()
		if rerr := ss.c.Reset(); rerr != nil {
			rerr = classify(stageMail, "", rerr)
			for _, rest := range msgs[i+1:] {
				rest.err = rerr
				s.m.mails.WithLabelValues(rest.kind, outcomeDeferred).Inc()
			}
			return
		}
	}
}

// sendOne sends one mail: MAIL FROM, RCPT TO each pending recipient, DATA.
// It returns nil when every recipient was accepted, else the first
// recipient's refusal (the others got the mail and are remembered), or the
// message's failure.
func (ss *session) sendOne(m *message, body []byte) error {
	ss.deadline()
	if err := ss.c.Mail(ss.s.from.Address); err != nil {
		return classify(stageMail, "", err)
	}
	var rcptErr error
	for _, r := range m.rcpts {
		ss.deadline()
		if err := ss.c.Rcpt(r); err != nil {
			err = classify(stageRcpt, r, err)
			if connBroken(err) {
				return err
			}
			if sharelog.IsPermanent(err) {
				ss.s.m.recipients.WithLabelValues(outcomeRefused).Inc()
			} else {
				ss.s.m.recipients.WithLabelValues(outcomeDeferred).Inc()
			}
			// A retryable refusal wins: the events are tried again.
			if rcptErr == nil || sharelog.IsPermanent(rcptErr) && !sharelog.IsPermanent(err) {
				rcptErr = err
			}
			continue
		}
		m.accepted = append(m.accepted, r)
	}
	if len(m.accepted) == 0 {
		return rcptErr
	}
	ss.deadline()
	w, err := ss.c.Data()
	if err != nil {
		m.accepted = nil
		return classify(stageData, "", err)
	}
	if _, err := w.Write(body); err != nil {
		m.accepted = nil
		return classify(stageData, "", err)
	}
	if err := w.Close(); err != nil {
		m.accepted = nil
		return classify(stageData, "", err)
	}
	// 250: the server took the mail for the accepted recipients.
	ids := m.ids
	for _, r := range m.accepted {
		ss.s.sent.add(r, ids)
		ss.s.m.recipients.WithLabelValues("accepted").Inc()
	}
	return rcptErr
}

// plainAuth is SASL PLAIN (RFC 4616), sent only over TLS unless allowed.
type plainAuth struct {
	user, pass string
	allowClear bool
}

func (a *plainAuth) Start(server *smtp.ServerInfo) (string, []byte, error) {
	if !server.TLS && !a.allowClear {
		return "", nil, errors.New("refusing to send the password over a connection that is not encrypted")
	}
	return "PLAIN", []byte("\x00" + a.user + "\x00" + a.pass), nil
}

func (a *plainAuth) Next(_ []byte, more bool) ([]byte, error) {
	if more {
		return nil, errors.New("unexpected challenge after PLAIN")
	}
	return nil, nil
}

// loginAuth is the LOGIN mechanism (draft-murchison-sasl-login).
type loginAuth struct {
	user, pass string
	allowClear bool
	step       int
}

func (a *loginAuth) Start(server *smtp.ServerInfo) (string, []byte, error) {
	if !server.TLS && !a.allowClear {
		return "", nil, errors.New("refusing to send the password over a connection that is not encrypted")
	}
	a.step = 0
	return "LOGIN", nil, nil
}

func (a *loginAuth) Next(challenge []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	a.step++
	switch c := strings.ToLower(string(challenge)); {
	case strings.HasPrefix(c, "user"):
		return []byte(a.user), nil
	case strings.HasPrefix(c, "pass"):
		return []byte(a.pass), nil
	case a.step == 1:
		return []byte(a.user), nil
	case a.step == 2:
		return []byte(a.pass), nil
	}
	return nil, fmt.Errorf("unexpected LOGIN challenge %q", challenge)
}
