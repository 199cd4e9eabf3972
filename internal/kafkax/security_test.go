package kafkax

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sharelog/sharelog/internal/tlsconf"
)

// roundTrip creates a topic, produces one message and reads it back through
// conn, within d.
func roundTrip(conn *Conn, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	topic := conn.Config().Topics().Raw
	if err := conn.EnsureTopics(ctx, topic); err != nil {
		return err
	}
	w := conn.NewWriter()
	defer w.Close()
	if err := w.WriteMessages(ctx, kafka.Message{Topic: topic, Key: []byte("k"), Value: []byte("secured")}); err != nil {
		return err
	}
	r := conn.NewGroupReader("secure-check", topic, nil)
	defer r.Close()
	m, err := r.FetchMessage(ctx)
	if err != nil {
		return err
	}
	if string(m.Value) != "secured" {
		return os.ErrInvalid
	}
	return nil
}

// selfSigned writes a CA-less self-signed certificate for 127.0.0.1 and
// returns the server's tls.Config and the certificate's PEM path.
func selfSigned(t *testing.T) (*tls.Config, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sharelog test broker"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyDER, _ := x509.MarshalECPrivateKey(key)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(path, certPEM, 0o644)
	return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, path
}

func cluster(t *testing.T, opts ...kfake.Opt) string {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.DefaultNumPartitions(2)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

func TestTLS(t *testing.T) {
	serverTLS, caPath := selfSigned(t)
	addr := cluster(t, kfake.TLS(serverTLS))
	cfg := Config{TopicPrefix: "tls"}
	cfg.TLS = TLSConfig{Enabled: true, Config: tlsconf.Config{CAFile: caPath}}
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	conn, err := NewConn(cfg, []string{addr})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := roundTrip(conn, 20*time.Second); err != nil {
		t.Fatalf("over TLS: %v", err)
	}
	// Without the CA the broker's certificate is refused.
	cfg.TLS.CAFile = ""
	bad, _ := NewConn(cfg, []string{addr})
	defer bad.Close()
	if err := bad.Ping(context.Background(), 3*time.Second); err == nil {
		t.Fatal("an unknown certificate was accepted")
	}
}

func TestSASLMechanisms(t *testing.T) {
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			addr := cluster(t, kfake.EnableSASL(), kfake.Superuser(mech, "sharelog", "sharelog-secret"))
			pwFile := filepath.Join(t.TempDir(), "pw")
			os.WriteFile(pwFile, []byte("sharelog-secret\n"), 0o600)
			cfg := Config{TopicPrefix: "sasl", SASL: SASLConfig{Mechanism: mech, Username: "sharelog", PasswordFile: pwFile}}
			cfg.SetDefaults()
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			conn, err := NewConn(cfg, []string{addr})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if err := roundTrip(conn, 20*time.Second); err != nil {
				t.Fatalf("with %s: %v", mech, err)
			}
			cfg.SASL = SASLConfig{Mechanism: mech, Username: "sharelog", Password: "wrong-password"}
			bad, _ := NewConn(cfg, []string{addr})
			defer bad.Close()
			err = bad.Ping(context.Background(), 3*time.Second)
			if err == nil {
				t.Fatal("a wrong password was accepted")
			}
			if strings.Contains(err.Error(), "wrong-password") {
				t.Fatalf("the error shows the password: %v", err)
			}
		})
	}
}

// TestSASLAgainstApacheKafka uses the SASL listener of the Apache Kafka
// broker that scripts/kafka-up --sasl starts (SHARELOG_TEST_KAFKA_SASL, its
// host:port; user sharelog / sharelog-secret with PLAIN and SCRAM-SHA-512).
func TestSASLAgainstApacheKafka(t *testing.T) {
	addr := os.Getenv("SHARELOG_TEST_KAFKA_SASL")
	if addr == "" {
		t.Skip("SHARELOG_TEST_KAFKA_SASL is not set (scripts/kafka-up --sasl prints it)")
	}
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			cfg := Config{TopicPrefix: "sasl-" + strings.ToLower(mech) + "-" + time.Now().Format("150405.000000"),
				SASL: SASLConfig{Mechanism: mech, Username: "sharelog", Password: "sharelog-secret"}}
			cfg.SetDefaults()
			cfg.Partitions = 1
			conn, err := NewConn(cfg, []string{addr})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if err := roundTrip(conn, 60*time.Second); err != nil {
				t.Fatalf("with %s: %v", mech, err)
			}
			cfg.SASL.Password = "wrong-password"
			bad, _ := NewConn(cfg, []string{addr})
			defer bad.Close()
			if err := bad.Ping(context.Background(), 5*time.Second); err == nil {
				t.Fatal("a wrong password was accepted")
			}
		})
	}
}

func TestSecurityConfigValidate(t *testing.T) {
	cfg := Config{SASL: SASLConfig{Mechanism: "GSSAPI"}, TLS: TLSConfig{Config: tlsconf.Config{CertFile: "c.pem"}}}
	cfg.SetDefaults()
	err := cfg.Validate()
	for _, want := range []string{`sasl.mechanism: "GSSAPI"`, "sasl.username: is required", "sasl.password: give exactly one", "tls.enabled: files are given", "tls.cert_file: cert_file and key_file go together"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
}
