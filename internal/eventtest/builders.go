package eventtest

import (
	"fmt"
	"time"

	sharelog "github.com/sharelog/sharelog"
)

// Base is the time of event 0 of Event: 2026-11-22T09:00:00Z.
var Base = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)

// ID returns the UUID of event number n: 0193a1b2-c3d4-7e5f-8a9b- and n as
// 12 decimal digits, so that ids sort as their numbers.
func ID(n int) string { return fmt.Sprintf("0193a1b2-c3d4-7e5f-8a9b-%012d", n) }

// Option changes an event that Event builds.
type Option func(*sharelog.Event)

// Event returns raw event number n, valid as it is: link.opened of link
// "lnk-1" in workspace "ws-test" by an anonymous visitor from 192.0.2.1
// with a browser, n seconds after Base, its id ID(n); then each option
// applied in order. The tests of every package build their events here, so
// that a change of the schema is made in one place.
func Event(n int, opts ...Option) *sharelog.Event {
	ev := &sharelog.Event{
		ID: ID(n), Time: Base.Add(time.Duration(n) * time.Second),
		Workspace: sharelog.Workspace{ID: "ws-test"}, Actor: sharelog.Actor{Type: sharelog.ActorAnonymous},
		Action: sharelog.LinkOpened, Result: sharelog.Success, Link: &sharelog.Link{ID: "lnk-1"},
		Client: sharelog.Client{IP: "192.0.2.1", Kind: sharelog.ClientBrowser},
	}
	for _, o := range opts {
		o(ev)
	}
	return ev
}

// Workspace sets the workspace id and name ("" leaves no name).
func Workspace(id, name string) Option {
	return func(ev *sharelog.Event) { ev.Workspace = sharelog.Workspace{ID: id, Name: name} }
}

// At sets the time.
func At(t time.Time) Option { return func(ev *sharelog.Event) { ev.Time = t } }

// Action sets the action; a file.* action gets file "f-1" (a.pdf) if the
// event has none.
func Action(a sharelog.Action) Option {
	return func(ev *sharelog.Event) {
		ev.Action = a
		if len(a) > 5 && a[:5] == "file." && ev.File == nil {
			ev.File = &sharelog.File{ID: "f-1", Name: "a.pdf"}
		}
	}
}

// Link sets the link id; "" removes the link.
func Link(id string) Option {
	return func(ev *sharelog.Event) {
		ev.Link = nil
		if id != "" {
			ev.Link = &sharelog.Link{ID: id}
		}
	}
}

// User makes the actor the user of email.
func User(email string) Option {
	return func(ev *sharelog.Event) { ev.Actor = sharelog.Actor{Type: sharelog.ActorUser, Email: email} }
}

// Visitor gives the anonymous actor a visitor email.
func Visitor(email string) Option { return func(ev *sharelog.Event) { ev.Actor.VisitorEmail = email } }

// Client sets the client's address and user agent.
func Client(ip, userAgent string) Option {
	return func(ev *sharelog.Event) { ev.Client.IP, ev.Client.UserAgent = ip, userAgent }
}

// File sets the file.
func File(id, name string, size int64) Option {
	return func(ev *sharelog.Event) { ev.File = &sharelog.File{ID: id, Name: name, Size: size} }
}

// Result sets the result and its reason.
func Result(r sharelog.Result, reason string) Option {
	return func(ev *sharelog.Event) { ev.Result, ev.Reason = r, reason }
}

// Country adds a geo group with the country code and name.
func Country(code, name string) Option {
	return func(ev *sharelog.Event) { ev.Geo = &sharelog.Geo{CountryCode: code, CountryName: name} }
}

// LinkSession adds a session group with the link session id.
func LinkSession(id string) Option {
	return func(ev *sharelog.Event) { ev.Session = &sharelog.Session{LinkSessionID: id, Seq: 1} }
}

// Raised returns the alert.raised event a new_country rule would make of
// ev: a copy with its own id, the alert's subject the link (else the IP),
// ev as the one piece of evidence, and a summary built from ev's own
// strings, so that hostile text reaches the alert's renderers too.
func Raised(ev *sharelog.Event) *sharelog.Event {
	a := *ev
	a.ID = "0193a1b2-c3d4-8e5f-8a9b-00000000a1e7"
	a.Action = sharelog.AlertRaised
	subject, where, file := "ip:"+ev.Client.IP, "", "none"
	if ev.Link != nil {
		subject = "link:" + ev.Link.ID
	}
	if ev.Geo != nil {
		where = ev.Geo.City + ", " + ev.Geo.CountryCode
	}
	if ev.File != nil {
		file = ev.File.Name
	}
	a.Alert = &sharelog.Alert{
		Rule: "new-country", Type: "new_country", Severity: sharelog.SeverityHigh, Action: ev.Action, Subject: subject,
		Count: 1, WindowSeconds: 300, Since: ev.Time.Add(-time.Minute), Evidence: []string{ev.ID},
		Summary: fmt.Sprintf("first access to %s by %s from %s (%s); file %s", subject, ev.Actor.Name(), where, ev.Client.UserAgent, file),
	}
	return &a
}
