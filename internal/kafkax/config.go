// Package kafkax holds what every Kafka-facing part of sharelog shares: the
// connection settings, topic names, the producer and consumer built the way
// at-least-once delivery needs them, topic creation, the consumer-lag
// monitor and the embedded broker.
package kafkax

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// Config is how sharelog reaches Kafka.
type Config struct {
	// Brokers are the bootstrap addresses (host:port). Empty means: start
	// the embedded broker (sharelog run only).
	Brokers []string `yaml:"brokers"`
	// TopicPrefix names the topics: <prefix>.raw, <prefix>.enriched, <prefix>.dlq.
	TopicPrefix string `yaml:"topic_prefix"`
	// Partitions and ReplicationFactor are used when sharelog creates a
	// missing topic at start-up; existing topics are left as they are.
	Partitions        int `yaml:"partitions"`
	ReplicationFactor int `yaml:"replication_factor"`
	// ClientID is sent to the brokers, for their logs and quotas.
	ClientID string `yaml:"client_id"`
	// Linger is how long the producer waits to fill a batch per partition
	// (kafka-go's BatchTimeout, 1 s by default there: far too long).
	Linger time.Duration `yaml:"linger"`
	// Compression of produced batches: none, gzip, snappy, lz4 or zstd.
	Compression string `yaml:"compression"`
	// WriteTimeout bounds one produce request.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// TLS and SASL secure the connections to the brokers.
	TLS  TLSConfig  `yaml:"tls"`
	SASL SASLConfig `yaml:"sasl"`
	// Embedded configures the in-process broker used when Brokers is empty.
	Embedded EmbeddedConfig `yaml:"embedded"`
}

// EmbeddedConfig configures the embedded Kafka-protocol broker.
type EmbeddedConfig struct {
	// Addr is host:port to listen on; default 127.0.0.1:9092.
	Addr string `yaml:"addr"`
}

// SetDefaults fills unset fields.
func (c *Config) SetDefaults() {
	if c.TopicPrefix == "" {
		c.TopicPrefix = "sharelog"
	}
	if c.Partitions == 0 {
		c.Partitions = 12
	}
	if c.ReplicationFactor == 0 {
		c.ReplicationFactor = 1
	}
	if c.ClientID == "" {
		c.ClientID = "sharelog"
	}
	if c.Linger == 0 {
		c.Linger = 2 * time.Millisecond
	}
	if c.Compression == "" {
		c.Compression = "lz4"
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.Embedded.Addr == "" {
		c.Embedded.Addr = "127.0.0.1:9092"
	}
}

// Validate reports every wrong field, each error naming it.
func (c Config) Validate() error {
	var errs []error
	for i, b := range c.Brokers {
		if _, port, err := net.SplitHostPort(b); err != nil || port == "" {
			errs = append(errs, fmt.Errorf("brokers[%d]: %q is not host:port", i, b))
		}
	}
	if c.TopicPrefix == "" || strings.ContainsAny(c.TopicPrefix, " /\\,:") || len(c.TopicPrefix) > 200 {
		errs = append(errs, fmt.Errorf("topic_prefix: %q is not a valid topic name prefix", c.TopicPrefix))
	}
	if c.Partitions < 1 || c.Partitions > 10000 {
		errs = append(errs, fmt.Errorf("partitions: %d is not between 1 and 10000", c.Partitions))
	}
	if c.ReplicationFactor < 1 || c.ReplicationFactor > 32 {
		errs = append(errs, fmt.Errorf("replication_factor: %d is not between 1 and 32", c.ReplicationFactor))
	}
	if c.Linger < 0 || c.Linger > 10*time.Second {
		errs = append(errs, fmt.Errorf("linger: %s is not between 0 and 10s", c.Linger))
	}
	switch c.Compression {
	case "none", "gzip", "snappy", "lz4", "zstd":
	default:
		errs = append(errs, fmt.Errorf("compression: %q is not none, gzip, snappy, lz4 or zstd", c.Compression))
	}
	if c.WriteTimeout <= 0 {
		errs = append(errs, fmt.Errorf("write_timeout: must be positive"))
	}
	errs = append(errs, c.TLS.validate()...)
	errs = append(errs, c.SASL.validate()...)
	if _, _, err := net.SplitHostPort(c.Embedded.Addr); err != nil {
		errs = append(errs, fmt.Errorf("embedded.addr: %q is not host:port", c.Embedded.Addr))
	}
	return errors.Join(errs...)
}

// Topics are the names of sharelog's topics.
type Topics struct {
	Raw, Enriched, DLQ string
	// Alerts holds the alert.raised events of the detection rules (they
	// are also written to Enriched, so that every sink gets them);
	// Commands the commands for the link and file server
	// (link.deactivate); RulesState the rules' long-lived state, compacted.
	Alerts, Commands, RulesState string
}

// Topics returns the topic names for the configured prefix.
func (c Config) Topics() Topics {
	return Topics{
		Raw:      c.TopicPrefix + ".raw",
		Enriched: c.TopicPrefix + ".enriched",
		DLQ:      c.TopicPrefix + ".dlq",

		Alerts:     c.TopicPrefix + ".alerts",
		Commands:   c.TopicPrefix + ".commands",
		RulesState: c.TopicPrefix + ".rules-state",
	}
}

// Group returns the consumer group id of a role: <prefix>-<role>.
func (c Config) Group(role string) string { return c.TopicPrefix + "-" + role }
