package elasticsearch

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/sharelog/sharelog/internal/cfgerr"
	"github.com/sharelog/sharelog/internal/secret"
	"github.com/sharelog/sharelog/internal/tlsconf"
)

// Mode says how documents are written.
type Mode string

// Modes.
const (
	// ModeIndex writes with the bulk action "index" into the index named by
	// Config.Index (a date pattern): a redelivered event overwrites itself.
	ModeIndex Mode = "index"
	// ModeDataStream writes with the bulk action "create" into the data
	// stream named by Config.DataStream: a redelivered event is refused
	// with 409, which the sink counts as accepted.
	ModeDataStream Mode = "data_stream"
)

// Compression of the request body.
const (
	CompressionNone = "none"
	CompressionGzip = "gzip"
)

// Defaults.
const (
	DefaultIndex      = "sharelog-{yyyy.MM.dd}"
	DefaultDataStream = "logs-sharelog-default"
)

// Config configures the Elasticsearch / OpenSearch sink. Error messages of
// Validate name fields relative to the sink's section ("url: …").
type Config struct {
	// URL is the cluster's base URL (http or https, a path prefix allowed
	// when a proxy serves the cluster under one); requests go to
	// URL + "/_bulk". It holds no credentials: see Auth.
	URL string `yaml:"url"`
	// Mode is "index" (default) or "data_stream".
	Mode Mode `yaml:"mode"`
	// Index is the index name pattern of mode index (default
	// "sharelog-{yyyy.MM.dd}"). A placeholder in braces is either a date
	// of the event's UTC time, written with the tokens yyyy, MM, dd and HH
	// and the separators . - _ ("{yyyy.MM.dd}", "{yyyy-MM}"), or
	// "{dataset}", which is "access" or "audit" (see the README).
	Index string `yaml:"index"`
	// DataStream is the data stream of mode data_stream (default
	// "logs-sharelog-default"); it may hold "{dataset}" but no date, since
	// a data stream rolls over by itself.
	DataStream string `yaml:"data_stream"`
	// Pipeline is an ingest pipeline to run on every document; "" none.
	Pipeline string `yaml:"pipeline"`
	// Compression of request bodies: "none" (default) or "gzip".
	Compression string `yaml:"compression"`
	Auth        Auth   `yaml:"auth"`
	TLS         TLS    `yaml:"tls"`
}

// Auth is basic authentication (Username and Password) or an API key;
// neither means no Authorization header.
type Auth struct {
	Username string     `yaml:"username"`
	Password secret.Ref `yaml:"password"`
	// APIKey is the key as Elasticsearch's create-API-key answer gives it
	// in "encoded" (base64 of id:api_key), or "id:api_key" unencoded.
	APIKey secret.Ref `yaml:"api_key"`
}

// TLS configures https toward the cluster: sharelog's one TLS client
// configuration (ca_file, trusted instead of the system roots; cert_file and
// key_file, a client certificate for the PKI realm; server_name,
// insecure_skip_verify, min_version).
//
// Earlier versions added this sink's ca_file to the system roots; it now
// replaces them, as everywhere else. A cluster whose
// certificate a public CA signs needs no ca_file.
type TLS = tlsconf.Config

// SetDefaults fills the unset fields: mode index, the name of the mode's
// target, compression none.
func (c *Config) SetDefaults() {
	if c.Mode == "" {
		c.Mode = ModeIndex
	}
	switch c.Mode {
	case ModeIndex:
		if c.Index == "" {
			c.Index = DefaultIndex
		}
	case ModeDataStream:
		if c.DataStream == "" {
			c.DataStream = DefaultDataStream
		}
	}
	if c.Compression == "" {
		c.Compression = CompressionNone
	}
}

// Validate reports every wrong field, without reading any file or secret
// (New does that).
func (c Config) Validate() error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if c.URL == "" {
		fail("url: is required (the cluster's base URL, like https://es.example.com:9200)")
	} else if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fail("url: must be an absolute http(s) URL")
	} else {
		if u.User != nil {
			fail("url: must not hold credentials: use auth.username and auth.password, or auth.api_key")
		}
		if u.RawQuery != "" || u.Fragment != "" {
			fail("url: must have no query or fragment")
		}
		if u.Scheme == "http" && !c.TLS.IsZero() {
			fail("tls: is set but url is http://; use https://")
		}
	}

	switch c.Mode {
	case ModeIndex:
		if _, err := parseTemplate(c.Index, false); err != nil {
			fail("index: %v", err)
		}
		if c.DataStream != "" {
			fail("data_stream: is only for mode data_stream")
		}
	case ModeDataStream:
		if _, err := parseTemplate(c.DataStream, true); err != nil {
			fail("data_stream: %v", err)
		}
		if c.Index != "" {
			fail("index: is only for mode index")
		}
	default:
		fail("mode: %q is not index or data_stream", c.Mode)
	}

	if c.Pipeline != "" && strings.TrimSpace(c.Pipeline) != c.Pipeline {
		fail("pipeline: has leading or trailing spaces")
	}
	switch c.Compression {
	case CompressionNone, CompressionGzip:
	default:
		fail("compression: %q is not none or gzip", c.Compression)
	}

	if err := c.Auth.validate(); err != nil {
		errs = append(errs, cfgerr.Prefix("auth", err))
	}
	if err := c.TLS.Validate(); err != nil {
		errs = append(errs, cfgerr.Prefix("tls", err))
	}
	return errors.Join(errs...)
}

func (a Auth) validate() error {
	var errs []error
	basic := a.Username != "" || !a.Password.IsZero()
	if basic && !a.APIKey.IsZero() {
		errs = append(errs, errors.New("api_key: set either api_key or username and password, not both"))
	}
	if basic {
		if a.Username == "" {
			errs = append(errs, errors.New("username: is required with a password"))
		} else if strings.ContainsRune(a.Username, ':') {
			errs = append(errs, errors.New("username: must not contain ':'"))
		}
		if err := a.Password.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("password: %w", err))
		}
	}
	if !a.APIKey.IsZero() {
		if err := a.APIKey.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("api_key: %w", err))
		}
	}
	return errors.Join(errs...)
}
