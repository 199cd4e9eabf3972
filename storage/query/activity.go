package query

import (
	"cmp"
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/sharelog/sharelog"
)

// Activity is the activity report of one share link over a time range: what
// GET /v1/links/{id}/activity returns. It is computed from the link's
// archived events in the workspaces of the scope, each event counted once
// however often it was archived.
//
// The report distinguishes three kinds of events of the link:
//
//   - Access events are a visitor's requests for the link: link.opened,
//     link.viewed, link.downloaded, link.saved and link.password_failed,
//     whatever their result. Visitors, sessions, countries, first and last
//     access, and the days are computed over them.
//   - Blocked attempts are access.blocked events on the link, whatever their
//     result, and the access events link.opened, link.viewed,
//     link.downloaded and link.saved whose result is denied or error (a
//     download refused by the download limit, an open of an expired link).
//     Such a refused event counts as blocked and not as an open, view,
//     download or save. A wrong password is not a blocked attempt: it is
//     counted in FailedPasswords only.
//   - Status events are link.created, link.revoked, link.expired and
//     link.deactivated, listed in Status so that an admin sees when the link
//     was made and when it became inactive.
//
// Other events of the link (link.settings_changed, file.* events naming the
// link) are not counted.
type Activity struct {
	LinkID string `json:"link_id"`
	// WorkspaceID is the workspace of the link's most recent event in range;
	// empty when the link has none.
	WorkspaceID string `json:"workspace_id"`
	// From (inclusive) and To (exclusive) are the range asked for; absent
	// when unbounded.
	From time.Time `json:"from,omitzero"`
	To   time.Time `json:"to,omitzero"`

	ActivityCounts

	// BlockedReasons breaks Blocked down by the event's reason, by count
	// descending then reason; an attempt without a reason counts under "".
	BlockedReasons []ReasonCount `json:"blocked_reasons"`
	// Countries counts access events by the client's country, by count
	// descending then code. Access events without a known country (no geo
	// group, or no code in it) are not counted here, so the counts add up to
	// at most the number of access events.
	Countries []CountryCount `json:"countries"`
	// FirstAccess and LastAccess are the times of the earliest and latest
	// access events; null when there are none.
	FirstAccess *time.Time `json:"first_access"`
	LastAccess  *time.Time `json:"last_access"`
	// Status lists the status events, oldest first.
	Status []StatusEvent `json:"status"`
	// Days has one entry per UTC day that has an access event or a blocked
	// attempt, oldest first. Days without either are left out, not listed
	// with zeros.
	Days []DayActivity `json:"days"`
}

// ActivityCounts are the counters of a report, over the whole range
// (Activity) or one day (DayActivity).
type ActivityCounts struct {
	// Opens, Views, Downloads and Saves count successful link.opened,
	// link.viewed, link.downloaded and link.saved events.
	Opens     int64 `json:"opens"`
	Views     int64 `json:"views"`
	Downloads int64 `json:"downloads"`
	Saves     int64 `json:"saves"`
	// FailedPasswords counts link.password_failed events.
	FailedPasswords int64 `json:"failed_passwords"`
	// Blocked counts blocked attempts (see Activity).
	Blocked int64 `json:"blocked"`
	// UniqueVisitors counts the distinct visitors of the access events: a
	// visitor is the visitor email, else the actor's email (either compared
	// without regard to case), else the client IP address. The same person
	// without an email from two addresses counts twice.
	UniqueVisitors int64 `json:"unique_visitors"`
	// Sessions counts the distinct session.link_session_id of the access
	// events; events without a session are not counted. On a day, a session
	// that spans midnight counts on both days, so the days' sessions and
	// visitors may add up to more than the range's.
	Sessions int64 `json:"sessions"`
}

// ReasonCount is the number of blocked attempts with one reason.
type ReasonCount struct {
	Reason string `json:"reason"`
	Count  int64  `json:"count"`
}

// CountryCount is the number of access events from one country.
type CountryCount struct {
	// Code is the ISO 3166-1 alpha-2 code, upper case.
	Code string `json:"code"`
	// Name is the country's name from the most recent event that has one;
	// empty when none has.
	Name  string `json:"name"`
	Count int64  `json:"count"`
}

// StatusEvent is one change of the link's state.
type StatusEvent struct {
	ID     string          `json:"id"`
	Time   time.Time       `json:"time"`
	Action sharelog.Action `json:"action"`
	// Result and Reason are the event's: a denied or failed revocation is
	// listed too, and did not make the link inactive.
	Result sharelog.Result `json:"result"`
	Reason string          `json:"reason,omitempty"`
	// Actor is who did it, as sharelog.Actor.Name gives it ("anonymous" for
	// an expiry the server made).
	Actor string `json:"actor"`
}

// DayActivity is the activity of one UTC day.
type DayActivity struct {
	// Date is the day, YYYY-MM-DD.
	Date string `json:"date"`
	ActivityCounts
}

// Activity returns the activity report of link over [from, to) in the
// workspaces of scope; a zero from or to leaves that side unbounded. It reads
// the link's events with Each, newest first.
//
// A link without events in range, in scope, is not an error: the report then
// has zero counters, empty lists and null first and last access, because the
// archive cannot tell a link nobody visited from one that does not exist, and
// a link outside the caller's scope must not be told apart from either. An
// empty link id, an empty scope or a bad range is an error naming the
// parameter; so is an error reading the archive, or ctx's error when it ends
// first.
//
// Memory grows with the number of distinct visitors and sessions (per day
// and over the range), not with the number of events.
func (e *Engine) Activity(ctx context.Context, scope []string, link string, from, to time.Time) (*Activity, error) {
	if link == "" {
		return nil, errors.New("link: a link id is required")
	}
	f := Filter{Workspaces: scope, Link: link, From: from, To: to}
	acc := newActivityAcc()
	rep := &Activity{LinkID: link, From: from, To: to}
	if _, err := e.Each(ctx, f, nil, func(ev *sharelog.Event) error {
		if rep.WorkspaceID == "" {
			rep.WorkspaceID = ev.Workspace.ID
		}
		acc.add(ev)
		return nil
	}); err != nil {
		return nil, err
	}
	acc.report(rep)
	return rep, nil
}

// activityAcc accumulates a report from events given in any order.
type activityAcc struct {
	total     activityDay
	days      map[string]*activityDay
	reasons   map[string]int64
	countries map[string]*CountryCount
	named     map[string]time.Time // time of the event each country's name is from
	first     time.Time
	last      time.Time
	status    []StatusEvent
}

// activityDay is the counters of a range or a day, with the sets behind the
// distinct counts.
type activityDay struct {
	ActivityCounts
	visitors map[string]struct{}
	sessions map[string]struct{}
}

func newActivityAcc() *activityAcc {
	return &activityAcc{
		total:     activityDay{visitors: map[string]struct{}{}, sessions: map[string]struct{}{}},
		days:      map[string]*activityDay{},
		reasons:   map[string]int64{},
		countries: map[string]*CountryCount{},
		named:     map[string]time.Time{},
	}
}

func (a *activityAcc) day(t time.Time) *activityDay {
	date := t.UTC().Format(time.DateOnly)
	d := a.days[date]
	if d == nil {
		d = &activityDay{visitors: map[string]struct{}{}, sessions: map[string]struct{}{}}
		a.days[date] = d
	}
	return d
}

func (a *activityAcc) add(ev *sharelog.Event) {
	switch ev.Action {
	case sharelog.LinkCreated, sharelog.LinkRevoked, sharelog.LinkExpired, sharelog.LinkDeactivated:
		a.status = append(a.status, StatusEvent{ID: ev.ID, Time: ev.Time, Action: ev.Action,
			Result: ev.Result, Reason: ev.Reason, Actor: ev.Actor.Name()})
		return
	case sharelog.AccessBlocked:
		a.blocked(ev)
		return
	case sharelog.LinkOpened, sharelog.LinkViewed, sharelog.LinkDownloaded, sharelog.LinkSaved, sharelog.LinkPasswordFailed:
	default:
		return
	}

	// An access event.
	d := a.day(ev.Time)
	if ev.Action == sharelog.LinkPasswordFailed {
		a.total.FailedPasswords++
		d.FailedPasswords++
	} else if ev.Result != sharelog.Success {
		a.blocked(ev)
	} else {
		for _, c := range [...]*ActivityCounts{&a.total.ActivityCounts, &d.ActivityCounts} {
			switch ev.Action {
			case sharelog.LinkOpened:
				c.Opens++
			case sharelog.LinkViewed:
				c.Views++
			case sharelog.LinkDownloaded:
				c.Downloads++
			case sharelog.LinkSaved:
				c.Saves++
			}
		}
	}
	v := visitorKey(ev)
	a.total.visitors[v] = struct{}{}
	d.visitors[v] = struct{}{}
	if ev.Session != nil && ev.Session.LinkSessionID != "" {
		a.total.sessions[ev.Session.LinkSessionID] = struct{}{}
		d.sessions[ev.Session.LinkSessionID] = struct{}{}
	}
	if ev.Geo != nil && ev.Geo.CountryCode != "" {
		code := strings.ToUpper(ev.Geo.CountryCode)
		c := a.countries[code]
		if c == nil {
			c = &CountryCount{Code: code}
			a.countries[code] = c
		}
		c.Count++
		if ev.Geo.CountryName != "" && (c.Name == "" || ev.Time.After(a.named[code])) {
			c.Name = ev.Geo.CountryName
			a.named[code] = ev.Time
		}
	}
	if a.first.IsZero() || ev.Time.Before(a.first) {
		a.first = ev.Time
	}
	if a.last.IsZero() || ev.Time.After(a.last) {
		a.last = ev.Time
	}
}

func (a *activityAcc) blocked(ev *sharelog.Event) {
	d := a.day(ev.Time)
	a.total.Blocked++
	d.Blocked++
	a.reasons[ev.Reason]++
}

func (a *activityAcc) report(rep *Activity) {
	rep.ActivityCounts = a.total.counts()
	rep.BlockedReasons = make([]ReasonCount, 0, len(a.reasons))
	for r, n := range a.reasons {
		rep.BlockedReasons = append(rep.BlockedReasons, ReasonCount{Reason: r, Count: n})
	}
	slices.SortFunc(rep.BlockedReasons, func(x, y ReasonCount) int {
		return cmp.Or(cmp.Compare(y.Count, x.Count), cmp.Compare(x.Reason, y.Reason))
	})
	rep.Countries = make([]CountryCount, 0, len(a.countries))
	for _, c := range a.countries {
		rep.Countries = append(rep.Countries, *c)
	}
	slices.SortFunc(rep.Countries, func(x, y CountryCount) int {
		return cmp.Or(cmp.Compare(y.Count, x.Count), cmp.Compare(x.Code, y.Code))
	})
	if !a.first.IsZero() {
		first, last := a.first, a.last
		rep.FirstAccess, rep.LastAccess = &first, &last
	}
	rep.Status = slices.Clone(a.status)
	if rep.Status == nil {
		rep.Status = []StatusEvent{}
	}
	slices.SortStableFunc(rep.Status, func(x, y StatusEvent) int {
		return cmp.Or(x.Time.Compare(y.Time), cmp.Compare(x.ID, y.ID))
	})
	rep.Days = make([]DayActivity, 0, len(a.days))
	for date, d := range a.days {
		rep.Days = append(rep.Days, DayActivity{Date: date, ActivityCounts: d.counts()})
	}
	slices.SortFunc(rep.Days, func(x, y DayActivity) int { return cmp.Compare(x.Date, y.Date) })
}

func (d *activityDay) counts() ActivityCounts {
	c := d.ActivityCounts
	c.UniqueVisitors = int64(len(d.visitors))
	c.Sessions = int64(len(d.sessions))
	return c
}

// visitorKey identifies the visitor of an access event (see
// ActivityCounts.UniqueVisitors). Emails and addresses are kept apart by a
// prefix, so an address never equals an email.
func visitorKey(ev *sharelog.Event) string {
	if email := cmp.Or(ev.Actor.VisitorEmail, ev.Actor.Email); email != "" {
		return "email:" + strings.ToLower(email)
	}
	return "ip:" + canonicalIP(ev.Client.IP)
}

// canonicalIP returns ip in its canonical text form (an IPv4-mapped IPv6
// address as IPv4), or ip itself when it does not parse.
func canonicalIP(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	return a.Unmap().WithZone("").String()
}
