package stream

import (
	"errors"
	"fmt"
	"net/url"
	"time"
)

// Config configures the live stream (GET /v1/stream): the `api.stream`
// section.
type Config struct {
	// MaxClients is how many streams may be open at once; more are
	// answered 503. Default 1000.
	MaxClients int `yaml:"max_clients"`
	// ClientQueue is how many events may wait for one client; a client
	// that falls further behind is dropped (close 1008, "too slow"), so
	// that it never slows the pipeline or the other clients. The queue
	// holds messages shared with the other clients of the same filter.
	// Default 8192: the enrichment workers produce in batches of up to
	// enrich.batch_size (2,000), which reach the hub at once.
	ClientQueue int `yaml:"client_queue"`
	// ResumeWindow and ResumeEvents bound what a reconnecting client can
	// get back with last_event_id: the events of the last ResumeWindow, at
	// most ResumeEvents of them. Defaults 5m and 100000.
	ResumeWindow time.Duration `yaml:"resume_window"`
	ResumeEvents int           `yaml:"resume_events"`
	// AllowedOrigins are the browser origins (scheme://host[:port]) allowed
	// besides the API's own; requests without an Origin header (not from a
	// browser) are always allowed.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// FlushInterval is how long the hub gathers events before sending
	// them, one message per distinct filter shared by its clients: a little
	// latency for far fewer encodings and writes under load. Default (0)
	// 10ms; at least 1ms, at most 1s.
	FlushInterval time.Duration `yaml:"flush_interval"`
	// PingInterval is how often the server pings; a client that answers no
	// ping for two intervals is closed (counted as reason "unresponsive").
	// Default 30s.
	PingInterval time.Duration `yaml:"ping_interval"`
	// WriteTimeout bounds every write to a client (events, answers, pings,
	// the close frame, the upgrade's answer) and how far behind a client
	// may fall in time: a client whose write does not complete within it,
	// or that has not read the events sent to it within it (checked by a
	// ping after them, whose pong can only come back once the client has
	// read what came before), is dropped as slow like one whose queue is
	// full (close 1008 "too slow…", reason "slow"), whether its frames are
	// compressed or not. A client that stops reading while events flow is
	// cut off within about 1.5 × WriteTimeout, however much its socket
	// buffers hold. Default 10s; between 100ms and 10m.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// Compression is "deflate" (the default): the WebSocket permessage-deflate
	// extension (RFC 7692, no context takeover) for the clients that offer
	// it, as browsers do; each message is compressed once and shared by the
	// clients of its filter, like its plain frame. "off" sends every client
	// plain frames.
	Compression string `yaml:"compression"`
	// CompressionLevel is deflate's level, 1 (fastest) to 9 (smallest).
	// A message is compressed once for all the clients of its filter, so a
	// higher level costs little next to the bytes it saves each of them;
	// with few clients it is the cost that shows (level 6: ~0.1 core per
	// 5,000 events/s per distinct filter, measured). Default 6.
	CompressionLevel int `yaml:"compression_level"`
}

// Compress reports whether the stream offers permessage-deflate.
func (c Config) Compress() bool { return c.Compression != CompressionOff }

// The values of Config.Compression.
const (
	CompressionDeflate = "deflate"
	CompressionOff     = "off"
)

// SetDefaults fills what is not set.
func (c *Config) SetDefaults() {
	if c.MaxClients == 0 {
		c.MaxClients = 1000
	}
	if c.ClientQueue == 0 {
		c.ClientQueue = 8192
	}
	if c.ResumeWindow == 0 {
		c.ResumeWindow = 5 * time.Minute
	}
	if c.ResumeEvents == 0 {
		c.ResumeEvents = 100_000
	}
	if c.PingInterval == 0 {
		c.PingInterval = 30 * time.Second
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = 10 * time.Millisecond
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.Compression == "" {
		c.Compression = CompressionDeflate
	}
	if c.CompressionLevel == 0 {
		c.CompressionLevel = 6
	}
}

// Validate names each wrong field.
func (c Config) Validate() error {
	var errs []error
	if c.MaxClients < 1 || c.MaxClients > 100_000 {
		errs = append(errs, fmt.Errorf("max_clients: %d is not between 1 and 100000", c.MaxClients))
	}
	if c.ClientQueue < 16 || c.ClientQueue > 1<<20 {
		errs = append(errs, fmt.Errorf("client_queue: %d is not between 16 and 1048576", c.ClientQueue))
	}
	if c.ResumeWindow < 0 || c.ResumeWindow > 24*time.Hour {
		errs = append(errs, fmt.Errorf("resume_window: %s is not between 0 and 24h", c.ResumeWindow))
	}
	if c.ResumeEvents < 0 || c.ResumeEvents > 10_000_000 {
		errs = append(errs, fmt.Errorf("resume_events: %d is not between 0 and 10000000", c.ResumeEvents))
	}
	if c.FlushInterval < time.Millisecond || c.FlushInterval > time.Second {
		errs = append(errs, fmt.Errorf("flush_interval: %s is not between 1ms and 1s", c.FlushInterval))
	}
	if c.PingInterval < time.Second {
		errs = append(errs, fmt.Errorf("ping_interval: %s is shorter than 1s", c.PingInterval))
	}
	if c.WriteTimeout < 100*time.Millisecond || c.WriteTimeout > 10*time.Minute {
		errs = append(errs, fmt.Errorf("write_timeout: %s is not between 100ms and 10m", c.WriteTimeout))
	}
	if c.Compression != CompressionDeflate && c.Compression != CompressionOff {
		errs = append(errs, fmt.Errorf("compression: %q is not %q or %q", c.Compression, CompressionDeflate, CompressionOff))
	}
	if c.CompressionLevel < 1 || c.CompressionLevel > 9 {
		errs = append(errs, fmt.Errorf("compression_level: %d is not between 1 and 9", c.CompressionLevel))
	}
	for i, o := range c.AllowedOrigins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" {
			errs = append(errs, fmt.Errorf("allowed_origins[%d]: %q is not scheme://host[:port]", i, o))
		}
	}
	return errors.Join(errs...)
}
