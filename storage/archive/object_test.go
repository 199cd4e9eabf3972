package archive

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/internal/s3test"
	"github.com/sharelog/sharelog/storage/objstore"
)

// stores returns a file:// store and, when SeaweedFS is available, an S3
// one, each empty.
func stores(t *testing.T) map[string]*objstore.Store {
	t.Helper()
	ctx := context.Background()
	out := map[string]*objstore.Store{}
	u, err := objstore.FileURL(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	fs, err := objstore.Open(ctx, u, objstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	out["file"] = fs
	if s3test.Weed() != "" || os.Getenv("SHARELOG_TEST_REQUIRE_S3") == "1" {
		endpoint, bucket, ak, sk := s3test.Start(t)
		s, err := objstore.Open(ctx, s3test.URL(endpoint, bucket, "archive"), objstore.Options{AccessKeyID: ak, SecretAccessKey: sk})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		out["s3"] = s
	}
	return out
}

func TestWriteObject(t *testing.T) {
	events := largestPartition(generate(3000, 7))
	opts := Options{RowGroupRows: 200}
	for name, store := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			key, stats, err := WriteObject(ctx, store, events, opts)
			if err != nil {
				t.Fatal(err)
			}
			prefix, err := PartitionKey(events[0].Workspace.ID, events[0].Time)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(key, prefix+"/") || !strings.HasSuffix(key, Ext) || strings.Count(key, "/") != 2 {
				t.Fatalf("key %q, want %s/<name>%s", key, prefix, Ext)
			}
			if stats.Rows != int64(len(events)) {
				t.Fatalf("stats.Rows %d, want %d", stats.Rows, len(events))
			}
			a, err := store.Attributes(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			if a.Size != stats.Bytes {
				t.Fatalf("object is %d bytes, stats say %d", a.Size, stats.Bytes)
			}
			// Ranged reads through parquet-go: the row groups and the
			// events are those written.
			ra, err := store.NewReaderAt(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			pf, err := parquet.OpenFile(ra, ra.Size())
			if err != nil {
				t.Fatal(err)
			}
			if got := len(pf.RowGroups()); got != stats.RowGroups || got < 2 {
				t.Fatalf("%d row groups, stats say %d (want several)", got, stats.RowGroups)
			}
			ra.Close()
			var got []*sharelog.Event
			if err := ReadEachObject(ctx, store, key, func(ev *sharelog.Event) error {
				got = append(got, ev)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			want := byID(events)
			got = byID(got)
			if len(got) != len(want) {
				t.Fatalf("read %d events, wrote %d", len(got), len(want))
			}
			for i := range want {
				if got[i].ID != want[i].ID || !got[i].Time.Equal(want[i].Time) {
					t.Fatalf("event %d: got %s at %s, want %s at %s", i, got[i].ID, got[i].Time, want[i].ID, want[i].Time)
				}
			}
			if dir, ok := store.Local(); ok {
				// The same layout and the same file WriteFile makes.
				local, err := ReadFile(filepath.Join(dir, filepath.FromSlash(key)))
				if err != nil || len(local) != len(events) {
					t.Fatalf("ReadFile of the object's file: %d events, %v", len(local), err)
				}
			}
		})
	}
}

func TestWriteObjectRefusesAndLeavesNothing(t *testing.T) {
	all := generate(2000, 3)
	one := largestPartition(all)
	for name, store := range stores(t) {
		t.Run(name, func(t *testing.T) {
			if _, _, err := WriteObject(context.Background(), store, nil, Options{}); !errors.Is(err, ErrNoEvents) {
				t.Fatalf("empty batch: %v, want ErrNoEvents", err)
			}
			if _, _, err := WriteObject(context.Background(), store, all, Options{}); err == nil || !strings.Contains(err.Error(), "belongs to") {
				t.Fatalf("mixed partitions: %v", err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if _, _, err := WriteObject(ctx, store, one, Options{}); err == nil {
				t.Fatal("write with a cancelled context succeeded")
			}
			objs, err := store.List(context.Background(), "")
			if err != nil {
				t.Fatal(err)
			}
			if len(objs) != 0 {
				t.Fatalf("objects left: %v", objs)
			}
		})
	}
}
