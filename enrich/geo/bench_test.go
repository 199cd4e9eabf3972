package geo

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/oschwald/geoip2-golang/v2"

	"github.com/sharelog/sharelog"
)

// BenchmarkLookup measures one Lookup of an address that is found, per
// database layout: on synthetic databases (always) and on the real ones
// (when SHARELOG_TEST_GEOLITE2_CITY / SHARELOG_TEST_DBIP_CITY are set).
// geoip2-golang-City is the reference: geoip2-golang's full City decode of
// the same addresses.
func BenchmarkLookup(b *testing.B) {
	dir := b.TempDir()
	synthGeoIP2 := filepath.Join(dir, "synthetic-geoip2.mmdb")
	synthV4 := filepath.Join(dir, "synthetic-flat-ipv4.mmdb")
	writeSynthetic(b, synthGeoIP2, synthV4)

	type dbcase struct {
		name  string
		paths func(testing.TB) []string
	}
	for _, c := range []dbcase{
		{"geoip2-city/synthetic", func(testing.TB) []string { return []string{synthGeoIP2} }},
		{"geoip2-city/GeoLite2-City", func(t testing.TB) []string { return []string{geoLite2Path(t)} }},
		{"flat-dbip/synthetic", func(testing.TB) []string { return []string{synthV4} }},
		{"flat-dbip/dbip-city", dbipPaths},
	} {
		for _, cached := range []bool{true, false} {
			name := c.name
			if !cached {
				name += "/uncached"
			}
			b.Run(name, func(b *testing.B) {
				benchLookup(b, c.paths(b), cached)
			})
		}
	}

	for _, c := range []dbcase{
		{"geoip2-golang-City/synthetic", func(testing.TB) []string { return []string{synthGeoIP2} }},
		{"geoip2-golang-City/GeoLite2-City", func(t testing.TB) []string { return []string{geoLite2Path(t)} }},
	} {
		b.Run(c.name, func(b *testing.B) {
			p := c.paths(b)[0]
			l := newBenchLocator(b, p)
			ips := foundAddrs(l, 4096)
			ref, err := geoip2.Open(p)
			if err != nil {
				b.Fatal(err)
			}
			defer ref.Close()
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				if _, err := ref.City(ips[i%len(ips)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// benchLookup looks up 4,096 found addresses in turn: with the record
// cache, most lookups after the first round skip decoding (as repeated
// visitors and cities do); uncached decodes every record.
func benchLookup(b *testing.B, paths []string, cached bool) {
	l, err := New(Config{CityDB: paths}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	for _, db := range *l.dbs.Load() {
		db.noCache = !cached
	}
	ips := foundAddrs(l, 4096)
	if len(ips) == 0 {
		b.Fatal("no address found")
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, ok := l.Lookup(ips[i%len(ips)]); !ok {
			b.Fatal("not found")
		}
		i++
	}
}

// BenchmarkEnrich measures Enrich on events whose address is found,
// including parsing Client.IP.
func BenchmarkEnrich(b *testing.B) {
	dir := b.TempDir()
	synthGeoIP2 := filepath.Join(dir, "synthetic-geoip2.mmdb")
	synthV4 := filepath.Join(dir, "synthetic-flat-ipv4.mmdb")
	writeSynthetic(b, synthGeoIP2, synthV4)
	for _, c := range []struct {
		name string
		path string
	}{{"geoip2-city/synthetic", synthGeoIP2}, {"flat-dbip/synthetic", synthV4}} {
		b.Run(c.name, func(b *testing.B) {
			l := newBenchLocator(b, c.path)
			ips := foundAddrs(l, 4096)
			evs := make([]sharelog.Event, len(ips))
			for i, ip := range ips {
				evs[i].Client.IP = ip.String()
			}
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				ev := &evs[i%len(evs)]
				ev.Geo = nil
				l.Enrich(ev)
				i++
			}
		})
	}
}

func newBenchLocator(b *testing.B, paths ...string) *Locator {
	l, err := New(Config{CityDB: paths}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	return l
}

// writeSynthetic writes a GeoIP2 City database and an ip-location-db IPv4
// city database with the same 60,000 networks (IPv4 /24s and, in the
// GeoIP2 one, IPv6 /40s) over 2,000 distinct cities, records shaped like
// the real ones (eight languages of names in GeoIP2).
func writeSynthetic(b *testing.B, geoip2Path, flatV4Path string) {
	b.Helper()
	rng := rand.New(rand.NewPCG(7, 8))
	langs := []string{"de", "en", "es", "fr", "ja", "pt-BR", "ru", "zh-CN"}
	allNames := func(base string) mmdbtype.Map {
		m := mmdbtype.Map{}
		for _, l := range langs {
			m[mmdbtype.String(l)] = mmdbtype.String(base + " " + l)
		}
		return m
	}
	codes := []string{"US", "DE", "FR", "GB", "NL", "JP", "BR", "IN", "CN", "CH", "SE", "PL", "IT", "ES", "CA"}
	type city struct{ nested, flat mmdbtype.Map }
	cities := make([]city, 2000)
	for i := range cities {
		cc := codes[i%len(codes)]
		lat, lon := rng.Float64()*140-70, rng.Float64()*360-180
		ctry := mmdbtype.Map{"geoname_id": mmdbtype.Uint32(1000 + i%len(codes)), "iso_code": mmdbtype.String(cc), "names": allNames("Country " + cc)}
		cities[i].nested = mmdbtype.Map{
			"city":               mmdbtype.Map{"geoname_id": mmdbtype.Uint32(100000 + i), "names": allNames(fmt.Sprintf("City %d", i))},
			"continent":          mmdbtype.Map{"code": mmdbtype.String("EU"), "geoname_id": mmdbtype.Uint32(6255148), "names": allNames("Continent")},
			"country":            ctry,
			"location":           location(lat, lon, uint16(5+i%500), "Europe/Berlin"),
			"postal":             mmdbtype.Map{"code": mmdbtype.String(fmt.Sprintf("%05d", i))},
			"registered_country": ctry,
			"subdivisions": mmdbtype.Slice{mmdbtype.Map{
				"geoname_id": mmdbtype.Uint32(200000 + i/10), "iso_code": mmdbtype.String("XX"), "names": allNames(fmt.Sprintf("Region %d", i/10)),
			}},
		}
		cities[i].flat = flat(cc, fmt.Sprintf("Region %d", i/10), fmt.Sprintf("City %d", i), float32(lat), float32(lon))
	}
	var nested, flatNets []network
	seen := map[string]bool{}
	for len(nested) < 60000 {
		c := cities[rng.IntN(len(cities))]
		var cidr string
		v4 := len(nested)%4 != 3
		if v4 {
			cidr = fmt.Sprintf("%d.%d.%d.0/24", 1+rng.IntN(222), rng.IntN(256), rng.IntN(256))
		} else {
			cidr = fmt.Sprintf("2a%02x:%x:%x00::/40", rng.IntN(16), rng.IntN(65536), rng.IntN(256))
		}
		if seen[cidr] {
			continue
		}
		seen[cidr] = true
		nested = append(nested, network{cidr, c.nested})
		if v4 {
			flatNets = append(flatNets, network{cidr, c.flat})
		}
	}
	opts := geoip2Opts(geoip2Build)
	opts.IncludeReservedNetworks = true
	writeDB(b, geoip2Path, opts, nested)
	writeDB(b, flatV4Path, mmdbwriter.Options{DatabaseType: "city ipv4", IPVersion: 4, BuildEpoch: flatBuild.Unix(), IncludeReservedNetworks: true}, flatNets)
}
