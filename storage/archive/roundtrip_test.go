package archive

import (
	"errors"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sharelog/sharelog"
)

// TestRowRoundTripEveryField fills every field of events by reflection and
// checks that ToRow, Row.Event and a file write and read all give them back.
func TestRowRoundTripEveryField(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var events []*sharelog.Event
	for range 200 {
		ev := new(sharelog.Event)
		fill(reflect.ValueOf(ev).Elem(), r)
		ev.Workspace.ID = "ws_1"
		ev.Time = day.Add(time.Duration(r.Int64N(int64(24 * time.Hour)))).Truncate(time.Microsecond)
		events = append(events, ev)
	}
	for _, ev := range events {
		if got := ToRow(ev).Event(); !reflect.DeepEqual(got, ev) {
			t.Fatalf("ToRow(ev).Event() differs:\n got %+v\nwant %+v", got, ev)
		}
	}
	path, _ := write(t, t.TempDir(), events, Options{RowGroupRows: 64})
	got, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	assertSameEvents(t, got, events)
}

// TestRoundTripAbsentAndZero covers NULLs: absent groups, present groups
// holding only zero values, and a geo group without a location.
func TestRoundTripAbsentAndZero(t *testing.T) {
	at := day.Add(time.Hour)
	base := func(id string) *sharelog.Event {
		return &sharelog.Event{ID: id, Time: at, Workspace: sharelog.Workspace{ID: "ws-2"},
			Actor: sharelog.Actor{Type: sharelog.ActorAnonymous}, Action: sharelog.Action("link.opened"),
			Result: sharelog.Success, Client: sharelog.Client{IP: "203.0.113.7", Kind: sharelog.ClientBrowser}}
	}
	raw := base("raw") // every group absent
	zero := base("zero")
	zero.File, zero.Link, zero.Server = &sharelog.File{}, &sharelog.Link{}, &sharelog.Server{}
	zero.Geo, zero.Platform = &sharelog.Geo{}, &sharelog.Platform{}
	zero.Session, zero.Pipeline = &sharelog.Session{}, &sharelog.Pipeline{}
	zeroLoc := base("zero-location")
	lat, lon := 0.0, 0.0
	zeroLoc.Geo = &sharelog.Geo{CountryCode: "GH", Latitude: &lat, Longitude: &lon}
	zeroLoc.File = &sharelog.File{ID: "f1", Size: 0}
	events := []*sharelog.Event{raw, zero, zeroLoc}

	path, _ := write(t, t.TempDir(), events, Options{})
	got, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	assertSameEvents(t, got, events)

	// The NULLs are real NULLs in the file, not zero values.
	rows := readRows(t, path)
	for _, row := range rows {
		switch row.ID {
		case "raw":
			if row.FileSize != nil || row.LinkID != nil || row.GeoCountryCode != nil || row.SessionSeq != nil || row.PipelineEnrichedAt != nil {
				t.Errorf("raw event: absent groups not NULL: %+v", row)
			}
		case "zero":
			if row.FileSize == nil || *row.FileSize != 0 || row.SessionSeq == nil || row.GeoLatitude != nil {
				t.Errorf("zero event: present zero values must be 0, a nil location NULL: %+v", row)
			}
		case "zero-location":
			if row.GeoLatitude == nil || *row.GeoLatitude != 0 {
				t.Errorf("a location of 0,0 must stay 0, not NULL")
			}
		}
	}
}

// TestRoundTripSimulated round-trips realistic enriched events.
func TestRoundTripSimulated(t *testing.T) {
	events := generate(5000, 1)
	root := t.TempDir()
	for _, part := range byPartition(events) {
		path, stats := write(t, root, part, Options{RowGroupRows: 1000})
		if stats.Rows != int64(len(part)) {
			t.Errorf("stats.Rows = %d, want %d", stats.Rows, len(part))
		}
		got, err := ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		assertSameEvents(t, got, part)
	}
}

func assertSameEvents(t *testing.T, got, want []*sharelog.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("read %d events, wrote %d", len(got), len(want))
	}
	got, want = byID(got), byID(want)
	for i := range got {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("event %d differs:\n got %s\nwant %s", i, got[i].AppendJSON(nil), want[i].AppendJSON(nil))
		}
	}
}

func TestPartitionDir(t *testing.T) {
	at := time.Date(2026, 11, 22, 23, 30, 0, 0, time.FixedZone("X", -2*3600)) // 01:30 UTC on the 23rd
	dir, err := PartitionDir("/arch", "ws_1.a:b-c", at)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join("/arch", "workspace=ws_1.a:b-c", "date=2026-11-23"); dir != want {
		t.Errorf("PartitionDir = %q, want %q", dir, want)
	}
	for _, bad := range []string{"", ".", "..", "a/b", `a\b`, "../x", "a..b", "x\x00"} {
		if _, err := PartitionDir("/arch", bad, at); err == nil {
			t.Errorf("PartitionDir accepted workspace id %q", bad)
		}
	}
}

func TestWriteFileRefusesMixedPartitions(t *testing.T) {
	events := generate(50, 3)
	for _, ev := range events {
		ev.Workspace.ID = "ws_a"
	}
	other := *events[17]
	other.ID = "the-odd-one"
	other.Time = other.Time.Add(24 * time.Hour)
	dir := filepath.Join(t.TempDir(), "p")
	_, _, err := WriteFile(dir, append(events, &other), Options{})
	if err == nil || !strings.Contains(err.Error(), `"the-odd-one"`) {
		t.Fatalf("WriteFile of two dates: err = %v, want one naming the event", err)
	}
	other.Time, other.Workspace.ID = events[0].Time, "ws_b"
	if _, _, err = WriteFile(dir, append(events, &other), Options{}); err == nil || !strings.Contains(err.Error(), `"the-odd-one"`) {
		t.Fatalf("WriteFile of two workspaces: err = %v, want one naming the event", err)
	}
	wrong, _ := PartitionDir(t.TempDir(), "ws_b", events[0].Time)
	if _, _, err = WriteFile(wrong, events, Options{}); err == nil {
		t.Fatal("WriteFile wrote ws_a's events into ws_b's partition")
	}
	if _, _, err = WriteFile(dir, nil, Options{}); !errors.Is(err, ErrNoEvents) {
		t.Fatalf("WriteFile(nil) = %v, want ErrNoEvents", err)
	}
	if _, _, err = WriteFile(dir, events, Options{RowGroupRows: -1}); err == nil || !strings.Contains(err.Error(), "row_group_rows") {
		t.Fatalf("WriteFile with RowGroupRows -1: err = %v", err)
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, "*")); len(matches) != 0 {
		t.Fatalf("refused writes left files: %v", matches)
	}
}

func TestWriteFileKeepsCallersOrder(t *testing.T) {
	events := generate(300, 4)
	part := byPartition(events)[keyOf(events[0])]
	ids := make([]string, len(part))
	for i, ev := range part {
		ids[i] = ev.ID
	}
	write(t, t.TempDir(), part, Options{})
	for i, ev := range part {
		if ev.ID != ids[i] {
			t.Fatal("WriteFile reordered the caller's slice")
		}
	}
}
