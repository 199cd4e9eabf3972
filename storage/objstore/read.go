package objstore

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

// ReaderAt reads one version of an object at random offsets, as
// parquet.OpenFile wants (an io.ReaderAt and a size). On a local directory
// it holds the file open and reads it with pread, so a replacement renamed
// over it is not seen; on S3 every read is a ranged GET pinned with
// If-Match to the ETag seen at open, so a replaced or deleted object makes
// ReadAt fail with ErrChanged rather than mix two versions. Safe for
// concurrent ReadAt calls. Close it when done.
type ReaderAt struct {
	s     *Store
	ctx   context.Context
	key   string
	attrs Attrs
	// file:// only.
	file *os.File
	r    *blob.Reader
}

// NewReaderAt opens the object at key for ranged reads; ErrNotExist if
// there is none. ctx bounds every later ReadAt (io.ReaderAt takes none).
func (s *Store) NewReaderAt(ctx context.Context, key string) (*ReaderAt, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	ra := &ReaderAt{s: s, ctx: ctx, key: key}
	if s.dir != "" {
		r, err := s.bucket.NewRangeReader(ctx, key, 0, 0, &blob.ReaderOptions{
			BeforeRead: func(as func(any) bool) error {
				var f *os.File
				if as(&f) {
					ra.file = f
				}
				return nil
			},
		})
		if err != nil {
			return nil, s.wrap("open", key, err)
		}
		if ra.file == nil {
			_ = r.Close()
			return nil, fmt.Errorf("objstore: open %s: no file to read", key)
		}
		fi, err := ra.file.Stat()
		if err != nil {
			_ = r.Close()
			return nil, fmt.Errorf("objstore: open %s: %w", key, err)
		}
		ra.r = r
		ra.attrs = Attrs{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}
		return ra, nil
	}
	a, err := s.Attributes(ctx, key)
	if err != nil {
		return nil, err
	}
	ra.attrs = a
	return ra, nil
}

// Size is the object's size in bytes.
func (ra *ReaderAt) Size() int64 { return ra.attrs.Size }

// Attrs are the attributes of the version being read.
func (ra *ReaderAt) Attrs() Attrs { return ra.attrs }

// ReadAt reads len(p) bytes at off (io.ReaderAt: fewer only at the end,
// with io.EOF).
func (ra *ReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("objstore: read %s: negative offset", ra.key)
	}
	if ra.file != nil {
		return ra.file.ReadAt(p, off)
	}
	if off >= ra.attrs.Size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	want := min(int64(len(p)), ra.attrs.Size-off)
	etag := ra.attrs.ETag
	r, err := ra.s.bucket.NewRangeReader(ra.ctx, ra.key, off, want, &blob.ReaderOptions{
		BeforeRead: func(as func(any) bool) error {
			var in *s3.GetObjectInput
			if etag != "" && as(&in) {
				in.IfMatch = aws.String(etag)
			}
			return nil
		},
	})
	if err != nil {
		return 0, ra.readErr(err)
	}
	n, err := io.ReadFull(r, p[:want])
	cerr := r.Close()
	if err != nil {
		return n, ra.readErr(err)
	}
	if cerr != nil {
		return n, ra.readErr(cerr)
	}
	if int64(n) < int64(len(p)) {
		return n, io.EOF
	}
	return n, nil
}

func (ra *ReaderAt) readErr(err error) error {
	switch gcerrors.Code(err) {
	case gcerrors.FailedPrecondition, gcerrors.NotFound:
		return fmt.Errorf("objstore: read %s: %w", ra.key, ErrChanged)
	}
	if err == io.ErrUnexpectedEOF {
		return fmt.Errorf("objstore: read %s: short read: %w", ra.key, ErrChanged)
	}
	return ra.s.wrap("read", ra.key, err)
}

// Close releases the reader.
func (ra *ReaderAt) Close() error {
	if ra.r != nil {
		return ra.r.Close()
	}
	return nil
}

// Get reads a whole object; ErrNotExist if there is none.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	b, err := s.bucket.ReadAll(ctx, key)
	if err != nil {
		return nil, s.wrap("read", key, err)
	}
	return b, nil
}
