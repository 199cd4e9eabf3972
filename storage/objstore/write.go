package objstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

// WriteOptions adjust a write.
type WriteOptions struct {
	// IfAbsent makes the write a create: it fails with ErrExist, and leaves
	// the object there untouched, if the key already has an object (S3
	// If-None-Match: *, GCS ifGenerationMatch=0, Azure If-None-Match: *). On
	// a local directory the check and the rename are atomic only among the
	// writers of one process (fileblob holds a process-wide lock).
	IfAbsent bool
	// ContentType of the object; "application/octet-stream" if empty.
	ContentType string
}

// Writer uploads one object. Nothing is visible at its key until Close
// returns nil; Abort, a failed write or a cancelled context leave no object.
type Writer struct {
	s      *Store
	key    string
	w      *blob.Writer
	cancel context.CancelFunc
	// file is fileblob's temporary file (file:// only), fsynced before the
	// rename.
	file   *os.File
	ifAbs  bool
	closed bool
}

// NewWriter starts the upload of an object at key. Call Close to commit it
// or Abort to drop it; one of them must be called.
func (s *Store) NewWriter(ctx context.Context, key string, opts *WriteOptions) (*Writer, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if opts == nil {
		opts = &WriteOptions{}
	}
	ct := opts.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	ctx, cancel := context.WithCancel(ctx)
	w := &Writer{s: s, key: key, cancel: cancel, ifAbs: opts.IfAbsent}
	bw, err := s.bucket.NewWriter(ctx, key, &blob.WriterOptions{
		// A content type given means no sniffing, so the driver's writer
		// (and fileblob's temporary file) is created now.
		ContentType: ct,
		IfNotExist:  opts.IfAbsent,
		BeforeWrite: func(as func(any) bool) error {
			var f *os.File
			if as(&f) {
				w.file = f
			}
			return nil
		},
	})
	if err != nil {
		cancel()
		return nil, s.wrap("write", key, err)
	}
	w.w = bw
	if s.dir != "" && w.file == nil {
		cancel()
		_ = bw.Close()
		return nil, fmt.Errorf("objstore: write %s: no temporary file to fsync", key)
	}
	return w, nil
}

// Write appends p to the object. An error may also surface only at Close.
func (w *Writer) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	if err != nil {
		return n, w.s.wrap("write", w.key, err)
	}
	return n, nil
}

// Close commits the object: on success it is complete and visible at its
// key (on a local directory: fsynced, renamed into place, and its
// directories fsynced). On error there is no new object: ErrExist for an
// IfAbsent write that found one.
func (w *Writer) Close() error {
	if w.closed {
		return fmt.Errorf("objstore: write %s: already closed", w.key)
	}
	w.closed = true
	defer w.cancel()
	if w.file != nil {
		if err := w.file.Sync(); err != nil {
			w.cancel()
			_ = w.w.Close()
			return fmt.Errorf("objstore: write %s: %w", w.key, err)
		}
	}
	if err := w.w.Close(); err != nil {
		if w.ifAbs && gcerrors.Code(err) == gcerrors.FailedPrecondition {
			return fmt.Errorf("objstore: create %s: %w", w.key, ErrExist)
		}
		return w.s.wrap("write", w.key, err)
	}
	if w.s.dir != "" {
		if err := w.s.syncParents(w.key); err != nil {
			return fmt.Errorf("objstore: write %s: %w", w.key, err)
		}
	}
	return nil
}

// Abort drops the upload; no object appears. Abort after Close is a no-op.
func (w *Writer) Abort() {
	if w.closed {
		return
	}
	w.closed = true
	w.cancel()
	_ = w.w.Close()
}

// Put writes a whole object at once (see NewWriter and Close).
func (s *Store) Put(ctx context.Context, key string, data []byte, opts *WriteOptions) error {
	w, err := s.NewWriter(ctx, key, opts)
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		w.Abort()
		return err
	}
	return w.Close()
}

// syncParents fsyncs the directories from key's parent up to the store's
// root, so the renamed file and any directory created for it survive a
// crash.
func (s *Store) syncParents(key string) error {
	dir := filepath.Dir(s.path(key))
	for {
		if err := syncDir(dir); err != nil {
			return err
		}
		if dir == s.dir || len(dir) <= len(s.dir) {
			return nil
		}
		dir = filepath.Dir(dir)
	}
}

// syncDir fsyncs a directory, making the entries created, renamed or
// removed in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}
