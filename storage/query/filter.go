package query

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/sharelog/sharelog"
)

// Filter says which archived events a query returns. Every non-empty field
// must match (AND); the values inside one list field are alternatives (OR).
// The zero value of a field means "any".
type Filter struct {
	// Workspaces is the scope: only events of these workspaces are read. It
	// must not be empty; callers that authenticate a token put the token's
	// workspaces here (see Scope).
	Workspaces []string
	// From (inclusive) and To (exclusive) bound the event time.
	From, To time.Time
	// Actions: any of these actions. An entry ending in ".*" matches every
	// action of that family ("link.*").
	Actions []string
	// Results: any of these results (success, denied, error).
	Results []sharelog.Result
	// User is an email address matched exactly against the actor's email and
	// the visitor email (either).
	User string
	// Link and File are ids, matched exactly.
	Link, File string
	// IP is an address (matched exactly, in its canonical form) or a CIDR
	// prefix ("203.0.113.0/24").
	IP string
	// Country is an ISO 3166-1 alpha-2 code, any case.
	Country string
}

// Validate reports what is wrong with f, naming the parameter.
func (f Filter) Validate() error {
	var errs []error
	if len(f.Workspaces) == 0 {
		errs = append(errs, errors.New("workspace: at least one workspace is required"))
	}
	for _, ws := range f.Workspaces {
		if ws == "" || strings.ContainsAny(ws, `/\`) || ws == "." || ws == ".." {
			errs = append(errs, fmt.Errorf("workspace: %q is not a workspace id", ws))
		}
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		errs = append(errs, fmt.Errorf("from: %s is not before to (%s)", f.From.Format(time.RFC3339), f.To.Format(time.RFC3339)))
	}
	for _, a := range f.Actions {
		if fam, ok := strings.CutSuffix(a, ".*"); ok {
			if !actionFamily(fam) {
				errs = append(errs, fmt.Errorf("action: no action starts with %q", fam+"."))
			}
		} else if !sharelog.Action(a).Valid() {
			errs = append(errs, fmt.Errorf("action: %q is not an action of schema version %d", a, sharelog.SchemaVersion))
		}
	}
	for _, r := range f.Results {
		if !r.Valid() {
			errs = append(errs, fmt.Errorf("result: %q is not one of success, denied, error", r))
		}
	}
	if f.IP != "" {
		if _, err := parseIP(f.IP); err != nil {
			errs = append(errs, fmt.Errorf("ip: %q is neither an IP address nor a CIDR prefix", f.IP))
		}
	}
	if f.Country != "" && (len(f.Country) != 2 || !isLetters(f.Country)) {
		errs = append(errs, fmt.Errorf("country: %q is not a two-letter ISO code", f.Country))
	}
	return errors.Join(errs...)
}

func actionFamily(fam string) bool {
	for _, a := range sharelog.Actions {
		if strings.HasPrefix(string(a), fam+".") {
			return true
		}
	}
	return false
}

func isLetters(s string) bool {
	for i := range len(s) {
		c := s[i] | 0x20
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// parseIP parses an address or a prefix; an address becomes a prefix of its
// full length.
func parseIP(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("not an address")
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// actions expands the action filter into the list of actions it matches.
func (f Filter) actions() []string {
	var out []string
	for _, a := range f.Actions {
		if fam, ok := strings.CutSuffix(a, ".*"); ok {
			for _, b := range sharelog.Actions {
				if strings.HasPrefix(string(b), fam+".") {
					out = append(out, string(b))
				}
			}
		} else {
			out = append(out, a)
		}
	}
	return out
}

// Match reports whether ev passes every condition of f. The query engine
// reaches the same answer from the columns; Match is for events that are
// not in the archive and for tests. To match many events, prepare the
// conditions once with Conditions.
func (f Filter) Match(ev *sharelog.Event) bool {
	return contains(f.Workspaces, ev.Workspace.ID) && f.Conditions().Match(ev)
}

// Conditions are a Filter's conditions other than the workspace scope,
// prepared once (action families expanded, the IP parsed) for a caller that
// matches many events and scopes by other means (the live stream). It is
// immutable and safe for concurrent use.
type Conditions struct {
	f       Filter
	actions []string
	ip      netip.Prefix
	ipErr   error
}

// Conditions prepares f's conditions for matching.
func (f Filter) Conditions() *Conditions {
	c := &Conditions{f: f, actions: f.actions()}
	if f.IP != "" {
		c.ip, c.ipErr = parseIP(f.IP)
	}
	return c
}

// Match reports whether ev passes every condition but the scope.
func (c *Conditions) Match(ev *sharelog.Event) bool {
	f := &c.f
	if (!f.From.IsZero() && ev.Time.Before(f.From)) || (!f.To.IsZero() && !ev.Time.Before(f.To)) {
		return false
	}
	if len(f.Actions) > 0 && !contains(c.actions, string(ev.Action)) {
		return false
	}
	if len(f.Results) > 0 && !contains(f.Results, ev.Result) {
		return false
	}
	if f.User != "" && ev.Actor.Email != f.User && ev.Actor.VisitorEmail != f.User {
		return false
	}
	if f.Link != "" && (ev.Link == nil || ev.Link.ID != f.Link) {
		return false
	}
	if f.File != "" && (ev.File == nil || ev.File.ID != f.File) {
		return false
	}
	if f.IP != "" {
		a, aerr := netip.ParseAddr(ev.Client.IP)
		if c.ipErr != nil || aerr != nil || !c.ip.Contains(a.Unmap()) && !c.ip.Contains(a) {
			return false
		}
	}
	if f.Country != "" && (ev.Geo == nil || !strings.EqualFold(ev.Geo.CountryCode, f.Country)) {
		return false
	}
	return true
}

func contains[T comparable](list []T, v T) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// Cursor is a position in the newest-first order of a query: the time and id
// of the last event a page returned. The next page starts strictly after it,
// so events that arrive between pages never shift the pages: a newer event
// is not returned by later pages, an older one is, and none twice.
type Cursor struct {
	Time time.Time // microsecond precision, as archived
	ID   string
}

// CursorOf is the cursor just after ev.
func CursorOf(ev *sharelog.Event) Cursor {
	return Cursor{Time: ev.Time.Truncate(time.Microsecond), ID: ev.ID}
}

// String encodes c as an opaque token for URLs.
func (c Cursor) String() string {
	return "c1." + strconv.FormatInt(c.Time.UnixMicro(), 36) + "." + base64.RawURLEncoding.EncodeToString([]byte(c.ID))
}

// ParseCursor decodes a token made by Cursor.String.
func ParseCursor(s string) (Cursor, error) {
	bad := fmt.Errorf("cursor: %q is not a cursor this server returned", truncate(s))
	rest, ok := strings.CutPrefix(s, "c1.")
	if !ok {
		return Cursor{}, bad
	}
	ts, id, ok := strings.Cut(rest, ".")
	if !ok {
		return Cursor{}, bad
	}
	micros, err := strconv.ParseInt(ts, 36, 64)
	if err != nil {
		return Cursor{}, bad
	}
	raw, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil || len(raw) == 0 {
		return Cursor{}, bad
	}
	return Cursor{Time: time.UnixMicro(micros).UTC(), ID: string(raw)}, nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// before reports whether (micros, id) comes after c in newest-first order,
// that is, whether it is older.
func (c *Cursor) before(micros int64, id string) bool {
	if c == nil {
		return true
	}
	cm := c.Time.UnixMicro()
	return micros < cm || micros == cm && id < c.ID
}
