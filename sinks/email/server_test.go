package email

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/sharelog/sharelog/sinks/sinktest"
)

// testCert is a self-signed certificate for 127.0.0.1 and localhost, and
// the PEM file trusting it.
type testCert struct {
	tls    tls.Certificate
	caFile string
}

var (
	certOnce sync.Once
	certPEM  []byte
	keyPEM   []byte
)

func newTestCert(t testing.TB) testCert {
	t.Helper()
	certOnce.Do(func() { certPEM, keyPEM = selfSigned("sharelog test SMTP") })
	return writeTestCert(t, certPEM, keyPEM)
}

// newOtherCert is a self-signed certificate like newTestCert's, of an
// authority of its own.
func newOtherCert(t testing.TB, name string) testCert {
	t.Helper()
	cert, key := selfSigned(name)
	return writeTestCert(t, cert, key)
}

// selfSigned returns a new self-signed certificate (a CA) for 127.0.0.1 and
// localhost, and its key, PEM.
func selfSigned(name string) (cert, key []byte) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		panic(err)
	}
	kder, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// writeTestCert writes certPEM to a file of the test's, to trust it.
func writeTestCert(t testing.TB, certPEM, keyPEM []byte) testCert {
	t.Helper()
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return testCert{tls: c, caFile: path}
}

// received is one message the test server accepted (250 after DATA).
type received struct {
	From     string
	Rcpts    []string
	Data     []byte
	AuthUser string
	// AuthTLS is whether the session was encrypted when it logged in.
	AuthTLS bool
	TLS     bool
}

// serverOpts shape a test server.
type serverOpts struct {
	noTLS       bool              // do not offer STARTTLS
	implicitTLS bool              // TLS from the first byte
	users       map[string]string // AUTH PLAIN/LOGIN users; nil: no AUTH
	suite       bool              // steered by the embedded Recorder
	discard     bool              // keep nothing (benchmarks)
	cert        *testCert         // the server's certificate; nil: newTestCert's
}

// testServer is a real SMTP server (emersion/go-smtp) on loopback that
// records what it accepted and fails as told.
type testServer struct {
	sinktest.Recorder
	addr   string
	caFile string
	opts   serverOpts
	ctx    context.Context

	mu        sync.Mutex
	msgs      []received
	rcptErr   map[string]*smtp.SMTPError
	dataErrs  []*smtp.SMTPError // popped, one per DATA; nil entries accept
	sessions  int
	authFails int
}

func newTestServer(t testing.TB, opts serverOpts) *testServer {
	t.Helper()
	cert := newTestCert(t)
	if opts.cert != nil {
		cert = *opts.cert
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts := &testServer{caFile: cert.caFile, opts: opts, ctx: ctx, rcptErr: map[string]*smtp.SMTPError{}}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		ts.mu.Lock()
		ts.sessions++
		ts.mu.Unlock()
		return &testSession{ts: ts, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.MaxMessageBytes = 16 << 20
	srv.MaxRecipients = 50
	srv.ErrorLog = quietLog{}
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert.tls}}
	if !opts.noTLS {
		srv.TLSConfig = tlsCfg
	} else {
		srv.AllowInsecureAuth = true // the sink under test must refuse on its own
	}
	var l net.Listener
	var err error
	if opts.implicitTLS {
		l, err = tls.Listen("tcp", "127.0.0.1:0", tlsCfg)
	} else {
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	ts.addr = l.Addr().String()
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(l)
	}()
	t.Cleanup(func() {
		cancel()
		srv.Close()
		<-done
	})
	return ts
}

type quietLog struct{}

func (quietLog) Printf(string, ...any) {}
func (quietLog) Println(...any)        {}

// rejectRcpt makes RCPT TO:<addr> fail with code.
func (ts *testServer) rejectRcpt(addr string, code int) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.rcptErr[strings.ToLower(addr)] = &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{code / 100, 1, 1}, Message: "no such user here"}
}

// failData sets the answers of the next DATA commands: 0 accepts, else the
// code.
func (ts *testServer) failData(codes ...int) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for _, c := range codes {
		if c == 0 {
			ts.dataErrs = append(ts.dataErrs, nil)
			continue
		}
		ts.dataErrs = append(ts.dataErrs, &smtp.SMTPError{Code: c, EnhancedCode: smtp.EnhancedCode{c / 100, 3, 0}, Message: "told to fail"})
	}
}

func (ts *testServer) received() []received {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]received(nil), ts.msgs...)
}

type testSession struct {
	ts       *testServer
	conn     *smtp.Conn
	from     string
	rcpts    []string
	authUser string
	authTLS  bool
}

func (s *testSession) AuthMechanisms() []string {
	if s.ts.opts.users == nil {
		return nil
	}
	return []string{sasl.Plain, sasl.Login}
}

func (s *testSession) Auth(mech string) (sasl.Server, error) {
	check := func(user, pass string) error {
		_, isTLS := s.conn.TLSConnectionState()
		if want, ok := s.ts.opts.users[user]; !ok || want != pass {
			s.ts.mu.Lock()
			s.ts.authFails++
			s.ts.mu.Unlock()
			return smtp.ErrAuthFailed
		}
		s.authUser, s.authTLS = user, isTLS
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, user, pass string) error {
			if identity != "" && identity != user {
				return smtp.ErrAuthFailed
			}
			return check(user, pass)
		}), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

// loginServer is the server side of LOGIN.
type loginServer struct {
	check func(user, pass string) error
	step  int
	user  string
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	l.step++
	switch l.step {
	case 1:
		if len(resp) > 0 { // initial response: the user name
			l.user = string(resp)
			l.step++
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 2:
		l.user = string(resp)
		return []byte("Password:"), false, nil
	default:
		return nil, true, l.check(l.user, string(resp))
	}
}

func (s *testSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.ts.opts.users != nil && s.authUser == "" {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *testSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.ts.mu.Lock()
	err := s.ts.rcptErr[strings.ToLower(to)]
	s.ts.mu.Unlock()
	if err != nil {
		return err
	}
	s.rcpts = append(s.rcpts, to)
	return nil
}

func (s *testSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ts := s.ts
	if ts.opts.suite {
		ids := eventIDs(data)
		fail, err := ts.Begin(ts.ctx)
		if err != nil {
			return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "shutting down"}
		}
		if fail {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
		}
		for _, id := range ids {
			if ts.Rejected(id) {
				return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "event " + id + " refused"}
			}
		}
		ts.Accept(ids...)
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if len(ts.dataErrs) > 0 {
		e := ts.dataErrs[0]
		ts.dataErrs = ts.dataErrs[1:]
		if e != nil {
			return e
		}
	}
	if ts.opts.discard {
		return nil
	}
	_, isTLS := s.conn.TLSConnectionState()
	ts.msgs = append(ts.msgs, received{From: s.from, Rcpts: append([]string(nil), s.rcpts...), Data: data, AuthUser: s.authUser, AuthTLS: s.authTLS, TLS: isTLS})
	return nil
}

func (s *testSession) Reset() {
	s.from, s.rcpts = "", nil
}

func (s *testSession) Logout() error { return nil }

// eventIDs reads the X-Sharelog-Event-Ids header of a raw message.
func eventIDs(data []byte) []string {
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return nil
	}
	var ids []string
	for _, id := range strings.Split(msg.Header.Get(HeaderEventIDs), ",") {
		if id = strings.TrimSpace(id); id != "" {
			ids = append(ids, id)
		}
	}
	return ids
}

// parsed is a received message, decoded.
type parsed struct {
	Header  mail.Header
	Subject string
	Text    string
	HTML    string
	IDs     []string
}

func parse(t testing.TB, data []byte) parsed {
	t.Helper()
	if !bytes.HasSuffix(data, []byte("\r\n")) || bytes.Contains(bytes.ReplaceAll(data, []byte("\r\n"), nil), []byte("\n")) {
		t.Errorf("the message has bare line feeds")
	}
	for i, line := range strings.Split(string(data), "\r\n") {
		if len(line) > 998 {
			t.Errorf("line %d is %d bytes long", i, len(line))
		}
		for _, r := range line {
			if r > 127 {
				t.Fatalf("line %d holds 8-bit data: %q", i, line)
			}
		}
	}
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	p := parsed{Header: msg.Header, IDs: eventIDs(data)}
	dec := new(mime.WordDecoder)
	if p.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		t.Fatal(err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q: %v", msg.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextRawPart() // raw: decode quoted-printable here
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if cte := part.Header.Get("Content-Transfer-Encoding"); cte != "quoted-printable" {
			t.Errorf("part %s: Content-Transfer-Encoding %q", part.Header.Get("Content-Type"), cte)
		}
		body, err := io.ReadAll(quotedprintable.NewReader(part))
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.ReplaceAll(body, []byte("\r\n"), []byte("\n"))
		switch ct := part.Header.Get("Content-Type"); ct {
		case "text/plain; charset=utf-8":
			p.Text = string(body)
		case "text/html; charset=utf-8":
			p.HTML = string(body)
		default:
			t.Errorf("unexpected part %q", ct)
		}
	}
	if p.Text == "" || p.HTML == "" {
		t.Errorf("a part is missing: text %d bytes, html %d bytes", len(p.Text), len(p.HTML))
	}
	return p
}
