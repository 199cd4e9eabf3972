package rules

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sharelog/sharelog"
)

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// ev makes an enriched event at t0+sec on a link.
func ev(i int, sec float64, action sharelog.Action, link string) *sharelog.Event {
	e := &sharelog.Event{
		ID:        fmt.Sprintf("0193a1b2-c3d4-7e5f-8a9b-%012d", i),
		Time:      t0.Add(time.Duration(sec * float64(time.Second))),
		Workspace: sharelog.Workspace{ID: "ws-acme"},
		Actor:     sharelog.Actor{Type: sharelog.ActorAnonymous},
		Action:    action,
		Result:    sharelog.Success,
		Client:    sharelog.Client{IP: "203.0.113.7", Kind: sharelog.ClientBrowser},
		Geo:       &sharelog.Geo{CountryCode: "CH", CountryName: "Switzerland", City: "Zürich"},
	}
	if link != "" {
		e.Link = &sharelog.Link{ID: link}
	}
	if action == sharelog.LinkPasswordFailed {
		e.Result, e.Reason = sharelog.Denied, "wrong_password"
	}
	return e
}

func engine(t testing.TB, rs ...Rule) *Engine {
	t.Helper()
	for i := range rs {
		rs[i].SetDefaults()
	}
	e, err := New(rs)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestPasswordBruteForce(t *testing.T) {
	e := engine(t, Rule{Type: PasswordBruteForce, Threshold: 5, Window: 5 * time.Minute, Severity: sharelog.SeverityHigh})
	var alerts []*sharelog.Event
	var cmds []Command
	// 4 failures, then a gap longer than the window: nothing.
	for i := range 4 {
		out := e.Observe(ev(i, float64(i), sharelog.LinkPasswordFailed, "lk_1"))
		alerts, cmds = append(alerts, out.Alerts...), append(cmds, out.Commands...)
	}
	// 5 within the window on lk_2 interleaved with other links and actions.
	for i := range 12 {
		e.Observe(ev(100+i, 10, sharelog.LinkOpened, "lk_2"))
		out := e.Observe(ev(200+i, 400+float64(i)*10, sharelog.LinkPasswordFailed, "lk_2"))
		alerts, cmds = append(alerts, out.Alerts...), append(cmds, out.Commands...)
	}
	out := e.Observe(ev(300, 402, sharelog.LinkPasswordFailed, "lk_1")) // lk_1's old ones are out of the window
	alerts = append(alerts, out.Alerts...)
	// Fired at 5 and again at 10 (the running count), one command.
	if len(alerts) != 2 || alerts[0].Alert.Count != 5 || alerts[1].Alert.Count != 10 {
		t.Fatalf("alerts %v", summaries(alerts))
	}
	a := alerts[0]
	if a.Action != sharelog.AlertRaised || a.Alert.Subject != "link:lk_2" || a.Alert.Severity != sharelog.SeverityHigh ||
		a.Alert.WindowSeconds != 300 || a.Link.ID != "lk_2" || a.Geo.City != "Zürich" || !a.Alert.Since.Equal(t0.Add(400*time.Second)) ||
		strings.Join(a.Alert.Evidence, ",") != strings.Join(ids(200, 205), ",") || a.Alert.Summary != "5 wrong passwords on link lk_2 within 5 min" {
		t.Fatalf("alert %+v %+v", a, a.Alert)
	}
	if len(cmds) != 1 || cmds[0].Type != "link.deactivate" || cmds[0].Link != "lk_2" || cmds[0].AlertID != a.ID || cmds[0].Workspace != "ws-acme" {
		t.Fatalf("commands %+v", cmds)
	}
	// Evaluated again (a restart), the same event raises the same alert id.
	again := engine(t, Rule{Type: PasswordBruteForce, Threshold: 5, Window: 5 * time.Minute, Severity: sharelog.SeverityHigh})
	var id string
	for i := range 5 {
		if out := again.Observe(ev(200+i, 400+float64(i)*10, sharelog.LinkPasswordFailed, "lk_2")); len(out.Alerts) > 0 {
			id = out.Alerts[0].ID
		}
	}
	if id != a.ID {
		t.Fatalf("alert id %s, then %s", a.ID, id)
	}
	// deactivate: false emits no command.
	off := false
	e = engine(t, Rule{Type: PasswordBruteForce, Threshold: 1, Deactivate: &off})
	if out := e.Observe(ev(1, 0, sharelog.LinkPasswordFailed, "lk_1")); len(out.Alerts) != 1 || len(out.Commands) != 0 {
		t.Fatalf("%+v", out)
	}
}

func ids(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("0193a1b2-c3d4-7e5f-8a9b-%012d", i))
	}
	return out
}

func summaries(alerts []*sharelog.Event) []string {
	var out []string
	for _, a := range alerts {
		out = append(out, fmt.Sprintf("%s %d %s", a.Alert.Subject, a.Alert.Count, a.Alert.Summary))
	}
	return out
}

func TestNewCountry(t *testing.T) {
	e := engine(t, Rule{Type: NewCountry})
	var got []*sharelog.Event
	var state []StateRecord
	for i, cc := range []string{"CH", "CH", "DE", "CH", "DE", "BR"} {
		x := ev(i, float64(i), sharelog.LinkOpened, "lk_1")
		x.Geo = &sharelog.Geo{CountryCode: cc, CountryName: map[string]string{"CH": "Switzerland", "DE": "Germany", "BR": "Brazil"}[cc]}
		out := e.Observe(x)
		got, state = append(got, out.Alerts...), append(state, out.State...)
	}
	// Another link is independent; a non-access action never counts.
	e.Observe(ev(10, 10, sharelog.LinkOpened, "lk_2"))
	x := ev(11, 11, sharelog.LinkCreated, "lk_1")
	x.Geo.CountryCode = "FR"
	if out := e.Observe(x); !out.Empty() {
		t.Fatal("link.created counted as an access")
	}
	if len(got) != 2 || got[0].Alert.Summary != "first access to link lk_1 from Germany (DE); seen before: CH" || got[1].Alert.Subject != "link:lk_1" ||
		!strings.Contains(got[1].Alert.Summary, "Brazil (BR); seen before: CH, DE") {
		t.Fatalf("%v", summaries(got))
	}
	if len(state) != 3 || state[2] != (StateRecord{Key: "new_country/lk_1", Value: "CH,DE,BR"}) {
		t.Fatalf("state %+v", state)
	}
	// A new engine restored from the state raises nothing for known
	// countries and an alert for a new one.
	r := engine(t, Rule{Type: NewCountry})
	for _, s := range state {
		r.Restore(s)
	}
	x = ev(20, 20, sharelog.LinkDownloaded, "lk_1")
	x.Geo.CountryCode = "BR"
	if out := r.Observe(x); len(out.Alerts) != 0 {
		t.Fatal("a known country alerted after restore")
	}
	x.Geo.CountryCode = "JP"
	if out := r.Observe(x); len(out.Alerts) != 1 {
		t.Fatal("a new country after restore did not alert")
	}
}

func TestMassDownload(t *testing.T) {
	e := engine(t, Rule{Type: MassDownload, Threshold: 3, Window: time.Minute})
	var got []*sharelog.Event
	dl := func(i int, sec float64, file, session string) {
		x := ev(i, sec, sharelog.LinkDownloaded, "lk_1")
		x.File = &sharelog.File{ID: file}
		x.Session = &sharelog.Session{LinkSessionID: session}
		got = append(got, e.Observe(x).Alerts...)
	}
	// The same file again and again is one file.
	for i := range 10 {
		dl(i, float64(i), "f1", "ls_a")
	}
	dl(20, 11, "f2", "ls_a")
	dl(21, 12, "f3", "ls_a")
	dl(22, 13, "f1", "ls_b") // another visitor
	if len(got) != 0 {
		t.Fatalf("alerted on 3 files: %v", summaries(got))
	}
	dl(23, 14, "f4", "ls_a") // the 4th distinct file: more than 3
	if len(got) != 1 || got[0].Alert.Subject != "session:ls_a" || got[0].Alert.Count != 4 {
		t.Fatalf("%v", summaries(got))
	}
	// Out of the window, the count starts again.
	dl(24, 200, "f5", "ls_a")
	if len(got) != 1 {
		t.Fatal("alerted after the window")
	}
	// by: ip
	e = engine(t, Rule{Type: MassDownload, Threshold: 1, Window: time.Minute, By: "ip"})
	got = nil
	dl(1, 0, "f1", "ls_a")
	dl(2, 1, "f2", "ls_b")
	if len(got) != 1 || got[0].Alert.Subject != "ip:203.0.113.7" {
		t.Fatalf("%v", summaries(got))
	}
}

func TestBlockedBurst(t *testing.T) {
	for _, by := range []string{"ip", "workspace"} {
		e := engine(t, Rule{Type: BlockedBurst, Threshold: 4, Window: 10 * time.Second, By: by})
		var got []*sharelog.Event
		for i := range 8 {
			x := ev(i, float64(i)*4, sharelog.AccessBlocked, "") // 4 within 10 s never happen: one every 4 s
			x.Result, x.Reason = sharelog.Denied, "ip_blocked"
			x.Client.IP = fmt.Sprintf("198.51.100.%d", i%2)
			got = append(got, e.Observe(x).Alerts...)
		}
		for i := range 4 {
			x := ev(100+i, 100+float64(i), sharelog.AccessBlocked, "")
			x.Result, x.Reason = sharelog.Denied, "ip_blocked"
			got = append(got, e.Observe(x).Alerts...)
		}
		want := map[string]string{"ip": "ip:203.0.113.7", "workspace": "workspace:ws-acme"}[by]
		if len(got) != 1 || got[0].Alert.Subject != want || got[0].Alert.Count != 4 {
			t.Fatalf("by %s: %v", by, summaries(got))
		}
	}
}

func TestInactiveLinkAccess(t *testing.T) {
	e := engine(t, Rule{Type: InactiveLinkAccess, Window: time.Hour})
	var got []*sharelog.Event
	var state []StateRecord
	obs := func(x *sharelog.Event) {
		out := e.Observe(x)
		got, state = append(got, out.Alerts...), append(state, out.State...)
	}
	obs(ev(1, 0, sharelog.LinkOpened, "lk_1"))
	obs(ev(2, 1, sharelog.LinkRevoked, "lk_1"))
	obs(ev(3, 2, sharelog.LinkOpened, "lk_1")) // after revocation, even if the server let it through
	obs(ev(4, 3, sharelog.LinkOpened, "lk_1")) // within the hour: no second alert
	x := ev(5, 4, sharelog.LinkDownloaded, "lk_2")
	x.Result, x.Reason = sharelog.Denied, "expired" // the server's own refusal
	obs(x)
	if len(got) != 2 || got[0].Alert.Summary != "access to revoked link lk_1 (link.opened, success)" ||
		got[1].Alert.Summary != "access to expired link lk_2 (link.downloaded, denied: expired)" {
		t.Fatalf("%v", summaries(got))
	}
	if len(state) != 1 || state[0] != (StateRecord{Key: "inactive_link_access/lk_1", Value: "revoked"}) {
		t.Fatalf("%+v", state)
	}
	r := engine(t, Rule{Type: InactiveLinkAccess, Window: time.Hour})
	r.Restore(state[0])
	if out := r.Observe(ev(6, 3600*2, sharelog.LinkViewed, "lk_1")); len(out.Alerts) != 1 {
		t.Fatal("restored revocation not seen")
	}
}

func TestImpossibleTravel(t *testing.T) {
	e := engine(t, Rule{Type: ImpossibleTravel})
	at := func(i int, sec float64, lat, lon float64, city, cc string) []*sharelog.Event {
		x := ev(i, sec, sharelog.LinkOpened, "lk_1")
		x.Actor = sharelog.Actor{Type: sharelog.ActorAnonymous, VisitorEmail: "Ana@Example.com"}
		x.Geo = &sharelog.Geo{CountryCode: cc, City: city, Latitude: &lat, Longitude: &lon, AccuracyRadiusKM: 20}
		return e.Observe(x).Alerts
	}
	var got []*sharelog.Event
	got = append(got, at(1, 0, 47.37, 8.54, "Zürich", "CH")...)
	got = append(got, at(2, 3600, 48.86, 2.35, "Paris", "FR")...)             // 490 km in an hour: plausible
	got = append(got, at(3, 3600+1800, -23.55, -46.63, "São Paulo", "BR")...) // 9,400 km in 30 min
	if len(got) != 1 {
		t.Fatalf("%v", summaries(got))
	}
	a := got[0].Alert
	if a.Subject != "visitor:ana@example.com" || strings.Join(a.Evidence, ",") != strings.Join(ids(2, 4), ",") ||
		!strings.Contains(a.Summary, "seen in Paris, FR and in São Paulo, BR") || !strings.Contains(a.Summary, "within 30 min") {
		t.Fatalf("%+v", a)
	}
	// Far apart but days later: fine.
	if got := at(4, 3*86400, 35.68, 139.69, "Tokyo", "JP"); len(got) != 0 {
		t.Fatal("alerted across days")
	}
}

func TestStateIsBounded(t *testing.T) {
	e := engine(t, Rule{Type: PasswordBruteForce, Threshold: 1000, MaxSubjects: 50})
	for i := range 10_000 {
		e.Observe(ev(i, float64(i)/100, sharelog.LinkPasswordFailed, fmt.Sprintf("lk_%d", i%500)))
	}
	if n := e.Tracked(); n != 50 {
		t.Fatalf("tracking %d subjects, bound 50", n)
	}
	// Per subject, the window keeps at most 8×threshold events.
	e = engine(t, Rule{Type: PasswordBruteForce, Threshold: 10})
	for i := range 5000 {
		e.Observe(ev(i, float64(i)/1000, sharelog.LinkPasswordFailed, "lk_1"))
	}
	if s := e.rules[0].subjects.peek("link:lk_1"); len(s.times) != 80 {
		t.Fatalf("%d events kept", len(s.times))
	}
}

func TestValidate(t *testing.T) {
	rs := []Rule{{Type: "nope"}, {Type: MassDownload, By: "workspace", Threshold: -1}, {Type: NewCountry, Name: "Bad Name"}, {Type: NewCountry}, {Type: NewCountry}}
	for i := range rs {
		rs[i].SetDefaults()
	}
	err := ValidateAll(rs)
	for _, want := range []string{`rules[0].type: "nope" is not a rule type`, `rules[1].threshold: -1 must be at least 1`,
		`rules[1].by: "workspace" must be session or ip`, `rules[2].name: "Bad Name" must be`, `rules[4].name: "new_country" is already the name of rules[3]`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in\n%v", want, err)
		}
	}
	if err := ValidateAll(Defaults()); err != nil {
		t.Fatal(err)
	}
}
