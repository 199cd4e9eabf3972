package syslog

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/sharelog/sharelog/internal/cfgerr"
	"github.com/sharelog/sharelog/internal/tlsconf"
)

// Networks.
const (
	NetworkTCP = "tcp"
	NetworkTLS = "tls"
	NetworkUDP = "udp"
)

// Message formats.
const (
	FormatCEF  = "cef"
	FormatLEEF = "leef"
)

// Stream framings (RFC 6587).
const (
	// FramingOctetCounting is "LEN SP MSG": the length in bytes, in
	// decimal, a space, the message. Nothing in the message needs care.
	FramingOctetCounting = "octet_counting"
	// FramingNonTransparent is "MSG LF", for old receivers. The sink never
	// puts a line feed or carriage return in a message, so it is safe too.
	FramingNonTransparent = "non_transparent"
)

// Confirmations: when Write counts a message as delivered.
const (
	// ConfirmTCPAck (tcp and tls, the default) returns from Write once the
	// receiver's TCP stack has acknowledged every byte written (the kernel
	// send queue is empty, Linux), so that a receiver that went away or a
	// broken path shows as an error and the batch is sent again, instead
	// of being lost in the send buffer. Elsewhere than Linux it acts as
	// ConfirmNone.
	ConfirmTCPAck = "tcp_ack"
	// ConfirmNone returns once the bytes are in the kernel's send buffer.
	ConfirmNone = "none"
)

// Limits of the message size (RFC 5426 §3.2: every receiver takes 480
// bytes; an IPv4 UDP datagram holds at most 65507).
const (
	MinMessageSize        = 480
	MaxUDPMessageSize     = 65507
	DefaultUDPMessageSize = 2048
)

// Config configures the syslog sink. The zero value, with Address set and
// SetDefaults called, sends CEF over TCP with octet counting to Address.
type Config struct {
	// Network is tcp (default), tls or udp.
	Network string `yaml:"network"`
	// Address is the receiver's host:port (required); syslog's ports are
	// 514 (tcp, udp) and 6514 (tls).
	Address string `yaml:"address"`
	// Format is the message body: cef (default; ArcSight, Microsoft
	// Sentinel) or leef (LEEF 2.0; IBM QRadar).
	Format string `yaml:"format"`
	// Framing of tcp and tls: octet_counting (default) or non_transparent.
	Framing string `yaml:"framing"`
	// Facility is the syslog facility, by name (kern, user, mail, daemon,
	// auth, syslog, lpr, news, uucp, cron, authpriv, ftp, ntp, security,
	// console, solaris-cron, local0 … local7) or number (0–23). Default
	// local0.
	Facility string `yaml:"facility"`
	// Hostname is the HOSTNAME of the syslog header; default the host's
	// name (os.Hostname). Printable ASCII, no spaces, at most 255 bytes.
	Hostname string `yaml:"hostname"`
	// AppName is the APP-NAME of the syslog header; default "sharelog".
	// Printable ASCII, no spaces, at most 48 bytes.
	AppName string `yaml:"app_name"`
	// Vendor, Product and ProductVersion are the first fields of the CEF
	// and LEEF headers, by which the SIEM picks its parser; defaults
	// "sharelog", "sharelog" and "1". No "|", "\" or control characters.
	Vendor         string `yaml:"vendor"`
	Product        string `yaml:"product"`
	ProductVersion string `yaml:"product_version"`
	// LEEFDelimiter separates LEEF attributes (format leef only): one
	// character, "\t" (tab, the default, written x09 in the header) or a
	// printable ASCII character other than space, "=", "|" and "\" ("^"
	// is common). A value never holds it: the sink writes a space instead.
	LEEFDelimiter string `yaml:"leef_delimiter"`
	// Connections is how many connections (sockets, for udp) the sink
	// holds; default 4, as many as the delivery engine's concurrency. Each
	// link's events always take the same connection, so that the receiver
	// reads them in order.
	Connections int `yaml:"connections"`
	// MaxMessageSize bounds a syslog message (header and body, without
	// framing), in bytes: longer ones are cut at that size, on a character
	// boundary and never inside a CEF escape, and counted. Default 2048
	// for udp (RFC 5426's "SHOULD" size; at most 65507), 0 (no limit) for
	// tcp and tls. At least 480.
	MaxMessageSize int `yaml:"max_message_size"`
	// DialTimeout bounds connecting, TLS handshake included; default 10s.
	DialTimeout time.Duration `yaml:"dial_timeout"`
	// WriteTimeout bounds writing a batch to one connection, the wait for
	// its acknowledgement included; default 30s. The context of Write
	// bounds it too.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// Confirm is tcp_ack (default for tcp and tls) or none; see
	// ConfirmTCPAck. udp has no confirmation: leave it empty.
	Confirm string `yaml:"confirm"`
	// TLS configures network tls.
	TLS TLS `yaml:"tls"`
}

// TLS configures the TLS connection (network tls): sharelog's one TLS
// client configuration. ca_file holds the PEM certificates that sign the
// receiver's certificate, trusted instead of the system roots (empty: the
// system roots); cert_file and key_file are a client certificate for
// receivers that authenticate their senders (rsyslog x509/certvalid or
// x509/name), read again at each connection, so that a renewed
// certificate is used without a restart; server_name is the name checked
// in the receiver's certificate (and sent as SNI), default the host of
// Address; insecure_skip_verify is for tests only; min_version is "1.2"
// (default) or "1.3".
type TLS = tlsconf.Config

// SetDefaults fills the unset fields. Hostname stays empty here: New puts
// the host's name in when it is.
func (c *Config) SetDefaults() {
	if c.Network == "" {
		c.Network = NetworkTCP
	}
	if c.Format == "" {
		c.Format = FormatCEF
	}
	if c.Facility == "" {
		c.Facility = "local0"
	}
	if c.AppName == "" {
		c.AppName = "sharelog"
	}
	if c.Vendor == "" {
		c.Vendor = "sharelog"
	}
	if c.Product == "" {
		c.Product = "sharelog"
	}
	if c.ProductVersion == "" {
		c.ProductVersion = "1"
	}
	if c.Format == FormatLEEF && c.LEEFDelimiter == "" {
		c.LEEFDelimiter = "\t"
	}
	if c.Connections == 0 {
		c.Connections = 4
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = 10 * time.Second
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 30 * time.Second
	}
	switch c.Network {
	case NetworkTCP, NetworkTLS:
		if c.Framing == "" {
			c.Framing = FramingOctetCounting
		}
		if c.Confirm == "" {
			c.Confirm = ConfirmTCPAck
		}
	case NetworkUDP:
		if c.MaxMessageSize == 0 {
			c.MaxMessageSize = DefaultUDPMessageSize
		}
	}
	if c.Network == NetworkTLS && c.TLS.MinVersion == "" {
		c.TLS.MinVersion = "1.2"
	}
}

// Validate reports every wrong field, named as in the sink's section.
func (c Config) Validate() error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	switch c.Network {
	case NetworkTCP, NetworkTLS, NetworkUDP:
	default:
		fail("network: %q is not one of tcp, tls, udp", c.Network)
	}
	if c.Address == "" {
		fail("address: is required (host:port of the syslog receiver)")
	} else if host, port, err := net.SplitHostPort(c.Address); err != nil || host == "" || port == "" {
		fail("address: %q is not host:port", c.Address)
	} else if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		fail("address: port %q is not a number from 1 to 65535", port)
	}
	switch c.Format {
	case FormatCEF:
		if c.LEEFDelimiter != "" {
			fail("leef_delimiter: is set but format is cef")
		}
	case FormatLEEF:
		if _, err := leefDelimiter(c.LEEFDelimiter); err != nil {
			fail("leef_delimiter: %v", err)
		}
	default:
		fail("format: %q is not one of cef, leef", c.Format)
	}
	stream := c.Network == NetworkTCP || c.Network == NetworkTLS
	switch {
	case !stream && c.Framing != "":
		fail("framing: is for tcp and tls; udp sends one message per datagram")
	case stream && c.Framing != FramingOctetCounting && c.Framing != FramingNonTransparent:
		fail("framing: %q is not one of octet_counting, non_transparent", c.Framing)
	}
	switch {
	case !stream && c.Confirm != "":
		fail("confirm: is for tcp and tls; udp has no acknowledgement")
	case stream && c.Confirm != ConfirmTCPAck && c.Confirm != ConfirmNone:
		fail("confirm: %q is not one of tcp_ack, none", c.Confirm)
	}
	if _, err := facilityCode(c.Facility); err != nil {
		fail("facility: %v", err)
	}
	if c.Hostname != "" {
		if err := headerField(c.Hostname, 255); err != nil {
			fail("hostname: %v", err)
		}
	}
	if err := headerField(c.AppName, 48); err != nil {
		fail("app_name: %v", err)
	}
	for _, f := range []struct{ name, v string }{{"vendor", c.Vendor}, {"product", c.Product}, {"product_version", c.ProductVersion}} {
		if err := productField(f.v); err != nil {
			fail("%s: %v", f.name, err)
		}
	}
	if c.Connections < 1 || c.Connections > 64 {
		fail("connections: %d is not from 1 to 64", c.Connections)
	}
	switch {
	case c.MaxMessageSize < 0 || (c.MaxMessageSize > 0 && c.MaxMessageSize < MinMessageSize):
		fail("max_message_size: %d is under %d, the size every receiver takes", c.MaxMessageSize, MinMessageSize)
	case c.Network == NetworkUDP && c.MaxMessageSize == 0:
		fail("max_message_size: is required for udp (at most %d)", MaxUDPMessageSize)
	case c.Network == NetworkUDP && c.MaxMessageSize > MaxUDPMessageSize:
		fail("max_message_size: %d is over %d, the most a UDP datagram holds", c.MaxMessageSize, MaxUDPMessageSize)
	}
	if c.DialTimeout < 0 {
		fail("dial_timeout: %s is negative", c.DialTimeout)
	}
	if c.WriteTimeout < 0 {
		fail("write_timeout: %s is negative", c.WriteTimeout)
	}
	if c.Network != NetworkTLS {
		if !c.TLS.IsZero() {
			fail("tls: is set but network is %s; use network tls", c.Network)
		}
	} else if err := c.TLS.Validate(); err != nil {
		errs = append(errs, cfgerr.Prefix("tls", err))
	}
	return errors.Join(errs...)
}

// facilities are the syslog facility names (RFC 5424 §6.2.1, with the
// names rsyslog and syslog-ng give the ones RFC 5424 leaves unnamed).
var facilities = map[string]int{
	"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5,
	"lpr": 6, "news": 7, "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11,
	"ntp": 12, "security": 13, "console": 14, "solaris-cron": 15,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19,
	"local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

func facilityCode(s string) (int, error) {
	if n, ok := facilities[s]; ok {
		return n, nil
	}
	if n, err := strconv.Atoi(s); err == nil && n >= 0 && n <= 23 {
		return n, nil
	}
	return 0, fmt.Errorf("%q is neither a facility name (local0, authpriv, …) nor a number from 0 to 23", s)
}

// headerField checks a syslog header field: 1 to max printable US-ASCII
// characters (RFC 5424 PRINTUSASCII, no space).
func headerField(s string, max int) error {
	if s == "" {
		return errors.New("is required")
	}
	if len(s) > max {
		return fmt.Errorf("is %d bytes, over the %d the syslog header allows", len(s), max)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 33 || s[i] > 126 {
			return fmt.Errorf("%q holds a character other than printable ASCII (no spaces)", s)
		}
	}
	return nil
}

// productField checks a vendor, product or version of the CEF and LEEF
// headers: not empty, UTF-8, no "|", "\" or control characters, so that it
// needs no escaping in either format.
func productField(s string) error {
	if s == "" {
		return errors.New("is required")
	}
	if len(s) > 63 {
		return fmt.Errorf("is %d bytes, over 63", len(s))
	}
	if !utf8.ValidString(s) {
		return errors.New("is not valid UTF-8")
	}
	for _, r := range s {
		if r == '|' || r == '\\' || r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return fmt.Errorf("%q holds a \"|\", \"\\\" or a control character", s)
		}
	}
	return nil
}

// leefDelimiter checks the LEEF delimiter and returns it.
func leefDelimiter(s string) (byte, error) {
	if len(s) != 1 {
		return 0, fmt.Errorf("%q is not one character", s)
	}
	c := s[0]
	if c == '\t' {
		return c, nil
	}
	if c <= ' ' || c >= 0x7f || c == '=' || c == '|' || c == '\\' {
		return 0, fmt.Errorf("%q is not tab or a printable ASCII character other than space, \"=\", \"|\" and \"\\\"", s)
	}
	return c, nil
}
