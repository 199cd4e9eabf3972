// Package config loads sharelog's configuration: a YAML file (optional),
// then environment overrides SHARELOG_<PATH> for every key (the path's YAML
// names joined by '_' and upper-cased: kafka.embedded.addr is
// SHARELOG_KAFKA_EMBEDDED_ADDR), then defaults, then validation. Each part's
// Config, defaults and Validate live in its own package; this one assembles
// them and puts the section path before every error.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sharelog/sharelog/enrich"
	"github.com/sharelog/sharelog/enrich/geo"
	"github.com/sharelog/sharelog/ingest"
	"github.com/sharelog/sharelog/internal/cfgerr"
	"github.com/sharelog/sharelog/internal/kafkax"
	"github.com/sharelog/sharelog/rules"
	"github.com/sharelog/sharelog/server/api"
	archivesink "github.com/sharelog/sharelog/sinks/archive"
	"github.com/sharelog/sharelog/sinks/registry"
)

// Config is the whole configuration.
type Config struct {
	// DataDir holds the embedded broker's data, generated secrets and the
	// GeoIP database fetched by default. Default ./data.
	DataDir string        `yaml:"data_dir"`
	Log     LogConfig     `yaml:"log"`
	HTTP    HTTPConfig    `yaml:"http"`
	Kafka   kafkax.Config `yaml:"kafka"`
	Ingest  ingest.Config `yaml:"ingest"`
	Enrich  enrich.Config `yaml:"enrich"`
	GeoIP   geo.Config    `yaml:"geoip"`
	// Archive configures the archive sink (the Parquet archive).
	Archive archivesink.Config `yaml:"archive"`
	// API configures the query API (GET /v1/events, the link activity
	// report) over the archive.
	API api.Config `yaml:"api"`
	// Sinks are the delivery sinks (webhook, Splunk, Elasticsearch,
	// syslog …), each run by the delivery engine under its own consumer
	// group. A list: set it in the YAML file, not from the environment.
	Sinks []registry.Config `yaml:"sinks"`
	// Rules are the detection rules (see package rules). Absent: every
	// rule type with its defaults (rules.Defaults); `rules: []`: none.
	Rules *[]rules.Rule `yaml:"rules"`
}

// LogConfig configures the structured logs on stderr.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug, info, warn, error; default info
	Format string `yaml:"format"` // text or json; default text
}

// HTTPConfig configures the HTTP server (API, ingest, metrics, health).
type HTTPConfig struct {
	Addr              string        `yaml:"addr"` // default 127.0.0.1:8080
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	ShutdownTimeout   time.Duration `yaml:"shutdown_timeout"`
}

// SetDefaults fills every unset field.
func (c *Config) SetDefaults() {
	if c.DataDir == "" {
		c.DataDir = "./data"
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "text"
	}
	if c.HTTP.Addr == "" {
		c.HTTP.Addr = "127.0.0.1:8080"
	}
	if c.HTTP.ReadHeaderTimeout == 0 {
		c.HTTP.ReadHeaderTimeout = 10 * time.Second
	}
	if c.HTTP.ShutdownTimeout == 0 {
		c.HTTP.ShutdownTimeout = 15 * time.Second
	}
	c.Kafka.SetDefaults()
	c.Archive.SetDefaults(c.DataDir)
	if c.Ingest.MaxPast == 0 {
		// Nothing older than the archive keeps: the longest retention.
		c.Ingest.MaxPast = c.Archive.Retention.MaxAge
		for _, age := range c.Archive.Retention.WorkspaceMaxAge {
			c.Ingest.MaxPast = max(c.Ingest.MaxPast, age)
		}
	}
	c.Ingest.SetDefaults()
	c.Enrich.SetDefaults()
	c.GeoIP.SetDefaults()
	c.API.SetDefaults()
	for i := range c.Sinks {
		c.Sinks[i].SetDefaults()
	}
	if c.Rules == nil {
		defaults := rules.Defaults()
		c.Rules = &defaults
	}
	for i := range *c.Rules {
		(*c.Rules)[i].SetDefaults()
	}
}

// DetectionRules returns the configured rules (after SetDefaults, the
// defaults when the configuration has no `rules:` section).
func (c *Config) DetectionRules() []rules.Rule {
	if c.Rules == nil {
		return rules.Defaults()
	}
	return *c.Rules
}

// Validate returns every problem, each naming its field path.
func (c *Config) Validate() error {
	var errs []error
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log.level: %q is not one of debug, info, warn, error", c.Log.Level))
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		errs = append(errs, fmt.Errorf("log.format: %q is not text or json", c.Log.Format))
	}
	if _, _, err := net.SplitHostPort(c.HTTP.Addr); err != nil {
		errs = append(errs, fmt.Errorf("http.addr: %q is not host:port", c.HTTP.Addr))
	}
	if c.HTTP.ReadHeaderTimeout <= 0 {
		errs = append(errs, errors.New("http.read_header_timeout: must be positive"))
	}
	if c.HTTP.ShutdownTimeout <= 0 {
		errs = append(errs, errors.New("http.shutdown_timeout: must be positive"))
	}
	errs = append(errs,
		cfgerr.Prefix("kafka", c.Kafka.Validate()),
		cfgerr.Prefix("ingest", c.Ingest.Validate()),
		cfgerr.Prefix("enrich", c.Enrich.Validate()),
		cfgerr.Prefix("geoip", c.GeoIP.Validate()),
		cfgerr.Prefix("archive", c.Archive.Validate()),
		cfgerr.Prefix("api", c.API.Validate()),
		registry.ValidateAll(c.Sinks),
	)
	if c.Rules != nil {
		errs = append(errs, rules.ValidateAll(*c.Rules))
	}
	return errors.Join(errs...)
}

// EnvPrefix starts every environment override.
const EnvPrefix = "SHARELOG_"

// Load reads the YAML file at path (none when path is empty), applies the
// overrides found in environ (os.Environ() form), sets defaults and
// validates. Unknown YAML keys are errors; unknown SHARELOG_ variables are
// returned as warnings (they are often typos), except SHARELOG_TEST_*.
func Load(path string, environ []string) (cfg *Config, warnings []string, err error) {
	cfg = new(Config)
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, fmt.Errorf("config: %w", err)
		}
		if err := Parse(data, cfg); err != nil {
			return nil, nil, fmt.Errorf("config %s: %w", path, err)
		}
	}
	warnings, err = applyEnv(cfg, environ)
	if err != nil {
		return nil, warnings, err
	}
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, warnings, err
	}
	return cfg, warnings, nil
}

// Parse decodes YAML into cfg, refusing unknown keys.
func Parse(data []byte, cfg *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// Env returns the environment variable that overrides a YAML path
// ("kafka.embedded.addr" → "SHARELOG_KAFKA_EMBEDDED_ADDR").
func Env(path string) string {
	return EnvPrefix + strings.ToUpper(strings.NewReplacer(".", "_").Replace(path))
}
