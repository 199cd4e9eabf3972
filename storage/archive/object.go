package archive

import (
	"context"
	"fmt"
	"time"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/storage/objstore"
)

// ContentType is the media type archive objects are uploaded with.
const ContentType = "application/vnd.apache.parquet"

// PartitionKey returns the key prefix of the partition of workspaceID and
// the UTC date of day in an object store: workspace=<id>/date=<YYYY-MM-DD>
// (no leading or trailing slash), the same layout as PartitionDir's below
// the root. It refuses the workspace ids PartitionDir refuses.
func PartitionKey(workspaceID string, day time.Time) (string, error) {
	if err := checkWorkspaceID(workspaceID); err != nil {
		return "", err
	}
	return "workspace=" + workspaceID + "/date=" + day.UTC().Format(time.DateOnly), nil
}

// WriteObject writes events as a new Parquet object in store, at
// workspace=<id>/date=<YYYY-MM-DD>/<NewFileName>, and returns its key once
// the upload is committed (objstore.Writer.Close returned nil). It encodes
// the file exactly as WriteFile does, and accepts and refuses the same
// batches (one partition, not empty).
//
// The upload is one commit-on-close write: until it completes nothing is
// visible at the key, and on error (ctx cancelled included) no object is
// left. File names carry 64 random bits (NewFileName), so writers do not
// collide; the write is also create-if-absent, so a collision would fail
// rather than replace a file.
func WriteObject(ctx context.Context, store *objstore.Store, events []*sharelog.Event, opts Options) (key string, stats FileStats, err error) {
	sorted, pk, stats, opts, err := prepare(events, opts)
	if err != nil {
		return "", FileStats{}, err
	}
	key = "workspace=" + pk.workspace + "/date=" + pk.date + "/" + NewFileName(time.Now())
	w, err := store.NewWriter(ctx, key, &objstore.WriteOptions{IfAbsent: true, ContentType: ContentType})
	if err != nil {
		return "", FileStats{}, fmt.Errorf("archive: write %s: %w", key, err)
	}
	rowGroups, size, err := encode(w, sorted, opts)
	if err != nil {
		w.Abort()
		return "", FileStats{}, fmt.Errorf("archive: write %s: %w", key, err)
	}
	if err := w.Close(); err != nil {
		return "", FileStats{}, fmt.Errorf("archive: write %s: %w", key, err)
	}
	stats.Bytes = size
	stats.RowGroups = rowGroups
	return key, stats, nil
}

// ReadEachObject is ReadEach for the archive object at key in store: it
// reads the object with ranged reads (objstore.ReaderAt), so only the
// footer and the row groups it decodes are fetched.
func ReadEachObject(ctx context.Context, store *objstore.Store, key string, fn func(*sharelog.Event) error) error {
	ra, err := store.NewReaderAt(ctx, key)
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	defer ra.Close()
	return readEach(ra, ra.Size(), key, fn)
}
