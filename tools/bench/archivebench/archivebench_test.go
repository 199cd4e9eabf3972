package archivebench

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sharelog "github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/storage/archive"
)

// smallOptions is a dataset of 5,000 events over 2 days, the last day
// rolled every 6 hours of event time (so it has several files without
// taking long), synthetic geo.
func smallOptions(dir string) Options {
	return Options{
		Dir: dir, Events: 5000, Days: 2, End: time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC),
		Seed: 3, Workspaces: 4, LiveAge: 6 * time.Hour, Queries: 3,
	}
}

// TestDataset checks the dataset's partitions and files, and that its byte
// counts agree with the events read back from the files.
func TestDataset(t *testing.T) {
	dir := t.TempDir()
	m, reused, err := Dataset(context.Background(), smallOptions(dir))
	if err != nil {
		t.Fatal(err)
	}
	if reused {
		t.Fatal("a fresh directory reused a dataset")
	}
	days := []string{"2026-11-20", "2026-11-21"}
	if w := m.WriteStatsTotal(); w.Events != 5000 {
		t.Fatalf("%d events written, want 5000", w.Events)
	}
	if m.WriteLive.Events == 0 || m.WriteLive.Files <= m.Params.Workspaces {
		t.Fatalf("the last day was not rolled by age: %+v", m.WriteLive)
	}
	if len(m.Workspaces) != 4 {
		t.Fatalf("workspaces %v, want 4", m.Workspaces)
	}

	for _, layout := range []string{LayoutSteady, LayoutCompacted} {
		root := filepath.Join(dir, layout)
		parts, err := archive.Partitions(root)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		var ndjson, parquetBytes int64
		files := 0
		for _, p := range parts {
			date := p.Day.Format(time.DateOnly)
			if date != days[0] && date != days[1] {
				t.Fatalf("%s: partition of %s, outside the dataset's days", layout, date)
			}
			paths, err := archive.Files(p.Dir)
			if err != nil {
				t.Fatal(err)
			}
			// Past days are compacted in both layouts; the last day only
			// in the compacted one.
			if (layout == LayoutCompacted || date == days[0]) && len(paths) != 1 {
				t.Errorf("%s: %s has %d files, want 1", layout, p.Dir, len(paths))
			}
			for _, path := range paths {
				fi, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				parquetBytes += fi.Size()
				files++
				err = archive.ReadEach(path, func(ev *sharelog.Event) error {
					if ev.Workspace.ID != p.Workspace || ev.Time.UTC().Format(time.DateOnly) != date {
						t.Fatalf("%s: event %s of %s/%s in %s", layout, ev.ID, ev.Workspace.ID, ev.Time, p.Dir)
					}
					if seen[ev.ID] {
						t.Fatalf("%s: event %s twice", layout, ev.ID)
					}
					seen[ev.ID] = true
					if ev.Geo == nil || ev.Pipeline == nil { // platform needs a user agent
						t.Fatalf("%s: event %s not enriched: %+v", layout, ev.ID, ev)
					}
					ndjson += int64(len(ev.AppendJSON(nil))) + 1
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			}
		}
		if len(seen) != 5000 {
			t.Fatalf("%s: %d events in the files, want 5000", layout, len(seen))
		}
		// The files hold exactly the events whose JSON was counted.
		if ndjson != m.NDJSONBytes {
			t.Errorf("%s: the events read back are %d bytes of NDJSON, the manifest says %d", layout, ndjson, m.NDJSONBytes)
		}
		if ls := m.Layouts[layout]; ls.Bytes != parquetBytes || ls.Files != files {
			t.Errorf("%s: %d files of %d bytes on disk, the manifest says %+v", layout, files, parquetBytes, ls)
		}
	}
	if m.Layouts[LayoutCompacted].Files != m.Layouts[LayoutCompacted].Partitions {
		t.Errorf("compacted layout: %+v", m.Layouts[LayoutCompacted])
	}
	if !(m.NDJSONZstdBytes > 0 && m.NDJSONZstdBytes < m.NDJSONBytes/4) {
		t.Errorf("zstd NDJSON %d bytes against NDJSON %d", m.NDJSONZstdBytes, m.NDJSONBytes)
	}
	if len(m.Links) != 3 || len(m.Users) != 3 || len(m.IPs) != 3 {
		t.Errorf("samples: %d links, %d users, %d IPs, want 3 each", len(m.Links), len(m.Users), len(m.IPs))
	}

	// The same parameters reuse it; others make it again.
	m2, reused, err := Dataset(context.Background(), Options{Reuse: true, Dir: dir, Events: 5000, Days: 2, Seed: 3, Workspaces: 4, LiveAge: 6 * time.Hour, Queries: 3})
	if err != nil || !reused || m2.NDJSONBytes != m.NDJSONBytes {
		t.Fatalf("reuse: reused %v, err %v", reused, err)
	}
}

// TestRunAgainstDuckDB runs the queries on a small dataset; the run fails
// when the engine and DuckDB disagree.
func TestRunAgainstDuckDB(t *testing.T) {
	if err := exec.Command("python3", "-c", "import duckdb, pyarrow").Run(); err != nil {
		t.Skip("needs python3 with duckdb and pyarrow (pip install duckdb pyarrow)")
	}
	o := smallOptions(t.TempDir())
	o.AllWorkspaces = true
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	// 2 layouts × 3 kinds × 2 questions, and the compacted layout again
	// without the workspace scope.
	if len(res.Rows) != 18 {
		t.Fatalf("%d rows, want 18", len(res.Rows))
	}
	for _, r := range res.Rows {
		if len(r.Engine) != 3 || len(r.DuckDB) != 3 {
			t.Errorf("%s %s %s %s: %d and %d timings, want 3", r.Layout, r.Scope, r.Kind, r.Question, len(r.Engine), len(r.DuckDB))
		}
		for _, n := range r.Matches {
			if n == 0 {
				t.Errorf("%s %s %s %s: a sampled value matched nothing", r.Layout, r.Scope, r.Kind, r.Question)
			}
		}
	}
	md := res.Markdown()
	for _, want := range []string{"| NDJSON, zstd", "| steady | one workspace | newest 1,000 | link |", "| compacted | all workspaces | count all | ip |"} {
		if !strings.Contains(md, want) {
			t.Errorf("the report lacks %q:\n%s", want, md)
		}
	}
}
