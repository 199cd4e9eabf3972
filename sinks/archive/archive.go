// Package archive is the archive sink: it consumes <prefix>.enriched in the
// consumer group <prefix>-archive and writes the events into the Parquet
// archive (storage/archive), one file per workspace and UTC date at a time.
//
// Delivery: events are buffered per partition of the archive (workspace,
// date); a buffer becomes a file when it holds MaxFileEvents events or
// MaxFileBytes bytes, when its oldest event has waited MaxFileAge, when all
// buffers together hold MaxBufferedEvents, and at shutdown. A Kafka offset is
// committed only when every event before it, on its Kafka partition, is in a
// durable file (fsynced and renamed): the sink acknowledges the messages of
// a file to its kafkax.Consumer once the file is written. A crash therefore loses nothing: what
// was not in a file is delivered again, and may then be in the archive
// twice; readers and compaction drop repeats by event id.
//
// With archive.url on object storage (s3://, gs://, azblob://) a file is
// one upload (archive.WriteObject), and "durable" means the upload's Close
// returned nil; retention and compaction are not run there yet
// (docs/archive.md).
package archive

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	sharelog "github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/internal/cfgerr"
	"github.com/sharelog/sharelog/internal/kafkax"
	"github.com/sharelog/sharelog/internal/prom"
	"github.com/sharelog/sharelog/internal/secret"
	"github.com/sharelog/sharelog/storage/archive"
	"github.com/sharelog/sharelog/storage/objstore"
)

// Config configures the archive sink.
type Config struct {
	// URL is where the archive is: file:///path (a local directory, the
	// default: the file:// URL of Dir), s3://bucket/prefix?region=…
	// (&endpoint=…&use_path_style=true for an S3-compatible server),
	// gs://bucket/prefix or azblob://container/prefix; see
	// docs/archive.md. On object storage the sink writes the archive's
	// files; retention and compaction are not available there yet.
	URL string `yaml:"url"`
	// S3 holds static credentials for an s3:// archive, each a secret
	// reference ({env: VAR} or {file: path}). Unset: the standard AWS
	// chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, shared files, an
	// instance or pod role).
	S3 S3Credentials `yaml:"s3"`
	// Dir is the archive's root directory; default <data_dir>/archive, or
	// the directory of a file:// URL.
	Dir string `yaml:"dir"`
	// MaxFileEvents, MaxFileBytes and MaxFileAge roll a buffer into a file.
	MaxFileEvents int           `yaml:"max_file_events"` // default 200000
	MaxFileBytes  int64         `yaml:"max_file_bytes"`  // of enriched JSON; default 256 MiB
	MaxFileAge    time.Duration `yaml:"max_file_age"`    // default 1m
	// MaxBufferedEvents bounds the events held over all buffers; past it
	// the largest buffer is written. Default 500000.
	MaxBufferedEvents int             `yaml:"max_buffered_events"`
	Parquet           archive.Options `yaml:"parquet"`
	// Retention is what the archive keeps; the sink applies it, and compacts
	// every partition (today's included), every RetentionInterval (default 1h;
	// `sharelog retention` applies it by hand). Each pass that removes
	// events writes a retention.applied event per workspace concerned into
	// the archive (archive.Removal.RecordAudit).
	Retention         archive.Policy `yaml:"retention"`
	RetentionInterval time.Duration  `yaml:"retention_interval"`
}

// SetDefaults fills unset fields; dataDir is the data directory.
func (c *Config) SetDefaults(dataDir string) {
	if c.Dir == "" {
		if dir, ok := fileURLDir(c.URL); ok {
			c.Dir = dir
		} else {
			c.Dir = filepath.Join(dataDir, "archive")
		}
	}
	if c.URL == "" {
		if u, err := objstore.FileURL(c.Dir); err == nil {
			c.URL = u
		}
	}
	if c.MaxFileEvents == 0 {
		c.MaxFileEvents = 200_000
	}
	if c.MaxFileBytes == 0 {
		c.MaxFileBytes = 256 << 20
	}
	if c.MaxFileAge == 0 {
		c.MaxFileAge = time.Minute
	}
	if c.MaxBufferedEvents == 0 {
		c.MaxBufferedEvents = 500_000
	}
	if c.RetentionInterval == 0 {
		c.RetentionInterval = time.Hour
	}
	c.Retention.SetDefaults()
}

// S3Credentials are the static keys of an s3:// archive: both or neither.
type S3Credentials struct {
	AccessKeyID     secret.Ref `yaml:"access_key_id"`
	SecretAccessKey secret.Ref `yaml:"secret_access_key"`
}

// IsZero reports whether no key is given.
func (c S3Credentials) IsZero() bool { return c.AccessKeyID.IsZero() && c.SecretAccessKey.IsZero() }

func (c S3Credentials) validate(rawURL string) error {
	if c.IsZero() {
		return nil
	}
	var errs []error
	if !strings.HasPrefix(rawURL, "s3://") {
		errs = append(errs, errors.New("s3: static credentials are for an s3:// url"))
	}
	if err := c.AccessKeyID.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("s3.access_key_id: %w", err))
	}
	if err := c.SecretAccessKey.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("s3.secret_access_key: %w", err))
	}
	return errors.Join(errs...)
}

// load reads the keys into opts, which must have none of its own.
func (c S3Credentials) load(opts *objstore.Options) error {
	if c.IsZero() {
		return nil
	}
	id, err := c.AccessKeyID.Load()
	if err != nil {
		return fmt.Errorf("archive sink: s3.access_key_id: %w", err)
	}
	key, err := c.SecretAccessKey.Load()
	if err != nil {
		return fmt.Errorf("archive sink: s3.secret_access_key: %w", err)
	}
	opts.AccessKeyID, opts.SecretAccessKey = id[0], key[0]
	return nil
}

// Validate reports every wrong field.
func (c Config) Validate() error {
	var errs []error
	if err := c.validateURL(); err != nil {
		errs = append(errs, err)
	}
	if err := c.S3.validate(c.URL); err != nil {
		errs = append(errs, err)
	}
	if c.MaxFileEvents < 1 {
		errs = append(errs, fmt.Errorf("max_file_events: %d must be at least 1", c.MaxFileEvents))
	}
	if c.MaxFileBytes < 1024 {
		errs = append(errs, fmt.Errorf("max_file_bytes: %d must be at least 1024", c.MaxFileBytes))
	}
	if c.MaxFileAge < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("max_file_age: %s must be at least 100ms", c.MaxFileAge))
	}
	if c.MaxBufferedEvents < c.MaxFileEvents {
		errs = append(errs, fmt.Errorf("max_buffered_events: %d must be at least max_file_events (%d)", c.MaxBufferedEvents, c.MaxFileEvents))
	}
	if err := c.Parquet.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("parquet.%w", err))
	}
	if err := c.Retention.Validate(); err != nil {
		errs = append(errs, cfgerr.Prefix("retention", err))
	}
	if c.RetentionInterval < time.Minute {
		errs = append(errs, fmt.Errorf("retention_interval: %s is under a minute", c.RetentionInterval))
	}
	return errors.Join(errs...)
}

// fileURLDir returns the directory of a file:// URL.
func fileURLDir(rawURL string) (string, bool) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "file" || (u.Host != "" && u.Host != "localhost") {
		return "", false
	}
	return filepath.Clean(filepath.FromSlash(u.Path)), true
}

// validateURL checks url (never printing credentials) and that a file://
// URL and dir name the same directory.
func (c Config) validateURL() error {
	if c.URL == "" {
		return errors.New("url: is empty (SetDefaults makes it the file:// URL of dir)")
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return fmt.Errorf("url: %s is not a URL", objstore.Redact(c.URL))
	}
	if u.User != nil {
		return fmt.Errorf("url: %s: credentials may not be in the URL (use the AWS default credential chain)", objstore.Redact(c.URL))
	}
	switch u.Scheme {
	case "file":
		dir, ok := fileURLDir(c.URL)
		if !ok || !filepath.IsAbs(dir) {
			return fmt.Errorf("url: %s: want file:///absolute/path", objstore.Redact(c.URL))
		}
		abs, err := filepath.Abs(c.Dir)
		if err != nil {
			return fmt.Errorf("dir: %w", err)
		}
		if abs != dir {
			return fmt.Errorf("url: %s is not the directory archive.dir names (%s); set only one of archive.url and archive.dir", objstore.Redact(c.URL), c.Dir)
		}
	case "s3", "gs", "azblob":
		if u.Host == "" {
			return fmt.Errorf("url: %s: no bucket (want %s://bucket/prefix)", objstore.Redact(c.URL), u.Scheme)
		}
	default:
		return fmt.Errorf("url: %s: unsupported scheme %q (file, s3, gs, azblob)", objstore.Redact(c.URL), u.Scheme)
	}
	return nil
}

// local reports whether the archive is the local directory Dir.
func (c Config) local() bool {
	_, ok := fileURLDir(c.URL)
	return ok
}

// Deps are what the sink is given.
type Deps struct {
	Conn       *kafkax.Conn
	Logger     *slog.Logger          // nil: quiet
	Registerer prometheus.Registerer // nil: no metrics
	Now        func() time.Time      // nil: time.Now
	// Node is the server.node of the retention.applied events the sink
	// writes; "" means the host's name (os.Hostname).
	Node string
	// Store are the options of an archive on object storage (static S3
	// credentials, an HTTP client); the zero value uses the AWS default
	// credential chain.
	Store objstore.Options
}

// Sink is the archive sink. Run it once.
type Sink struct {
	cfg     Config
	deps    Deps
	topics  kafkax.Topics
	group   string
	log     *slog.Logger
	files   prometheus.Counter
	events  *prometheus.CounterVec
	latency prometheus.Histogram
	// store is the archive's object store when it is not the local
	// directory (Run opens it); nil for file://.
	store *objstore.Store
}

// New returns the sink; cfg must be defaulted and valid.
func New(cfg Config, deps Deps) (*Sink, error) {
	if deps.Conn == nil {
		return nil, errors.New("archive sink: no Kafka connection")
	}
	if deps.Store.AccessKeyID == "" && deps.Store.SecretAccessKey == "" {
		// The configuration's keys, unless the caller gave its own.
		if err := cfg.S3.load(&deps.Store); err != nil {
			return nil, err
		}
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Node == "" {
		deps.Node, _ = os.Hostname() // still "" leaves server.node out
	}
	kc := deps.Conn.Config()
	s := &Sink{
		cfg: cfg, deps: deps, topics: kc.Topics(), group: kc.Group("archive"),
		log: deps.Logger.With("sink", "archive"),
		files: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sharelog_archive_files_written_total", Help: "Parquet files written to the archive.",
		}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sharelog_archive_events_total", Help: "Events handled by the archive sink, by outcome (archived, dlq).",
		}, []string{"outcome"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sharelog_archive_write_seconds", Help: "Time to write, fsync and rename one archive file.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}),
	}
	if err := prom.Register(deps.Registerer, s.files, s.events, s.latency); err != nil {
		return nil, fmt.Errorf("archive sink: %w", err)
	}
	return s, nil
}

// Group is the consumer group of the sink.
func (s *Sink) Group() string { return s.group }

// buffer holds the events of one archive partition not yet in a file.
type buffer struct {
	events []*sharelog.Event
	bytes  int64
	since  time.Time
	// parts and offs are the Kafka partition and offset of each event,
	// acknowledged once the buffer is in a file.
	parts []int
	offs  []int64
}

type partKey struct{ workspace, date string }

// state is what Run keeps between messages.
type state struct {
	buffers  map[partKey]*buffer
	buffered int
}

// Run consumes until ctx ends, then writes what it holds, commits, and
// returns. A write error is returned after a retry with back-off fails until
// shutdown: the events stay in Kafka.
func (s *Sink) Run(ctx context.Context) error {
	if s.cfg.local() {
		if removed, err := archive.CleanLeftovers(s.cfg.Dir); err != nil {
			return fmt.Errorf("archive sink: cleaning %s: %w", s.cfg.Dir, err)
		} else if len(removed) > 0 {
			s.log.Info("removed files left by an interrupted write", "files", len(removed))
		}
	} else {
		// Uploads are commit-on-close: an interrupted one leaves nothing
		// to clean.
		store, err := objstore.Open(ctx, s.cfg.URL, s.deps.Store)
		if err != nil {
			return fmt.Errorf("archive sink: %w", err)
		}
		s.store = store
		defer func() { store.Close(); s.store = nil }()
	}
	cons := s.deps.Conn.Consume(ctx, kafkax.ConsumeConfig{
		Group: s.group, Topic: s.topics.Enriched, Queue: 1000, Logger: s.log,
	})
	defer cons.Close() // commits what is in files; the rest comes again
	fetched := cons.Messages()

	rctx, stopRetention := context.WithCancel(ctx)
	var wg sync.WaitGroup
	if s.store == nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.retentionLoop(rctx)
		}()
	} else {
		s.log.Info("archive on object storage: retention and compaction are not available there yet; skipping them",
			"url", objstore.Redact(s.cfg.URL))
	}
	defer func() { stopRetention(); wg.Wait() }()

	st := &state{buffers: map[partKey]*buffer{}}
	tick := time.NewTicker(min(s.cfg.MaxFileAge/4, time.Second))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return s.shutdown(ctx, cons, st)
		case <-tick.C:
			if err := s.flush(ctx, cons, st, func(b *buffer) bool { return s.deps.Now().Sub(b.since) >= s.cfg.MaxFileAge }); err != nil {
				return err
			}
		case m, ok := <-fetched:
			if !ok {
				return s.shutdown(ctx, cons, st)
			}
			if err := s.take(ctx, cons, st, m); err != nil {
				return err
			}
		}
	}
}

// take adds one message to its buffer (or the DLQ) and writes what is due.
func (s *Sink) take(ctx context.Context, cons *kafkax.Consumer, st *state, m kafka.Message) error {
	ev, err := sharelog.DecodeEnriched(m.Value)
	if err == nil {
		// An event whose workspace id names no partition (empty, ".",
		// "..", a path separator: ingest refuses them all, but the
		// enriched topic has other writers) goes to the DLQ; it must
		// never fail the write of its buffer and stop the sink.
		_, err = archive.PartitionDir(s.cfg.Dir, ev.Workspace.ID, ev.Time)
	}
	if err != nil {
		if cons.DeadLetter(ctx, "sink:archive", []kafka.Message{m}, err) != nil {
			return nil // ctx ended: not acknowledged, it comes again
		}
		s.events.WithLabelValues("dlq").Inc()
		cons.Commit(ctx) //nolint:errcheck // logged; the next commit retries
		return nil
	}
	key := partKey{ev.Workspace.ID, ev.Time.UTC().Format(time.DateOnly)}
	b := st.buffers[key]
	if b == nil {
		b = &buffer{since: s.deps.Now()}
		st.buffers[key] = b
	}
	b.parts, b.offs = append(b.parts, m.Partition), append(b.offs, m.Offset)
	b.events = append(b.events, ev)
	b.bytes += int64(len(m.Value))
	st.buffered++
	if len(b.events) >= s.cfg.MaxFileEvents || b.bytes >= s.cfg.MaxFileBytes {
		return s.flush(ctx, cons, st, func(x *buffer) bool { return x == b })
	}
	if st.buffered >= s.cfg.MaxBufferedEvents {
		largest := b
		for _, x := range st.buffers {
			if len(x.events) > len(largest.events) {
				largest = x
			}
		}
		return s.flush(ctx, cons, st, func(x *buffer) bool { return x == largest })
	}
	return nil
}

// flush writes the buffers that due selects, then commits what became safe.
func (s *Sink) flush(ctx context.Context, cons *kafkax.Consumer, st *state, due func(*buffer) bool) error {
	keys := make([]partKey, 0, len(st.buffers))
	for k, b := range st.buffers {
		if due(b) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].workspace+keys[i].date < keys[j].workspace+keys[j].date })
	for _, k := range keys {
		b := st.buffers[k]
		if err := s.write(ctx, k, b); err != nil {
			return err
		}
		cons.AckOffsets(b.parts, b.offs)
		st.buffered -= len(b.events)
		delete(st.buffers, k)
	}
	// Not fatal when it fails: the files are durable; the messages come
	// again and are then duplicates in the archive.
	cons.Commit(ctx) //nolint:errcheck // logged; the next commit retries
	return nil
}

// write writes one buffer, retrying with back-off until it succeeds or ctx
// ends (then the error).
func (s *Sink) write(ctx context.Context, k partKey, b *buffer) error {
	day, _ := time.Parse(time.DateOnly, k.date)
	dir, err := archive.PartitionDir(s.cfg.Dir, k.workspace, day)
	if s.store != nil {
		dir, err = archive.PartitionKey(k.workspace, day)
	}
	if err != nil {
		return err
	}
	backoff := 100 * time.Millisecond
	for {
		start := time.Now()
		var (
			path  string
			stats archive.FileStats
			err   error
		)
		if s.store != nil {
			// Acknowledged (by the caller) only once the upload's Close
			// returned nil: the object is then complete and visible.
			path, stats, err = archive.WriteObject(ctx, s.store, b.events, s.cfg.Parquet)
		} else {
			path, stats, err = archive.WriteFile(dir, b.events, s.cfg.Parquet)
		}
		if err == nil {
			s.latency.Observe(time.Since(start).Seconds())
			s.files.Inc()
			s.events.WithLabelValues("archived").Add(float64(stats.Rows))
			s.log.Debug("archive file written", "path", path, "events", stats.Rows, "bytes", stats.Bytes)
			return nil
		}
		s.log.Warn("writing an archive file failed; retrying", "dir", dir, "err", err, "backoff", backoff)
		select {
		case <-ctx.Done():
			return fmt.Errorf("archive sink: writing %s: %w", dir, err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// shutdown writes every buffer and commits, within 30 s of ctx ending.
func (s *Sink) shutdown(ctx context.Context, cons *kafkax.Consumer, st *state) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	return errors.Join(s.flush(sctx, cons, st, func(*buffer) bool { return true }), cons.Close())
}

// retentionLoop applies the retention policy, records each pass that removed
// events with retention.applied events in the archive, then compacts the
// partitions, today's included, every RetentionInterval until ctx ends, logging what it did.
func (s *Sink) retentionLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.RetentionInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := s.deps.Now()
		rm, err := archive.ApplyRetention(s.cfg.Dir, s.cfg.Retention, now, false, s.cfg.Parquet)
		// Also after a pass that failed part way: what did go is recorded.
		if aerr := rm.RecordAudit(s.cfg.Dir, now, s.deps.Node, s.cfg.Parquet); aerr != nil {
			s.log.Warn("writing the retention audit events failed", "err", aerr)
		}
		if len(rm.Partitions) > 0 || len(rm.Events) > 0 {
			s.log.Info("retention applied", "partitions_removed", len(rm.Partitions), "events_removed", rm.Events,
				"files_rewritten", rm.FilesRewritten, "inactive_links", len(rm.InactiveLinks), "audit_events", rm.AuditEventIDs)
		}
		if err != nil {
			s.log.Warn("retention failed", "err", err)
			continue
		}
		// Merge each partition's files into one, without repeats: past
		// days for good, and today's too, which otherwise gathers one
		// small file per max_file_age (1,440 a day at the default) that
		// every query of the day would open. Files the sink writes while
		// a partition is merged are left for the next pass.
		st, err := archive.CompactBefore(s.cfg.Dir, s.deps.Now().AddDate(0, 0, 1), s.cfg.Parquet)
		if err != nil {
			s.log.Warn("compaction failed", "err", err)
		} else if st.FilesBefore > 0 {
			s.log.Info("archive compacted", "files_before", st.FilesBefore, "files_after", st.FilesAfter, "duplicates_dropped", st.Duplicates)
		}
	}
}
