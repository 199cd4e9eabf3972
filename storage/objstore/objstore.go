// Package objstore is the archive's object store: one bucket (a local
// directory, S3 or an S3-compatible server, Google Cloud Storage, Azure Blob
// Storage) behind one small API, opened from a URL. It is a thin layer over
// gocloud.dev/blob that adds what the archive relies on and gocloud leaves to
// the caller: an object becomes visible only when its upload completes (and,
// on a local directory, only once its bytes and directory entries are
// fsynced); an aborted upload leaves nothing; ranged reads through an
// io.ReaderAt that stays on the version it opened; create-if-absent.
//
// See docs/archive.md for the URL forms and the guarantees.
package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/azureblob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/blob/gcsblob"
	"gocloud.dev/gcerrors"
)

// Errors a caller tests with errors.Is. They are the io/fs ones, so code
// written for a directory keeps working.
var (
	// ErrNotExist: no object at that key.
	ErrNotExist = fs.ErrNotExist
	// ErrExist: a create-if-absent found an object at that key.
	ErrExist = fs.ErrExist
	// ErrChanged: the object was replaced or deleted while a ReaderAt was
	// reading it.
	ErrChanged = errors.New("object changed while being read")
)

// tempSuffix ends the names of fileblob's temporary files (they sit next to
// the final file until the rename). Keys may not end with it, and List never
// returns such names.
const tempSuffix = ".tmp"

// Options are what a URL cannot carry.
type Options struct {
	// AccessKeyID and SecretAccessKey are S3 static credentials (resolved by
	// the caller from its secrets). Empty: the AWS SDK's default chain
	// (environment, shared config and credentials files, web identity,
	// container and instance roles).
	AccessKeyID     string
	SecretAccessKey string
	// HTTPClient, if set, is used for S3 requests.
	HTTPClient *http.Client
}

// Store is one bucket, or one prefix of a bucket, or one local directory.
// It is safe for concurrent use.
type Store struct {
	bucket *blob.Bucket
	// dir is the root directory of a file:// store ("" otherwise): its
	// writes are fsynced, and List hides fileblob's temporary files.
	dir    string
	scheme string
}

// Open opens the store named by rawURL:
//
//	file:///var/lib/sharelog/archive
//	s3://bucket/prefix?region=us-east-1&endpoint=http://10.0.0.5:8333&use_path_style=true
//	gs://bucket/prefix
//	azblob://container/prefix
//
// For s3, gs and azblob the URL's path is a key prefix inside the bucket.
// The query parameters are gocloud.dev's for that scheme (docs/archive.md
// lists them). A file:// directory is created if missing.
func Open(ctx context.Context, rawURL string, opts Options) (*Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("objstore: bad URL: %w", err)
	}
	var (
		b   *blob.Bucket
		dir string
	)
	switch u.Scheme {
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("objstore: file URL %q: want file:///absolute/path", Redact(rawURL))
		}
		if !filepath.IsAbs(filepath.FromSlash(u.Path)) {
			return nil, fmt.Errorf("objstore: file URL %q: want an absolute path", Redact(rawURL))
		}
		dir = filepath.Clean(filepath.FromSlash(u.Path))
		opener := &fileblob.URLOpener{Options: fileblob.Options{
			CreateDir:   true,
			DirFileMode: 0o755,
			// Temporary files next to their final name, so the rename
			// never crosses a mount; List hides them.
			NoTempDir: true,
			// No ".attrs" sidecar files: the directory holds only the
			// archive's files, in the layout it has always had.
			Metadata: fileblob.MetadataDontWrite,
		}}
		uu := *u
		uu.Host, uu.Path = "", dir
		if b, err = opener.OpenBucketURL(ctx, &uu); err != nil {
			return nil, fmt.Errorf("objstore: %w", err)
		}
	case "s3":
		if b, err = openS3(ctx, u, opts); err != nil {
			return nil, err
		}
	case gcsblob.Scheme, azureblob.Scheme:
		uu := *u
		uu.Path = ""
		if b, err = blob.OpenBucket(ctx, uu.String()); err != nil {
			return nil, fmt.Errorf("objstore: %s: %w", Redact(rawURL), err)
		}
	case "":
		return nil, fmt.Errorf("objstore: %q is not a URL (file:///path, s3://bucket/prefix, gs://…, azblob://…)", Redact(rawURL))
	default:
		return nil, fmt.Errorf("objstore: unsupported scheme %q (file, s3, gs, azblob)", u.Scheme)
	}
	if dir == "" {
		if prefix := strings.Trim(u.Path, "/"); prefix != "" {
			b = blob.PrefixedBucket(b, prefix+"/")
		}
	}
	return &Store{bucket: b, dir: dir, scheme: u.Scheme}, nil
}

// FileURL is the file:// URL of a local directory.
func FileURL(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String(), nil
}

// Redact returns rawURL without user info, for logs and errors. (Secrets
// never belong in the URL; this is a safety net.)
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "<unparsable URL>"
	}
	if u.User != nil {
		u.User = url.User("xxxxx")
	}
	return u.String()
}

// Local reports whether the store is a local directory, and which.
func (s *Store) Local() (dir string, ok bool) { return s.dir, s.dir != "" }

// Close releases the store's resources.
func (s *Store) Close() error { return s.bucket.Close() }

// Attrs describe one object.
type Attrs struct {
	Key     string
	Size    int64
	ModTime time.Time
	// ETag is the service's entity tag ("" where there is none, as in a
	// local directory).
	ETag string
	// MD5 of the content, where the service reports one (S3 for objects not
	// uploaded in parts, GCS, Azure; not a local directory).
	MD5 []byte
}

// Attributes returns the attributes of the object at key; ErrNotExist if
// there is none.
func (s *Store) Attributes(ctx context.Context, key string) (Attrs, error) {
	if err := checkKey(key); err != nil {
		return Attrs{}, err
	}
	a, err := s.bucket.Attributes(ctx, key)
	if err != nil {
		return Attrs{}, s.wrap("attributes", key, err)
	}
	return Attrs{Key: key, Size: a.Size, ModTime: a.ModTime, ETag: a.ETag, MD5: a.MD5}, nil
}

// Exists reports whether an object is at key.
func (s *Store) Exists(ctx context.Context, key string) (bool, error) {
	if err := checkKey(key); err != nil {
		return false, err
	}
	ok, err := s.bucket.Exists(ctx, key)
	if err != nil {
		return false, s.wrap("exists", key, err)
	}
	return ok, nil
}

// List returns every object whose key starts with prefix (all levels
// below it, not only the next one), sorted by key. Uploads in progress are
// not listed. ModTime, Size and MD5 are as the listing reports them (no
// ETag: call Attributes for it).
func (s *Store) List(ctx context.Context, prefix string) ([]Attrs, error) {
	it := s.bucket.List(&blob.ListOptions{Prefix: prefix})
	var out []Attrs
	for {
		o, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, s.wrap("list", prefix, err)
		}
		if o.IsDir || (s.dir != "" && strings.HasSuffix(o.Key, tempSuffix)) {
			continue
		}
		out = append(out, Attrs{Key: o.Key, Size: o.Size, ModTime: o.ModTime, MD5: o.MD5})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Delete removes the object at key; ErrNotExist if there is none.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := s.bucket.Delete(ctx, key); err != nil {
		return s.wrap("delete", key, err)
	}
	if s.dir != "" {
		// Make the removal durable, as the archive's rename is.
		if err := syncDir(filepath.Dir(s.path(key))); err != nil {
			return fmt.Errorf("objstore: delete %s: %w", key, err)
		}
	}
	return nil
}

// path is the local file of key in a file:// store.
func (s *Store) path(key string) string { return filepath.Join(s.dir, filepath.FromSlash(key)) }

// wrap turns gocloud's error codes into ErrNotExist, ErrExist, and names the
// operation and key.
func (s *Store) wrap(op, key string, err error) error {
	switch gcerrors.Code(err) {
	case gcerrors.NotFound:
		return fmt.Errorf("objstore: %s %s: %w", op, key, ErrNotExist)
	case gcerrors.Canceled, gcerrors.DeadlineExceeded:
		if cerr := contextErr(err); cerr != nil {
			return fmt.Errorf("objstore: %s %s: %w", op, key, cerr)
		}
	}
	return fmt.Errorf("objstore: %s %s: %w", op, key, err)
}

func contextErr(err error) error {
	switch {
	case errors.Is(err, context.Canceled):
		return context.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return context.DeadlineExceeded
	}
	return nil
}

// checkKey refuses keys that are not plain slash-separated relative names.
func checkKey(key string) error {
	bad := key == "" || strings.HasPrefix(key, "/") || strings.HasSuffix(key, "/") ||
		strings.HasSuffix(key, tempSuffix) || strings.Contains(key, "\\")
	for _, part := range strings.Split(key, "/") {
		if part == "" || part == "." || part == ".." {
			bad = true
		}
	}
	if bad {
		return fmt.Errorf("objstore: bad key %q (want a/b/c, no empty, . or .. parts, not ending in %s)", key, tempSuffix)
	}
	return nil
}
