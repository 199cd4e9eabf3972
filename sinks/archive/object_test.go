package archive

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	sharelog "github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/internal/s3test"
	"github.com/sharelog/sharelog/storage/archive"
	"github.com/sharelog/sharelog/storage/objstore"
)

func TestConfigURL(t *testing.T) {
	// Default: the file:// URL of dir.
	c := Config{}
	c.SetDefaults("/data")
	if c.URL != "file:///data/archive" || c.Dir != "/data/archive" || c.Validate() != nil {
		t.Fatalf("defaults: url %q dir %q: %v", c.URL, c.Dir, c.Validate())
	}
	// A file:// URL alone sets dir.
	c = Config{URL: "file:///srv/arch"}
	c.SetDefaults("/data")
	if c.Dir != "/srv/arch" || c.Validate() != nil {
		t.Fatalf("file url: dir %q: %v", c.Dir, c.Validate())
	}
	// An object store leaves dir at its default.
	c = Config{URL: "s3://b/p?region=us-east-1"}
	c.SetDefaults("/data")
	if c.Dir != "/data/archive" || c.Validate() != nil || c.local() {
		t.Fatalf("s3 url: dir %q local %v: %v", c.Dir, c.local(), c.Validate())
	}
	for _, tc := range []struct {
		url, dir string
		want     string
	}{
		{"file:///a", "/b", "url: file:///a is not the directory archive.dir names (/b)"},
		{"file://host/a", "", "want file:///absolute/path"},
		{"ftp://x/y", "", `unsupported scheme "ftp"`},
		{"s3:///nobucket", "", "no bucket"},
		{"s3://AKIAKEY:topsecret@b/p", "", "credentials may not be in the URL"},
	} {
		c := Config{URL: tc.url, Dir: tc.dir}
		c.SetDefaults("/data")
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "url: ") {
			t.Errorf("%s %s: %v, want %q", tc.url, tc.dir, err, tc.want)
		}
		if err != nil && (strings.Contains(err.Error(), "topsecret") || strings.Contains(err.Error(), "AKIAKEY")) {
			t.Errorf("error shows the credentials: %v", err)
		}
	}
}

// s3Fixture is a fixture whose archive is a prefix of a SeaweedFS bucket.
type s3Fixture struct {
	*fixture
	store    *objstore.Store
	opts     objstore.Options
	endpoint string
	bucket   string
}

func newS3Fixture(t *testing.T) *s3Fixture {
	t.Helper()
	endpoint, bucket, ak, sk := s3test.Start(t)
	f := newFixture(t)
	f.cfg.URL = s3test.URL(endpoint, bucket, "archive")
	if err := f.cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	opts := objstore.Options{AccessKeyID: ak, SecretAccessKey: sk}
	store, err := objstore.Open(context.Background(), f.cfg.URL, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return &s3Fixture{fixture: f, store: store, opts: opts, endpoint: endpoint, bucket: bucket}
}

// archivedObjects reads every object of the archive through ranged reads
// and counts each event id, checking each is in its partition's prefix.
func archivedObjects(t *testing.T, store *objstore.Store) map[string]int {
	t.Helper()
	ctx := context.Background()
	objs, err := store.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, o := range objs {
		if !strings.HasSuffix(o.Key, archive.Ext) || !strings.HasPrefix(o.Key, "workspace=") {
			t.Fatalf("unexpected object %q", o.Key)
		}
		if err := archive.ReadEachObject(ctx, store, o.Key, func(ev *sharelog.Event) error {
			want, err := archive.PartitionKey(ev.Workspace.ID, ev.Time)
			if err != nil {
				return err
			}
			if filepath.Dir(o.Key) != want {
				t.Errorf("event %s in %s, want %s/…", ev.ID, o.Key, want)
			}
			seen[ev.ID]++
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	return seen
}

// TestArchivesToObjectStorage: events from the enriched topic end up once
// each in objects under workspace=…/date=… in the bucket, readable by
// parquet-go through ranged reads, and the group's offsets are committed;
// nothing is written to the local directory.
func TestArchivesToObjectStorage(t *testing.T) {
	f := newS3Fixture(t)
	f.cfg.RetentionInterval = 100 * time.Millisecond // would run often, if it ran
	logs := &lockedBuffer{}
	s, err := New(f.cfg, Deps{Conn: f.conn, Store: f.opts, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ids := f.produce(t, 2000)
	stop := run(t, s)
	deadline := time.Now().Add(60 * time.Second)
	for {
		seen := archivedObjects(t, f.store)
		if len(seen) == len(ids) {
			for _, id := range ids {
				if seen[id] != 1 {
					t.Fatalf("event %s archived %d times", id, seen[id])
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events archived after 60s", len(seen), len(ids))
		}
		time.Sleep(200 * time.Millisecond)
	}
	for deadline := time.Now().Add(20 * time.Second); lag(t, f.fixture, s.Group()) != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("lag %d after every event was archived", lag(t, f.fixture, s.Group()))
		}
		time.Sleep(200 * time.Millisecond)
	}
	stop()
	// Maintenance is skipped on object storage, said once at INFO.
	if n := strings.Count(logs.String(), "level=INFO msg=\"archive on object storage: retention and compaction are not available there yet"); n != 1 {
		t.Errorf("the skipped-maintenance notice was logged %d times, want 1; log:\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), "retention") && strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("warnings logged:\n%s", logs.String())
	}
	if _, err := os.Stat(f.cfg.Dir); err == nil {
		if got := archived(t, f.cfg.Dir); len(got) != 0 {
			t.Fatalf("%d events written to the local directory", len(got))
		}
	}
	if t.Failed() {
		return
	}
	t.Run("pyarrow", func(t *testing.T) { pyarrowCounts(t, f, ids) })
}

// lockedBuffer is a bytes.Buffer safe for the sink's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// interrupting is an HTTP transport that, on the first object upload,
// reads part of its body, then cancels the sink (as a crash would stop
// it mid-upload) and fails the request once the request is cancelled.
type interrupting struct {
	cancel context.CancelFunc
	once   sync.Once
	hit    chan struct{}
}

func (x *interrupting) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodPut || !strings.Contains(req.URL.Path, "/workspace=") {
		return http.DefaultTransport.RoundTrip(req)
	}
	first := false
	x.once.Do(func() { first = true })
	if !first {
		return http.DefaultTransport.RoundTrip(req)
	}
	if req.Body != nil {
		_, _ = io.CopyN(io.Discard, req.Body, 512)
	}
	close(x.hit)
	x.cancel()
	select {
	case <-req.Context().Done():
		return nil, req.Context().Err()
	case <-time.After(30 * time.Second):
		return nil, errors.New("test: the upload's request was not cancelled")
	}
}

// TestUploadInterruptedCommitsNothing: a sink stopped in the middle of an
// upload leaves no object and commits no offset of the events it held; a
// restarted sink then archives every event.
func TestUploadInterruptedCommitsNothing(t *testing.T) {
	f := newS3Fixture(t)
	ids := f.produce(t, 800)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tr := &interrupting{cancel: cancel, hit: make(chan struct{})}
	opts := f.opts
	opts.HTTPClient = &http.Client{Transport: tr}
	s, err := New(f.cfg, Deps{Conn: f.conn, Store: opts})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case <-tr.hit:
	case <-time.After(60 * time.Second):
		t.Fatal("no upload started within 60s")
	}
	select {
	case err := <-done:
		if err == nil || !errors.Is(err, context.Canceled) {
			t.Fatalf("Run after an interrupted upload: %v, want context.Canceled", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Run did not return within 60s")
	}
	if got := archivedObjects(t, f.store); len(got) != 0 {
		t.Fatalf("%d events visible after the interrupted upload", len(got))
	}
	if l := lag(t, f.fixture, s.Group()); l != int64(len(ids)) {
		t.Fatalf("lag %d after the interrupted upload, want %d (nothing committed)", l, len(ids))
	}

	s2, err := New(f.cfg, Deps{Conn: f.conn, Store: f.opts})
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, s2)
	deadline := time.Now().Add(60 * time.Second)
	for len(archivedObjects(t, f.store)) != len(ids) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events archived by the restarted sink", len(archivedObjects(t, f.store)), len(ids))
		}
		time.Sleep(200 * time.Millisecond)
	}
	stop()
	for id, n := range archivedObjects(t, f.store) {
		if n != 1 {
			t.Fatalf("event %s archived %d times", id, n)
		}
	}
	if l := lag(t, f.fixture, s2.Group()); l != 0 {
		t.Fatalf("lag %d after the restarted sink stopped", l)
	}
}

// pyarrowCounts checks, when pyarrow is installed, that pyarrow reads the
// bucket as a Hive-partitioned dataset with the same events per workspace.
func pyarrowCounts(t *testing.T, f *s3Fixture, ids []string) {
	t.Helper()
	if exec.Command("python3", "-c", "import pyarrow.dataset, pyarrow.fs").Run() != nil {
		t.Skip("pyarrow not installed")
	}
	want := map[string]int{}
	for _, ev := range allObjectsEvents(t, f.store) {
		want[ev]++
	}
	script := `
import sys, json
import pyarrow.dataset as ds, pyarrow.fs as pafs
endpoint, bucket, ak, sk = sys.argv[1:5]
fs = pafs.S3FileSystem(endpoint_override=endpoint.split("://", 1)[1], scheme="http", access_key=ak, secret_key=sk, region="us-east-1")
d = ds.dataset(bucket + "/archive", filesystem=fs, format="parquet", partitioning="hive")
t = d.to_table(columns=["id", "workspace"])
counts = {}
for w in t.column("workspace").to_pylist():
    counts[str(w)] = counts.get(str(w), 0) + 1
print(json.dumps({"rows": t.num_rows, "workspaces": counts}))
`
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "python3", "-c", script, f.endpoint, f.bucket, s3test.AccessKey, s3test.SecretKey).CombinedOutput()
	if err != nil {
		t.Fatalf("pyarrow: %v\n%s", err, out)
	}
	var got struct {
		Rows       int            `json:"rows"`
		Workspaces map[string]int `json:"workspaces"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("pyarrow output %q: %v", out, err)
	}
	if got.Rows != len(ids) {
		t.Fatalf("pyarrow read %d rows, want %d", got.Rows, len(ids))
	}
	for ws, n := range want {
		if got.Workspaces[ws] != n {
			t.Errorf("pyarrow: workspace %s has %d events, want %d", ws, got.Workspaces[ws], n)
		}
	}
}

// allObjectsEvents returns the workspace id of every archived event.
func allObjectsEvents(t *testing.T, store *objstore.Store) []string {
	t.Helper()
	objs, err := store.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, o := range objs {
		if err := archive.ReadEachObject(context.Background(), store, o.Key, func(ev *sharelog.Event) error {
			out = append(out, ev.Workspace.ID)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	return out
}
