// Package registry is the one place where the delivery sinks are wired: the
// `sinks:` section of the configuration (a list, one entry per destination)
// and the constructor that turns an entry into a sharelog.Sink.
//
// Each sink type is one file of this package holding its Kind: the type's
// name (which is also the name of its configuration section), its
// constructor and its hooks (webhook.go, splunk.go, …). The list below,
// kinds, is the only place that names them; nothing registers itself.
// Adding a sink type is writing its package under sinks/ and its file here,
// and adding it to kinds (docs/extending.md).
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
)

// kinds are the sink types, in the order of the documentation.
var kinds = []kind{
	webhookKind,
	splunkKind,
	elasticsearchKind,
	syslogKind,
	slackKind,
	emailKind,
}

// Types are the sink types' names, in the order of the documentation.
var Types = func() []string {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.name()
	}
	return names
}()

// lookup returns the kind named typ, nil when there is none.
func lookup(typ string) kind {
	for _, k := range kinds {
		if k.name() == typ {
			return k
		}
	}
	return nil
}

// Config is one entry of `sinks:`: a named destination of one type, with
// the section of that type, and what the delivery engine needs.
//
// In YAML the section is the key of the type's name:
//
//	sinks:
//	  - name: hook
//	    type: webhook
//	    webhook: {url: "https://hooks.example.com/sharelog", secrets: {env: HOOK_SECRET}}
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

	// Section is the type's section: a pointer to the Config of the sink's
	// package (*webhook.Config for type webhook, …); nil when it is
	// missing. YAML reads and writes it under the key Type names.
	Section any `yaml:"-"`

	// others are the sections given for other types (refused by Validate).
	others []string
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// SetDefaults fills the delivery options and the type's section.
func (c *Config) SetDefaults() {
	k := lookup(c.Type)
	if k != nil {
		k.entryDefaults(c)
	}
	c.Delivery.SetDefaults()
	if k != nil {
		k.setDefaults(c)
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
	for _, typ := range c.others {
		errs = append(errs, fmt.Errorf("%s: section given for a sink of type %q", typ, c.Type))
	}
	if k := lookup(c.Type); k != nil {
		errs = append(errs, k.validate(c))
	} else {
		errs = append(errs, fmt.Errorf("type: %q is not one of %v", c.Type, Types))
	}
	return errors.Join(errs...)
}

// ValidateAll checks every entry of the `sinks:` list and that names are
// unique; errors name the entry ("sinks[2].webhook.url: …"). It is the one
// check of sink names: the pipeline and the commands rely on it.
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

// Select returns the entries of list named in names, in the order of list;
// nil names selects them all. A name that is not configured is an error
// that lists the configured ones.
func Select(list []Config, names []string) ([]Config, error) {
	if names == nil {
		return list, nil
	}
	var out []Config
	for _, n := range names {
		found := false
		for _, c := range list {
			found = found || c.Name == n
		}
		if !found {
			configured := make([]string, len(list))
			for i, c := range list {
				configured[i] = c.Name
			}
			return nil, fmt.Errorf("sink %q is not configured (sinks: %v)", n, configured)
		}
	}
	for _, c := range list {
		for _, n := range names {
			if c.Name == n {
				out = append(out, c)
				break
			}
		}
	}
	return out, nil
}

// Deps are what every sink may need.
type Deps struct {
	Logger     *slog.Logger          // nil: quiet
	Registerer prometheus.Registerer // nil: not exported; New adds the label sink=<name>
}

// New makes the sink c configures. c must have been validated.
func New(c Config, deps Deps) (sharelog.Sink, error) {
	k := lookup(c.Type)
	if k == nil {
		return nil, fmt.Errorf("sink %s: unknown type %q", c.Name, c.Type)
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	deps.Logger = deps.Logger.With("sink", c.Name)
	if deps.Registerer != nil {
		deps.Registerer = prometheus.WrapRegistererWith(prometheus.Labels{"sink": c.Name}, deps.Registerer)
	}
	return k.build(c, deps)
}

// sink turns a constructor's typed answer into an interface without
// making a nil *T a non-nil Sink.
func sink[S sharelog.Sink](s S, err error) (sharelog.Sink, error) {
	if err != nil {
		return nil, err
	}
	return s, nil
}
