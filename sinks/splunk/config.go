package splunk

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/sharelog/sharelog/internal/cfgerr"
	"github.com/sharelog/sharelog/internal/secret"
	"github.com/sharelog/sharelog/internal/tlsconf"
)

// Defaults of the fields SetDefaults fills.
const (
	DefaultSource          = "sharelog"
	DefaultSourcetype      = "sharelog:event"
	DefaultAckTimeout      = 20 * time.Second
	DefaultAckPollInterval = time.Second
)

// Config configures the Splunk HEC sink. Errors of Validate name fields
// relative to the sink's section ("url: ...", "tls.ca_file: ...").
type Config struct {
	// URL is the base address of the HTTP Event Collector, as
	// https://splunk.example.com:8088 (a path prefix is kept, for a
	// collector behind a reverse proxy). Events go to
	// <url>/services/collector/event, acknowledgement queries to
	// <url>/services/collector/ack; a URL already ending in
	// /services/collector or /services/collector/event is taken as the
	// base URL without that suffix.
	URL string `yaml:"url"`
	// Token names the HEC token (a GUID), kept in a file or an
	// environment variable, never in the configuration file. It is sent
	// as "Authorization: Splunk <token>". On a 401 or 403 it is read
	// again, so a rotated token is picked up without a restart.
	Token secret.Ref `yaml:"token"`
	// Index is the Splunk index of every event; empty leaves it to the
	// token's default index.
	Index string `yaml:"index"`
	// Source and Sourcetype label every event (default "sharelog" and
	// "sharelog:event").
	Source     string `yaml:"source"`
	Sourcetype string `yaml:"sourcetype"`
	// Host is the host field of every event; default this machine's name.
	Host string `yaml:"host"`
	// Gzip compresses request bodies (Content-Encoding: gzip, at the
	// fastest level: BenchmarkWrite measures a tenth of the bytes, at
	// about 60% of the plain send rate).
	Gzip bool `yaml:"gzip"`
	// Ack turns on indexer acknowledgement: the token must have it
	// enabled in Splunk ("Enable indexer acknowledgement"). A batch then
	// counts as delivered only once Splunk reports it indexed, polled at
	// /services/collector/ack every AckPollInterval (default 1s; the first
	// polls come sooner) for at most AckTimeout (default 20s). The
	// delivery timeout of the sink (delivery.Options.Timeout, default
	// 30s) bounds the whole, so keep it above AckTimeout.
	Ack             bool          `yaml:"ack"`
	AckTimeout      time.Duration `yaml:"ack_timeout"`
	AckPollInterval time.Duration `yaml:"ack_poll_interval"`
	TLS             TLSConfig     `yaml:"tls"`
}

// TLSConfig is how the sink checks the collector's certificate, and the
// client certificate it shows: sharelog's one TLS client configuration
// (ca_file, a PEM file of the authorities to trust instead of the system's
// — a self-signed Splunk certificate, a company CA; cert_file and key_file;
// server_name; insecure_skip_verify, for tests only: anyone on the path can
// then read the token and the events; min_version). It applies to the
// sink's own HTTP client only (Deps.Client nil).
type TLSConfig = tlsconf.Config

// SetDefaults fills the unset fields.
func (c *Config) SetDefaults() {
	if c.Source == "" {
		c.Source = DefaultSource
	}
	if c.Sourcetype == "" {
		c.Sourcetype = DefaultSourcetype
	}
	if c.Host == "" {
		if h, err := os.Hostname(); err == nil && h != "" {
			c.Host = h
		} else {
			c.Host = "sharelog"
		}
	}
	if c.AckTimeout == 0 {
		c.AckTimeout = DefaultAckTimeout
	}
	if c.AckPollInterval == 0 {
		c.AckPollInterval = DefaultAckPollInterval
	}
}

// Validate reports every wrong field; call it after SetDefaults. It reads
// no file: New loads the token and the CA file.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{field}, args...)...))
	}
	if u, err := url.Parse(c.URL); c.URL == "" {
		bad("url", "required: the collector's address, as https://splunk.example.com:8088")
	} else if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("url", "must be an absolute http(s) URL, as https://splunk.example.com:8088")
	} else {
		switch {
		case u.User != nil:
			bad("url", "must not hold credentials: the token goes in token.file or token.env")
		case u.RawQuery != "" || u.Fragment != "":
			bad("url", "must not have a query or a fragment")
		case u.Scheme == "http" && !c.TLS.IsZero():
			bad("tls", "set, but url is http")
		}
	}
	if err := c.Token.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("token: %w", err))
	}
	if c.Index != "" && !validIndex(c.Index) {
		bad("index", "%q is not a Splunk index name (lowercase letters, digits, _ and -, beginning with a letter or a digit)", c.Index)
	}
	for _, f := range []struct{ name, v string }{{"source", c.Source}, {"sourcetype", c.Sourcetype}, {"host", c.Host}} {
		switch {
		case strings.TrimSpace(f.v) == "":
			bad(f.name, "must not be empty")
		case strings.ContainsFunc(f.v, func(r rune) bool { return r < 0x20 || r == 0x7f }):
			bad(f.name, "must not hold control characters")
		}
	}
	if c.Ack {
		if c.AckPollInterval < 10*time.Millisecond {
			bad("ack_poll_interval", "%s is under 10ms", c.AckPollInterval)
		}
		if c.AckTimeout < c.AckPollInterval {
			bad("ack_timeout", "%s is less than ack_poll_interval (%s)", c.AckTimeout, c.AckPollInterval)
		}
		if c.AckTimeout > 10*time.Minute {
			bad("ack_timeout", "%s is over 10m", c.AckTimeout)
		}
	}
	if err := c.TLS.Validate(); err != nil {
		errs = append(errs, cfgerr.Prefix("tls", err))
	}
	return errors.Join(errs...)
}

// validIndex reports whether name is a Splunk index name: lowercase ASCII
// letters, digits, underscores and hyphens, beginning with a letter or a
// digit.
func validIndex(name string) bool {
	if name[0] == '-' || name[0] == '_' {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// endpoints returns the event and ack URLs of a validated base URL.
func endpoints(base string) (event, ack string) {
	u, _ := url.Parse(base)
	p := strings.TrimRight(u.Path, "/")
	if q, ok := strings.CutSuffix(p, "/services/collector/event"); ok {
		p = q
	} else {
		p = strings.TrimSuffix(p, "/services/collector")
	}
	u.Path, u.RawPath = p+"/services/collector/event", ""
	event = u.String()
	u.Path = p + "/services/collector/ack"
	return event, u.String()
}
