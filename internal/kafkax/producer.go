package kafkax

import (
	"crypto/tls"
	"fmt"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// The producer in kafka-go's own types, so that a client built outside
// kafkax from public options (the Go client others embed, ingest.NewClient)
// produces exactly as a Conn's writers do, and so that the server can hand
// its Conn's transport to that client.

// NewTransport returns a transport (its own: kafka-go's DefaultTransport,
// shared process-wide, fails once after a broker restart) that presents
// clientID and secures every connection with tlsCfg and mech (nil: none).
func NewTransport(clientID string, tlsCfg *tls.Config, mech sasl.Mechanism) *kafka.Transport {
	return &kafka.Transport{
		ClientID:    clientID,
		DialTimeout: 5 * time.Second,
		IdleTimeout: 30 * time.Second,
		MetadataTTL: 10 * time.Second,
		TLS:         tlsCfg,
		SASL:        mech,
	}
}

// Transport returns the Conn's transport: its client id, TLS and SASL, and
// the connections it keeps open. The caller must not change it.
func (c *Conn) Transport() *kafka.Transport { return c.transport }

// WriterSettings are what a producer takes from Config, in kafka-go's types.
type WriterSettings struct {
	// Linger is how long a batch waits for more messages per partition;
	// 0 is no wait (kafka-go's zero BatchTimeout would wait 1 s).
	Linger time.Duration
	// Compression of produced batches; 0 is none.
	Compression kafka.Compression
	// Timeout bounds one produce request (written and answered).
	Timeout time.Duration
}

// NewWriter returns a producer to brokers through rt that waits for all
// in-sync replicas (RequireAll), partitions by key with murmur2 (as Kafka's
// Java clients do, so other producers put a link on the same partition),
// and lingers only s.Linger. WriteMessages on it is synchronous: it returns
// once every message is acknowledged, or with an error (kafka.WriteErrors
// per message); concurrent calls share batches. The caller closes it.
func NewWriter(brokers []string, rt kafka.RoundTripper, s WriterSettings) *kafka.Writer {
	linger := s.Linger
	if linger <= 0 {
		linger = time.Nanosecond
	}
	return &kafka.Writer{
		Addr:         kafka.TCP(brokers...),
		Balancer:     &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: linger,
		Compression:  s.Compression,
		// kafka-go allocates BatchSize messages up front for every batch
		// (writeBatch.add), so a large value costs memory clearing on every
		// small write; 256 a partition per request is plenty.
		BatchSize:    256,
		BatchBytes:   16 << 20,
		WriteTimeout: s.Timeout,
		ReadTimeout:  s.Timeout,
		MaxAttempts:  3,
		Transport:    rt,
	}
}

// CompressionCodec maps a configured compression name (none, gzip, snappy,
// lz4, zstd) to kafka-go's codec; "none" and anything else is 0, no
// compression.
func CompressionCodec(name string) kafka.Compression {
	switch name {
	case "gzip":
		return kafka.Gzip
	case "snappy":
		return kafka.Snappy
	case "lz4":
		return kafka.Lz4
	case "zstd":
		return kafka.Zstd
	}
	return 0
}

// SASLMechanism returns the mechanism named PLAIN, SCRAM-SHA-256 or
// SCRAM-SHA-512 (any case) with these credentials. Its errors never include
// the password.
func SASLMechanism(mechanism, username, password string) (sasl.Mechanism, error) {
	switch strings.ToUpper(mechanism) {
	case "PLAIN":
		return plain.Mechanism{Username: username, Password: password}, nil
	case "SCRAM-SHA-256":
		return scram.Mechanism(scram.SHA256, username, password)
	case "SCRAM-SHA-512":
		return scram.Mechanism(scram.SHA512, username, password)
	}
	return nil, fmt.Errorf("%q is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", mechanism)
}
