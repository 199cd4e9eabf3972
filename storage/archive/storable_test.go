package archive

import (
	"testing"

	sharelog "github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/internal/eventtest"
)

// FuzzStorable: every event ingest accepts is written to its partition and
// read back with its id, workspace and time (see eventtest.Storable).
func FuzzStorable(f *testing.F) {
	eventtest.Storable(f, func(t *testing.T, ev *sharelog.Event) {
		dir, err := PartitionDir(t.TempDir(), ev.Workspace.ID, ev.Time)
		if err != nil {
			t.Fatalf("no partition for workspace %q: %v", ev.Workspace.ID, err)
		}
		path, _, err := WriteFile(dir, []*sharelog.Event{ev}, Options{})
		if err != nil {
			t.Fatalf("write: %v", err)
		}
		got, err := ReadFile(path)
		if err != nil || len(got) != 1 {
			t.Fatalf("read back: %v (%d events)", err, len(got))
		}
		g := got[0]
		if g.ID != ev.ID || g.Workspace != ev.Workspace || !g.Time.Equal(ev.Time.Truncate(1000)) || g.Client != ev.Client {
			t.Fatalf("round trip:\n got %+v\nwant %+v", g, ev)
		}
	})
}
