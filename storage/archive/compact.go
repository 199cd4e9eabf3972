package archive

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	sharelog "github.com/sharelog/sharelog"
)

// CompactStats says what Compact did in one partition directory.
type CompactStats struct {
	FilesBefore, FilesAfter int
	EventsBefore            int64 // rows read, duplicates included
	Duplicates              int64 // rows dropped because their id was seen before
	BytesBefore, BytesAfter int64
}

// Compact merges the files of one partition directory (as PartitionDir makes
// it) into one file, dropping repeated event ids (redelivery leaves them;
// the first copy, in file-name order, is kept). A directory with fewer than
// two files is left alone. A file the sink adds while Compact runs is not
// merged and stays for the next run; compact the days the sink no longer
// writes to.
//
// It is atomic for readers: the merged file is made durable (WriteFile)
// before the old files are removed, so a reader sees every event at every
// moment, at worst twice (during the removal), never zero times. A crash in
// between leaves the merged file and some old ones: nothing is lost, and the
// next run removes the repeats. The files merged are held in memory; a
// partition is one workspace's day.
func Compact(dir string, opts Options) (CompactStats, error) {
	var st CompactStats
	files, err := filepath.Glob(filepath.Join(dir, "*"+Ext))
	if err != nil {
		return st, err
	}
	sort.Strings(files) // names sort by creation time
	st.FilesBefore, st.FilesAfter = len(files), len(files)
	if len(files) < 2 {
		return st, nil
	}
	seen := map[string]bool{}
	var events []*sharelog.Event
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			return st, fmt.Errorf("archive: compact: %w", err)
		}
		st.BytesBefore += fi.Size()
		if err := ReadEach(f, func(ev *sharelog.Event) error {
			st.EventsBefore++
			if seen[ev.ID] {
				st.Duplicates++
				return nil
			}
			seen[ev.ID] = true
			events = append(events, ev)
			return nil
		}); err != nil {
			return st, fmt.Errorf("archive: compact %s: %w", dir, err)
		}
	}
	path, ws, err := WriteFile(dir, events, opts)
	if err != nil {
		return st, fmt.Errorf("archive: compact %s: %w", dir, err)
	}
	var errs []error
	for _, f := range files {
		if err := os.Remove(f); err != nil {
			errs = append(errs, err)
		}
	}
	if err := syncDir(dir); err != nil {
		errs = append(errs, err)
	}
	st.FilesAfter = 1
	st.BytesAfter = ws.Bytes
	if err := errors.Join(errs...); err != nil {
		return st, fmt.Errorf("archive: compact %s: merged into %s, removing the old files: %w", dir, path, err)
	}
	return st, nil
}

// CompactBefore compacts every partition under root whose date is before
// day (a UTC date: days the sink no longer writes to) and that holds two
// files or more. It returns the summed stats; it goes on past a partition
// that fails, and joins the errors.
func CompactBefore(root string, day time.Time, opts Options) (CompactStats, error) {
	var total CompactStats
	parts, err := Partitions(root)
	if err != nil {
		return total, err
	}
	cut := day.UTC().Truncate(24 * time.Hour)
	var errs []error
	for _, p := range parts {
		if !p.Day.Before(cut) {
			continue
		}
		st, err := Compact(p.Dir, opts)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if st.FilesBefore < 2 {
			continue
		}
		total.FilesBefore += st.FilesBefore
		total.FilesAfter += st.FilesAfter
		total.EventsBefore += st.EventsBefore
		total.Duplicates += st.Duplicates
		total.BytesBefore += st.BytesBefore
		total.BytesAfter += st.BytesAfter
	}
	return total, errors.Join(errs...)
}
