package webhook

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/sharelog/sharelog/internal/secret"
)

// Mode says how many events one request carries.
type Mode string

// Modes.
const (
	// ModeSingle sends one request per event; its body is the enriched
	// event and its webhook-id the event id.
	ModeSingle Mode = "single"
	// ModeBatch sends one request per batch of the delivery engine; its
	// body is {"events":[...]} and its webhook-id is derived from the
	// event ids (see BatchID).
	ModeBatch Mode = "batch"
)

// DefaultTimeout bounds one request, from dialling to the end of the answer.
const DefaultTimeout = 15 * time.Second

// Config configures one webhook endpoint.
type Config struct {
	// URL receives the POST requests. It must be https unless AllowHTTP is
	// set, and must not hold credentials (user:password@).
	URL string `yaml:"url"`
	// Secrets names the signing secrets, in a file (one per line) or an
	// environment variable (comma-separated), never in this file. Each is
	// "whsec_" followed by the base64 of 24 to 64 random bytes, as Standard
	// Webhooks defines them. Every request carries one signature per
	// secret, so a receiver can move from an old secret to a new one: list
	// both, let the receiver switch, then drop the old one. They are read
	// when the sink is made (at start-up).
	Secrets secret.Ref `yaml:"secrets"`
	// Mode is single (default: one event per request) or batch (one
	// request per batch of the delivery engine).
	Mode Mode `yaml:"mode"`
	// Timeout bounds one request, dial, TLS, sending and the whole answer
	// included (default 15s).
	Timeout time.Duration `yaml:"timeout"`
	// AllowPrivate lists the destinations that may be loopback, private,
	// link-local or otherwise non-public addresses, which are refused
	// otherwise: host names (as written in URL), IP addresses or CIDR
	// prefixes (10.0.0.0/8). Addresses are checked when connecting, after
	// name resolution, so a name that resolves to a refused address is
	// refused too.
	AllowPrivate []string `yaml:"allow_private"`
	// AllowHTTP permits an http:// URL, events then travel in clear (the
	// signature still protects their integrity).
	AllowHTTP bool `yaml:"allow_http"`
}

// SetDefaults fills unset fields.
func (c *Config) SetDefaults() {
	if c.Mode == "" {
		c.Mode = ModeSingle
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
}

// Validate reports every wrong field, each named relative to the sink's
// section ("url: ..."). It does not read the secrets: New does.
func (c Config) Validate() error {
	var errs []error
	if err := c.validateURL(); err != nil {
		errs = append(errs, fmt.Errorf("url: %w", err))
	}
	if err := c.Secrets.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("secrets: %w", err))
	}
	if c.Mode != ModeSingle && c.Mode != ModeBatch {
		errs = append(errs, fmt.Errorf("mode: %q must be single or batch", c.Mode))
	}
	if c.Timeout < 100*time.Millisecond || c.Timeout > 10*time.Minute {
		errs = append(errs, fmt.Errorf("timeout: %s must be between 100ms and 10m", c.Timeout))
	}
	if _, err := parseAllowList(c.AllowPrivate); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (c Config) validateURL() error {
	const want = "must be an absolute http(s) URL"
	u, err := url.Parse(c.URL)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return errors.New(want)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !c.AllowHTTP {
			return errors.New("must be https (set allow_http: true to send events in clear)")
		}
	default:
		return errors.New(want)
	}
	if u.User != nil {
		// Never show it: it is a credential.
		return errors.New("must not hold credentials (user:password@); receivers authenticate requests by their signature")
	}
	if u.Fragment != "" {
		return errors.New("must not have a #fragment")
	}
	if u.Port() != "" {
		if p, err := netip.ParseAddrPort("0.0.0.0:" + u.Port()); err != nil || p.Port() == 0 {
			return errors.New("has an invalid port")
		}
	}
	return nil
}

// parseAllowList parses allow_private; errors are named
// "allow_private[i]: ...".
func parseAllowList(entries []string) (*allowList, error) {
	al := &allowList{hosts: map[string]bool{}}
	var errs []error
	for i, e := range entries {
		e = strings.TrimSpace(e)
		switch {
		case e == "":
			errs = append(errs, fmt.Errorf("allow_private[%d]: empty", i))
		case strings.Contains(e, "/"):
			p, err := netip.ParsePrefix(e)
			if err != nil {
				errs = append(errs, fmt.Errorf("allow_private[%d]: %q is not a CIDR prefix", i, e))
				continue
			}
			al.prefixes = append(al.prefixes, p.Masked())
		default:
			if a, err := netip.ParseAddr(strings.Trim(e, "[]")); err == nil {
				a = a.Unmap().WithZone("")
				al.prefixes = append(al.prefixes, netip.PrefixFrom(a, a.BitLen()))
				continue
			}
			if !validHostName(e) {
				errs = append(errs, fmt.Errorf("allow_private[%d]: %q is neither a host name, an IP address nor a CIDR prefix", i, e))
				continue
			}
			al.hosts[strings.ToLower(strings.TrimSuffix(e, "."))] = true
		}
	}
	return al, errors.Join(errs...)
}

// validHostName accepts letters, digits, '-', '_' and dots, as DNS labels.
func validHostName(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}
