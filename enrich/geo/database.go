package geo

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"
	"github.com/oschwald/maxminddb-golang/v2/mmdbdata"
	"github.com/sharelog/sharelog"
)

// format is the record layout of a city database.
type format uint8

const (
	// formatGeoIP2 is MaxMind's GeoIP2/GeoLite2 City layout (nested maps:
	// country.iso_code, subdivisions[0].names.en, city.names.en, location.*),
	// also used by DB-IP's own "DBIP-City-Lite" files.
	formatGeoIP2 format = iota + 1
	// formatFlat is the ip-location-db layout: one flat map with
	// country_code, state1, state2, city, postcode, latitude, longitude,
	// timezone.
	formatFlat
)

func (f format) String() string {
	switch f {
	case formatGeoIP2:
		return "geoip2-city"
	case formatFlat:
		return "ip-location-db-city"
	}
	return "unknown"
}

// isGeoIP2CityType reports whether records of the database type t use the
// GeoIP2 City layout (the City-capable types that geoip2-golang accepts,
// less the country-only ones).
func isGeoIP2CityType(t string) bool {
	switch t {
	case "GeoLite2-City",
		"GeoIP2-City",
		"GeoIP2-City-Africa",
		"GeoIP2-City-Asia-Pacific",
		"GeoIP2-City-Europe",
		"GeoIP2-City-North-America",
		"GeoIP2-City-South-America",
		"GeoIP2-Precision-City",
		"GeoIP-City-Redacted-US",
		"GeoIP2-Enterprise",
		"GeoIP-Enterprise-Redacted-US",
		"DBIP-City-Lite",
		"DBIP-Location (compat=City)",
		"DBIP-ISP (compat=Enterprise)",
		"DBIP-Location-ISP (compat=Enterprise)":
		return true
	}
	return false
}

// database is one opened city database file. It is immutable once opened.
type database struct {
	path    string
	reader  *maxminddb.Reader
	format  format
	dbType  string    // metadata database_type, stamped on results
	build   string    // build date, YYYY-MM-DD UTC, stamped on results
	builtAt time.Time // build time
	ipv6    bool      // the file holds IPv6 networks (ip_version 6)
	stat    os.FileInfo
	cache   recordCache
	noCache bool // benchmarks only: decode every lookup
}

// cacheBits sizes a database's record cache: 1<<cacheBits slots.
const cacheBits = 13

// recordCache remembers decoded records by their offset in the data
// section, so the many addresses that share a record (every address of a
// city shares one) decode it once. It is direct-mapped and lossy: a slot
// holds the last record stored in it. Entries are immutable once
// published, so lookups read them without locks.
type recordCache struct {
	slots [1 << cacheBits]atomic.Pointer[cachedRecord]
}

// cachedRecord is a decoded record: its result with Latitude/Longitude not
// yet pointed at (each caller gets its own copy), or useful=false for a
// record that holds nothing sharelog reports.
type cachedRecord struct {
	offset uintptr
	r      result
	useful bool
}

func (c *recordCache) slot(offset uintptr) *atomic.Pointer[cachedRecord] {
	return &c.slots[(uint64(offset)*0x9E3779B97F4A7C15)>>(64-cacheBits)]
}

// openDatabase opens the city database at path and tells its format apart.
// The file is stat'ed before it is opened, so a replacement racing with the
// open is seen as a change at the next check (one extra reload), never
// missed. Errors name the path.
func openDatabase(path string) (*database, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("geo: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("geo: %s: not a regular file", path)
	}
	r, err := maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("geo: %s: not a MaxMind DB file: %w", path, err)
	}
	f, err := detectFormat(r)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("geo: %s: %w", path, err), r.Close())
	}
	built := r.Metadata.BuildTime().UTC()
	return &database{
		path:    path,
		reader:  r,
		format:  f,
		dbType:  r.Metadata.DatabaseType,
		build:   built.Format(time.DateOnly),
		builtAt: built,
		ipv6:    r.Metadata.IPVersion == 6,
		stat:    fi,
	}, nil
}

// detectFormat tells the record layout from the metadata's database type
// and, for types it does not know, from the keys of the first records that
// have either layout.
func detectFormat(r *maxminddb.Reader) (format, error) {
	t := r.Metadata.DatabaseType
	switch {
	case isGeoIP2CityType(t):
		return formatGeoIP2, nil
	case t == "city ipv4" || t == "city ipv6":
		// ip-location-db's dbip-city-mmdb, geolite2-city-mmdb, ….
		return formatFlat, nil
	case strings.Contains(t, "Country") || strings.Contains(t, "country") ||
		strings.Contains(t, "ASN") || strings.Contains(t, "asn") ||
		strings.Contains(t, "Anonymous") || strings.Contains(t, "Connection-Type") ||
		strings.Contains(t, "Domain") || t == "GeoIP2-ISP":
		return 0, fmt.Errorf("not a city database (database_type %q)", t)
	}
	// Unknown type: look at the first records.
	const sniff = 64
	n := 0
	for res := range r.Networks() {
		var rec map[string]any
		if err := res.Decode(&rec); err != nil {
			return 0, fmt.Errorf("database_type %q: reading record %s: %w", t, res.Prefix(), err)
		}
		_, hasCode := rec["country_code"].(string)
		_, hasCity := rec["city"].(string)
		if hasCode && hasCity {
			return formatFlat, nil
		}
		_, hasCountry := rec["country"].(map[string]any)
		_, hasLoc := rec["location"].(map[string]any)
		_, hasCityMap := rec["city"].(map[string]any)
		if hasCountry && (hasLoc || hasCityMap) {
			return formatGeoIP2, nil
		}
		if n++; n == sniff {
			break
		}
	}
	if n == 0 {
		return 0, fmt.Errorf("not a city database (database_type %q, no records)", t)
	}
	return 0, fmt.Errorf("not a city database (database_type %q, its first %d records have neither the GeoIP2 City nor the ip-location-db city layout)", t, n)
}

// result is a lookup answer: the Geo and the coordinates its Latitude and
// Longitude point at, in one allocation.
type result struct {
	g        sharelog.Geo
	lat, lon float64
	hasLat   bool
	hasLon   bool
}

// useful reports whether the record said anything sharelog reports.
func (r *result) useful() bool {
	return r.g.CountryCode != "" || r.g.City != "" || (r.hasLat && r.hasLon)
}

// link points Latitude/Longitude at r's own coordinates when both are
// known.
func (r *result) link() {
	if r.hasLat && r.hasLon {
		r.g.Latitude, r.g.Longitude = &r.lat, &r.lon
	}
}

// maxString bounds every string read from a record.
const maxString = 1024

// geoip2Record decodes only the fields sharelog needs from a GeoIP2 City
// record, skipping everything else (names in other languages, continent,
// registered country, postal, traits) without materialising it.
type geoip2Record result

// UnmarshalMaxMindDBCursor implements mmdbdata.CursorUnmarshaler.
func (r *geoip2Record) UnmarshalMaxMindDBCursor(c mmdbdata.Cursor) (mmdbdata.Cursor, error) {
	m, err := c.MapReader()
	if err != nil {
		return mmdbdata.Cursor{}, mmdbdata.NormalizeUnmarshalError[geoip2Record](err)
	}
	next := m.First()
	for range m.Len() {
		key, v, err := next.ReadMapKey()
		if err != nil {
			return mmdbdata.Cursor{}, err
		}
		switch string(key) {
		case "country":
			next, err = readStringField(v, "iso_code", &r.g.CountryCode)
		case "city":
			next, err = readEnglishName(v, &r.g.City)
		case "subdivisions":
			next, err = r.readSubdivisions(v)
		case "location":
			next, err = r.readLocation(v)
		default:
			next, err = v.Skip()
		}
		if err != nil {
			return mmdbdata.Cursor{}, fmt.Errorf("%s: %w", key, err)
		}
	}
	return m.End(next)
}

// readSubdivisions keeps the English name of the first (largest)
// subdivision.
func (r *geoip2Record) readSubdivisions(c mmdbdata.Cursor) (mmdbdata.Cursor, error) {
	s, err := c.SliceMaxSize(32)
	if err != nil {
		return mmdbdata.Cursor{}, mmdbdata.NormalizeUnmarshalError[[]any](err)
	}
	var next mmdbdata.Cursor
	for {
		i, v, ok := s.Next(next)
		if !ok {
			break
		}
		if i == 0 {
			next, err = readEnglishName(v, &r.g.Subdivision)
		} else {
			next, err = v.Skip()
		}
		if err != nil {
			return mmdbdata.Cursor{}, err
		}
	}
	return s.End()
}

func (r *geoip2Record) readLocation(c mmdbdata.Cursor) (mmdbdata.Cursor, error) {
	m, err := c.MapReader()
	if err != nil {
		return mmdbdata.Cursor{}, mmdbdata.NormalizeUnmarshalError[map[string]any](err)
	}
	next := m.First()
	for range m.Len() {
		key, v, err := next.ReadMapKey()
		if err != nil {
			return mmdbdata.Cursor{}, err
		}
		switch string(key) {
		case "latitude":
			r.lat, next, err = readCoordinate(v)
			r.hasLat = err == nil
		case "longitude":
			r.lon, next, err = readCoordinate(v)
			r.hasLon = err == nil
		case "accuracy_radius":
			var u uint64
			u, next, err = v.ReadUint()
			r.g.AccuracyRadiusKM = uint16(min(u, 0xffff))
		default:
			next, err = v.Skip()
		}
		if err != nil {
			return mmdbdata.Cursor{}, fmt.Errorf("%s: %w", key, err)
		}
	}
	return m.End(next)
}

// readCoordinate reads a float64 or float32 coordinate. A float32 (as the
// ip-location-db files store them) becomes the float64 nearest to its
// shortest decimal form, so 52.5234 stays 52.5234 and not
// 52.52339935302734.
func readCoordinate(c mmdbdata.Cursor) (float64, mmdbdata.Cursor, error) {
	k, err := c.Kind()
	if err != nil {
		return 0, mmdbdata.Cursor{}, err
	}
	if k != mmdbdata.KindFloat32 {
		return c.ReadFloat()
	}
	f, next, err := c.ReadFloat32()
	if err != nil {
		return 0, mmdbdata.Cursor{}, err
	}
	var buf [32]byte
	d, err := strconv.ParseFloat(string(strconv.AppendFloat(buf[:0], float64(f), 'g', -1, 32)), 64)
	if err != nil { // ±Inf, NaN
		d = float64(f)
	}
	return d, next, nil
}

// readEnglishName reads names.en from a map such as {"geoname_id": …,
// "names": {"de": …, "en": …}}.
func readEnglishName(c mmdbdata.Cursor, dst *string) (mmdbdata.Cursor, error) {
	m, err := c.MapReader()
	if err != nil {
		return mmdbdata.Cursor{}, mmdbdata.NormalizeUnmarshalError[map[string]any](err)
	}
	next := m.First()
	for range m.Len() {
		key, v, err := next.ReadMapKey()
		if err != nil {
			return mmdbdata.Cursor{}, err
		}
		if string(key) == "names" {
			next, err = readStringField(v, "en", dst)
		} else {
			next, err = v.Skip()
		}
		if err != nil {
			return mmdbdata.Cursor{}, err
		}
	}
	return m.End(next)
}

// readStringField reads the string under name from a map, skipping the
// rest.
func readStringField(c mmdbdata.Cursor, name string, dst *string) (mmdbdata.Cursor, error) {
	m, err := c.MapReader()
	if err != nil {
		return mmdbdata.Cursor{}, mmdbdata.NormalizeUnmarshalError[map[string]any](err)
	}
	next := m.First()
	for range m.Len() {
		key, v, err := next.ReadMapKey()
		if err != nil {
			return mmdbdata.Cursor{}, err
		}
		if string(key) == name {
			*dst, next, err = v.ReadStringMaxSize(maxString)
		} else {
			next, err = v.Skip()
		}
		if err != nil {
			return mmdbdata.Cursor{}, err
		}
	}
	return m.End(next)
}

// flatRecord decodes an ip-location-db city record: country_code, state1
// (subdivision), city, latitude, longitude; state2, postcode and timezone
// are skipped.
type flatRecord result

// UnmarshalMaxMindDBCursor implements mmdbdata.CursorUnmarshaler.
func (r *flatRecord) UnmarshalMaxMindDBCursor(c mmdbdata.Cursor) (mmdbdata.Cursor, error) {
	m, err := c.MapReader()
	if err != nil {
		return mmdbdata.Cursor{}, mmdbdata.NormalizeUnmarshalError[flatRecord](err)
	}
	next := m.First()
	for range m.Len() {
		key, v, err := next.ReadMapKey()
		if err != nil {
			return mmdbdata.Cursor{}, err
		}
		switch string(key) {
		case "country_code":
			r.g.CountryCode, next, err = v.ReadStringMaxSize(maxString)
		case "state1":
			r.g.Subdivision, next, err = v.ReadStringMaxSize(maxString)
		case "city":
			r.g.City, next, err = v.ReadStringMaxSize(maxString)
		case "latitude":
			r.lat, next, err = readCoordinate(v)
			r.hasLat = err == nil
		case "longitude":
			r.lon, next, err = readCoordinate(v)
			r.hasLon = err == nil
		default:
			next, err = v.Skip()
		}
		if err != nil {
			return mmdbdata.Cursor{}, fmt.Errorf("%s: %w", key, err)
		}
	}
	return m.End(next)
}

// locate returns the result for the record res found, from the cache or
// decoded (and then cached), or nil when the record holds nothing useful.
// countries names the country codes. The result is the caller's own.
func (d *database) locate(res maxminddb.Result, countries *countryNames) (*result, error) {
	off := res.Offset()
	slot := d.cache.slot(off)
	c := slot.Load()
	if c == nil || c.offset != off || d.noCache {
		c = &cachedRecord{offset: off}
		var err error
		if d.format == formatFlat {
			err = res.Decode((*flatRecord)(&c.r))
		} else {
			err = res.Decode((*geoip2Record)(&c.r))
		}
		if err != nil {
			return nil, err
		}
		c.useful = c.r.useful()
		c.r.g.CountryName = countries.name(c.r.g.CountryCode)
		c.r.g.Database = d.dbType
		c.r.g.DatabaseBuild = d.build
		slot.Store(c)
	}
	if !c.useful {
		return nil, nil
	}
	r := new(result)
	*r = c.r
	r.link()
	return r, nil
}
