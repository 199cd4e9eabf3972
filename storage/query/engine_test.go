package query

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/storage/archive"
	"github.com/sharelog/sharelog/tools/simulate"
)

// testWorld is an archive written by the test and every event in it.
type testWorld struct {
	root   string
	events []*sharelog.Event // every row written, repeats included
}

var countries = []struct{ code, name string }{{"DE", "Germany"}, {"FR", "France"}, {"US", "United States"}, {"JP", "Japan"}}

// simulated returns n realistic events from three workspaces, one every
// step, starting at start, with geo set from the IP.
func simulated(n int, seed int64, start time.Time, step time.Duration) []*sharelog.Event {
	now := start
	g := simulate.NewGenerator(simulate.Config{Seed: seed, Workspaces: 3, LinksPerWorkspace: 30, UsersPerWorkspace: 8}, func() time.Time {
		now = now.Add(step)
		return now
	})
	out := g.Batch(n)
	for _, ev := range out {
		c := countries[len(ev.Client.IP)%len(countries)]
		ev.Geo = &sharelog.Geo{CountryCode: c.code, CountryName: c.name, City: "X"}
	}
	return out
}

// writeWorld writes events into small files (files of fileEvents events
// in arrival order, row groups of 64 rows) so that pruning and merging
// across files and row groups are exercised.
func (w *testWorld) write(t testing.TB, events []*sharelog.Event, fileEvents int) {
	t.Helper()
	byPart := map[string][]*sharelog.Event{}
	var order []string
	for _, ev := range events {
		dir, err := archive.PartitionDir(w.root, ev.Workspace.ID, ev.Time)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := byPart[dir]; !ok {
			order = append(order, dir)
		}
		byPart[dir] = append(byPart[dir], ev)
	}
	for _, dir := range order {
		evs := byPart[dir]
		for len(evs) > 0 {
			n := min(fileEvents, len(evs))
			if _, _, err := archive.WriteFile(dir, evs[:n], archive.Options{RowGroupRows: 64}); err != nil {
				t.Fatal(err)
			}
			evs = evs[n:]
		}
	}
	w.events = append(w.events, events...)
}

// expect is the brute-force answer: every event matching f, newest first,
// each id once, after the cursor.
func (w *testWorld) expect(f Filter, after *Cursor) []string {
	seen := map[string]bool{}
	var out []*sharelog.Event
	for _, ev := range w.events {
		ev2 := *ev
		ev2.Time = ev.Time.Truncate(time.Microsecond)
		if seen[ev.ID] || !f.Match(&ev2) || !after.before(ev2.Time.UnixMicro(), ev.ID) {
			continue
		}
		seen[ev.ID] = true
		out = append(out, &ev2)
	}
	slices.SortFunc(out, func(a, b *sharelog.Event) int {
		if c := b.Time.Compare(a.Time); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
	ids := make([]string, len(out))
	for i, ev := range out {
		ids[i] = ev.ID
	}
	return ids
}

// pages collects every page of a search.
func pages(t *testing.T, e *Engine, f Filter, limit int, after *Cursor) ([]string, int) {
	t.Helper()
	var ids []string
	n := 0
	for {
		p, err := e.Search(context.Background(), f, limit, after)
		if err != nil {
			t.Fatal(err)
		}
		n++
		if len(p.Events) > limit {
			t.Fatalf("page of %d events, limit %d", len(p.Events), limit)
		}
		for _, ev := range p.Events {
			ids = append(ids, ev.ID)
		}
		if p.Next == nil {
			return ids, n
		}
		if len(p.Events) != limit {
			t.Fatalf("page of %d events before the last, limit %d", len(p.Events), limit)
		}
		after = p.Next
	}
}

func newWorld(t *testing.T) *testWorld {
	t.Helper()
	w := &testWorld{root: t.TempDir()}
	start := time.Date(2026, 11, 18, 21, 0, 0, 0, time.UTC)
	events := simulated(6000, 7, start, 53*time.Second) // about 3.7 days
	// Ties: some events share their time with the one before.
	for i := 10; i < len(events); i += 97 {
		events[i].Time = events[i-1].Time
	}
	w.write(t, events, 250)
	// Redelivery: a few hundred events archived a second time, in files of
	// their own.
	r := rand.New(rand.NewPCG(1, 2))
	var again []*sharelog.Event
	for range 300 {
		again = append(again, events[r.IntN(len(events))])
	}
	w.write(t, again, 100)
	return w
}

func TestSearchMatchesBruteForce(t *testing.T) {
	w := newWorld(t)
	e := New(w.root)
	ev := w.events[1234]
	var link, file, user string
	for _, x := range w.events[2000:] {
		if x.Link != nil && link == "" && x.Workspace.ID == ev.Workspace.ID {
			link = x.Link.ID
		}
		if x.File != nil && file == "" {
			file = x.File.ID
		}
		if x.Actor.VisitorEmail != "" && user == "" {
			user = x.Actor.VisitorEmail
		}
	}
	all := dedupe(workspacesOf(w.events))
	day := ev.Time.Truncate(24 * time.Hour)
	filters := map[string]Filter{
		"everything":         {Workspaces: all},
		"one workspace":      {Workspaces: []string{ev.Workspace.ID}},
		"link":               {Workspaces: all, Link: link},
		"link other scope":   {Workspaces: []string{otherThan(all, ev.Workspace.ID)}, Link: link},
		"file":               {Workspaces: all, File: file},
		"user":               {Workspaces: all, User: user},
		"actor email":        {Workspaces: all, User: firstActorEmail(w.events)},
		"ip":                 {Workspaces: all, IP: ev.Client.IP},
		"ip prefix":          {Workspaces: all, IP: prefixOf(ev.Client.IP)},
		"country":            {Workspaces: all, Country: "de"},
		"actions":            {Workspaces: all, Actions: []string{"link.downloaded", "file.uploaded"}},
		"family":             {Workspaces: all, Actions: []string{"link.*"}, Results: []sharelog.Result{sharelog.Denied}},
		"results":            {Workspaces: all, Results: []sharelog.Result{sharelog.Denied, sharelog.Error}},
		"day":                {Workspaces: all, From: day, To: day.Add(24 * time.Hour)},
		"odd range":          {Workspaces: all, From: ev.Time.Add(-7*time.Hour + 1), To: ev.Time.Add(5 * time.Hour)},
		"from only":          {Workspaces: all, From: ev.Time},
		"to only":            {Workspaces: all, To: ev.Time},
		"combined":           {Workspaces: all, Country: "US", Actions: []string{"link.*"}, From: day},
		"nothing":            {Workspaces: all, Link: "no-such-link"},
		"unknown workspace":  {Workspaces: []string{"ws-nobody"}},
		"link and user none": {Workspaces: all, Link: link, User: "nobody@example.com"},
	}
	for name, f := range filters {
		t.Run(name, func(t *testing.T) {
			want := w.expect(f, nil)
			for _, limit := range []int{1, 37, 5000} {
				if limit == 1 && len(want) > 200 {
					continue
				}
				got, _ := pages(t, e, f, limit, nil)
				if !slices.Equal(got, want) {
					t.Fatalf("limit %d: got %d events, want %d\n%s", limit, len(got), len(want), firstDiff(got, want))
				}
			}
			var got []string
			if _, err := e.Each(context.Background(), f, nil, func(ev *sharelog.Event) error {
				if !f.Match(ev) {
					t.Fatalf("Each returned %s, which does not match", ev.ID)
				}
				got = append(got, ev.ID)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("Each: got %d events, want %d\n%s", len(got), len(want), firstDiff(got, want))
			}
		})
	}
	if len(w.expect(filters["link"], nil)) == 0 || len(w.expect(filters["user"], nil)) == 0 || len(w.expect(filters["country"], nil)) == 0 {
		t.Fatal("test data too thin: a filter matches nothing")
	}
}

func TestSearchReturnsWholeEvents(t *testing.T) {
	w := newWorld(t)
	p, err := New(w.root).Search(context.Background(), Filter{Workspaces: workspacesOf(w.events)}, 50, nil)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]*sharelog.Event{}
	for _, ev := range w.events {
		byID[ev.ID] = ev
	}
	for _, got := range p.Events {
		want := *byID[got.ID]
		want.Time = want.Time.Truncate(time.Microsecond)
		a, _ := got.Encode()
		b, _ := want.Encode()
		if string(a) != string(b) {
			t.Fatalf("event %s read back as\n%s\nwant\n%s", got.ID, a, b)
		}
	}
}

// TestPruning checks that a one-link query reads a small part of the rows:
// the whole point of sorting files by link and of the page index.
func TestPruning(t *testing.T) {
	w := newWorld(t)
	e := New(w.root)
	all := workspacesOf(w.events)
	full, err := e.Search(context.Background(), Filter{Workspaces: all}, MaxLimit, nil)
	if err != nil {
		t.Fatal(err)
	}
	link := w.events[3000].Link
	for i := 3000; link == nil; i++ {
		link = w.events[i].Link
	}
	one, err := e.Search(context.Background(), Filter{Workspaces: all, Link: link.ID}, MaxLimit, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(one.Events) == 0 {
		t.Fatal("no events for the link")
	}
	t.Logf("everything: %+v", full.Stats)
	t.Logf("one link:   %+v", one.Stats)
	if one.Stats.RowGroupsSkipped == 0 || one.Stats.RowsScanned*5 > full.Stats.RowsScanned {
		t.Fatalf("one-link query scanned %d rows of %d and skipped %d row groups", one.Stats.RowsScanned, full.Stats.RowsScanned, one.Stats.RowGroupsSkipped)
	}
	if full.Stats.Duplicates == 0 {
		t.Fatal("the repeats written by the test were not dropped")
	}
	// A range of one hour opens only that day's partitions.
	ev := w.events[100]
	hour, err := e.Search(context.Background(), Filter{Workspaces: all, From: ev.Time, To: ev.Time.Add(time.Hour)}, MaxLimit, nil)
	if err != nil {
		t.Fatal(err)
	}
	if hour.Stats.Partitions > len(all) {
		t.Fatalf("an hour's query considered %d partitions", hour.Stats.Partitions)
	}
}

// TestPaginationWhileFilesArrive pages through the archive while new files
// (newer and older events, and repeats) are written and a partition is
// compacted: the pages after the first hold every event older than the
// first page's cursor exactly once.
func TestPaginationWhileFilesArrive(t *testing.T) {
	w := newWorld(t)
	e := New(w.root)
	all := workspacesOf(w.events)
	f := Filter{Workspaces: all}
	first, err := e.Search(context.Background(), f, 500, nil)
	if err != nil {
		t.Fatal(err)
	}
	cursor := first.Next
	second, err := e.Search(context.Background(), f, 500, cursor)
	if err != nil {
		t.Fatal(err)
	}
	// New arrivals: events after the newest, events in the middle of the
	// range (late arrivals), and repeats of what page two returned.
	late := simulated(800, 99, w.events[2000].Time, 41*time.Second)
	newer := simulated(300, 98, w.events[len(w.events)/2-1].Time.Add(30*24*time.Hour), time.Second)
	w.write(t, append(late, newer...), 90)
	w.write(t, second.Events[:100], 100)
	for _, ev := range second.Events[:1] {
		dir, _ := archive.PartitionDir(w.root, ev.Workspace.ID, ev.Time)
		if _, err := archive.Compact(dir, archive.Options{RowGroupRows: 64}); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := pages(t, e, f, 500, cursor)
	want := w.expect(f, cursor)
	if !slices.Equal(got, want) {
		t.Fatalf("got %d events, want %d\n%s", len(got), len(want), firstDiff(got, want))
	}
}

func TestCursorRoundTrip(t *testing.T) {
	c := Cursor{Time: time.Date(2026, 11, 22, 8, 1, 2, 345678000, time.UTC), ID: "0193-ab.cd/ef"}
	got, err := ParseCursor(c.String())
	if err != nil || !got.Time.Equal(c.Time) || got.ID != c.ID {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	for _, bad := range []string{"", "c1.", "c1.zz", "c1.abc.", "c2.abc.YWJj", "c1.!!.YWJj", "c1.abc.***"} {
		if _, err := ParseCursor(bad); err == nil || !strings.Contains(err.Error(), "cursor") {
			t.Errorf("ParseCursor(%q) = %v, want an error naming the cursor", bad, err)
		}
	}
}

func TestFilterValidate(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		f    Filter
		want string
	}{
		{Filter{}, "workspace: at least one"},
		{Filter{Workspaces: []string{"../x"}}, "workspace:"},
		{Filter{Workspaces: []string{"w"}, From: now, To: now}, "from:"},
		{Filter{Workspaces: []string{"w"}, Actions: []string{"link.open"}}, `action: "link.open"`},
		{Filter{Workspaces: []string{"w"}, Actions: []string{"nope.*"}}, `action: no action starts with "nope."`},
		{Filter{Workspaces: []string{"w"}, Results: []sharelog.Result{"ok"}}, `result: "ok"`},
		{Filter{Workspaces: []string{"w"}, IP: "10.0.0"}, `ip: "10.0.0"`},
		{Filter{Workspaces: []string{"w"}, Country: "DEU"}, `country: "DEU"`},
	} {
		err := tc.f.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want it to contain %q", tc.f, err, tc.want)
		}
		if _, serr := New(t.TempDir()).Search(context.Background(), tc.f, 10, nil); serr == nil {
			t.Errorf("%+v: Search accepted an invalid filter", tc.f)
		}
	}
	if err := (Filter{Workspaces: []string{"w"}, IP: "2001:db8::/32", Actions: []string{"link.*", "file.deleted"}}).Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestEmptyArchive(t *testing.T) {
	p, err := New(filepath.Join(t.TempDir(), "missing")).Search(context.Background(), Filter{Workspaces: []string{"w"}}, 10, nil)
	if err != nil || len(p.Events) != 0 || p.Next != nil {
		t.Fatalf("got %+v, %v", p, err)
	}
}

func workspacesOf(events []*sharelog.Event) []string {
	var out []string
	for _, ev := range events {
		if !slices.Contains(out, ev.Workspace.ID) {
			out = append(out, ev.Workspace.ID)
		}
	}
	return out
}

func otherThan(list []string, not string) string {
	for _, s := range list {
		if s != not {
			return s
		}
	}
	return not
}

func firstActorEmail(events []*sharelog.Event) string {
	for _, ev := range events[len(events)/3:] {
		if ev.Actor.Email != "" {
			return ev.Actor.Email
		}
	}
	return ""
}

func prefixOf(ip string) string {
	if strings.Contains(ip, ":") {
		return ip + "/64"
	}
	return ip[:strings.LastIndex(ip, ".")] + ".0/24"
}

func firstDiff(got, want []string) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("first difference at %d: got %s, want %s", i, got[i], want[i])
		}
	}
	return "one is a prefix of the other"
}

func TestEachOldestFirst(t *testing.T) {
	w := newWorld(t)
	f := Filter{Workspaces: workspacesOf(w.events), Actions: []string{"link.*"}}
	want := w.expect(f, nil)
	slices.Reverse(want)
	var got []string
	if _, err := New(w.root).EachOldestFirst(context.Background(), f, func(ev *sharelog.Event) error {
		got = append(got, ev.ID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Fatalf("got %d, want %d\n%s", len(got), len(want), firstDiff(got, want))
	}
}
