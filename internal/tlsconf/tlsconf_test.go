package tlsconf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// authority is a test CA.
type authority struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string // its certificate, PEM
}

func newAuthority(t *testing.T, name string) *authority {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &authority{cert: cert, key: key, file: writePEM(t, name+".pem", "CERTIFICATE", der)}
}

// issue returns a leaf certificate for 127.0.0.1 signed by a, and the
// paths of its PEM certificate and key.
func (a *authority) issue(t *testing.T, name string, usage x509.ExtKeyUsage) (tls.Certificate, string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, &key.PublicKey, a.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile := writePEM(t, name+".pem", "CERTIFICATE", der)
	keyFile := writePEM(t, name+"-key.pem", "PRIVATE KEY", keyDER)
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return pair, certFile, keyFile
}

func writePEM(t *testing.T, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// serve starts an https server with cert; clientCAs, when given, requires
// a client certificate signed by it.
func serve(t *testing.T, cert tls.Certificate, clientCAs *authority) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	if clientCAs != nil {
		pool := x509.NewCertPool()
		pool.AddCert(clientCAs.cert)
		srv.TLS.ClientCAs, srv.TLS.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL
}

// get requests url with a client of c.
func get(t *testing.T, c Config, url string) error {
	t.Helper()
	tc, err := c.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	resp, err := client.Get(url)
	if err == nil {
		resp.Body.Close()
	}
	return err
}

// TestCAFileReplacesSystemRoots: a server whose certificate the CA file's
// authority signed is accepted; one whose certificate chains to another
// authority is refused; and the roots are the file's alone.
func TestCAFileReplacesSystemRoots(t *testing.T) {
	ours, theirs := newAuthority(t, "ours"), newAuthority(t, "theirs")
	ourServer, _, _ := ours.issue(t, "server", x509.ExtKeyUsageServerAuth)
	theirServer, _, _ := theirs.issue(t, "other-server", x509.ExtKeyUsageServerAuth)

	c := Config{CAFile: ours.file}
	if err := get(t, c, serve(t, ourServer, nil)); err != nil {
		t.Errorf("server signed by the ca_file's authority: %v", err)
	}
	err := get(t, c, serve(t, theirServer, nil))
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Errorf("server signed by another authority: %v, want unknown authority", err)
	}

	tc, err := c.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	want := x509.NewCertPool()
	want.AddCert(ours.cert)
	if tc.RootCAs == nil || !tc.RootCAs.Equal(want) {
		t.Error("the roots are not exactly the ca_file's certificates")
	}
	if tc.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion %x, want TLS 1.2", tc.MinVersion)
	}
	// No ca_file: the system roots (nil RootCAs), which do not know ours.
	if tc, _ := (Config{}).ClientConfig(); tc.RootCAs != nil {
		t.Error("no ca_file, yet RootCAs is set")
	}
	if err := get(t, Config{}, serve(t, ourServer, nil)); err == nil {
		t.Error("a test authority's server accepted with the system roots")
	}
}

// TestClientCertificate: a server that requires a client certificate of
// our authority accepts cert_file and key_file, and refuses a client with
// none.
func TestClientCertificate(t *testing.T) {
	ca := newAuthority(t, "ca")
	server, _, _ := ca.issue(t, "server", x509.ExtKeyUsageServerAuth)
	_, certFile, keyFile := ca.issue(t, "client", x509.ExtKeyUsageClientAuth)
	url := serve(t, server, ca)
	if err := get(t, Config{CAFile: ca.file, CertFile: certFile, KeyFile: keyFile}, url); err != nil {
		t.Errorf("with the client certificate: %v", err)
	}
	if err := get(t, Config{CAFile: ca.file}, url); err == nil {
		t.Error("without a client certificate: accepted")
	}
}

func TestServerNameAndMinVersion(t *testing.T) {
	ca := newAuthority(t, "ca")
	server, _, _ := ca.issue(t, "server", x509.ExtKeyUsageServerAuth)
	url := serve(t, server, nil)
	if err := get(t, Config{CAFile: ca.file, ServerName: "localhost"}, url); err != nil {
		t.Errorf("server_name localhost (in the certificate): %v", err)
	}
	if err := get(t, Config{CAFile: ca.file, ServerName: "es.example.com"}, url); err == nil || !strings.Contains(err.Error(), "es.example.com") {
		t.Errorf("server_name not in the certificate: %v", err)
	}
	if err := get(t, Config{InsecureSkipVerify: true}, url); err != nil {
		t.Errorf("insecure_skip_verify: %v", err)
	}
	tc, err := Config{MinVersion: "1.3"}.ClientConfig()
	if err != nil || tc.MinVersion != tls.VersionTLS13 {
		t.Errorf("min_version 1.3: %v, %x", err, tc.MinVersion)
	}
}

// TestBadFilesNameTheField: ClientConfig's errors say which key holds the
// bad file.
func TestBadFilesNameTheField(t *testing.T) {
	ca := newAuthority(t, "ca")
	_, certFile, keyFile := ca.issue(t, "client", x509.ExtKeyUsageClientAuth)
	notPEM := filepath.Join(t.TempDir(), "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "missing.pem")
	for _, tc := range []struct {
		c    Config
		want string
	}{
		{Config{CAFile: missing}, "ca_file: open " + missing},
		{Config{CAFile: notPEM}, "ca_file: " + notPEM + " holds no PEM certificate"},
		{Config{CertFile: missing, KeyFile: keyFile}, "cert_file: open " + missing},
		{Config{CertFile: certFile, KeyFile: missing}, "cert_file: open " + missing},
		{Config{CertFile: certFile, KeyFile: ca.file}, "cert_file: "},
		{Config{CertFile: notPEM, KeyFile: keyFile}, "cert_file: "},
	} {
		if _, err := tc.c.ClientConfig(); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q…", tc.c, err, tc.want)
		}
	}
}

func TestValidate(t *testing.T) {
	if err := (Config{CAFile: "a", CertFile: "c", KeyFile: "k", ServerName: "s", MinVersion: "1.3"}).Validate(); err != nil {
		t.Errorf("good config: %v", err)
	}
	err := Config{CAFile: "a", InsecureSkipVerify: true, CertFile: "c", MinVersion: "1.1"}.Validate()
	for _, want := range []string{
		"cert_file: cert_file and key_file go together",
		"insecure_skip_verify: set ca_file or insecure_skip_verify, not both",
		`min_version: "1.1" is not one of 1.2, 1.3`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
	if !(Config{}).IsZero() || (Config{MinVersion: "1.2"}).IsZero() {
		t.Error("IsZero")
	}
}
