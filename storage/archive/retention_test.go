package archive

import (
	"fmt"
	"path/filepath"
	"sort"
	"testing"
	"time"

	sharelog "github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/internal/eventtest"
)

var retNow = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func retEvent(n int, ws, link, email string, action sharelog.Action, at time.Time) *sharelog.Event {
	return eventtest.Event(n, eventtest.Workspace(ws, ""), eventtest.Link(link), eventtest.User(email), eventtest.Action(action), eventtest.At(at))
}

// writeDays writes events, one file per partition.
func writeDays(t *testing.T, root string, evs []*sharelog.Event) {
	t.Helper()
	byDir := map[string][]*sharelog.Event{}
	for _, ev := range evs {
		dir, err := PartitionDir(root, ev.Workspace.ID, ev.Time)
		if err != nil {
			t.Fatal(err)
		}
		byDir[dir] = append(byDir[dir], ev)
	}
	for dir, part := range byDir {
		if _, _, err := WriteFile(dir, part, Options{}); err != nil {
			t.Fatal(err)
		}
	}
}

func ids(t *testing.T, root string) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(root, "*", "*", "*"+Ext))
	var out []string
	for _, f := range files {
		evs, err := ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			out = append(out, ev.ID[len(ev.ID)-2:])
		}
	}
	sort.Strings(out)
	return out
}

func TestRetention(t *testing.T) {
	root := t.TempDir()
	day := 24 * time.Hour
	writeDays(t, root, []*sharelog.Event{
		retEvent(1, "wsA", "", "a@x.example", sharelog.FileUploaded, retNow.Add(-200*day)),           // past 120 days
		retEvent(2, "wsA", "", "a@x.example", sharelog.FileUploaded, retNow.Add(-10*day)),            // kept
		retEvent(3, "wsB", "", "b@x.example", sharelog.FileUploaded, retNow.Add(-200*day)),           // wsB keeps 300 days
		retEvent(4, "wsA", "L1", "a@x.example", sharelog.LinkOpened, retNow.Add(-110*day)),           // L1 inactive 100 days: goes
		retEvent(5, "wsA", "L1", "a@x.example", sharelog.LinkRevoked, retNow.Add(-100*day)),          // goes
		retEvent(6, "wsA", "L2", "a@x.example", sharelog.LinkOpened, retNow.Add(-40*day)),            // L2 inactive 30 days: kept
		retEvent(7, "wsA", "L2", "a@x.example", sharelog.LinkExpired, retNow.Add(-30*day)),           // kept
		retEvent(8, "wsA", "L3", "visitor@y.example", sharelog.LinkDownloaded, retNow.Add(-100*day)), // active link: kept
	})
	policy := Policy{WorkspaceMaxAge: map[string]time.Duration{"wsB": 300 * day}}
	if err := (func() error { p := policy; p.SetDefaults(); return p.Validate() })(); err != nil {
		t.Fatal(err)
	}

	dry, err := ApplyRetention(root, policy, retNow, true, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(dry.Partitions) != 1 || dry.Events["max_age"] != 1 || dry.Events["inactive_link"] != 2 || len(dry.InactiveLinks) != 1 || dry.InactiveLinks[0] != "L1" {
		t.Fatalf("dry run: %+v", dry)
	}
	if got := ids(t, root); len(got) != 8 {
		t.Fatalf("a dry run removed events: %v", got)
	}

	rm, err := ApplyRetention(root, policy, retNow, false, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rm.Events["max_age"] != 1 || rm.Events["inactive_link"] != 2 || rm.FilesRewritten != 2 {
		t.Fatalf("run: %+v", rm)
	}
	if got := fmt.Sprint(ids(t, root)); got != "[02 03 06 07 08]" {
		t.Fatalf("kept %s, want [02 03 06 07 08]", got)
	}

	er, err := Erase(root, "VISITOR@y.example", false, Options{})
	if err != nil || er.Events["erasure"] != 1 {
		t.Fatalf("erase: %+v %v", er, err)
	}
	if got := fmt.Sprint(ids(t, root)); got != "[02 03 06 07]" {
		t.Fatalf("after erasure %s", got)
	}
	if _, err := Erase(root, "not-an-email", true, Options{}); err == nil {
		t.Fatal("erasure of a non-address accepted")
	}
}
