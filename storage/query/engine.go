// Package query answers questions about the event archive: which events of
// these workspaces, in this time range, of this action, user, link, file, IP,
// country or result — newest first, a page at a time or all of them.
//
// It reads the Parquet files that package storage/archive writes, and reads
// as little of them as it can: partitions (workspace, day) outside the
// question are not opened; a file or row group is skipped when its column
// statistics or page index (time, link_id, …) rule it out, or when the bloom
// filter of link_id, actor_email, actor_visitor_email, client_ip or file_id
// says the value is absent; inside a row group, only the columns a
// condition needs are decoded, over the pages that can hold a match, and
// only the matching rows are read in full.
//
// Events are returned newest first, ordered by (time, id) descending. An
// event archived twice (a redelivery not yet compacted away) is returned
// once. Pagination is by Cursor, a position in that order, so it stays
// correct while files are added, compacted or rewritten between pages.
//
// An Engine holds no state besides its root directory and is safe for
// concurrent use.
package query

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/storage/archive"
)

// MaxLimit is the largest page Search returns.
const MaxLimit = 10_000

// Engine queries the archive under one root directory.
type Engine struct {
	root string
}

// New returns an engine over the archive at root (archive.dir). The
// directory may not exist yet: it then holds no events.
func New(root string) *Engine { return &Engine{root: root} }

// Stats counts what a query read and what it skipped.
type Stats struct {
	Partitions       int   `json:"partitions"`         // workspace days considered
	Files            int   `json:"files"`              // files whose footer was read
	FilesSkipped     int   `json:"files_skipped"`      // of those, ruled out by statistics
	RowGroups        int   `json:"row_groups"`         // row groups of the files not skipped
	RowGroupsSkipped int   `json:"row_groups_skipped"` // ruled out by statistics or bloom filters
	RowsScanned      int64 `json:"rows_scanned"`       // rows whose condition columns were decoded
	RowsMatched      int64 `json:"rows_matched"`       // rows that matched every condition, repeats included
	Duplicates       int64 `json:"duplicates"`         // repeated event ids dropped
}

// Add adds o's counts to s.
func (s *Stats) Add(o Stats) {
	s.Partitions += o.Partitions
	s.Files += o.Files
	s.FilesSkipped += o.FilesSkipped
	s.RowGroups += o.RowGroups
	s.RowGroupsSkipped += o.RowGroupsSkipped
	s.RowsScanned += o.RowsScanned
	s.RowsMatched += o.RowsMatched
	s.Duplicates += o.Duplicates
}

// Page is one page of a search.
type Page struct {
	Events []*sharelog.Event
	// Next is the cursor of the following page; nil on the last page.
	Next  *Cursor
	Stats Stats
}

// errStop ends Each early from inside Search.
var errStop = errors.New("stop")

// Search returns up to limit events matching f, newest first, starting after
// the cursor (nil: from the newest). limit is clamped to [1, MaxLimit].
func (e *Engine) Search(ctx context.Context, f Filter, limit int, after *Cursor) (Page, error) {
	limit = min(max(limit, 1), MaxLimit)
	var page Page
	// The first chunk read is the page and one more (to know whether a
	// next page exists), so a small page reads few rows.
	st, err := e.each(ctx, f, after, limit+1, false, func(ev *sharelog.Event) error {
		if len(page.Events) == limit {
			c := CursorOf(page.Events[limit-1])
			page.Next = &c
			return errStop
		}
		page.Events = append(page.Events, ev)
		return nil
	})
	page.Stats = st
	if err != nil && !errors.Is(err, errStop) {
		return Page{Stats: st}, err
	}
	return page, nil
}

// Each calls fn with every event matching f, newest first, starting after
// the cursor (nil: from the newest), until fn returns an error, which Each
// returns as it is. fn owns the events it is given.
//
// Memory is bounded by one partition day: Each keeps a small record (24
// bytes) for every matching row of the day it is reading, and reads the
// events themselves a chunk at a time.
func (e *Engine) Each(ctx context.Context, f Filter, after *Cursor, fn func(*sharelog.Event) error) (Stats, error) {
	return e.each(ctx, f, after, maxChunk, false, fn)
}

// EachOldestFirst calls fn with every event matching f, oldest first (by
// time, then id), until fn returns an error, which it returns as it is: the
// order in which a replay re-sends archived events. Memory is bounded as
// for Each.
func (e *Engine) EachOldestFirst(ctx context.Context, f Filter, fn func(*sharelog.Event) error) (Stats, error) {
	return e.each(ctx, f, nil, maxChunk, true, fn)
}

// each is Each reading the first chunk of events firstChunk rows at most,
// doubling from there up to maxChunk.
func (e *Engine) each(ctx context.Context, f Filter, after *Cursor, firstChunk int, oldestFirst bool, fn func(*sharelog.Event) error) (Stats, error) {
	var st Stats
	if err := f.Validate(); err != nil {
		return st, err
	}
	c, err := compile(f, after)
	if err != nil {
		return st, err
	}
	if oldestFirst {
		c.dir = -1
	}
	days, err := e.days(f, after, c.dir)
	if err != nil {
		return st, err
	}
	for _, d := range days {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		if err := e.day(ctx, d, c, after, &st, &firstChunk, fn); err != nil {
			return st, err
		}
	}
	return st, nil
}

// day is the partitions of one UTC day, across the workspaces in scope.
type day struct {
	day   time.Time
	parts []archive.Partition
}

// days lists the partitions the query can touch, grouped by day, newest day
// first.
func (e *Engine) days(f Filter, after *Cursor, dir int) ([]day, error) {
	byDay := map[time.Time][]archive.Partition{}
	for _, ws := range dedupe(f.Workspaces) {
		parts, err := archive.WorkspacePartitions(e.root, ws)
		if err != nil {
			return nil, fmt.Errorf("query: %w", err)
		}
		for _, p := range parts {
			end := p.Day.AddDate(0, 0, 1)
			if !f.From.IsZero() && !end.After(f.From) {
				continue
			}
			if !f.To.IsZero() && !p.Day.Before(f.To) {
				continue
			}
			if after != nil && p.Day.After(after.Time) {
				continue
			}
			byDay[p.Day] = append(byDay[p.Day], p)
		}
	}
	out := make([]day, 0, len(byDay))
	for d, parts := range byDay {
		out = append(out, day{day: d, parts: parts})
	}
	slices.SortFunc(out, func(a, b day) int { return dir * b.day.Compare(a.day) })
	return out, nil
}

func dedupe(list []string) []string {
	out := slices.Clone(list)
	slices.Sort(out)
	return slices.Compact(out)
}

// hit locates one matching row.
type hit struct {
	micros int64
	file   int32
	group  int32
	row    int64
}

// openFile is one archive file opened for the duration of a day.
type openFile struct {
	path string
	f    *os.File
	pf   *parquet.File
}

// seekGap is the distance in rows from one hit to the next beyond which
// materialize seeks instead of reading through. 1: only adjacent rows are
// read as one run. Reading through gaps was measured over 10M events
// (docs/BENCHMARKS.md, "Archive: storage and queries"): faster for some busy
// IPs, slower for others, so it stays off until materialising goes column by
// column.
const seekGap = 1

// maxChunk is the most hits read as events at a time.
const maxChunk = 2048

// day runs the query over one day: it collects the hits of every file, sorts
// them newest first and hands the events to fn in that order, without
// repeats.
func (e *Engine) day(ctx context.Context, d day, c *compiled, after *Cursor, st *Stats, chunk *int, fn func(*sharelog.Event) error) error {
	var files []*openFile
	defer func() {
		for _, of := range files {
			of.f.Close()
		}
	}()
	var hits []hit
	for _, p := range d.parts {
		st.Partitions++
		paths, err := archive.Files(p.Dir)
		if err != nil {
			return fmt.Errorf("query: %w", err)
		}
		for _, path := range paths {
			if err := ctx.Err(); err != nil {
				return err
			}
			of, err := open(path)
			if errors.Is(err, os.ErrNotExist) {
				continue // removed by compaction or retention since the listing
			}
			if err != nil {
				return err
			}
			files = append(files, of)
			st.Files++
			n := len(hits)
			hits, err = c.scanFile(of.pf, int32(len(files)-1), hits, st)
			if err != nil {
				return fmt.Errorf("query: %s: %w", path, err)
			}
			st.RowsMatched += int64(len(hits) - n)
		}
	}
	slices.SortFunc(hits, func(a, b hit) int {
		if d := c.dir * cmp.Compare(b.micros, a.micros); d != 0 {
			return d
		}
		if c := cmp.Compare(a.file, b.file); c != 0 {
			return c
		}
		if c := cmp.Compare(a.group, b.group); c != 0 {
			return c
		}
		return cmp.Compare(a.row, b.row)
	})
	for len(hits) > 0 {
		// A chunk never splits hits of one time, so the repeats of an
		// event (same id, same time) are in the same chunk.
		n := min(*chunk, len(hits))
		*chunk = min(*chunk*2, maxChunk)
		for n < len(hits) && hits[n].micros == hits[n-1].micros {
			n++
		}
		evs, err := materialize(files, hits[:n])
		if err != nil {
			return err
		}
		hits = hits[n:]
		slices.SortFunc(evs, func(a, b *sharelog.Event) int {
			if d := c.dir * b.Time.Compare(a.Time); d != 0 {
				return d
			}
			return c.dir * cmp.Compare(b.ID, a.ID)
		})
		for i, ev := range evs {
			if i > 0 && evs[i-1].ID == ev.ID {
				st.Duplicates++
				continue
			}
			if !after.before(ev.Time.UnixMicro(), ev.ID) {
				continue
			}
			if err := fn(ev); err != nil {
				return err
			}
		}
	}
	return nil
}

func open(path string) (*openFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	pf, err := parquet.OpenFile(f, fi.Size())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("query: %s: %w", path, err)
	}
	return &openFile{path: path, f: f, pf: pf}, nil
}

// materialize reads the events of hits, which may come in any order.
func materialize(files []*openFile, hits []hit) ([]*sharelog.Event, error) {
	order := slices.Clone(hits)
	slices.SortFunc(order, func(a, b hit) int {
		if c := cmp.Compare(a.file, b.file); c != 0 {
			return c
		}
		if c := cmp.Compare(a.group, b.group); c != 0 {
			return c
		}
		return cmp.Compare(a.row, b.row)
	})
	out := make([]*sharelog.Event, 0, len(order))
	buf := make([]archive.Row, 256)
	for i := 0; i < len(order); {
		// One reader per row group. Hits fewer than seekGap rows apart are
		// read as one span, the rows between them decoded and dropped.
		of := files[order[i].file]
		rg := of.pf.RowGroups()[order[i].group]
		r := parquet.NewGenericRowGroupReader[archive.Row](rg)
		j := i
		for j < len(order) && order[j].file == order[i].file && order[j].group == order[i].group {
			k := j + 1
			for k < len(order) && order[k].file == order[j].file && order[k].group == order[j].group && order[k].row-order[k-1].row < seekGap {
				k++
			}
			if err := r.SeekToRow(order[j].row); err != nil {
				r.Close()
				return nil, fmt.Errorf("query: %s: %w", of.path, err)
			}
			next, row, last := j, order[j].row, order[k-1].row
			for row <= last {
				want := int(min(int64(len(buf)), last-row+1))
				n, err := r.Read(buf[:want])
				if n < want {
					r.Close()
					if err == nil {
						err = errors.New("short read")
					}
					return nil, fmt.Errorf("query: %s: row %d: %w", of.path, row, err)
				}
				for x := range n {
					if next < k && order[next].row == row+int64(x) {
						out = append(out, buf[x].Event())
						next++
					}
				}
				row += int64(n)
			}
			j = k
		}
		r.Close()
		i = j
	}
	return out, nil
}
