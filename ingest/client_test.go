package ingest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/twmb/franz-go/pkg/kfake"

	sharelog "github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/internal/kafkatest"
	"github.com/sharelog/sharelog/internal/kafkax"
)

// connClient returns a Client producing through conn, as the server's
// wiring builds it: conn's transport, prefix and producer settings.
func connClient(t *testing.T, conn *kafkax.Conn, opts ...Option) *Client {
	t.Helper()
	cfg := conn.Config()
	c, err := NewClient(conn.Brokers(), append([]Option{
		WithTransport(conn.Transport()),
		WithTopicPrefix(cfg.TopicPrefix),
		WithLinger(cfg.Linger),
		WithCompression(kafkax.CompressionCodec(cfg.Compression)),
		WithRequestTimeout(cfg.WriteTimeout),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestNewClientRefusesWrongOptions(t *testing.T) {
	for _, tc := range []struct {
		name    string
		brokers []string
		opts    []Option
		want    []string
	}{
		{"no brokers", nil, nil, []string{"brokers: none given"}},
		{"broker without port", []string{"kafka-1"}, nil, []string{`brokers[0]: "kafka-1" is not host:port`}},
		{"prefix", []string{"k:9092"}, []Option{WithTopicPrefix("a/b")}, []string{`WithTopicPrefix: "a/b"`}},
		{"empty prefix", []string{"k:9092"}, []Option{WithTopicPrefix("")}, []string{`WithTopicPrefix: ""`}},
		{"durations", []string{"k:9092"}, []Option{WithLinger(-time.Second), WithRequestTimeout(0)},
			[]string{"WithLinger: -1s is negative", "WithRequestTimeout: 0s is not positive"}},
		{"codec", []string{"k:9092"}, []Option{WithCompression(9)}, []string{"WithCompression: 9"}},
		{"transport beside its settings", []string{"k:9092"},
			[]Option{WithTransport(&kafka.Transport{}), WithTLS(&tls.Config{}), WithClientID("x"), WithSASL(plain.Mechanism{})},
			[]string{"WithClientID: the transport", "WithTLS: the transport", "WithSASL: the transport"}},
		{"sasl mechanism", []string{"k:9092"}, []Option{WithSASLCredentials("GSSAPI", "u", "secret-pw")},
			[]string{`WithSASLCredentials: "GSSAPI" is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512`}},
		{"sasl username", []string{"k:9092"}, []Option{WithSASLCredentials("PLAIN", "", "secret-pw")},
			[]string{"WithSASLCredentials: the username is empty"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewClient(tc.brokers, tc.opts...)
			if err == nil {
				c.Close()
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "secret-pw") {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}

func TestNewClientDefaults(t *testing.T) {
	c, err := NewClient([]string{"127.0.0.1:9092"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Topic() != "sharelog.raw" {
		t.Errorf("topic %q", c.Topic())
	}
	w := c.writer
	if w.RequiredAcks != kafka.RequireAll || w.BatchTimeout != DefaultLinger || w.Compression != kafka.Lz4 ||
		w.WriteTimeout != DefaultRequestTimeout || w.ReadTimeout != DefaultRequestTimeout {
		t.Errorf("writer: acks %v, batch timeout %s, compression %v, timeouts %s/%s",
			w.RequiredAcks, w.BatchTimeout, w.Compression, w.WriteTimeout, w.ReadTimeout)
	}
	if _, ok := w.Balancer.(*kafka.Murmur2Balancer); !ok {
		t.Errorf("balancer %T", w.Balancer)
	}
	if tr, ok := w.Transport.(*kafka.Transport); !ok || tr.ClientID != DefaultClientID || tr.TLS != nil || tr.SASL != nil {
		t.Errorf("transport %#v", w.Transport)
	}
	// WithLinger(0) must not fall back to kafka-go's one second.
	c0, err := NewClient([]string{"127.0.0.1:9092"}, WithLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer c0.Close()
	if bt := c0.writer.BatchTimeout; bt <= 0 || bt > time.Millisecond {
		t.Errorf("WithLinger(0): batch timeout %s", bt)
	}
}

// TestConcurrentPublishKeysAndOrder publishes from many goroutines at once
// through a client made with public options only, reads the topic back and
// checks every id arrived once, keyed by link id, else workspace id, and
// each link's events on one partition in the order they were published.
func TestConcurrentPublishKeysAndOrder(t *testing.T) {
	brokers := kafkatest.Brokers(t, 3)
	prefix := kafkatest.Prefix(t)
	cfg := kafkax.Config{TopicPrefix: prefix, Partitions: 3}
	cfg.SetDefaults()
	conn, err := kafkax.NewConn(cfg, brokers)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.EnsureTopics(context.Background(), cfg.Topics().Raw); err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(brokers, WithTopicPrefix(prefix), WithClientID("client-test"), WithLinger(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if c.Topic() != prefix+".raw" {
		t.Fatalf("topic %q", c.Topic())
	}

	const workers, each = 8, 25
	wantKey := map[string]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				ev := validEvent(fmt.Sprintf("0193a1b2-c3d4-7e5f-8a9b-%06d%06d", w, i))
				ev.Workspace.ID = fmt.Sprintf("ws-%d", w)
				key := ev.Workspace.ID
				if i%2 == 0 {
					ev.Action, ev.Link = sharelog.LinkOpened, &sharelog.Link{ID: fmt.Sprintf("lk-%d", w)}
					ev.File = nil
					key = ev.Link.ID
				}
				mu.Lock()
				wantKey[ev.ID] = key
				mu.Unlock()
				if err := c.Publish(context.Background(), ev); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: c.Topic(), GroupID: prefix + "-check",
		StartOffset: kafka.FirstOffset, MaxWait: 200 * time.Millisecond})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seen := map[string]int{}
	partitionOf := map[string]int{} // key → partition
	lastOf := map[string]string{}   // workspace → last event id read of it
	for len(seen) < len(wantKey) {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatalf("after %d of %d events: %v", len(seen), len(wantKey), err)
		}
		ev, err := sharelog.DecodeRaw(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		seen[ev.ID]++
		if want, ok := wantKey[ev.ID]; !ok || string(m.Key) != want {
			t.Errorf("event %s: key %q, want %q", ev.ID, m.Key, want)
		}
		if p, ok := partitionOf[string(m.Key)]; ok && p != m.Partition {
			t.Errorf("key %q on partitions %d and %d", m.Key, p, m.Partition)
		}
		partitionOf[string(m.Key)] = m.Partition
		// One goroutine published a link's events one after the other:
		// they arrive in that order (ids grow with i).
		if ev.Link != nil {
			if last := lastOf[ev.Link.ID]; last >= ev.ID {
				t.Errorf("link %s: %s after %s", ev.Link.ID, ev.ID, last)
			}
			lastOf[ev.Link.ID] = ev.ID
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("event %s arrived %d times", id, n)
		}
	}
}

func TestPublishWithTimeWindow(t *testing.T) {
	conn := newConn(t)
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	c := connClient(t, conn, WithTimeWindow(sharelog.TimeWindow{MaxPast: time.Hour, MaxFuture: time.Minute}, func() time.Time { return now }))
	old := validEvent("0193a1b2-c3d4-7e5f-8a9b-000000000010") // 09:00, three hours back
	err := c.Publish(context.Background(), old)
	var ie *InvalidEventError
	if !errors.As(err, &ie) || ie.Index != 0 || !strings.Contains(err.Error(), "time") {
		t.Fatalf("err = %v", err)
	}
	recent := validEvent("0193a1b2-c3d4-7e5f-8a9b-000000000011")
	recent.Time = now.Add(-time.Minute)
	if err := c.Publish(context.Background(), recent); err != nil {
		t.Fatal(err)
	}
}

// TestTLSAndSASL publishes to a broker that takes only TLS and SASL, with
// the public options: WithTLS and WithSASLCredentials or WithSASL.
func TestTLSAndSASL(t *testing.T) {
	serverTLS, roots := selfSigned(t)
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			cl, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "secure.raw"), kfake.TLS(serverTLS),
				kfake.EnableSASL(), kfake.Superuser(mech, "fileserver", "fileserver-secret"))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			brokers := cl.ListenAddrs()
			clientTLS := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
			creds := WithSASLCredentials(mech, "fileserver", "fileserver-secret")
			if mech == "PLAIN" {
				creds = WithSASL(plain.Mechanism{Username: "fileserver", Password: "fileserver-secret"})
			}
			c, err := NewClient(brokers, WithTopicPrefix("secure"), WithTLS(clientTLS), creds)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := c.Publish(ctx, validEvent("0193a1b2-c3d4-7e5f-8a9b-000000000020")); err != nil {
				t.Fatalf("over TLS with %s: %v", mech, err)
			}

			bad, err := NewClient(brokers, WithTopicPrefix("secure"), WithTLS(clientTLS),
				WithSASLCredentials(mech, "fileserver", "wrong-password"))
			if err != nil {
				t.Fatal(err)
			}
			defer bad.Close()
			ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel2()
			err = bad.Publish(ctx2, validEvent("0193a1b2-c3d4-7e5f-8a9b-000000000021"))
			if _, ok := sharelog.RetryAfter(err); !ok {
				t.Fatalf("wrong password: err = %v, want a RetryableError", err)
			}
			if strings.Contains(err.Error(), "wrong-password") {
				t.Fatalf("the error shows the password: %v", err)
			}
		})
	}
	// Without trusting the broker's certificate, nothing is produced.
	cl, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "secure.raw"), kfake.TLS(serverTLS))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	c, err := NewClient(cl.ListenAddrs(), WithTopicPrefix("secure"), WithTLS(&tls.Config{MinVersion: tls.VersionTLS12}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Publish(ctx, validEvent("0193a1b2-c3d4-7e5f-8a9b-000000000022")); err == nil {
		t.Fatal("an unknown certificate was accepted")
	}
}

// selfSigned returns a broker's TLS configuration with a self-signed
// certificate for 127.0.0.1, and a pool trusting it.
func selfSigned(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ingest test broker"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}, roots
}
