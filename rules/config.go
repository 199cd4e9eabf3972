package rules

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/internal/cfgerr"
)

// The rule types.
const (
	// PasswordBruteForce counts link.password_failed events on one link.
	PasswordBruteForce = "password_brute_force"
	// NewCountry fires on the first access to a link from a country never
	// seen on it before.
	NewCountry = "new_country"
	// MassDownload counts the distinct files one visitor (session or IP)
	// downloads.
	MassDownload = "mass_download"
	// BlockedBurst counts access.blocked events per workspace or IP.
	BlockedBurst = "blocked_burst"
	// InactiveLinkAccess fires on an access attempt to a revoked or expired
	// link.
	InactiveLinkAccess = "inactive_link_access"
	// ImpossibleTravel fires when one visitor email is seen in two places
	// too far apart for the time between them.
	ImpossibleTravel = "impossible_travel"
)

// Types lists the rule types in the order of the documentation.
var Types = []string{PasswordBruteForce, NewCountry, MassDownload, BlockedBurst, InactiveLinkAccess, ImpossibleTravel}

// Rule configures one detection rule: one entry of `rules:`.
type Rule struct {
	// Name names the rule in alerts (Alert.Rule) and in filters of the alert
	// sinks. Default: the type.
	Name string `yaml:"name"`
	// Type is one of Types.
	Type string `yaml:"type"`
	// Severity of its alerts: low, medium, high or critical.
	Severity sharelog.Severity `yaml:"severity"`
	// Threshold is how many matching events within Window raise the alert
	// (password_brute_force, blocked_burst), or how many distinct files a
	// visitor may download within Window before it is raised
	// (mass_download: more than Threshold). Ignored by the other types.
	Threshold int `yaml:"threshold,omitempty"`
	// Window is the sliding window the rule counts in (impossible_travel:
	// how long a visitor's last place is remembered; inactive_link_access:
	// at most one alert per link in it).
	Window time.Duration `yaml:"window,omitempty"`
	// By chooses the subject: "session" or "ip" for mass_download
	// (default session), "ip" or "workspace" for blocked_burst (default
	// ip).
	By string `yaml:"by,omitempty"`
	// Deactivate, for password_brute_force, also emits a link.deactivate
	// command on <prefix>.commands (default true; `deactivate: false`
	// turns it off).
	Deactivate *bool `yaml:"deactivate,omitempty"`
	// MaxSpeedKMH, for impossible_travel: faster than this between two
	// places is impossible (default 1000 km/h, an airliner and a bit).
	MaxSpeedKMH float64 `yaml:"max_speed_kmh,omitempty"`
	// MinDistanceKM, for impossible_travel: places closer than this (after
	// subtracting both accuracy radii) never count (default 500 km).
	MinDistanceKM float64 `yaml:"min_distance_km,omitempty"`
	// Workspaces limits the rule to these workspaces (default: all).
	Workspaces []string `yaml:"workspaces,omitempty"`
	// MaxSubjects bounds the rule's state: the links, visitors, IPs or
	// workspaces it tracks at once, the least recently seen dropped first
	// (default 100,000).
	MaxSubjects int `yaml:"max_subjects"`
}

// Defaults are the rules a configuration without a `rules:` section gets:
// every type, with thresholds a security team would start from.
func Defaults() []Rule {
	rs := []Rule{
		{Type: PasswordBruteForce, Severity: sharelog.SeverityHigh, Threshold: 10, Window: 5 * time.Minute},
		{Type: NewCountry, Severity: sharelog.SeverityMedium},
		{Type: MassDownload, Severity: sharelog.SeverityHigh, Threshold: 50, Window: 10 * time.Minute},
		{Type: BlockedBurst, Severity: sharelog.SeverityMedium, Threshold: 20, Window: time.Minute},
		{Type: InactiveLinkAccess, Severity: sharelog.SeverityLow},
		{Type: ImpossibleTravel, Severity: sharelog.SeverityHigh},
	}
	for i := range rs {
		rs[i].SetDefaults()
	}
	return rs
}

// SetDefaults fills what is not set.
func (r *Rule) SetDefaults() {
	if r.Name == "" {
		r.Name = r.Type
	}
	if r.Severity == "" {
		r.Severity = sharelog.SeverityMedium
	}
	if r.MaxSubjects == 0 {
		r.MaxSubjects = 100_000
	}
	switch r.Type {
	case PasswordBruteForce:
		if r.Threshold == 0 {
			r.Threshold = 10
		}
		if r.Window == 0 {
			r.Window = 5 * time.Minute
		}
		if r.Deactivate == nil {
			t := true
			r.Deactivate = &t
		}
	case MassDownload:
		if r.Threshold == 0 {
			r.Threshold = 50
		}
		if r.Window == 0 {
			r.Window = 10 * time.Minute
		}
		if r.By == "" {
			r.By = "session"
		}
	case BlockedBurst:
		if r.Threshold == 0 {
			r.Threshold = 20
		}
		if r.Window == 0 {
			r.Window = time.Minute
		}
		if r.By == "" {
			r.By = "ip"
		}
	case InactiveLinkAccess:
		if r.Window == 0 {
			r.Window = time.Hour
		}
	case ImpossibleTravel:
		if r.Window == 0 {
			r.Window = 6 * time.Hour
		}
		if r.MaxSpeedKMH == 0 {
			r.MaxSpeedKMH = 1000
		}
		if r.MinDistanceKM == 0 {
			r.MinDistanceKM = 500
		}
	}
}

// Validate checks one rule; errors name the field.
func (r *Rule) Validate() error {
	var errs []error
	fail := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if !nameRE.MatchString(r.Name) {
		fail("name", "%q must be lower-case letters, digits, _ . - (at most 63)", r.Name)
	}
	if !slices.Contains(Types, r.Type) {
		fail("type", "%q is not a rule type (one of %v)", r.Type, Types)
	}
	if r.Severity.Rank() < 0 {
		fail("severity", "%q is not one of low, medium, high, critical", r.Severity)
	}
	if r.Threshold < 0 || (r.Type == PasswordBruteForce || r.Type == MassDownload || r.Type == BlockedBurst) && r.Threshold < 1 {
		fail("threshold", "%d must be at least 1", r.Threshold)
	}
	if r.Window < 0 || r.Window > 7*24*time.Hour {
		fail("window", "%s must be between 0 and 168h", r.Window)
	}
	switch {
	case r.Type == MassDownload && r.By != "session" && r.By != "ip":
		fail("by", "%q must be session or ip for %s", r.By, r.Type)
	case r.Type == BlockedBurst && r.By != "ip" && r.By != "workspace":
		fail("by", "%q must be ip or workspace for %s", r.By, r.Type)
	case r.By != "" && r.Type != MassDownload && r.Type != BlockedBurst:
		fail("by", "is only used by %s and %s", MassDownload, BlockedBurst)
	}
	if r.Deactivate != nil && r.Type != PasswordBruteForce {
		fail("deactivate", "is only used by %s", PasswordBruteForce)
	}
	if r.MaxSpeedKMH < 0 || r.MinDistanceKM < 0 {
		fail("max_speed_kmh", "and min_distance_km must not be negative")
	}
	if r.MaxSubjects < 1 {
		fail("max_subjects", "%d must be at least 1", r.MaxSubjects)
	}
	return errors.Join(errs...)
}

// ValidateAll checks every rule, each error under "rules[i].", and that
// names are unique.
func ValidateAll(rs []Rule) error {
	var errs []error
	seen := map[string]int{}
	for i := range rs {
		if err := rs[i].Validate(); err != nil {
			errs = append(errs, cfgerr.Prefix(fmt.Sprintf("rules[%d]", i), err))
		}
		if j, dup := seen[rs[i].Name]; dup {
			errs = append(errs, fmt.Errorf("rules[%d].name: %q is already the name of rules[%d]", i, rs[i].Name, j))
		}
		seen[rs[i].Name] = i
	}
	return errors.Join(errs...)
}
