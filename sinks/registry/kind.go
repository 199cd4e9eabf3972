package registry

import (
	"errors"
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/internal/cfgerr"
)

// Kind describes one sink type: its name, its constructor and its
// configuration hooks. C is the Config of the sink's package; *C has
// SetDefaults() and Validate() error, as every sink's Config does, and the
// registry calls them (the section's field paths are prefixed with Type).
// One file of this package holds one Kind (webhook.go is the example);
// kinds lists them.
type Kind[C any] struct {
	// Type names the type (`type: webhook`) and its section (`webhook:`):
	// lower-case, unique.
	Type string
	// EntryDefaults, when set, adjusts the entry's common settings for this
	// type (a default filter, a longer batch wait) before their own
	// defaults are filled.
	EntryDefaults func(*Config)
	// Check, when set, checks what depends on both the entry and the
	// section (after the section's own Validate); field paths are relative
	// to the entry ("delivery.timeout: …").
	Check func(Config, *C) error
	// New makes the sink from a validated section. deps' logger carries
	// sink=<name> and its registerer, when set, the label sink=<name>.
	New func(C, Deps) (sharelog.Sink, error)
}

// kind is what the registry needs of a Kind, whatever its C.
type kind interface {
	name() string
	// decode reads the section strictly (unknown keys are errors) into a
	// new *C.
	decode(n *yaml.Node) (any, error)
	entryDefaults(*Config)
	setDefaults(*Config)
	validate(Config) error
	build(Config, Deps) (sharelog.Sink, error)
}

type defaulter interface{ SetDefaults() }

type validator interface{ Validate() error }

func (k Kind[C]) name() string { return k.Type }

func (k Kind[C]) decode(n *yaml.Node) (any, error) {
	sec := new(C)
	if err := decodeStrict(n, sec); err != nil {
		return nil, err
	}
	return sec, nil
}

func (k Kind[C]) entryDefaults(c *Config) {
	if k.EntryDefaults != nil {
		k.EntryDefaults(c)
	}
}

func (k Kind[C]) setDefaults(c *Config) {
	if sec, ok := c.Section.(*C); ok && sec != nil {
		if d, ok := any(sec).(defaulter); ok {
			d.SetDefaults()
		}
	}
}

// section returns c's section as a *C, or the error that says why not.
func (k Kind[C]) section(c Config) (*C, error) {
	if c.Section == nil {
		return nil, fmt.Errorf("%s: required for type %s", k.Type, k.Type)
	}
	sec, ok := c.Section.(*C)
	if !ok || sec == nil {
		return nil, fmt.Errorf("%s: the section is a %T, not a %T", k.Type, c.Section, sec)
	}
	return sec, nil
}

func (k Kind[C]) validate(c Config) error {
	sec, err := k.section(c)
	if err != nil {
		return err
	}
	var errs []error
	if v, ok := any(sec).(validator); ok {
		errs = append(errs, cfgerr.Prefix(k.Type, v.Validate()))
	}
	if k.Check != nil {
		errs = append(errs, k.Check(c, sec))
	}
	return errors.Join(errs...)
}

func (k Kind[C]) build(c Config, deps Deps) (sharelog.Sink, error) {
	sec, err := k.section(c)
	if err != nil {
		return nil, fmt.Errorf("sink %s: %w", c.Name, err)
	}
	return k.New(*sec, deps)
}
