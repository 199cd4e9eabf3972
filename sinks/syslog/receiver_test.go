package syslog

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// receiver is a syslog receiver over TCP (or TLS) written for the tests:
// it reads each connection's frames strictly (octet counting or LF) and
// keeps, per connection, the raw bytes and the messages, in order.
type receiver struct {
	t      testing.TB
	ln     net.Listener
	octets bool

	mu      sync.Mutex
	conns   []*rconn
	byConn  map[net.Conn]*rconn
	stall   chan struct{} // while set, readers wait before reading on
	onMsg   func(msg string)
	discard bool // read and throw away (benchmarks)
	wg      sync.WaitGroup
}

// rconn is what one connection brought.
type rconn struct {
	c    net.Conn
	raw  []byte
	msgs []string
	err  error // a framing error; nil at a clean EOF
}

// listenTCP starts a receiver on a free loopback port; tlsCfg, when not nil,
// makes it a TLS receiver. lc may tune the listening socket.
func listenTCP(t testing.TB, octets bool, tlsCfg *tls.Config, lc *net.ListenConfig) *receiver {
	t.Helper()
	if lc == nil {
		lc = &net.ListenConfig{}
	}
	ln, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	r := &receiver{t: t, ln: ln, octets: octets, byConn: map[net.Conn]*rconn{}}
	r.wg.Add(1)
	go r.accept()
	t.Cleanup(r.close)
	return r
}

func (r *receiver) addr() string { return r.ln.Addr().String() }

func (r *receiver) accept() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		rc := &rconn{c: c}
		r.mu.Lock()
		r.conns = append(r.conns, rc)
		r.byConn[c] = rc
		r.mu.Unlock()
		r.wg.Add(1)
		go r.read(rc)
	}
}

// read reads one connection until EOF, a framing error or close.
func (r *receiver) read(rc *rconn) {
	defer r.wg.Done()
	defer rc.c.Close()
	br := bufio.NewReaderSize(rc.c, 64<<10)
	if r.discard {
		io.Copy(io.Discard, br)
		return
	}
	for {
		r.mu.Lock()
		stall := r.stall
		r.mu.Unlock()
		if stall != nil {
			<-stall
		}
		frame, msg, err := r.frame(br)
		r.mu.Lock()
		rc.raw = append(rc.raw, frame...)
		if err == nil {
			rc.msgs = append(rc.msgs, msg)
		}
		onMsg := r.onMsg
		r.mu.Unlock()
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				r.mu.Lock()
				rc.err = err
				r.mu.Unlock()
			}
			return
		}
		if onMsg != nil {
			onMsg(msg)
		}
	}
}

// frame reads one frame strictly: octet counting is a length of 1 to 9
// digits without a leading zero, one space, that many bytes; LF framing is
// a line.
func (r *receiver) frame(br *bufio.Reader) (raw []byte, msg string, err error) {
	if !r.octets {
		line, err := br.ReadBytes('\n')
		if err != nil {
			if len(line) > 0 {
				return line, "", fmt.Errorf("unterminated frame %q: %w", line, err)
			}
			return nil, "", err
		}
		return line, string(line[:len(line)-1]), nil
	}
	head, err := br.ReadBytes(' ')
	if err != nil {
		if len(head) > 0 {
			return head, "", fmt.Errorf("cut frame header %q: %w", head, err)
		}
		return nil, "", err
	}
	digits := head[:len(head)-1]
	n, aerr := strconv.Atoi(string(digits))
	if aerr != nil || len(digits) == 0 || len(digits) > 9 || digits[0] == '0' || n <= 0 {
		return head, "", fmt.Errorf("bad octet count %q", head)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(br, body); err != nil {
		return append(head, body...), "", fmt.Errorf("frame of %d bytes cut: %w", n, err)
	}
	return append(head, body...), string(body), nil
}

// messages returns every message received, connection after connection.
func (r *receiver) messages() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, c := range r.conns {
		out = append(out, c.msgs...)
	}
	return out
}

// connections returns a copy of what each connection brought so far.
func (r *receiver) connections() []rconn {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]rconn, len(r.conns))
	for i, c := range r.conns {
		out[i] = rconn{raw: append([]byte(nil), c.raw...), msgs: append([]string(nil), c.msgs...), err: c.err}
	}
	return out
}

// waitMessages waits until n messages arrived and returns them.
func (r *receiver) waitMessages(n int) []string {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := r.messages()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("after 10 s the receiver has %d of %d messages", len(got), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stallReading makes the readers stop before their next frame until the
// returned function is called.
func (r *receiver) stallReading() (release func()) {
	ch := make(chan struct{})
	r.mu.Lock()
	r.stall = ch
	r.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			r.mu.Lock()
			if r.stall == ch {
				r.stall = nil
			}
			r.mu.Unlock()
			close(ch)
		})
	}
}

// closeConns closes (both ways) every connection accepted so far.
func (r *receiver) closeConns() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.conns {
		c.c.Close()
	}
}

// checkFraming fails the test on any framing error seen.
func (r *receiver) checkFraming() {
	r.t.Helper()
	for i, c := range r.connections() {
		if c.err != nil {
			r.t.Errorf("connection %d: %v", i, c.err)
		}
	}
}

func (r *receiver) close() {
	r.ln.Close()
	r.mu.Lock()
	if r.stall != nil {
		select {
		case <-r.stall:
		default:
			close(r.stall)
		}
		r.stall = nil
	}
	for _, c := range r.conns {
		c.c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

// udpReceiver keeps every datagram received.
type udpReceiver struct {
	pc   net.PacketConn
	mu   sync.Mutex
	msgs []string
	done chan struct{}
}

func listenUDP(t testing.TB) *udpReceiver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &udpReceiver{pc: pc, done: make(chan struct{})}
	go func() {
		defer close(u.done)
		buf := make([]byte, 70000)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			u.mu.Lock()
			u.msgs = append(u.msgs, string(buf[:n]))
			u.mu.Unlock()
		}
	}()
	t.Cleanup(func() { pc.Close(); <-u.done })
	return u
}

func (u *udpReceiver) waitMessages(t testing.TB, n int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		u.mu.Lock()
		got := append([]string(nil), u.msgs...)
		u.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s the UDP receiver has %d of %d datagrams", len(got), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// pki is a test certificate authority with a server certificate for
// 127.0.0.1 and localhost and a client certificate, as PEM files.
type pki struct {
	dir                   string
	caFile                string
	serverCert, serverKey string
	clientCert, clientKey string
	pool                  *x509.CertPool
	serverPair            tls.Certificate
	otherCAFile           string // a CA that signed nothing here
}

func newPKI(t testing.TB) *pki {
	t.Helper()
	dir := t.TempDir()
	p := &pki{dir: dir, pool: x509.NewCertPool()}
	caKey, caCert, caDER := makeCA(t, "sharelog test CA")
	p.pool.AddCert(caCert)
	p.caFile = writePEM(t, dir, "ca.pem", "CERTIFICATE", caDER)
	_, _, otherDER := makeCA(t, "some other CA")
	p.otherCAFile = writePEM(t, dir, "other-ca.pem", "CERTIFICATE", otherDER)

	leaf := func(name string, server bool) (certFile, keyFile string, pair tls.Certificate) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(time.Now().UnixNano()),
			Subject:      pkix.Name{CommonName: name},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
		}
		if server {
			tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
			tmpl.DNSNames = []string{"localhost"}
			tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		} else {
			tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
			tmpl.DNSNames = []string{name}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		certFile = writePEM(t, dir, name+".pem", "CERTIFICATE", der)
		keyFile = writePEM(t, dir, name+"-key.pem", "PRIVATE KEY", kder)
		pair, err = tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			t.Fatal(err)
		}
		return certFile, keyFile, pair
	}
	p.serverCert, p.serverKey, p.serverPair = leaf("server", true)
	p.clientCert, p.clientKey, _ = leaf("sharelog-client", false)
	return p
}

func makeCA(t testing.TB, name string) (*ecdsa.PrivateKey, *x509.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert, der
}

func writePEM(t testing.TB, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// serverTLS is the receiver's TLS configuration; requireClient makes it
// demand a client certificate signed by the test CA.
func (p *pki) serverTLS(requireClient bool) *tls.Config {
	c := &tls.Config{Certificates: []tls.Certificate{p.serverPair}, MinVersion: tls.VersionTLS12}
	if requireClient {
		c.ClientAuth = tls.RequireAndVerifyClientCert
		c.ClientCAs = p.pool
	}
	return c
}
