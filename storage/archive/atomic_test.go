package archive

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sharelog/sharelog"
)

func TestTempFilesInvisibleAndCleaned(t *testing.T) {
	root := t.TempDir()
	events := largestPartition(generate(2000, 5))
	final, _ := write(t, root, events, Options{})
	dir := filepath.Dir(final)

	// What a crash in the middle of WriteFile leaves: a temp file beside the
	// finished ones, in this partition and in another.
	leftover := filepath.Join(dir, tempName(NewFileName(day)))
	if err := os.WriteFile(leftover, []byte("PAR1 half a file"), 0o644); err != nil {
		t.Fatal(err)
	}
	otherDir, err := PartitionDir(root, "ws_other", day)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(otherDir, 0o755); err != nil {
		t.Fatal(err)
	}
	leftover2 := filepath.Join(otherDir, tempName(NewFileName(day)))
	if err := os.WriteFile(leftover2, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	keep := filepath.Join(otherDir, "notes.txt") // not ours to remove
	if err := os.WriteFile(keep, nil, 0o644); err != nil {
		t.Fatal(err)
	}

	matches, err := filepath.Glob(dir + "/*.parquet")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(matches, []string{final}) {
		t.Fatalf("Glob(*.parquet) = %v, want only %s", matches, final)
	}
	if all, _ := filepath.Glob(filepath.Join(root, "*", "*", "*"+Ext)); len(all) != 1 {
		t.Fatalf("a reader globbing the archive sees %v", all)
	}

	removed, err := CleanLeftovers(root)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(removed)
	want := []string{leftover, leftover2}
	slices.Sort(want)
	if !slices.Equal(removed, want) {
		t.Fatalf("CleanLeftovers removed %v, want %v", removed, want)
	}
	for _, p := range []string{final, keep} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("CleanLeftovers removed %s: %v", p, err)
		}
	}
	for _, p := range want {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there: %v", p, err)
		}
	}
	if got, err := ReadFile(final); err != nil || len(got) != len(events) {
		t.Fatalf("after cleaning, ReadFile = %d events, %v", len(got), err)
	}

	if removed, err := CleanLeftovers(filepath.Join(root, "missing")); err != nil || len(removed) != 0 {
		t.Errorf("CleanLeftovers(missing root) = %v, %v", removed, err)
	}
}

func TestWriteFileLeavesNoTempFile(t *testing.T) {
	root := t.TempDir()
	events := largestPartition(generate(1000, 6))
	var paths []string
	for range 3 {
		p, _ := write(t, root, events, Options{})
		paths = append(paths, p)
	}
	dir := filepath.Dir(paths[0])
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		if !strings.HasSuffix(e.Name(), Ext) || strings.HasPrefix(e.Name(), ".") {
			t.Errorf("unexpected file %s in the partition", e.Name())
		}
	}
	if len(names) != 3 {
		t.Fatalf("partition holds %v, want 3 files", names)
	}
	if !slices.IsSorted(names) || filepath.Base(paths[0]) != names[0] || filepath.Base(paths[2]) != names[2] {
		t.Errorf("file names do not sort in the order they were written: %v", names)
	}
}

func TestReadEachStopsOnError(t *testing.T) {
	events := largestPartition(generate(20_000, 7))
	path, _ := write(t, t.TempDir(), events, Options{RowGroupRows: 500})
	stop := errors.New("stop")
	n := 0
	err := ReadEach(path, func(*sharelog.Event) error {
		n++
		if n == 700 {
			return stop
		}
		return nil
	})
	if err != stop || n != 700 {
		t.Fatalf("ReadEach = %v after %d events, want stop after 700", err, n)
	}
	if _, err := ReadFile(filepath.Join(t.TempDir(), "missing.parquet")); err == nil {
		t.Error("ReadFile of a missing file succeeded")
	}
	bad := filepath.Join(t.TempDir(), "bad.parquet")
	if err := os.WriteFile(bad, []byte("not parquet at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("ReadFile of a corrupt file: err = %v, want one naming it", err)
	}
}
