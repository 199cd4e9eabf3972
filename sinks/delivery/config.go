package delivery

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sharelog/sharelog"
)

// Filter selects the events a sink receives. An empty list means "any"; the
// lists are ANDed, their entries ORed.
type Filter struct {
	Workspaces []string `yaml:"workspaces"`
	// Actions: exact actions or families ("link.*").
	Actions []string `yaml:"actions"`
	Results []string `yaml:"results"`
}

// Validate names the first wrong entry of each list.
func (f Filter) Validate() error {
	var errs []error
	for i, a := range f.Actions {
		fam, isFamily := strings.CutSuffix(a, ".*")
		ok := sharelog.Action(a).Valid()
		if isFamily {
			for _, b := range sharelog.Actions {
				ok = ok || strings.HasPrefix(string(b), fam+".")
			}
		}
		if !ok {
			errs = append(errs, fmt.Errorf("actions[%d]: %q is neither an action nor a family like \"link.*\"", i, a))
		}
	}
	for i, r := range f.Results {
		if !sharelog.Result(r).Valid() {
			errs = append(errs, fmt.Errorf("results[%d]: %q is not one of success, denied, error", i, r))
		}
	}
	for i, w := range f.Workspaces {
		if w == "" {
			errs = append(errs, fmt.Errorf("workspaces[%d]: empty", i))
		}
	}
	return errors.Join(errs...)
}

// Match reports whether ev passes the filter.
func (f Filter) Match(ev *sharelog.Event) bool {
	if len(f.Workspaces) > 0 && !anyOf(f.Workspaces, func(w string) bool { return w == ev.Workspace.ID }) {
		return false
	}
	if len(f.Results) > 0 && !anyOf(f.Results, func(r string) bool { return r == string(ev.Result) }) {
		return false
	}
	if len(f.Actions) > 0 && !anyOf(f.Actions, func(a string) bool {
		if fam, ok := strings.CutSuffix(a, ".*"); ok {
			return strings.HasPrefix(string(ev.Action), fam+".")
		}
		return a == string(ev.Action)
	}) {
		return false
	}
	return true
}

func anyOf(list []string, ok func(string) bool) bool {
	for _, s := range list {
		if ok(s) {
			return true
		}
	}
	return false
}

// Options tune batching, concurrency and retries. Zero fields take the
// defaults of SetDefaults.
type Options struct {
	// A batch is sent when it holds BatchEvents events (default 500) or
	// BatchBytes bytes of event JSON (default 1 MiB), or BatchWait (default
	// 1 s) after its first event arrived, whichever comes first.
	BatchEvents int           `yaml:"batch_events"`
	BatchBytes  int           `yaml:"batch_bytes"`
	BatchWait   time.Duration `yaml:"batch_wait"`
	// Concurrency is how many batches may be in flight at once (default
	// 4). Events of one link always go through the same lane, one batch
	// after the other, so their order is kept.
	Concurrency int `yaml:"concurrency"`
	// RetryInitial is the first wait after a retryable failure (default
	// 500 ms); it doubles, with jitter, up to RetryMax (default 1 min).
	// Retries go on until the destination accepts: the backlog waits in
	// Kafka. A Retry-After from the destination is honoured (up to 1 h).
	RetryInitial time.Duration `yaml:"retry_initial"`
	RetryMax     time.Duration `yaml:"retry_max"`
	// Timeout bounds one Write call (default 30 s).
	Timeout time.Duration `yaml:"timeout"`
}

// SetDefaults fills every zero field.
func (o *Options) SetDefaults() {
	if o.BatchEvents == 0 {
		o.BatchEvents = 500
	}
	if o.BatchBytes == 0 {
		o.BatchBytes = 1 << 20
	}
	if o.BatchWait == 0 {
		o.BatchWait = time.Second
	}
	if o.Concurrency == 0 {
		o.Concurrency = 4
	}
	if o.RetryInitial == 0 {
		o.RetryInitial = 500 * time.Millisecond
	}
	if o.RetryMax == 0 {
		o.RetryMax = time.Minute
	}
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
}

// Validate names the field that is out of range.
func (o Options) Validate() error {
	var errs []error
	check := func(name string, bad bool, msg string) {
		if bad {
			errs = append(errs, fmt.Errorf("%s: %s", name, msg))
		}
	}
	check("batch_events", o.BatchEvents < 1 || o.BatchEvents > 100_000, "must be between 1 and 100000")
	check("batch_bytes", o.BatchBytes < 1024 || o.BatchBytes > 256<<20, "must be between 1 KiB and 256 MiB")
	check("batch_wait", o.BatchWait < time.Millisecond, "must be at least 1ms")
	check("concurrency", o.Concurrency < 1 || o.Concurrency > 256, "must be between 1 and 256")
	check("retry_initial", o.RetryInitial < time.Millisecond, "must be at least 1ms")
	check("retry_max", o.RetryMax < o.RetryInitial, "must not be less than retry_initial")
	check("timeout", o.Timeout < 10*time.Millisecond, "must be at least 10ms")
	return errors.Join(errs...)
}
