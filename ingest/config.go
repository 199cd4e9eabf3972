// Package ingest takes events from the link and file server into Kafka: a Go
// client the server embeds (Client), and the HTTP endpoint POST /v1/events
// (Handler). Both produce to <prefix>.raw, keyed by link id, else workspace
// id, and report success only once Kafka has acknowledged every event with
// acks from all in-sync replicas.
package ingest

import (
	"errors"
	"fmt"
	"time"
)

// Config configures the HTTP ingest endpoint.
type Config struct {
	// Keys are the accepted bearer keys. Prefer KeysFile or the environment
	// (SHARELOG_INGEST_KEYS, comma-separated); empty: one is generated,
	// stored in the data directory and printed once.
	Keys []string `yaml:"keys" secret:"true"`
	// KeysFile holds one key a line.
	KeysFile string `yaml:"keys_file"`
	// MaxBodyBytes limits a request body, after gzip decoding; default 5 MiB.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// MaxEvents limits the events of one request; default 10000.
	MaxEvents int `yaml:"max_events"`
	// MaxInFlight limits concurrent requests; more are answered 429.
	// Default 64.
	MaxInFlight int `yaml:"max_in_flight"`
	// MaxInFlightPerKey limits the concurrent requests of one ingest key,
	// so that one producer (or one leaked key) cannot hold every slot of
	// max_in_flight; more are answered 429. Default: a quarter of
	// max_in_flight, at least 1 (16 of the default 64).
	MaxInFlightPerKey int `yaml:"max_in_flight_per_key"`
	// BodyTimeout bounds the time to read a request body, from the moment
	// the handler starts reading it; past it the request is answered 408
	// (and the connection closed). It also bounds the time to write the
	// answer to a client that does not read it. Default 30s.
	BodyTimeout time.Duration `yaml:"body_timeout"`
	// MinBodyRate is the slowest a body may arrive, in bytes a second,
	// once BodyRateGrace has passed: after n bytes, the rest must keep
	// coming by body_rate_grace + n/min_body_rate from the start of the
	// body (and within body_timeout in any case); a body that falls behind
	// is answered 408. It cuts off clients that trickle a body in long
	// before body_timeout. Default 1024 (1 KiB/s).
	MinBodyRate int64 `yaml:"min_body_rate"`
	// BodyRateGrace is the time a body may take before min_body_rate
	// applies (slow start, the first round trips). Default 5s.
	BodyRateGrace time.Duration `yaml:"body_rate_grace"`
	// ProduceTimeout bounds waiting for Kafka's acknowledgement; past it the
	// request is answered 503. Default 10s.
	ProduceTimeout time.Duration `yaml:"produce_timeout"`
	// RetryAfter is the Retry-After sent with 429 and 503. Default 1s.
	RetryAfter time.Duration `yaml:"retry_after"`
	// MaxPast refuses events whose time is further in the past than this:
	// the archive would delete them at once, and a date partition from
	// year 0000 is never reached by retention. Default: the archive's
	// retention max age (set by the configuration loader), else 120 days.
	MaxPast time.Duration `yaml:"max_past"`
	// MaxFuture refuses events whose time is further ahead of the
	// receiving clock than this (producers' clocks drift). Default 5m.
	MaxFuture time.Duration `yaml:"max_future"`
}

// MinKeyLen is the shortest accepted ingest key, in bytes.
const MinKeyLen = 16

// SetDefaults fills unset fields.
func (c *Config) SetDefaults() {
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 5 << 20
	}
	if c.MaxEvents == 0 {
		c.MaxEvents = 10000
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 64
	}
	if c.MaxInFlightPerKey == 0 {
		c.MaxInFlightPerKey = max(1, c.MaxInFlight/4)
	}
	if c.BodyTimeout == 0 {
		c.BodyTimeout = 30 * time.Second
	}
	if c.MinBodyRate == 0 {
		c.MinBodyRate = 1024
	}
	if c.BodyRateGrace == 0 {
		c.BodyRateGrace = 5 * time.Second
	}
	if c.ProduceTimeout == 0 {
		c.ProduceTimeout = 10 * time.Second
	}
	if c.RetryAfter == 0 {
		c.RetryAfter = time.Second
	}
	if c.MaxPast == 0 {
		c.MaxPast = 120 * 24 * time.Hour
	}
	if c.MaxFuture == 0 {
		c.MaxFuture = 5 * time.Minute
	}
}

// Validate reports every wrong field; key values never appear in errors.
func (c Config) Validate() error {
	var errs []error
	for i, k := range c.Keys {
		if len(k) < MinKeyLen {
			errs = append(errs, fmt.Errorf("keys[%d]: is %d bytes, shorter than %d", i, len(k), MinKeyLen))
		}
	}
	if len(c.Keys) > 0 && c.KeysFile != "" {
		errs = append(errs, errors.New("keys_file: give either keys or keys_file, not both"))
	}
	if c.MaxBodyBytes < 1024 || c.MaxBodyBytes > 1<<30 {
		errs = append(errs, fmt.Errorf("max_body_bytes: %d is not between 1024 and 1 GiB", c.MaxBodyBytes))
	}
	if c.MaxEvents < 1 || c.MaxEvents > 1000000 {
		errs = append(errs, fmt.Errorf("max_events: %d is not between 1 and 1000000", c.MaxEvents))
	}
	if c.MaxInFlight < 1 {
		errs = append(errs, fmt.Errorf("max_in_flight: %d must be at least 1", c.MaxInFlight))
	}
	if c.MaxInFlightPerKey < 1 || c.MaxInFlight >= 1 && c.MaxInFlightPerKey > c.MaxInFlight {
		errs = append(errs, fmt.Errorf("max_in_flight_per_key: %d is not between 1 and max_in_flight (%d)", c.MaxInFlightPerKey, c.MaxInFlight))
	}
	if c.BodyTimeout <= 0 {
		errs = append(errs, fmt.Errorf("body_timeout: %s must be positive", c.BodyTimeout))
	}
	if c.MinBodyRate < 1 {
		errs = append(errs, fmt.Errorf("min_body_rate: %d bytes a second must be at least 1", c.MinBodyRate))
	}
	if c.BodyRateGrace <= 0 || c.BodyRateGrace > c.BodyTimeout && c.BodyTimeout > 0 {
		errs = append(errs, fmt.Errorf("body_rate_grace: %s is not between 0 and body_timeout (%s)", c.BodyRateGrace, c.BodyTimeout))
	}
	if c.ProduceTimeout <= 0 {
		errs = append(errs, errors.New("produce_timeout: must be positive"))
	}
	if c.RetryAfter < time.Second {
		errs = append(errs, fmt.Errorf("retry_after: %s is under 1s (Retry-After counts whole seconds)", c.RetryAfter))
	}
	if c.MaxPast < time.Minute {
		errs = append(errs, fmt.Errorf("max_past: %s is under 1m", c.MaxPast))
	}
	if c.MaxFuture < 0 {
		errs = append(errs, fmt.Errorf("max_future: %s is negative", c.MaxFuture))
	}
	return errors.Join(errs...)
}
