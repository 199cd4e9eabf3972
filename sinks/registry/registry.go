// Package registry is the one place where the delivery sinks are wired: the
// `sinks:` section of the configuration (a list, one entry per destination)
// and the constructor that turns an entry into a sharelog.Sink. Adding a
// sink type means adding its section to Config and a case to each switch
// below; nothing registers itself.
package registry

import (
	"errors"
	"fmt"
	"log/slog"
	"regexp"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/internal/cfgerr"
	"github.com/sharelog/sharelog/sinks/delivery"
	"github.com/sharelog/sharelog/sinks/elasticsearch"
	"github.com/sharelog/sharelog/sinks/email"
	"github.com/sharelog/sharelog/sinks/slack"
	"github.com/sharelog/sharelog/sinks/splunk"
	"github.com/sharelog/sharelog/sinks/syslog"
	"github.com/sharelog/sharelog/sinks/webhook"
)

// Types are the sink types, in the order of the documentation.
var Types = []string{"webhook", "splunk", "elasticsearch", "syslog", "slack", "email"}

// Config is one entry of `sinks:`: a named destination of one type, with
// the section of that type, and what the delivery engine needs.
type Config struct {
	// Name names the sink: its consumer group is <prefix>-sink-<name>, its
	// metrics carry sink=<name>, `sharelog sink <name>` runs it alone.
	Name string `yaml:"name"`
	// Type is one of Types; the section of that name configures it.
	Type string `yaml:"type"`
	// Filter selects the events it receives (default: all).
	Filter delivery.Filter `yaml:"filter"`
	// Delivery tunes batching, concurrency and retries.
	Delivery delivery.Options `yaml:"delivery"`

	Webhook *webhook.Config `yaml:"webhook"`
	Splunk  *splunk.Config  `yaml:"splunk"`
	// Elasticsearch also serves OpenSearch (the same _bulk API).
	Elasticsearch *elasticsearch.Config `yaml:"elasticsearch"`
	// Syslog sends RFC 5424 messages with a CEF or LEEF body.
	Syslog *syslog.Config `yaml:"syslog"`
	// Slack posts alerts (alert.raised events) to Slack channels; its
	// filter defaults to the action alert.raised.
	Slack *slack.Config `yaml:"slack"`
	// Email mails link owners' notifications and alerts; its
	// delivery.batch_wait defaults to a minute, so that a link's
	// notifications within a minute make one mail.
	Email *email.Config `yaml:"email"`
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// SetDefaults fills the delivery options and the type's section.
func (c *Config) SetDefaults() {
	switch c.Type {
	case "slack":
		if len(c.Filter.Actions) == 0 {
			c.Filter.Actions = []string{string(sharelog.AlertRaised)}
		}
	case "email":
		if c.Delivery.BatchWait == 0 {
			c.Delivery.BatchWait = email.DefaultBatchWait
		}
	}
	c.Delivery.SetDefaults()
	switch c.Type {
	case "webhook":
		if c.Webhook != nil {
			c.Webhook.SetDefaults()
		}
	case "splunk":
		if c.Splunk != nil {
			c.Splunk.SetDefaults()
		}
	case "elasticsearch":
		if c.Elasticsearch != nil {
			c.Elasticsearch.SetDefaults()
		}
	case "syslog":
		if c.Syslog != nil {
			c.Syslog.SetDefaults()
		}
	case "slack":
		if c.Slack != nil {
			c.Slack.SetDefaults()
		}
	case "email":
		if c.Email != nil {
			c.Email.SetDefaults()
		}
	}
}

// Validate checks one entry; field paths are relative to it
// ("webhook.url: …").
func (c Config) Validate() error {
	var errs []error
	if !nameRE.MatchString(c.Name) {
		errs = append(errs, fmt.Errorf("name: %q must be 1-63 lower-case letters, digits, - or _", c.Name))
	}
	errs = append(errs, cfgerr.Prefix("filter", c.Filter.Validate()), cfgerr.Prefix("delivery", c.Delivery.Validate()))
	sections := map[string]bool{"webhook": c.Webhook != nil, "splunk": c.Splunk != nil, "elasticsearch": c.Elasticsearch != nil, "syslog": c.Syslog != nil,
		"slack": c.Slack != nil, "email": c.Email != nil}
	for typ, set := range sections {
		if set && typ != c.Type {
			errs = append(errs, fmt.Errorf("%s: section given for a sink of type %q", typ, c.Type))
		}
	}
	switch c.Type {
	case "webhook":
		if c.Webhook == nil {
			errs = append(errs, errors.New("webhook: required for type webhook"))
		} else {
			errs = append(errs, cfgerr.Prefix("webhook", c.Webhook.Validate()))
		}
	case "splunk":
		if c.Splunk == nil {
			errs = append(errs, errors.New("splunk: required for type splunk"))
		} else {
			errs = append(errs, cfgerr.Prefix("splunk", c.Splunk.Validate()))
			if c.Splunk.Ack && c.Delivery.Timeout <= c.Splunk.AckTimeout {
				errs = append(errs, fmt.Errorf("delivery.timeout: %s must be longer than splunk.ack_timeout (%s): a write waits for the acknowledgement", c.Delivery.Timeout, c.Splunk.AckTimeout))
			}
		}
	case "elasticsearch":
		if c.Elasticsearch == nil {
			errs = append(errs, errors.New("elasticsearch: required for type elasticsearch"))
		} else {
			errs = append(errs, cfgerr.Prefix("elasticsearch", c.Elasticsearch.Validate()))
		}
	case "syslog":
		if c.Syslog == nil {
			errs = append(errs, errors.New("syslog: required for type syslog"))
		} else {
			errs = append(errs, cfgerr.Prefix("syslog", c.Syslog.Validate()))
		}
	case "slack":
		if c.Slack == nil {
			errs = append(errs, errors.New("slack: required for type slack"))
		} else {
			errs = append(errs, cfgerr.Prefix("slack", c.Slack.Validate()))
		}
	case "email":
		if c.Email == nil {
			errs = append(errs, errors.New("email: required for type email"))
		} else {
			errs = append(errs, cfgerr.Prefix("email", c.Email.Validate()))
		}
	default:
		errs = append(errs, fmt.Errorf("type: %q is not one of %v", c.Type, Types))
	}
	return errors.Join(errs...)
}

// ValidateAll checks every entry of the `sinks:` list and that names are
// unique; errors name the entry ("sinks[2].webhook.url: …").
func ValidateAll(list []Config) error {
	var errs []error
	seen := map[string]int{}
	for i, c := range list {
		errs = append(errs, cfgerr.Prefix(fmt.Sprintf("sinks[%d]", i), c.Validate()))
		if j, dup := seen[c.Name]; dup && c.Name != "" {
			errs = append(errs, fmt.Errorf("sinks[%d].name: %q is also the name of sinks[%d]", i, c.Name, j))
		}
		if c.Name == "archive" {
			errs = append(errs, fmt.Errorf("sinks[%d].name: \"archive\" is the archive sink's name", i))
		}
		seen[c.Name] = i
	}
	return errors.Join(errs...)
}

// Deps are what every sink may need.
type Deps struct {
	Logger     *slog.Logger          // nil: quiet
	Registerer prometheus.Registerer // nil: not exported; New adds the label sink=<name>
}

// New makes the sink c configures. c must have been validated.
func New(c Config, deps Deps) (sharelog.Sink, error) {
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	log := deps.Logger.With("sink", c.Name)
	var reg prometheus.Registerer
	if deps.Registerer != nil {
		reg = prometheus.WrapRegistererWith(prometheus.Labels{"sink": c.Name}, deps.Registerer)
	}
	switch c.Type {
	case "webhook":
		return sink(webhook.New(*c.Webhook, webhook.Deps{Logger: log, Registerer: reg}))
	case "splunk":
		return sink(splunk.New(*c.Splunk, splunk.Deps{Logger: log, Registerer: reg}))
	case "elasticsearch":
		return sink(elasticsearch.New(*c.Elasticsearch, elasticsearch.Deps{Logger: log, Registerer: reg}))
	case "syslog":
		return sink(syslog.New(*c.Syslog, syslog.Deps{Logger: log, Registerer: reg}))
	case "slack":
		return sink(slack.New(c.Slack, slack.Deps{Logger: log, Registerer: reg}))
	case "email":
		return sink(email.New(c.Email, email.Deps{Logger: log, Registerer: reg}))
	}
	return nil, fmt.Errorf("sink %s: unknown type %q", c.Name, c.Type)
}

// sink turns a constructor's typed answer into an interface without
// making a nil *T a non-nil Sink.
func sink[S sharelog.Sink](s S, err error) (sharelog.Sink, error) {
	if err != nil {
		return nil, err
	}
	return s, nil
}
