package objstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/parquet-go/parquet-go"

	"github.com/sharelog/sharelog/internal/leaktest"
	"github.com/sharelog/sharelog/internal/s3test"
	"github.com/sharelog/sharelog/storage/objstore"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

// backend opens a fresh, empty store for one test case.
type backend struct {
	name string
	open func(t *testing.T, prefix string) *objstore.Store
}

// backends are a local directory and SeaweedFS's S3 gateway (one server for
// the whole table; each case has a prefix of its own).
func backends(t *testing.T) []backend {
	file := backend{"file", func(t *testing.T, _ string) *objstore.Store {
		u, err := objstore.FileURL(filepath.Join(t.TempDir(), "archive"))
		if err != nil {
			t.Fatal(err)
		}
		return mustOpen(t, u, objstore.Options{})
	}}
	bs := []backend{file}
	if s3test.Weed() == "" && os.Getenv("SHARELOG_TEST_REQUIRE_S3") != "1" {
		t.Log("s3 backend skipped: no SeaweedFS weed binary (scripts/seaweedfs-up --build-only)")
		return bs
	}
	endpoint, bucket, ak, sk := s3test.Start(t)
	return append(bs, backend{"s3", func(t *testing.T, prefix string) *objstore.Store {
		return mustOpen(t, s3test.URL(endpoint, bucket, prefix), objstore.Options{AccessKeyID: ak, SecretAccessKey: sk})
	}})
}

func mustOpen(t *testing.T, u string, o objstore.Options) *objstore.Store {
	t.Helper()
	s, err := objstore.Open(context.Background(), u, o)
	if err != nil {
		t.Fatalf("Open(%s): %v", u, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var cases = []struct {
	name string
	run  func(t *testing.T, s *objstore.Store)
}{
	{"PutGetListDelete", testPutGetListDelete},
	{"RangedRead", testRangedRead},
	{"ParquetThroughReaderAt", testParquet},
	{"InvisibleUntilClosed", testInvisibleUntilClosed},
	{"AbortLeavesNothing", testAbort},
	{"CancelledContextLeavesNothing", testCancelled},
	{"CreateIfAbsent", testCreateIfAbsent},
	{"ReaderAtKeepsOneVersion", testReplaceWhileReading},
	{"BadKeys", testBadKeys},
}

func TestStore(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			for i, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					c.run(t, b.open(t, "case"+string(rune('a'+i))))
				})
			}
		})
	}
}

var ctx = context.Background()

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func keys(t *testing.T, s *objstore.Store, prefix string) []string {
	t.Helper()
	list, err := s.List(ctx, prefix)
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	var ks []string
	for _, a := range list {
		ks = append(ks, a.Key)
	}
	return ks
}

func testPutGetListDelete(t *testing.T, s *objstore.Store) {
	objs := map[string][]byte{
		"workspace=w1/date=2026-12-01/a.parquet": []byte("one"),
		"workspace=w1/date=2026-12-02/b.parquet": []byte("two two"),
		"workspace=w2/date=2026-12-01/c.parquet": []byte("three"),
	}
	for k, v := range objs {
		if err := s.Put(ctx, k, v, nil); err != nil {
			t.Fatalf("Put(%s): %v", k, err)
		}
	}
	for k, v := range objs {
		got, err := s.Get(ctx, k)
		if err != nil || !bytes.Equal(got, v) {
			t.Errorf("Get(%s) = %q, %v; want %q", k, got, err, v)
		}
		a, err := s.Attributes(ctx, k)
		if err != nil || a.Size != int64(len(v)) || a.ModTime.IsZero() {
			t.Errorf("Attributes(%s) = %+v, %v; want size %d and a mod time", k, a, err, len(v))
		}
	}
	if got, want := strings.Join(keys(t, s, "workspace=w1/"), ","), "workspace=w1/date=2026-12-01/a.parquet,workspace=w1/date=2026-12-02/b.parquet"; got != want {
		t.Errorf("List(workspace=w1/) = %s; want %s", got, want)
	}
	list, err := s.List(ctx, "")
	if err != nil || len(list) != 3 {
		t.Fatalf("List(\"\") = %v, %v; want 3 objects", list, err)
	}
	for _, a := range list {
		if a.Size != int64(len(objs[a.Key])) {
			t.Errorf("List: %s size %d; want %d", a.Key, a.Size, len(objs[a.Key]))
		}
	}
	if len(keys(t, s, "workspace=w3/")) != 0 {
		t.Error("List of an absent prefix is not empty")
	}

	k := "workspace=w1/date=2026-12-01/a.parquet"
	if err := s.Delete(ctx, k); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Get(ctx, k); !errors.Is(err, objstore.ErrNotExist) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Get after Delete: %v; want ErrNotExist", err)
	}
	if _, err := s.Attributes(ctx, k); !errors.Is(err, objstore.ErrNotExist) {
		t.Errorf("Attributes after Delete: %v; want ErrNotExist", err)
	}
	if _, err := s.NewReaderAt(ctx, k); !errors.Is(err, objstore.ErrNotExist) {
		t.Errorf("NewReaderAt after Delete: %v; want ErrNotExist", err)
	}
	if ok, err := s.Exists(ctx, k); ok || err != nil {
		t.Errorf("Exists after Delete = %v, %v", ok, err)
	}
	if got := len(keys(t, s, "")); got != 2 {
		t.Errorf("after Delete List has %d objects; want 2", got)
	}
}

func testRangedRead(t *testing.T, s *objstore.Store) {
	data := randomBytes(t, 3<<20+17)
	k := "workspace=w/date=2026-12-01/big.parquet"
	if err := s.Put(ctx, k, data, nil); err != nil {
		t.Fatal(err)
	}
	ra, err := s.NewReaderAt(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	defer ra.Close()
	if ra.Size() != int64(len(data)) {
		t.Fatalf("Size = %d; want %d", ra.Size(), len(data))
	}
	for _, r := range []struct{ off, n int }{{0, 8}, {1 << 20, 4096}, {len(data) - 8, 8}, {12345, 1 << 20}} {
		p := make([]byte, r.n)
		n, err := ra.ReadAt(p, int64(r.off))
		if err != nil || n != r.n || !bytes.Equal(p, data[r.off:r.off+r.n]) {
			t.Errorf("ReadAt(%d bytes at %d) = %d, %v; or wrong bytes", r.n, r.off, n, err)
		}
	}
	// Past the end: short read with io.EOF.
	p := make([]byte, 100)
	n, err := ra.ReadAt(p, int64(len(data)-10))
	if n != 10 || err != io.EOF || !bytes.Equal(p[:10], data[len(data)-10:]) {
		t.Errorf("ReadAt across the end = %d, %v; want 10, io.EOF", n, err)
	}
	if n, err := ra.ReadAt(p, int64(len(data))); n != 0 || err != io.EOF {
		t.Errorf("ReadAt at the end = %d, %v; want 0, io.EOF", n, err)
	}
	// The whole object through io.SectionReader, as a copy would.
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, io.NewSectionReader(ra, 0, ra.Size())); err != nil || !bytes.Equal(buf.Bytes(), data) {
		t.Errorf("copy through SectionReader: %v, equal=%v", err, bytes.Equal(buf.Bytes(), data))
	}
}

type row struct {
	ID   string `parquet:"id"`
	Link string `parquet:"link_id"`
	N    int64  `parquet:"n"`
}

// testParquet writes a Parquet file straight into a Writer and reads it
// back with parquet.OpenFile over a ReaderAt, as the archive and the query
// engine will.
func testParquet(t *testing.T, s *objstore.Store) {
	k := "workspace=w/date=2026-12-01/rows.parquet"
	w, err := s.NewWriter(ctx, k, &objstore.WriteOptions{ContentType: "application/vnd.apache.parquet"})
	if err != nil {
		t.Fatal(err)
	}
	pw := parquet.NewGenericWriter[row](w, parquet.MaxRowsPerRowGroup(100))
	var rows []row
	for i := range 1000 {
		rows = append(rows, row{ID: "ev" + string(rune('a'+i%26)), Link: "L" + string(rune('a'+i%7)), N: int64(i)})
	}
	if _, err := pw.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := pw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	ra, err := s.NewReaderAt(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	defer ra.Close()
	pf, err := parquet.OpenFile(ra, ra.Size())
	if err != nil {
		t.Fatalf("parquet.OpenFile: %v", err)
	}
	if pf.NumRows() != 1000 || len(pf.RowGroups()) != 10 {
		t.Fatalf("rows %d, row groups %d; want 1000, 10", pf.NumRows(), len(pf.RowGroups()))
	}
	got := make([]row, 1000)
	r := parquet.NewGenericReader[row](pf)
	n, err := r.Read(got)
	if (err != nil && err != io.EOF) || n != 1000 {
		t.Fatalf("read %d rows: %v", n, err)
	}
	r.Close()
	for i := range rows {
		if got[i] != rows[i] {
			t.Fatalf("row %d = %+v; want %+v", i, got[i], rows[i])
		}
	}
}

func testInvisibleUntilClosed(t *testing.T, s *objstore.Store) {
	k := "workspace=w/date=2026-12-01/pending.parquet"
	w, err := s.NewWriter(ctx, k, nil)
	if err != nil {
		t.Fatal(err)
	}
	data := randomBytes(t, 256<<10)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Exists(ctx, k); ok || err != nil {
		t.Errorf("Exists before Close = %v, %v; want false", ok, err)
	}
	if ks := keys(t, s, ""); len(ks) != 0 {
		t.Errorf("List before Close = %v; want nothing", ks)
	}
	if _, err := s.Get(ctx, k); !errors.Is(err, objstore.ErrNotExist) {
		t.Errorf("Get before Close: %v; want ErrNotExist", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, k); err != nil || !bytes.Equal(got, data) {
		t.Errorf("Get after Close: %v, equal=%v", err, bytes.Equal(got, data))
	}
	if ks := keys(t, s, ""); len(ks) != 1 || ks[0] != k {
		t.Errorf("List after Close = %v; want [%s]", ks, k)
	}
	assertLocalLayout(t, s, []string{k})
}

// assertLocalLayout checks, for a file:// store, that the directory holds
// exactly the given keys as plain files: no sidecars, no temporary files.
func assertLocalLayout(t *testing.T, s *objstore.Store, want []string) {
	t.Helper()
	dir, ok := s.Local()
	if !ok {
		return
	}
	var got []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		got = append(got, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("files under %s = %v; want %v", dir, got, want)
	}
}

func testAbort(t *testing.T, s *objstore.Store) {
	k := "workspace=w/date=2026-12-01/aborted.parquet"
	w, err := s.NewWriter(ctx, k, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(randomBytes(t, 6<<20)); err != nil {
		t.Fatal(err)
	}
	w.Abort()
	if ok, err := s.Exists(ctx, k); ok || err != nil {
		t.Errorf("Exists after Abort = %v, %v; want false", ok, err)
	}
	if ks := keys(t, s, ""); len(ks) != 0 {
		t.Errorf("List after Abort = %v", ks)
	}
	if err := w.Close(); err == nil {
		t.Error("Close after Abort succeeded")
	}
	assertLocalLayout(t, s, nil)
}

func testCancelled(t *testing.T, s *objstore.Store) {
	k := "workspace=w/date=2026-12-01/cancelled.parquet"
	cctx, cancel := context.WithCancel(ctx)
	w, err := s.NewWriter(cctx, k, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(randomBytes(t, 64<<10)); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := w.Close(); err == nil {
		t.Fatal("Close with a cancelled context succeeded")
	}
	if ok, err := s.Exists(ctx, k); ok || err != nil {
		t.Errorf("Exists after a cancelled write = %v, %v; want false", ok, err)
	}
	assertLocalLayout(t, s, nil)
}

func testCreateIfAbsent(t *testing.T, s *objstore.Store) {
	k := "lease/maintenance"
	abs := &objstore.WriteOptions{IfAbsent: true}
	if err := s.Put(ctx, k, []byte("first"), abs); err != nil {
		t.Fatalf("first create: %v", err)
	}
	err := s.Put(ctx, k, []byte("second"), abs)
	if !errors.Is(err, objstore.ErrExist) || !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second create: %v; want ErrExist", err)
	}
	if got, err := s.Get(ctx, k); err != nil || string(got) != "first" {
		t.Errorf("after the refused create Get = %q, %v; want first", got, err)
	}
	// An unconditional write still replaces it; after a delete the create
	// succeeds again.
	if err := s.Put(ctx, k, []byte("third"), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, k, []byte("fourth"), abs); err != nil {
		t.Errorf("create after delete: %v", err)
	}
}

func testReplaceWhileReading(t *testing.T, s *objstore.Store) {
	k := "workspace=w/date=2026-12-01/replaced.parquet"
	old := bytes.Repeat([]byte("o"), 4096)
	if err := s.Put(ctx, k, old, nil); err != nil {
		t.Fatal(err)
	}
	ra, err := s.NewReaderAt(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	defer ra.Close()
	if err := s.Put(ctx, k, bytes.Repeat([]byte("n"), 4096), nil); err != nil {
		t.Fatal(err)
	}
	// A local file read through the descriptor opened keeps the old
	// version (the replacement was renamed over it); S3 reads are pinned to
	// the ETag seen at open and fail.
	_, local := s.Local()
	for _, step := range []string{"replaced", "deleted"} {
		if step == "deleted" {
			if err := s.Delete(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
		p := make([]byte, 100)
		n, err := ra.ReadAt(p, 1000)
		if local {
			if err != nil || n != 100 || !bytes.Equal(p, old[:100]) {
				t.Errorf("%s: ReadAt = %d, %v, %q...; want the old bytes", step, n, err, p[:min(n, 8)])
			}
		} else if !errors.Is(err, objstore.ErrChanged) {
			t.Errorf("%s: ReadAt = %d, %v, %q...; want ErrChanged", step, n, err, p[:min(n, 8)])
		}
	}
}

func testBadKeys(t *testing.T, s *objstore.Store) {
	for _, k := range []string{"", "/abs", "a//b", "a/../b", "../x", "dir/", "x.tmp", `a\b`} {
		if err := s.Put(ctx, k, []byte("x"), nil); err == nil {
			t.Errorf("Put(%q) succeeded", k)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	for _, u := range []string{
		"/var/lib/archive",
		"ftp://host/dir",
		"file://host/dir",
		"file:relative/dir",
		"s3:///prefix",
		"s3://bucket?use_path_style=maybe",
		"s3://bucket?ssetype=rot13",
		"s3://bucket?no_such_param=1",
		"%zz",
	} {
		if s, err := objstore.Open(ctx, u, objstore.Options{}); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", u)
		}
	}
}

// TestS3Prefix: the path of an s3:// URL is a prefix inside the bucket, as
// another S3 client sees it.
func TestS3Prefix(t *testing.T) {
	endpoint, bucket, ak, sk := s3test.Start(t)
	s := mustOpen(t, s3test.URL(endpoint, bucket, "archive/v1"), objstore.Options{AccessKeyID: ak, SecretAccessKey: sk})
	if err := s.Put(ctx, "workspace=w/date=2026-12-01/f.parquet", []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	out, err := s3test.Client(endpoint, ak, sk).ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Contents) != 1 || aws.ToString(out.Contents[0].Key) != "archive/v1/workspace=w/date=2026-12-01/f.parquet" {
		var ks []string
		for _, o := range out.Contents {
			ks = append(ks, aws.ToString(o.Key))
		}
		t.Errorf("bucket keys = %v; want archive/v1/workspace=w/date=2026-12-01/f.parquet", ks)
	}
	a, err := s.Attributes(ctx, "workspace=w/date=2026-12-01/f.parquet")
	if err != nil || a.ETag == "" {
		t.Errorf("Attributes = %+v, %v; want an ETag", a, err)
	}
	// Wrong credentials are refused.
	bad := mustOpen(t, s3test.URL(endpoint, bucket, ""), objstore.Options{AccessKeyID: ak, SecretAccessKey: "wrong"})
	if err := bad.Put(ctx, "x", []byte("x"), nil); err == nil {
		t.Error("Put with a wrong secret succeeded")
	}
}
