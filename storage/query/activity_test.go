package query_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/internal/eventtest"
	"github.com/sharelog/sharelog/storage/archive"
	"github.com/sharelog/sharelog/storage/query"
)

var (
	actDay1 = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	actDay2 = time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
)

// actEvent is a raw event that passes Validate: n makes its id, who is an
// email ("alice@…"), "visitor:<email>" for an anonymous visitor who typed
// one, or "" for an anonymous visitor.
func actEvent(t *testing.T, n int, ws, link string, action sharelog.Action, at time.Time, who, ip string, result sharelog.Result, reason string) *sharelog.Event {
	t.Helper()
	ev := eventtest.Event(n, eventtest.Workspace(ws, "Workspace "+ws), eventtest.Link(link), eventtest.Action(action), eventtest.At(at),
		eventtest.Client(ip, ""), eventtest.Result(result, reason))
	if email, ok := strings.CutPrefix(who, "visitor:"); ok {
		ev.Actor.VisitorEmail = email
	} else if who != "" {
		eventtest.User(who)(ev)
	}
	if err := ev.Validate(); err != nil {
		t.Fatalf("event %d: %v", n, err)
	}
	return ev
}

// actEnrich adds what the enrich workers would: a country (code, name) when
// code is not empty and a session when session is not empty.
func actEnrich(ev *sharelog.Event, code, name, session string) *sharelog.Event {
	if code != "" {
		eventtest.Country(code, name)(ev)
	}
	if session != "" {
		eventtest.LinkSession(session)(ev)
	}
	return ev
}

// actWrite writes events to the archive under root, one file per partition
// per call.
func actWrite(t *testing.T, root string, events ...*sharelog.Event) {
	t.Helper()
	byDir := map[string][]*sharelog.Event{}
	var dirs []string
	for _, ev := range events {
		dir, err := archive.PartitionDir(root, ev.Workspace.ID, ev.Time)
		if err != nil {
			t.Fatal(err)
		}
		if byDir[dir] == nil {
			dirs = append(dirs, dir)
		}
		byDir[dir] = append(byDir[dir], ev)
	}
	for _, dir := range dirs {
		if _, _, err := archive.WriteFile(dir, byDir[dir], archive.Options{}); err != nil {
			t.Fatal(err)
		}
	}
}

// actArchive writes the test archive: the events of link lnk-1 in ws-a over
// two days, repeats of two of them in separate files, an event of the same
// link id in ws-b and an event of another link.
func actArchive(t *testing.T) string {
	t.Helper()
	const (
		ok     = sharelog.Success
		denied = sharelog.Denied
	)
	h := func(d time.Time, hh, mm int) time.Time {
		return d.Add(time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute)
	}
	a := func(n int, action sharelog.Action, at time.Time, who, ip string, result sharelog.Result, reason string) *sharelog.Event {
		return actEvent(t, n, "ws-a", "lnk-1", action, at, who, ip, result, reason)
	}
	alice, bob, owner := "visitor:alice@ext.example", "bob@corp.example", "owner@corp.example"
	ev3 := actEnrich(a(3, sharelog.LinkViewed, h(actDay1, 10, 1), alice, "203.0.113.5", ok, ""), "CH", "Switzerland", "s1")
	ev9 := actEnrich(a(9, sharelog.LinkDownloaded, h(actDay2, 8, 5), bob, "203.0.113.9", denied, "download_limit"), "CH", "Schweiz", "s3")
	root := t.TempDir()
	actWrite(t, root,
		a(1, sharelog.LinkCreated, h(actDay1, 9, 0), owner, "192.0.2.1", ok, ""),
		actEnrich(a(2, sharelog.LinkOpened, h(actDay1, 10, 0), alice, "203.0.113.5", ok, ""), "CH", "Switzerland", "s1"),
		ev3,
		actEnrich(a(4, sharelog.LinkDownloaded, h(actDay1, 10, 2), alice, "203.0.113.5", ok, ""), "CH", "Switzerland", "s1"),
		actEnrich(a(5, sharelog.LinkPasswordFailed, h(actDay1, 11, 0), "", "198.51.100.7", denied, "wrong_password"), "DE", "Germany", "s2"),
		actEnrich(a(6, sharelog.LinkOpened, h(actDay1, 11, 1), "", "198.51.100.7", ok, ""), "DE", "Germany", "s2"),
		actEnrich(a(7, sharelog.AccessBlocked, h(actDay1, 12, 0), "", "192.0.2.99", denied, "ip_blocked"), "US", "United States", ""),
		a(17, sharelog.FileDownloaded, h(actDay1, 13, 0), owner, "192.0.2.1", ok, ""),
		actEnrich(a(8, sharelog.LinkOpened, h(actDay2, 8, 0), bob, "203.0.113.9", ok, ""), "CH", "Schweiz", "s3"),
		ev9,
		actEnrich(a(10, sharelog.LinkSaved, h(actDay2, 8, 6), "visitor:ALICE@ext.example", "203.0.113.77", ok, ""), "FR", "France", "s4"),
		a(11, sharelog.LinkSettingsChanged, h(actDay2, 9, 0), owner, "192.0.2.1", ok, ""),
		a(12, sharelog.LinkRevoked, h(actDay2, 10, 0), owner, "192.0.2.1", ok, ""),
		a(13, sharelog.LinkOpened, h(actDay2, 10, 30), "", "203.0.113.5", denied, "revoked"),
		actEnrich(a(14, sharelog.LinkViewed, actDay2.Add(24*time.Hour-time.Microsecond), "", "::ffff:198.51.100.7", ok, ""), "de", "Germany", "s5"),
	)
	// Redeliveries archived again, in files of their own.
	actWrite(t, root, ev3, ev9)
	// The same link id in another workspace, and another link.
	actWrite(t, root,
		actEnrich(actEvent(t, 20, "ws-b", "lnk-1", sharelog.LinkOpened, h(actDay1, 10, 30), "carol@b.example", "192.0.2.50", ok, ""), "CH", "Switzerland", "s9"),
		actEnrich(actEvent(t, 21, "ws-a", "lnk-2", sharelog.LinkOpened, h(actDay1, 10, 30), alice, "203.0.113.5", ok, ""), "CH", "Switzerland", "s7"),
	)
	return root
}

func actPtr[T any](v T) *T { return &v }

func TestActivity(t *testing.T) {
	root := actArchive(t)
	e := query.New(root)
	ctx := context.Background()

	got, err := e.Activity(ctx, []string{"ws-a"}, "lnk-1", time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	want := &query.Activity{
		LinkID:      "lnk-1",
		WorkspaceID: "ws-a",
		ActivityCounts: query.ActivityCounts{
			Opens: 3, Views: 2, Downloads: 1, Saves: 1, FailedPasswords: 1, Blocked: 3,
			// alice (any case), 198.51.100.7 (also as ::ffff:…), bob, 203.0.113.5 without email.
			UniqueVisitors: 4,
			Sessions:       5, // s1 … s5
		},
		BlockedReasons: []query.ReasonCount{{"download_limit", 1}, {"ip_blocked", 1}, {"revoked", 1}},
		Countries:      []query.CountryCount{{"CH", "Schweiz", 5}, {"DE", "Germany", 3}, {"FR", "France", 1}},
		FirstAccess:    actPtr(actDay1.Add(10 * time.Hour)),
		LastAccess:     actPtr(actDay2.Add(24*time.Hour - time.Microsecond)),
		Status: []query.StatusEvent{
			{ID: "0193a1b2-c3d4-7e5f-8a9b-000000000001", Time: actDay1.Add(9 * time.Hour), Action: sharelog.LinkCreated, Result: sharelog.Success, Actor: "owner@corp.example"},
			{ID: "0193a1b2-c3d4-7e5f-8a9b-000000000012", Time: actDay2.Add(10 * time.Hour), Action: sharelog.LinkRevoked, Result: sharelog.Success, Actor: "owner@corp.example"},
		},
		Days: []query.DayActivity{
			{Date: "2026-11-20", ActivityCounts: query.ActivityCounts{Opens: 2, Views: 1, Downloads: 1, FailedPasswords: 1, Blocked: 1, UniqueVisitors: 2, Sessions: 2}},
			{Date: "2026-11-21", ActivityCounts: query.ActivityCounts{Opens: 1, Views: 1, Saves: 1, Blocked: 2, UniqueVisitors: 4, Sessions: 3}},
		},
	}
	actCompare(t, got, want)

	// Both workspaces in scope: carol's open in ws-b counts too.
	got, err = e.Activity(ctx, []string{"ws-a", "ws-b"}, "lnk-1", time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	want.Opens, want.UniqueVisitors, want.Sessions = 4, 5, 6
	want.Countries[0].Count = 6
	want.FirstAccess = actPtr(actDay1.Add(10 * time.Hour)) // carol came at 10:30
	want.Days[0].Opens, want.Days[0].UniqueVisitors, want.Days[0].Sessions = 3, 3, 3
	actCompare(t, got, want)

	// Only ws-b.
	got, err = e.Activity(ctx, []string{"ws-b"}, "lnk-1", time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	at := actDay1.Add(10*time.Hour + 30*time.Minute)
	actCompare(t, got, &query.Activity{
		LinkID: "lnk-1", WorkspaceID: "ws-b",
		ActivityCounts: query.ActivityCounts{Opens: 1, UniqueVisitors: 1, Sessions: 1},
		BlockedReasons: []query.ReasonCount{},
		Countries:      []query.CountryCount{{"CH", "Switzerland", 1}},
		FirstAccess:    &at, LastAccess: &at,
		Status: []query.StatusEvent{},
		Days: []query.DayActivity{{Date: "2026-11-20", ActivityCounts: query.ActivityCounts{
			Opens: 1, UniqueVisitors: 1, Sessions: 1}}},
	})
}

// TestActivityRange checks the bounds (to is exclusive: the revocation at
// 10:00 is out) and the JSON names.
func TestActivityRange(t *testing.T) {
	e := query.New(actArchive(t))
	from, to := actDay2, actDay2.Add(10*time.Hour)
	got, err := e.Activity(context.Background(), []string{"ws-a"}, "lnk-1", from, to)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"link_id":"lnk-1","workspace_id":"ws-a","from":"2026-11-21T00:00:00Z","to":"2026-11-21T10:00:00Z",` +
		`"opens":1,"views":0,"downloads":0,"saves":1,"failed_passwords":0,"blocked":1,"unique_visitors":2,"sessions":2,` +
		`"blocked_reasons":[{"reason":"download_limit","count":1}],` +
		`"countries":[{"code":"CH","name":"Schweiz","count":2},{"code":"FR","name":"France","count":1}],` +
		`"first_access":"2026-11-21T08:00:00Z","last_access":"2026-11-21T08:06:00Z","status":[],` +
		`"days":[{"date":"2026-11-21","opens":1,"views":0,"downloads":0,"saves":1,"failed_passwords":0,"blocked":1,"unique_visitors":2,"sessions":2}]}`
	if string(b) != want {
		t.Errorf("got\n%s\nwant\n%s", b, want)
	}
}

func TestActivityUnknownLink(t *testing.T) {
	e := query.New(actArchive(t))
	for _, tc := range []struct {
		scope []string
		link  string
	}{
		{[]string{"ws-a"}, "lnk-none"},
		{[]string{"ws-c"}, "lnk-1"}, // a workspace without events
	} {
		got, err := e.Activity(context.Background(), tc.scope, tc.link, time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(got)
		want := `{"link_id":"` + tc.link + `","workspace_id":"","opens":0,"views":0,"downloads":0,"saves":0,"failed_passwords":0,"blocked":0,"unique_visitors":0,"sessions":0,` +
			`"blocked_reasons":[],"countries":[],"first_access":null,"last_access":null,"status":[],"days":[]}`
		if string(b) != want {
			t.Errorf("%v %s: got\n%s\nwant\n%s", tc.scope, tc.link, b, want)
		}
	}
}

func TestActivityErrors(t *testing.T) {
	e := query.New(t.TempDir())
	ctx := context.Background()
	if _, err := e.Activity(ctx, []string{"ws-a"}, "", time.Time{}, time.Time{}); err == nil {
		t.Error("empty link: no error")
	}
	if _, err := e.Activity(ctx, nil, "lnk-1", time.Time{}, time.Time{}); err == nil {
		t.Error("empty scope: no error")
	}
	if _, err := e.Activity(ctx, []string{"ws-a"}, "lnk-1", actDay2, actDay1); err == nil {
		t.Error("from after to: no error")
	}
	e = query.New(actArchive(t))
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := e.Activity(cctx, []string{"ws-a"}, "lnk-1", time.Time{}, time.Time{}); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled context: %v", err)
	}
}

func actCompare(t *testing.T, got, want *query.Activity) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", " ")
		w, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("got\n%s\nwant\n%s", g, w)
	}
}
