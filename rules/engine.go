// Package rules is sharelog's detection: stateful rules evaluated on the
// enriched stream in the order of each link's events (password brute force,
// a new country on a link, mass download, a burst of blocked accesses,
// access to a revoked or expired link, impossible travel). What a rule finds
// is an alert.raised event (sharelog.Alert), and for password brute force a
// link.deactivate Command for the link and file server.
//
// Engine holds the rules' state and is pure: no Kafka, no clock of its own
// (windows run on event time). Worker runs an Engine on Kafka: it consumes
// <prefix>.enriched, writes alerts to <prefix>.alerts and to the enriched
// topic (so that every sink, the archive and the live stream get them),
// commands to <prefix>.commands, and rebuilds the state after a restart
// without raising an alert twice.
package rules

import (
	"container/list"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/sharelog/sharelog"
)

// MaxEvidence is how many evidence event ids an alert carries at most (the
// newest).
const MaxEvidence = 20

// Output is what one event raised: alerts (alert.raised events), commands
// for the link and file server, and records of long-lived state to keep in
// the state topic. Most events raise nothing.
type Output struct {
	Alerts   []*sharelog.Event
	Commands []Command
	State    []StateRecord
}

// Empty reports whether the event raised nothing.
func (o Output) Empty() bool { return len(o.Alerts) == 0 && len(o.Commands) == 0 && len(o.State) == 0 }

// StateRecord is a piece of state that outlives any window (the countries
// seen on a link, the links known to be revoked or expired), kept in the
// compacted state topic under Key. An empty Value deletes the key.
type StateRecord struct {
	Key, Value string
}

// Engine evaluates the configured rules. It is not safe for concurrent use:
// the caller serialises Observe and Restore.
type Engine struct {
	rules []*rule
}

// New returns an Engine for the rules, which must have passed
// ValidateAll (defaults applied).
func New(rs []Rule) (*Engine, error) {
	if err := ValidateAll(rs); err != nil {
		return nil, err
	}
	e := &Engine{}
	for _, c := range rs {
		r := &rule{cfg: c, subjects: newLRU(c.MaxSubjects)}
		if len(c.Workspaces) > 0 {
			r.workspaces = map[string]bool{}
			for _, w := range c.Workspaces {
				r.workspaces[w] = true
			}
		}
		e.rules = append(e.rules, r)
	}
	return e, nil
}

// MaxWindow is the longest window of the rules: how far back a restart must
// replay the stream to rebuild the windows.
func (e *Engine) MaxWindow() time.Duration {
	var m time.Duration
	for _, r := range e.rules {
		m = max(m, r.cfg.Window)
	}
	return m
}

// Tracked is the number of subjects the rules track, summed over rules.
func (e *Engine) Tracked() int {
	n := 0
	for _, r := range e.rules {
		n += r.subjects.len()
	}
	return n
}

// Observe evaluates ev against every rule and returns what it raised.
// alert.raised events are ignored.
func (e *Engine) Observe(ev *sharelog.Event) Output {
	var out Output
	if ev.Action == sharelog.AlertRaised {
		return out
	}
	for _, r := range e.rules {
		if r.workspaces != nil && !r.workspaces[ev.Workspace.ID] {
			continue
		}
		r.observe(ev, &out)
	}
	return out
}

// Restore applies a record read back from the state topic. Records of rules
// no longer configured are ignored.
func (e *Engine) Restore(rec StateRecord) {
	name, subject, ok := strings.Cut(rec.Key, "/")
	if !ok {
		return
	}
	for _, r := range e.rules {
		if r.cfg.Name != name {
			continue
		}
		if rec.Value == "" {
			r.subjects.remove(subject)
			continue
		}
		s := r.subjects.get(subject)
		switch r.cfg.Type {
		case NewCountry:
			s.countries = strings.Split(rec.Value, ",")
		case InactiveLinkAccess:
			s.inactive = rec.Value
		}
	}
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)

// rule is one configured rule and its state.
type rule struct {
	cfg        Rule
	workspaces map[string]bool
	subjects   *lru
}

// state is what a rule keeps per subject; each type uses its part.
type state struct {
	// Counting rules: the events of the window, oldest first, at most
	// maxTracked; keys are the distinct files of mass_download.
	times []int64 // unix microseconds
	ids   []string
	keys  []string
	fired int // the count at the last alert of the current burst, 0 if none

	countries []string // new_country: the countries seen, in order
	inactive  string   // inactive_link_access: "revoked" or "expired"
	lastAlert int64    // inactive_link_access, impossible_travel: unix µs

	// impossible_travel: the visitor's last place.
	place place
	hops  []int64 // times of the impossible hops in the window
}

type place struct {
	at       int64 // unix µs; 0 none
	lat, lon float64
	radiusKM float64
	label    string // "Zürich, CH"
	id       string
}

// maxTracked bounds the events a counting rule keeps per subject.
func (r *rule) maxTracked() int { return max(8*r.cfg.Threshold, 64) }

func (r *rule) observe(ev *sharelog.Event, out *Output) {
	switch r.cfg.Type {
	case PasswordBruteForce:
		if ev.Action == sharelog.LinkPasswordFailed && ev.Link != nil {
			r.count(ev, "link:"+ev.Link.ID, "", out)
		}
	case BlockedBurst:
		if ev.Action != sharelog.AccessBlocked {
			return
		}
		if r.cfg.By == "workspace" {
			r.count(ev, "workspace:"+ev.Workspace.ID, "", out)
		} else if ev.Client.IP != "" {
			r.count(ev, "ip:"+ev.Client.IP, "", out)
		}
	case MassDownload:
		if ev.Action != sharelog.LinkDownloaded && ev.Action != sharelog.FileDownloaded || ev.Result != sharelog.Success || ev.File == nil {
			return
		}
		switch {
		case r.cfg.By == "session" && ev.Session != nil && ev.Session.LinkSessionID != "":
			r.count(ev, "session:"+ev.Session.LinkSessionID, ev.File.ID, out)
		case ev.Client.IP != "":
			r.count(ev, "ip:"+ev.Client.IP, ev.File.ID, out)
		}
	case NewCountry:
		r.newCountry(ev, out)
	case InactiveLinkAccess:
		r.inactiveLink(ev, out)
	case ImpossibleTravel:
		r.travel(ev, out)
	}
}

// count adds ev to the subject's window and raises an alert when the count
// reaches the threshold (mass_download: exceeds it), and again each time it
// grows by another threshold within the same burst, so that a message can
// show the running count. key, when set, counts distinct keys (files).
func (r *rule) count(ev *sharelog.Event, subject, key string, out *Output) {
	s := r.subjects.get(subject)
	now := ev.Time.UnixMicro()
	cut := now - r.cfg.Window.Microseconds()
	drop := 0
	for drop < len(s.times) && s.times[drop] <= cut {
		drop++
	}
	if i := slices.Index(s.keys, key); key != "" && i >= 0 {
		// A file downloaded again: it counts once, at its latest time.
		s.times = slices.Delete(s.times, i, i+1)
		s.ids = slices.Delete(s.ids, i, i+1)
		s.keys = slices.Delete(s.keys, i, i+1)
		if i < drop {
			drop--
		}
	}
	if over := len(s.times) - drop + 1 - r.maxTracked(); over > 0 {
		drop += over
	}
	if drop > 0 {
		s.times = append(s.times[:0], s.times[drop:]...)
		s.ids = append(s.ids[:0], s.ids[drop:]...)
		if key != "" {
			s.keys = append(s.keys[:0], s.keys[drop:]...)
		}
	}
	s.times = append(s.times, now)
	s.ids = append(s.ids, ev.ID)
	if key != "" {
		s.keys = append(s.keys, key)
	}
	n := len(s.times)
	limit := r.cfg.Threshold
	if r.cfg.Type == MassDownload {
		limit++ // more than Threshold files
	}
	switch {
	case n < limit:
		s.fired = 0
		return
	case s.fired != 0 && n < s.fired+r.cfg.Threshold:
		return
	}
	first := s.fired == 0
	s.fired = n
	a := r.alert(ev, subject, n, s.times[0], s.ids, r.summary(ev, subject, n))
	out.Alerts = append(out.Alerts, a)
	if first && r.cfg.Type == PasswordBruteForce && *r.cfg.Deactivate {
		out.Commands = append(out.Commands, deactivate(ev, a))
	}
}

func (r *rule) summary(ev *sharelog.Event, subject string, n int) string {
	w := sharelog.HumanDuration(r.cfg.Window)
	switch r.cfg.Type {
	case PasswordBruteForce:
		return fmt.Sprintf("%d wrong passwords on link %s within %s", n, ev.Link.ID, w)
	case BlockedBurst:
		return fmt.Sprintf("%d blocked accesses for %s within %s", n, subject, w)
	default: // MassDownload
		return fmt.Sprintf("%d files downloaded by one visitor (%s) within %s", n, subject, w)
	}
}

// accesses are the actions that are an attempt to use a link.
func access(a sharelog.Action) bool {
	switch a {
	case sharelog.LinkOpened, sharelog.LinkViewed, sharelog.LinkDownloaded, sharelog.LinkSaved:
		return true
	}
	return false
}

func (r *rule) newCountry(ev *sharelog.Event, out *Output) {
	if !access(ev.Action) || ev.Link == nil || ev.Geo == nil || ev.Geo.CountryCode == "" {
		return
	}
	s := r.subjects.get(ev.Link.ID)
	if slices.Contains(s.countries, ev.Geo.CountryCode) {
		return
	}
	before := slices.Clone(s.countries)
	if len(s.countries) < 300 { // more than there are countries: a bound, not a limit
		s.countries = append(s.countries, ev.Geo.CountryCode)
	}
	out.State = append(out.State, StateRecord{Key: r.cfg.Name + "/" + ev.Link.ID, Value: strings.Join(s.countries, ",")})
	if len(before) == 0 {
		return // a link's first country is not news
	}
	name := ev.Geo.CountryName
	if name == "" {
		name = ev.Geo.CountryCode
	}
	summary := fmt.Sprintf("first access to link %s from %s (%s); seen before: %s", ev.Link.ID, name, ev.Geo.CountryCode, strings.Join(before, ", "))
	out.Alerts = append(out.Alerts, r.alert(ev, "link:"+ev.Link.ID, 1, ev.Time.UnixMicro(), []string{ev.ID}, summary))
}

// inactiveReasons are the reasons the server gives for refusing a revoked or
// expired link.
var inactiveReasons = map[string]string{"revoked": "revoked", "link_revoked": "revoked", "expired": "expired", "link_expired": "expired"}

func (r *rule) inactiveLink(ev *sharelog.Event, out *Output) {
	if ev.Link == nil {
		return
	}
	key := r.cfg.Name + "/" + ev.Link.ID
	switch ev.Action {
	case sharelog.LinkRevoked, sharelog.LinkExpired:
		if ev.Result == sharelog.Success {
			s := r.subjects.get(ev.Link.ID)
			s.inactive = strings.TrimPrefix(string(ev.Action), "link.")
			out.State = append(out.State, StateRecord{Key: key, Value: s.inactive})
		}
		return
	case sharelog.LinkSettingsChanged:
		// An expiry moved into the future makes the link active again.
		if ev.Result == sharelog.Success && r.subjects.peek(ev.Link.ID) != nil && r.subjects.peek(ev.Link.ID).inactive == "expired" {
			r.subjects.remove(ev.Link.ID)
			out.State = append(out.State, StateRecord{Key: key})
		}
		return
	}
	if !access(ev.Action) && ev.Action != sharelog.LinkPasswordFailed && ev.Action != sharelog.AccessBlocked {
		return
	}
	why := inactiveReasons[ev.Reason]
	s := r.subjects.peek(ev.Link.ID)
	if why == "" && s != nil {
		why = s.inactive
	}
	if why == "" {
		return
	}
	if s == nil {
		s = r.subjects.get(ev.Link.ID)
	}
	now := ev.Time.UnixMicro()
	if s.lastAlert != 0 && now-s.lastAlert < r.cfg.Window.Microseconds() {
		return // one alert per link per window
	}
	s.lastAlert = now
	result := string(ev.Result)
	if ev.Reason != "" {
		result += ": " + ev.Reason
	}
	summary := fmt.Sprintf("access to %s link %s (%s, %s)", why, ev.Link.ID, ev.Action, result)
	out.Alerts = append(out.Alerts, r.alert(ev, "link:"+ev.Link.ID, 1, now, []string{ev.ID}, summary))
}

func (r *rule) travel(ev *sharelog.Event, out *Output) {
	email := ev.Actor.Email
	if email == "" {
		email = ev.Actor.VisitorEmail
	}
	if email == "" || ev.Geo == nil || ev.Geo.Latitude == nil || ev.Geo.Longitude == nil {
		return
	}
	subject := "visitor:" + strings.ToLower(email)
	s := r.subjects.get(subject)
	now := ev.Time.UnixMicro()
	label := ev.Geo.CountryCode
	if ev.Geo.City != "" {
		label = ev.Geo.City + ", " + label
	}
	here := place{at: now, lat: *ev.Geo.Latitude, lon: *ev.Geo.Longitude, radiusKM: float64(ev.Geo.AccuracyRadiusKM), label: label, id: ev.ID}
	last := s.place
	s.place = here
	window := r.cfg.Window.Microseconds()
	if last.at == 0 || abs(now-last.at) > window {
		return
	}
	km := distanceKM(last.lat, last.lon, here.lat, here.lon) - last.radiusKM - here.radiusKM
	if km < r.cfg.MinDistanceKM {
		return
	}
	hours := float64(abs(now-last.at)) / float64(time.Hour.Microseconds())
	speed := km / max(hours, 1.0/3600) // a second apart at least
	if speed <= r.cfg.MaxSpeedKMH {
		return
	}
	s.hops = slices.DeleteFunc(s.hops, func(t int64) bool { return now-t > window })
	s.hops = append(s.hops, now)
	gap := time.Duration(abs(now-last.at)) * time.Microsecond
	summary := fmt.Sprintf("%s seen in %s and in %s, %.0f km apart within %s (%.0f km/h)", email, last.label, here.label, km, sharelog.HumanDuration(gap), speed)
	out.Alerts = append(out.Alerts, r.alert(ev, subject, len(s.hops), min(last.at, now), []string{last.id, ev.ID}, summary))
}

// alert builds the alert.raised event for ev, the last piece of evidence.
func (r *rule) alert(ev *sharelog.Event, subject string, count int, since int64, ids []string, summary string) *sharelog.Event {
	a := *ev // the trigger's who, what, where
	a.ID = alertID(r.cfg.Name, subject, ev.ID)
	a.Action = sharelog.AlertRaised
	if len(ids) > MaxEvidence {
		ids = ids[len(ids)-MaxEvidence:]
	}
	a.Alert = &sharelog.Alert{
		Rule: r.cfg.Name, Type: r.cfg.Type, Severity: r.cfg.Severity, Action: ev.Action, Subject: subject,
		Count: count, WindowSeconds: int64(r.cfg.Window / time.Second), Since: time.UnixMicro(since).UTC(),
		Evidence: slices.Clone(ids), Summary: summary,
	}
	return &a
}

// alertID is the id of the alert a rule raises on a subject at an event: the
// same every time the same event is evaluated again (after a restart), so
// that receivers drop the repeat. It is a UUID (version 8, RFC 9562) made of
// a SHA-256 of the three.
func alertID(rule, subject, eventID string) string {
	h := sha256.Sum256([]byte(rule + "\x00" + subject + "\x00" + eventID))
	h[6] = h[6]&0x0f | 0x80
	h[8] = h[8]&0x3f | 0x80
	x := hex.EncodeToString(h[:16])
	return x[:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// lru is a bounded map of subjects to their state, the least recently used
// dropped first.
type lru struct {
	max int
	m   map[string]*list.Element
	l   *list.List // of *lruEntry, most recent first
}

type lruEntry struct {
	key string
	s   state
}

func newLRU(max int) *lru { return &lru{max: max, m: map[string]*list.Element{}, l: list.New()} }

// get returns the subject's state, made if missing, as the most recent.
func (c *lru) get(key string) *state {
	if el, ok := c.m[key]; ok {
		c.l.MoveToFront(el)
		return &el.Value.(*lruEntry).s
	}
	if c.l.Len() >= c.max {
		old := c.l.Back()
		c.l.Remove(old)
		delete(c.m, old.Value.(*lruEntry).key)
	}
	e := &lruEntry{key: key}
	c.m[key] = c.l.PushFront(e)
	return &e.s
}

// peek returns the subject's state or nil, without making it recent.
func (c *lru) peek(key string) *state {
	if el, ok := c.m[key]; ok {
		return &el.Value.(*lruEntry).s
	}
	return nil
}

func (c *lru) remove(key string) {
	if el, ok := c.m[key]; ok {
		c.l.Remove(el)
		delete(c.m, key)
	}
}

func (c *lru) len() int { return c.l.Len() }
