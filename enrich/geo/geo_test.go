package geo

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/oschwald/geoip2-golang/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/sharelog/sharelog"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func f64(v float64) *float64 { return &v }

// want is the expected Geo of one address; a nil Latitude means none.
type want struct {
	ip  string
	geo *sharelog.Geo // nil: not found
}

func checkLookups(t *testing.T, l *Locator, cases []want) {
	t.Helper()
	for _, c := range cases {
		got, ok := l.Lookup(netip.MustParseAddr(c.ip))
		if c.geo == nil {
			if ok {
				t.Errorf("Lookup(%s) = %+v, want not found", c.ip, got)
			}
			continue
		}
		if !ok {
			t.Errorf("Lookup(%s): not found, want %+v", c.ip, *c.geo)
			continue
		}
		if d := diffGeo(got, *c.geo); d != "" {
			t.Errorf("Lookup(%s): %s", c.ip, d)
		}
	}
}

// diffGeo compares two Geo values field by field, coordinates by value.
func diffGeo(got, want sharelog.Geo) string {
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(want)
	if !bytes.Equal(gj, wj) {
		return "got  " + string(gj) + "\n\twant " + string(wj)
	}
	return ""
}

func newLocator(t *testing.T, reg prometheus.Registerer, paths ...string) *Locator {
	t.Helper()
	l, err := New(Config{CityDB: paths}, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	})
	return l
}

func TestLookupGeoIP2City(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "GeoIP2-City.mmdb")
	writeGeoIP2(t, path, "Gamlingay", geoip2Build)
	l := newLocator(t, nil, path)

	gamlingay := &sharelog.Geo{
		CountryCode: "GB", CountryName: "United Kingdom", Subdivision: "England", City: "Gamlingay",
		Latitude: f64(52.1398), Longitude: f64(-0.2399), AccuracyRadiusKM: 100,
		Database: "GeoIP2-City", DatabaseBuild: "2026-11-03",
	}
	checkLookups(t, l, []want{
		{"81.2.69.142", gamlingay},
		{"::ffff:81.2.69.1", gamlingay}, // IPv4-mapped counts as IPv4
		{"2a02:8100:1:2::3", &sharelog.Geo{
			CountryCode: "DE", CountryName: "Germany", Subdivision: "Land Berlin", City: "Berlin",
			Latitude: f64(52.5174), Longitude: f64(13.3985), AccuracyRadiusKM: 200,
			Database: "GeoIP2-City", DatabaseBuild: "2026-11-03",
		}},
		{"8.8.8.8", &sharelog.Geo{
			CountryCode: "US", CountryName: "United States",
			Latitude: f64(37.751), Longitude: f64(-97.822), AccuracyRadiusKM: 1000,
			Database: "GeoIP2-City", DatabaseBuild: "2026-11-03",
		}},
		// The country name comes from CLDR, not from the database's names.
		{"5.10.1.1", &sharelog.Geo{
			CountryCode: "CZ", CountryName: "Czechia",
			Database: "GeoIP2-City", DatabaseBuild: "2026-11-03",
		}},
		{"1.2.3.4", nil},  // record with nothing usable
		{"9.9.9.9", nil},  // no record
		{"10.0.0.1", nil}, // private
		{"2a03::1", nil},  // IPv6 without record
		{"fe80::1%eth0", nil},
	})
}

// TestGeoIP2MatchesGeoIP2Golang checks the narrow decoder against
// geoip2-golang's full City decode of the same database.
func TestGeoIP2MatchesGeoIP2Golang(t *testing.T) {
	path := filepath.Join(t.TempDir(), "GeoIP2-City.mmdb")
	writeGeoIP2(t, path, "Gamlingay", geoip2Build)
	l := newLocator(t, nil, path)
	ref, err := geoip2.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	for _, s := range []string{"81.2.69.142", "2a02:8100::1", "8.8.8.8", "5.10.1.1"} {
		compareWithGeoIP2(t, l, ref, netip.MustParseAddr(s))
	}
}

// compareWithGeoIP2 fails when Lookup and geoip2-golang disagree on ip.
func compareWithGeoIP2(t testing.TB, l *Locator, ref *geoip2.Reader, ip netip.Addr) {
	t.Helper()
	rec, err := ref.City(ip)
	if err != nil {
		t.Fatalf("geoip2 City(%s): %v", ip, err)
	}
	got, ok := l.Lookup(ip)
	hit := rec.Country.ISOCode != "" || rec.City.Names.English != "" || rec.Location.HasCoordinates()
	if ok != hit {
		t.Errorf("%s: found=%v, geoip2-golang has %+v", ip, ok, rec)
		return
	}
	if !ok {
		return
	}
	w := sharelog.Geo{
		CountryCode:      rec.Country.ISOCode,
		City:             rec.City.Names.English,
		AccuracyRadiusKM: rec.Location.AccuracyRadius,
		Database:         ref.Metadata().DatabaseType,
		DatabaseBuild:    ref.Metadata().BuildTime().UTC().Format(time.DateOnly),
	}
	if len(rec.Subdivisions) > 0 {
		w.Subdivision = rec.Subdivisions[0].Names.English
	}
	if rec.Location.HasCoordinates() {
		w.Latitude, w.Longitude = rec.Location.Latitude, rec.Location.Longitude
	}
	got.CountryName = ""
	if d := diffGeo(got, w); d != "" {
		t.Errorf("%s: %s", ip, d)
	}
}

func TestLookupFlatDBIP(t *testing.T) {
	v4, v6 := writeFlat(t, t.TempDir())
	l := newLocator(t, nil, v4, v6)
	checkLookups(t, l, []want{
		{"85.214.132.117", &sharelog.Geo{
			CountryCode: "DE", CountryName: "Germany", Subdivision: "Berlin", City: "Berlin (Charlottenburg-Wilmersdorf)",
			Latitude: f64(52.5234), Longitude: f64(13.3224), // float32 in the file, shortest decimal here
			Database: "city ipv4", DatabaseBuild: "2026-06-05",
		}},
		{"8.8.8.8", &sharelog.Geo{
			CountryCode: "US", CountryName: "United States", Subdivision: "California", City: "Mountain View",
			Latitude: f64(37.422), Longitude: f64(-122.085),
			Database: "city ipv4", DatabaseBuild: "2026-06-05",
		}},
		{"::ffff:8.8.8.8", &sharelog.Geo{
			CountryCode: "US", CountryName: "United States", Subdivision: "California", City: "Mountain View",
			Latitude: f64(37.422), Longitude: f64(-122.085),
			Database: "city ipv4", DatabaseBuild: "2026-06-05",
		}},
		{"2a00:1450:4001:80b::200e", &sharelog.Geo{
			CountryCode: "DE", CountryName: "Germany", Subdivision: "Hesse", City: "Frankfurt am Main",
			Latitude: f64(50.1109), Longitude: f64(8.68213),
			Database: "city ipv6", DatabaseBuild: "2026-06-05",
		}},
		{"2001:4860:4860::8888", &sharelog.Geo{
			CountryCode: "CA", CountryName: "Canada", Subdivision: "Quebec", City: "Montreal",
			Latitude: f64(45.5019), Longitude: f64(-73.5674),
			Database: "city ipv6", DatabaseBuild: "2026-06-05",
		}},
		{"81.2.69.142", nil},
		{"2a02:8100::1", nil},
	})

	// Only the IPv6 file: IPv4 addresses are not in it.
	l6 := newLocator(t, nil, v6)
	checkLookups(t, l6, []want{{"8.8.8.8", nil}, {"85.214.132.117", nil}})
	// Only the IPv4 file: IPv6 addresses are skipped, not an error.
	l4 := newLocator(t, nil, v4)
	checkLookups(t, l4, []want{{"2a00:1450:4001::1", nil}})
}

func TestFirstHitWins(t *testing.T) {
	dir := t.TempDir()
	v4, v6 := writeFlat(t, dir)
	g := filepath.Join(dir, "GeoIP2-City.mmdb")
	writeGeoIP2(t, g, "Gamlingay", geoip2Build)

	flatFirst := newLocator(t, nil, v4, v6, g)
	for ip, db := range map[string]string{
		"8.8.8.8":          "city ipv4",   // in both: the first file answers
		"81.2.69.142":      "GeoIP2-City", // not in the flat files
		"2a02:8100::1":     "GeoIP2-City",
		"2a00:1450:4001::": "city ipv6",
		"1.2.3.4":          "", // empty GeoIP2 record, not in the flat files
	} {
		got, ok := flatFirst.Lookup(netip.MustParseAddr(ip))
		if ok != (db != "") || got.Database != db {
			t.Errorf("%s: found=%v database=%q, want %q", ip, ok, got.Database, db)
		}
	}
	geoip2First := newLocator(t, nil, g, v4, v6)
	if got, _ := geoip2First.Lookup(netip.MustParseAddr("8.8.8.8")); got.Database != "GeoIP2-City" || got.City != "" {
		t.Errorf("8.8.8.8 with GeoIP2 first: %+v", got)
	}
}

func TestEnrichAndMetrics(t *testing.T) {
	dir := t.TempDir()
	v4, v6 := writeFlat(t, dir)
	reg := prometheus.NewPedanticRegistry()
	l := newLocator(t, reg, v4, v6)

	enrich := func(ip string, prior *sharelog.Geo) *sharelog.Event {
		ev := &sharelog.Event{ID: "e", Client: sharelog.Client{IP: ip, Kind: sharelog.ClientBrowser}, Geo: prior}
		l.Enrich(ev)
		return ev
	}
	ev := enrich("85.214.132.117", nil)
	if ev.Geo == nil || ev.Geo.City != "Berlin (Charlottenburg-Wilmersdorf)" || *ev.Geo.Latitude != 52.5234 {
		t.Fatalf("Enrich: %+v", ev.Geo)
	}
	b, err := json.Marshal(ev.Geo)
	if err != nil {
		t.Fatal(err)
	}
	const wantJSON = `{"country_code":"DE","country_name":"Germany","subdivision":"Berlin","city":"Berlin (Charlottenburg-Wilmersdorf)","latitude":52.5234,"longitude":13.3224,"database":"city ipv4","database_build":"2026-06-05"}`
	if string(b) != wantJSON {
		t.Errorf("JSON:\n got %s\nwant %s", b, wantJSON)
	}
	if ev := enrich("2a00:1450:4001::1", nil); ev.Geo == nil || ev.Geo.CountryCode != "DE" {
		t.Errorf("IPv6 Enrich: %+v", ev.Geo)
	}
	for _, ip := range []string{"9.9.9.9", "2a03::1"} {
		if ev := enrich(ip, nil); ev.Geo != nil {
			t.Errorf("%s: Geo = %+v, want nil", ip, ev.Geo)
		}
	}
	prior := &sharelog.Geo{CountryCode: "FR"}
	if ev := enrich("9.9.9.9", prior); ev.Geo != prior {
		t.Errorf("not found replaced an existing Geo")
	}
	for _, ip := range []string{"", "not-an-ip", "1.2.3.4:80", "1.2.3"} {
		if ev := enrich(ip, nil); ev.Geo != nil {
			t.Errorf("%q: Geo = %+v, want nil", ip, ev.Geo)
		}
	}
	if _, ok := l.Lookup(netip.Addr{}); ok {
		t.Error("zero Addr found")
	}

	for result, want := range map[string]float64{"found": 2, "not_found": 3, "invalid_ip": 5, "no_database": 0} {
		if got := metricValue(t, reg, "sharelog_geo_lookups_total", "result", result); got != want {
			t.Errorf("lookups_total{result=%q} = %v, want %v", result, got, want)
		}
	}
	for db, want := range map[string]time.Time{"city ipv4": flatBuild, "city ipv6": flatBuild.Add(74 * time.Second)} {
		if got := metricValue(t, reg, "sharelog_geo_database_build_timestamp_seconds", "database", db); got != float64(want.Unix()) {
			t.Errorf("build timestamp %q = %v, want %v", db, got, want.Unix())
		}
	}

	// No database configured.
	reg2 := prometheus.NewPedanticRegistry()
	none := newLocator(t, reg2)
	if ev := enrich("8.8.8.8", nil); ev.Geo == nil {
		t.Error("control lookup failed")
	}
	ev = &sharelog.Event{Client: sharelog.Client{IP: "8.8.8.8"}}
	none.Enrich(ev)
	if ev.Geo != nil {
		t.Errorf("no database: Geo = %+v", ev.Geo)
	}
	if got := metricValue(t, reg2, "sharelog_geo_lookups_total", "result", "no_database"); got != 1 {
		t.Errorf("no_database = %v, want 1", got)
	}

	// A second Locator cannot register the same metrics.
	if _, err := New(Config{CityDB: []string{v4}}, nil, reg); err == nil {
		t.Error("duplicate registration: no error")
	}
}

// metricValue returns the value of the sample of name whose label has
// value, or -1.
func metricValue(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					if c := m.GetCounter(); c != nil {
						return c.GetValue()
					}
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	return -1
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		errs []string
	}{
		{Config{}, nil},
		{Config{CityDB: []string{"a.mmdb", "b.mmdb"}, ReloadInterval: time.Second}, nil},
		{Config{CityDB: []string{"a.mmdb", ""}}, []string{"city_db[1]: must not be empty"}},
		{Config{CityDB: []string{"a.mmdb", "b.mmdb", "a.mmdb"}}, []string{`city_db[2]: "a.mmdb" is already city_db[0]`}},
		{Config{CityDB: []string{" a.mmdb"}}, []string{"city_db[0]: "}},
		{Config{ReloadInterval: -time.Second}, []string{"reload_interval: must not be negative"}},
		{Config{CityDB: []string{"", ""}, ReloadInterval: -1}, []string{"city_db[0]", "city_db[1]", "reload_interval"}},
	} {
		err := c.cfg.Validate()
		if len(c.errs) == 0 {
			if err != nil {
				t.Errorf("%+v: %v", c.cfg, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%+v: no error, want %q", c.cfg, c.errs)
			continue
		}
		for _, e := range c.errs {
			if !strings.Contains(err.Error(), e) {
				t.Errorf("%+v: error %q does not contain %q", c.cfg, err, e)
			}
		}
	}
	var c Config
	c.SetDefaults()
	if c.ReloadInterval != time.Minute {
		t.Errorf("default ReloadInterval = %v", c.ReloadInterval)
	}
	if _, err := New(Config{CityDB: []string{""}}, nil, nil); err == nil || !strings.Contains(err.Error(), "city_db[0]") {
		t.Errorf("New with invalid config: %v", err)
	}
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.mmdb")
	writeGeoIP2(t, good, "Gamlingay", geoip2Build)
	garbage := filepath.Join(dir, "garbage.mmdb")
	if err := os.WriteFile(garbage, []byte("this is not a MaxMind DB file, just text"), 0o644); err != nil {
		t.Fatal(err)
	}
	cc := mmdbtype.Map{"country": country("DE", "Germany", "", 2921044)}
	countryDB := filepath.Join(dir, "GeoLite2-Country.mmdb")
	writeDB(t, countryDB, mmdbwriter.Options{DatabaseType: "GeoLite2-Country"}, []network{{"85.214.0.0/16", cc}})
	asnDB := filepath.Join(dir, "asn.mmdb")
	writeDB(t, asnDB, mmdbwriter.Options{DatabaseType: "GeoLite2-ASN"}, []network{{"85.214.0.0/16", mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(6724)}}})
	oddDB := filepath.Join(dir, "odd.mmdb")
	writeDB(t, oddDB, mmdbwriter.Options{DatabaseType: "Acme-Things"}, []network{{"85.214.0.0/16", mmdbtype.Map{"thing": mmdbtype.String("x")}}})
	emptyDB := filepath.Join(dir, "empty.mmdb")
	writeDB(t, emptyDB, mmdbwriter.Options{DatabaseType: "Acme-City"}, nil)

	for _, c := range []struct {
		path, want string
	}{
		{filepath.Join(dir, "missing.mmdb"), "no such file"},
		{dir, "not a regular file"},
		{garbage, "not a MaxMind DB file"},
		{countryDB, `not a city database (database_type "GeoLite2-Country")`},
		{asnDB, `not a city database (database_type "GeoLite2-ASN")`},
		{oddDB, `not a city database (database_type "Acme-Things"`},
		{emptyDB, "no records"},
	} {
		l, err := New(Config{CityDB: []string{good, c.path}}, nil, nil)
		if err == nil {
			l.Close()
			t.Errorf("%s: no error", c.path)
			continue
		}
		if !strings.Contains(err.Error(), c.path) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q, want the path and %q", c.path, err, c.want)
		}
	}
}

// TestDetectByLayout opens databases of unknown type by their record
// layout.
func TestDetectByLayout(t *testing.T) {
	dir := t.TempDir()
	nested := filepath.Join(dir, "nested.mmdb")
	writeDB(t, nested, mmdbwriter.Options{DatabaseType: "Acme-Geo"}, geoip2Networks("Gamlingay"))
	flatDB := filepath.Join(dir, "flat.mmdb")
	writeDB(t, flatDB, mmdbwriter.Options{DatabaseType: "Acme-Flat", IPVersion: 4}, flatV4Networks())
	l := newLocator(t, nil, nested, flatDB)
	if got, _ := l.Lookup(netip.MustParseAddr("81.2.69.142")); got.City != "Gamlingay" || got.Database != "Acme-Geo" {
		t.Errorf("nested: %+v", got)
	}
	if got, _ := l.Lookup(netip.MustParseAddr("85.214.132.117")); got.Subdivision != "Berlin" || got.Database != "Acme-Flat" {
		t.Errorf("flat: %+v", got)
	}
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "GeoLite2-City.mmdb")
	writeGeoIP2(t, path, "Gamlingay", geoip2Build)
	v4, v6 := writeFlat(t, dir)
	reg := prometheus.NewPedanticRegistry()
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	l, err := New(Config{CityDB: []string{path, v4, v6}, ReloadInterval: 10 * time.Millisecond}, logger, reg)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()

	ip := netip.MustParseAddr("81.2.69.142")
	city := func() string { g, _ := l.Lookup(ip); return g.City }
	if got := city(); got != "Gamlingay" {
		t.Fatalf("before reload: %q", got)
	}
	reloads := func(result string) float64 {
		return metricValue(t, reg, "sharelog_geo_reloads_total", "result", result)
	}

	// Replaced by rename: the new answer appears.
	newBuild := geoip2Build.AddDate(0, 0, 7)
	writeGeoIP2(t, path, "Cambridge", newBuild)
	waitFor(t, "the reloaded database", func() bool { return city() == "Cambridge" })
	if g, _ := l.Lookup(ip); g.DatabaseBuild != "2026-11-10" {
		t.Errorf("DatabaseBuild after reload = %q", g.DatabaseBuild)
	}
	if got := metricValue(t, reg, "sharelog_geo_database_build_timestamp_seconds", "database", "GeoIP2-City"); got != float64(newBuild.Unix()) {
		t.Errorf("build gauge = %v, want %v", got, newBuild.Unix())
	}
	if got := reloads("ok"); got != 1 {
		t.Errorf("reloads ok = %v, want 1 (only the replaced file)", got)
	}
	// The untouched flat files still answer.
	if g, ok := l.Lookup(netip.MustParseAddr("2a00:1450:4001::1")); !ok || g.City != "Frankfurt am Main" {
		t.Errorf("flat IPv6 after reload: %+v", g)
	}

	// A bad replacement is logged and counted once; the old one stays.
	tmp := filepath.Join(dir, "bad.tmp")
	if err := os.WriteFile(tmp, []byte("truncated download"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the failed reload", func() bool { return reloads("error") == 1 })
	time.Sleep(50 * time.Millisecond) // several more checks
	if got := reloads("error"); got != 1 {
		t.Errorf("reloads error = %v, want 1 (the same bad file is not retried)", got)
	}
	if got := city(); got != "Cambridge" {
		t.Errorf("after bad replacement: %q, want the old database's answer", got)
	}
	if !strings.Contains(logs.String(), "geo database reload failed") || !strings.Contains(logs.String(), path) {
		t.Errorf("no error logged for the bad file:\n%s", logs.String())
	}

	// A removed file keeps the loaded database.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if got := city(); got != "Cambridge" {
		t.Errorf("after removal: %q", got)
	}

	// A good file again.
	writeGeoIP2(t, path, "Gamlingay", geoip2Build)
	waitFor(t, "the third database", func() bool { return city() == "Gamlingay" })
	if got := reloads("ok"); got != 2 {
		t.Errorf("reloads ok = %v, want 2", got)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

// TestReloadUnderLoad swaps databases while lookups run (go test -race).
func TestReloadUnderLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "city.mmdb")
	writeGeoIP2(t, path, "A", geoip2Build)
	l, err := New(Config{CityDB: []string{path}, ReloadInterval: time.Millisecond}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = l.Run(ctx) })
	stop := make(chan struct{})
	for range 2 {
		wg.Go(func() {
			ip := netip.MustParseAddr("81.2.69.142")
			for {
				select {
				case <-stop:
					return
				default:
				}
				g, ok := l.Lookup(ip)
				if !ok || (g.City != "A" && g.City != "B") || *g.Latitude != 52.1398 {
					t.Errorf("during reload: %+v %v", g, ok)
					return
				}
				ev := &sharelog.Event{Client: sharelog.Client{IP: "2a02:8100::1"}}
				l.Enrich(ev)
				if ev.Geo == nil || ev.Geo.City != "Berlin" {
					t.Errorf("Enrich during reload: %+v", ev.Geo)
					return
				}
			}
		})
	}
	for i := range 20 {
		writeGeoIP2(t, path, string(rune('A'+i%2)), geoip2Build.Add(time.Duration(i)*time.Hour))
		time.Sleep(3 * time.Millisecond)
	}
	close(stop)
	cancel()
	wg.Wait()
}

func TestRunWithoutDatabases(t *testing.T) {
	l := newLocator(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	select {
	case err := <-done:
		t.Fatalf("Run returned early: %v", err)
	case <-time.After(30 * time.Millisecond):
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "city.mmdb")
	writeGeoIP2(t, path, "Gamlingay", geoip2Build)
	reg := prometheus.NewPedanticRegistry()
	l, err := New(Config{CityDB: []string{path}, ReloadInterval: 5 * time.Millisecond}, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- l.Run(context.Background()) }()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after Close")
	}
	if _, ok := l.Lookup(netip.MustParseAddr("81.2.69.142")); ok {
		t.Error("found after Close")
	}
	if got := metricValue(t, reg, "sharelog_geo_lookups_total", "result", "no_database"); got != 1 {
		t.Errorf("no_database after Close = %v", got)
	}
}

func TestCountryNames(t *testing.T) {
	n := newCountryNames()
	for code, want := range map[string]string{
		"US": "United States", "us": "United States", "DE": "Germany", "GB": "United Kingdom",
		"CH": "Switzerland", "XK": "Kosovo", "ZZ": "", "EU": "", "": "", "USA": "", "1A": "",
	} {
		if got := n.name(code); got != want {
			t.Errorf("name(%q) = %q, want %q", code, got, want)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the logger's and the test's
// goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
