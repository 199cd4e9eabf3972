// Package archive writes and reads the Parquet files of the event archive.
//
// The archive is Hive-partitioned by workspace and UTC day:
//
//	<root>/workspace=<id>/date=<YYYY-MM-DD>/<unix-nanos>-<random>.parquet
//
// so that DuckDB, Spark, Trino, Athena and pyarrow read it as it is. Each file
// holds events of one partition only, one row per event (see Row for the
// schema), sorted by (link_id, time, id) and cut into bounded row groups whose
// statistics, with the bloom filters on link_id, actor_email,
// actor_visitor_email, client_ip and
// file_id, let a reader skip what a query for one link, user, IP or file
// cannot match.
//
// Files appear atomically: WriteFile writes a hidden temporary file
// (".tmp-<unix-nanos>-<random>.partial") in the partition directory, fsyncs
// it, renames it to its final name and fsyncs the directory. A reader that lists "*.parquet" sees a
// file complete or not at all; CleanLeftovers removes what a crash left.
// WriteObject writes the same file, encoded by the same code, to an object
// store (storage/objstore) under the same layout, as one upload that is
// visible only once it completes (docs/archive.md).
//
// This package is the file layer only. Who calls WriteFile (the archive sink)
// decides batching and when to commit Kafka offsets: a returned nil error
// means the file is durable. The package has no global mutable state; its
// functions are safe for concurrent use as long as two callers do not write
// the same path, which unique file names ensure.
package archive

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/sharelog/sharelog"
)

// File naming.
const (
	// Ext is the extension of every archive file. Readers glob "*"+Ext.
	Ext = ".parquet"
	// TempPrefix starts the name of a file being written, and TempExt ends
	// it: .tmp-<name without Ext>.partial. It does not end in Ext, so no glob
	// of "*.parquet" picks it up (Go's filepath.Glob, unlike a shell, lets
	// "*" match a leading dot), and it starts with a dot, which Spark and
	// Hive skip whatever its extension.
	TempPrefix = ".tmp-"
	TempExt    = ".partial"
)

// Defaults of Options.
const (
	DefaultRowGroupRows      = 50_000
	DefaultBloomBitsPerValue = 10
	// MaxRowGroupRows caps Options.RowGroupRows: a row group is buffered in
	// memory until it is full.
	MaxRowGroupRows = 1_000_000
)

// BloomColumns are the columns that carry a bloom filter: the ones a query
// looks up by one value that row-group statistics cannot prune well.
var BloomColumns = [...]string{"link_id", "actor_email", "actor_visitor_email", "client_ip", "file_id"}

// Options tune how files are written. The zero value means the defaults.
type Options struct {
	// RowGroupRows is the most rows in one row group (default 50,000,
	// at most MaxRowGroupRows). The writer buffers one row group in memory,
	// so this bounds the memory of a write as well as the granularity of
	// pruning. There is no unlimited setting.
	RowGroupRows int `yaml:"row_group_rows"`
	// BloomBitsPerValue sizes the bloom filters (default 10, about 1%
	// false positives).
	BloomBitsPerValue int `yaml:"bloom_bits_per_value"`
}

// Validate reports a setting out of range, naming its field.
func (o Options) Validate() error {
	var errs []error
	if o.RowGroupRows < 0 || o.RowGroupRows > MaxRowGroupRows {
		errs = append(errs, fmt.Errorf("row_group_rows: must be between 1 and %d (0 for the default %d), is %d",
			MaxRowGroupRows, DefaultRowGroupRows, o.RowGroupRows))
	}
	if o.BloomBitsPerValue < 0 || o.BloomBitsPerValue > 64 {
		errs = append(errs, fmt.Errorf("bloom_bits_per_value: must be between 1 and 64 (0 for the default %d), is %d",
			DefaultBloomBitsPerValue, o.BloomBitsPerValue))
	}
	return errors.Join(errs...)
}

func (o Options) withDefaults() Options {
	if o.RowGroupRows == 0 {
		o.RowGroupRows = DefaultRowGroupRows
	}
	if o.BloomBitsPerValue == 0 {
		o.BloomBitsPerValue = DefaultBloomBitsPerValue
	}
	return o
}

// FileStats describes a file WriteFile wrote.
type FileStats struct {
	Rows  int64 // events in the file
	Bytes int64 // size of the file
	// MinTime and MaxTime are the earliest and latest event times.
	MinTime, MaxTime time.Time
	RowGroups        int
}

// ErrNoEvents is returned by WriteFile for an empty batch: an archive file
// is never empty.
var ErrNoEvents = errors.New("archive: no events to write")

// PartitionDir returns the directory of the partition of workspaceID and the
// UTC date of day: <root>/workspace=<id>/date=<YYYY-MM-DD>. It refuses an
// empty workspace id, one with a path separator or a NUL, and "." or "..",
// which would leave the partition; validation of events admits none of them.
func PartitionDir(root, workspaceID string, day time.Time) (string, error) {
	if err := checkWorkspaceID(workspaceID); err != nil {
		return "", err
	}
	return filepath.Join(root, "workspace="+workspaceID, "date="+day.UTC().Format(time.DateOnly)), nil
}

func checkWorkspaceID(id string) error {
	switch {
	case id == "":
		return errors.New("archive: empty workspace id")
	case id == "." || id == ".." || strings.Contains(id, ".."):
		return fmt.Errorf("archive: workspace id %q may not contain \"..\"", id)
	case strings.ContainsAny(id, `/\`+"\x00") || strings.ContainsRune(id, filepath.Separator):
		return fmt.Errorf("archive: workspace id %q contains a path separator", id)
	}
	return nil
}

// partitionKey is what puts an event in a partition.
type partitionKey struct {
	workspace string
	date      string
}

func keyOf(ev *sharelog.Event) partitionKey {
	return partitionKey{ev.Workspace.ID, ev.Time.UTC().Format(time.DateOnly)}
}

// NewFileName returns a new unique file name, <unix-nanos>-<random>.parquet,
// with the nanoseconds zero-padded to 19 digits so that names sort by the time
// they were made.
func NewFileName(now time.Time) string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand since Go 1.24)
	return fmt.Sprintf("%019d-%s%s", now.UnixNano(), hex.EncodeToString(b[:]), Ext)
}

// tempName is the name of the temporary file that becomes name.
func tempName(name string) string {
	return TempPrefix + strings.TrimSuffix(name, Ext) + TempExt
}

// WriteFile writes events as a new Parquet file in dir and returns its path
// once the file is durable (written, fsynced, renamed into place, directory
// fsynced). dir is created if missing.
//
// All events must belong to one partition, the same workspace id and the
// same UTC date; otherwise WriteFile writes nothing and the error names the
// first event that differs from the first event. If dir ends in
// workspace=<id>/date=<YYYY-MM-DD> (as PartitionDir makes it), it must be
// the partition of the events. An empty batch is ErrNoEvents.
//
// WriteFile neither modifies nor keeps events; it sorts a copy of the slice.
// On error, no file is left under its final name; a temporary file may be
// left only if removing it failed too (CleanLeftovers removes it).
func WriteFile(dir string, events []*sharelog.Event, opts Options) (path string, stats FileStats, err error) {
	sorted, key, stats, opts, err := prepare(events, opts)
	if err != nil {
		return "", FileStats{}, err
	}
	if base, parent := filepath.Base(dir), filepath.Base(filepath.Dir(dir)); strings.HasPrefix(base, "date=") && strings.HasPrefix(parent, "workspace=") {
		if base != "date="+key.date || parent != "workspace="+key.workspace {
			return "", FileStats{}, fmt.Errorf("archive: events of workspace=%s/date=%s may not be written to %s", key.workspace, key.date, dir)
		}
	}

	if err := mkdirAllSync(dir); err != nil {
		return "", FileStats{}, err
	}
	name := NewFileName(time.Now())
	final := filepath.Join(dir, name)
	temp := filepath.Join(dir, tempName(name))
	rowGroups, size, err := writeTemp(temp, sorted, opts)
	if err == nil {
		err = os.Rename(temp, final)
	}
	if err != nil {
		if rmErr := os.Remove(temp); rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) {
			err = errors.Join(err, rmErr)
		}
		return "", FileStats{}, fmt.Errorf("archive: write %s: %w", final, err)
	}
	if err := syncDir(dir); err != nil {
		return "", FileStats{}, fmt.Errorf("archive: write %s: %w", final, err)
	}
	stats.Bytes = size
	stats.RowGroups = rowGroups
	return final, stats, nil
}

// prepare checks a batch for WriteFile and WriteObject (options valid, not
// empty, one partition, a usable workspace id) and returns a sorted copy,
// its partition, the stats known before encoding (Rows, MinTime, MaxTime)
// and the options with their defaults.
func prepare(events []*sharelog.Event, opts Options) (sorted []*sharelog.Event, key partitionKey, stats FileStats, _ Options, err error) {
	if err := opts.Validate(); err != nil {
		return nil, key, stats, opts, err
	}
	opts = opts.withDefaults()
	if len(events) == 0 {
		return nil, key, stats, opts, ErrNoEvents
	}
	key = keyOf(events[0])
	if err := checkWorkspaceID(key.workspace); err != nil {
		return nil, key, stats, opts, fmt.Errorf("archive: event %q: %w", events[0].ID, err)
	}
	stats.MinTime, stats.MaxTime = events[0].Time, events[0].Time
	for _, ev := range events[1:] {
		if k := keyOf(ev); k != key {
			return nil, key, FileStats{}, opts, fmt.Errorf("archive: event %q belongs to workspace=%s/date=%s, not to workspace=%s/date=%s like event %q",
				ev.ID, k.workspace, k.date, key.workspace, key.date, events[0].ID)
		}
		if ev.Time.Before(stats.MinTime) {
			stats.MinTime = ev.Time
		}
		if ev.Time.After(stats.MaxTime) {
			stats.MaxTime = ev.Time
		}
	}
	stats.Rows = int64(len(events))
	sorted = slices.Clone(events)
	slices.SortFunc(sorted, compareEvents)
	return sorted, key, stats, opts, nil
}

// compareEvents orders events by link id (events without a link first), then
// time, then id, which makes the order of a file deterministic.
func compareEvents(a, b *sharelog.Event) int {
	la, lb := a.Link != nil, b.Link != nil
	switch {
	case la != lb:
		if la {
			return 1
		}
		return -1
	case la:
		if c := strings.Compare(a.Link.ID, b.Link.ID); c != 0 {
			return c
		}
	}
	if c := a.Time.Compare(b.Time); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

// writerOptions are the Parquet writer's settings for opts.
func writerOptions(opts Options) []parquet.WriterOption {
	blooms := make([]parquet.BloomFilterColumn, len(BloomColumns))
	for i, c := range BloomColumns {
		blooms[i] = parquet.SplitBlockFilter(uint(opts.BloomBitsPerValue), c)
	}
	return []parquet.WriterOption{
		parquet.Compression(&parquet.Zstd),
		parquet.MaxRowsPerRowGroup(int64(opts.RowGroupRows)),
		parquet.BloomFilters(blooms...),
		parquet.SortingWriterConfig(parquet.SortingColumns(
			parquet.NullsFirst(parquet.Ascending("link_id")),
			parquet.Ascending("time"),
			parquet.Ascending("id"),
		)),
		parquet.CreatedBy("sharelog", strconv.Itoa(sharelog.SchemaVersion), ""),
		parquet.KeyValueMetadata("sharelog.schema_version", strconv.Itoa(sharelog.SchemaVersion)),
	}
}

// batchRows is how many rows move between the events and the Parquet
// writer or reader at a time.
const batchRows = 1024

// writeTemp writes sorted events to a new file at path and fsyncs it. It
// returns the number of row groups and the file's size.
func writeTemp(path string, sorted []*sharelog.Event, opts Options) (rowGroups int, size int64, err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return 0, 0, err
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	if rowGroups, size, err = encode(f, sorted, opts); err != nil {
		return 0, 0, err
	}
	if err := f.Sync(); err != nil {
		return 0, 0, err
	}
	return rowGroups, size, nil
}

// encode writes sorted events to w as one Parquet file (opts defaulted) and
// returns the number of row groups and the bytes written. It is the one
// encoder of archive files, local (WriteFile) or in an object store
// (WriteObject).
func encode(w io.Writer, sorted []*sharelog.Event, opts Options) (rowGroups int, size int64, err error) {
	cw := &countingWriter{w: w}
	pw := parquet.NewGenericWriter[Row](cw, writerOptions(opts)...)
	rows := make([]Row, 0, min(batchRows, len(sorted)))
	for start := 0; start < len(sorted); start += batchRows {
		rows = rows[:0]
		for _, ev := range sorted[start:min(start+batchRows, len(sorted))] {
			rows = append(rows, ToRow(ev))
		}
		if _, err := pw.Write(rows); err != nil {
			return 0, 0, err
		}
	}
	if err := pw.Close(); err != nil {
		return 0, 0, err
	}
	return (len(sorted) + opts.RowGroupRows - 1) / opts.RowGroupRows, cw.n, nil
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// mkdirAllSync creates dir and its missing parents, fsyncing the parent of
// each directory it creates so that the new entries survive a crash.
func mkdirAllSync(dir string) error {
	dir = filepath.Clean(dir)
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("archive: %s is not a directory", dir)
		}
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := mkdirAllSync(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("archive: %w", err)
	}
	if err := syncDir(parent); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	return nil
}

// syncDir fsyncs a directory, making the entries created or renamed in it
// durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// CleanLeftovers removes the temporary files (TempPrefix…TempExt) that a crash left
// anywhere under root, and returns their paths. Call it before any writer
// starts on root: it would also remove a file a running WriteFile is
// writing. A missing root is not an error. Errors of single files are joined;
// the walk goes on past them.
func CleanLeftovers(root string) (removed []string, err error) {
	var errs []error
	walkErr := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == root && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			errs = append(errs, err)
			return nil
		}
		if d.Type().IsRegular() && strings.HasPrefix(d.Name(), TempPrefix) && strings.HasSuffix(d.Name(), TempExt) {
			if err := os.Remove(path); err != nil {
				errs = append(errs, err)
				return nil
			}
			removed = append(removed, path)
		}
		return nil
	})
	errs = append(errs, walkErr)
	if err := errors.Join(errs...); err != nil {
		return removed, fmt.Errorf("archive: clean leftovers: %w", err)
	}
	return removed, nil
}

// ReadFile returns every event of the archive file at path, in file order.
func ReadFile(path string) ([]*sharelog.Event, error) {
	var out []*sharelog.Event
	err := ReadEach(path, func(ev *sharelog.Event) error {
		out = append(out, ev)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ReadEach calls fn with each event of the archive file at path, in file
// order, holding at most a batch of rows in memory. fn owns the event it is
// given. ReadEach stops at fn's first error and returns it as it is (so the
// caller can use errors.Is on its own sentinel); other errors are wrapped
// with the path.
func ReadEach(path string, fn func(*sharelog.Event) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	return readEach(f, fi.Size(), path, fn)
}

// readEach is ReadEach over any io.ReaderAt (a file, an object); name is
// for errors.
func readEach(ra io.ReaderAt, size int64, name string, fn func(*sharelog.Event) error) error {
	path := name
	pf, err := parquet.OpenFile(ra, size)
	if err != nil {
		return fmt.Errorf("archive: read %s: %w", path, err)
	}
	r := parquet.NewGenericReader[Row](pf)
	defer r.Close()
	rows := make([]Row, batchRows)
	for {
		n, err := r.Read(rows)
		for i := range n {
			if ferr := fn(rows[i].Event()); ferr != nil {
				return ferr
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("archive: read %s: %w", path, err)
		}
		if n == 0 {
			return nil
		}
	}
}
