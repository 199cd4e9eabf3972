package archive

import (
	"path/filepath"
	"testing"
	"time"

	sharelog "github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/tools/simulate"
)

func TestCompactMergesAndDropsDuplicates(t *testing.T) {
	root := t.TempDir()
	day := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	gen := simulate.NewGenerator(simulate.Config{Seed: 4, Workspaces: 1}, func() time.Time { return day.Add(10 * time.Hour) })
	var all []*sharelog.Event
	for len(all) < 3000 {
		ev := gen.Next()
		if ev.Time.Format(time.DateOnly) == "2026-11-20" {
			all = append(all, ev)
		}
	}
	dir, err := PartitionDir(root, all[0].Workspace.ID, day)
	if err != nil {
		t.Fatal(err)
	}
	// Three files, the third repeating 500 events of the first (redelivery).
	for _, part := range [][]*sharelog.Event{all[:1500], all[1500:], all[:500]} {
		if _, _, err := WriteFile(dir, part, Options{}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond) // distinct, ordered file names
	}
	st, err := Compact(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if st.FilesBefore != 3 || st.FilesAfter != 1 || st.EventsBefore != 3500 || st.Duplicates != 500 || st.BytesAfter <= 0 {
		t.Fatalf("stats %+v", st)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"+Ext))
	if len(files) != 1 {
		t.Fatalf("%d files after compaction", len(files))
	}
	got, err := ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int{}
	for _, ev := range got {
		ids[ev.ID]++
	}
	if len(got) != 3000 || len(ids) != 3000 {
		t.Fatalf("%d rows, %d distinct ids after compaction, want 3000", len(got), len(ids))
	}
	for _, ev := range all {
		if ids[ev.ID] != 1 {
			t.Fatalf("event %s appears %d times", ev.ID, ids[ev.ID])
		}
	}
	// Compacting again changes nothing.
	if st, err := Compact(dir, Options{}); err != nil || st.FilesAfter != 1 || st.FilesBefore != 1 {
		t.Fatalf("second run: %+v %v", st, err)
	}
}

func TestCompactBeforeLeavesTodayAlone(t *testing.T) {
	root := t.TempDir()
	old := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	today := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	for _, day := range []time.Time{old, today} {
		gen := simulate.NewGenerator(simulate.Config{Seed: 5, Workspaces: 1}, func() time.Time { return day })
		evs := gen.Batch(200)
		dir, _ := PartitionDir(root, evs[0].Workspace.ID, day)
		var same []*sharelog.Event
		for _, ev := range evs {
			if ev.Time.Format(time.DateOnly) == day.Format(time.DateOnly) && ev.Workspace.ID == evs[0].Workspace.ID {
				same = append(same, ev)
			}
		}
		for _, part := range [][]*sharelog.Event{same[:len(same)/2], same[len(same)/2:]} {
			if _, _, err := WriteFile(dir, part, Options{}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Millisecond)
		}
	}
	st, err := CompactBefore(root, today, Options{})
	if err != nil || st.FilesBefore != 2 || st.FilesAfter != 1 {
		t.Fatalf("%+v %v", st, err)
	}
	oldFiles, _ := filepath.Glob(filepath.Join(root, "*", "date=2026-11-20", "*"+Ext))
	todayFiles, _ := filepath.Glob(filepath.Join(root, "*", "date=2026-11-22", "*"+Ext))
	if len(oldFiles) != 1 || len(todayFiles) != 2 {
		t.Fatalf("old day %d files (want 1), today %d (want 2)", len(oldFiles), len(todayFiles))
	}
}
