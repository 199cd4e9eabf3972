package geo

import (
	"math/rand/v2"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/oschwald/geoip2-golang/v2"
	"github.com/oschwald/maxminddb-golang/v2"
)

// Tests against the real databases. scripts/fetch-geoip installs them:
//
//	export SHARELOG_TEST_DBIP_CITY="$(scripts/fetch-geoip | tail -n1)"
//	export SHARELOG_TEST_GEOLITE2_CITY="$(scripts/fetch-geoip --geolite2-test data/geoip-test | tail -n1)"
//	go test ./enrich/geo -run Real -v

const (
	envGeoLite2 = "SHARELOG_TEST_GEOLITE2_CITY"
	envDBIP     = "SHARELOG_TEST_DBIP_CITY"
)

// realPaths returns the comma-separated paths in env, or skips.
func realPaths(t testing.TB, env, how string) []string {
	t.Helper()
	v := os.Getenv(env)
	if v == "" {
		t.Skipf("%s is not set; to run this test against the real database: export %s=\"$(%s | tail -n1)\"", env, env, how)
	}
	return strings.Split(v, ",")
}

func geoLite2Path(t testing.TB) string {
	return realPaths(t, envGeoLite2, "scripts/fetch-geoip --geolite2-test data/geoip-test")[0]
}

func dbipPaths(t testing.TB) []string {
	p := realPaths(t, envDBIP, "scripts/fetch-geoip")
	if len(p) != 2 {
		t.Fatalf("%s: want two paths, IPv4,IPv6; got %q", envDBIP, p)
	}
	return p
}

var dateRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

// wellKnown are addresses whose country both databases agree on and that
// have stayed put for years: Google DNS, Strato (Berlin), Deutsche Telekom
// and Orange/Free customer ranges.
var wellKnown = map[string]string{
	"8.8.8.8":           "US", // Google Public DNS
	"85.214.132.117":    "DE", // Strato AG
	"62.157.140.133":    "DE", // Deutsche Telekom
	"2003:e0:a70e:1::1": "DE", // Deutsche Telekom
	"2a01:cb00::1":      "FR", // Orange
	"88.190.0.1":        "FR", // Free (Iliad)
}

func checkCountries(t *testing.T, l *Locator, want map[string]string, db string) {
	t.Helper()
	for ip, cc := range want {
		g, ok := l.Lookup(netip.MustParseAddr(ip))
		switch {
		case !ok:
			t.Errorf("%s: not found, want %s", ip, cc)
		case g.CountryCode != cc:
			t.Errorf("%s: country %s (%+v), want %s", ip, g.CountryCode, g, cc)
		case g.CountryName == "" || !strings.HasPrefix(g.Database, db) || !dateRE.MatchString(g.DatabaseBuild):
			t.Errorf("%s: %+v", ip, g)
		default:
			t.Logf("%-20s %s %s / %s / %s  (%s %s)", ip, g.CountryCode, g.CountryName, g.Subdivision, g.City, g.Database, g.DatabaseBuild)
		}
	}
}

func TestRealGeoLite2City(t *testing.T) {
	path := geoLite2Path(t)
	l := newLocator(t, nil, path)
	want := map[string]string{"2001:4860:4860::8888": "US", "81.2.69.142": "GB"}
	for ip, cc := range wellKnown {
		want[ip] = cc
	}
	checkCountries(t, l, want, "GeoLite2-City")
	if g, _ := l.Lookup(netip.MustParseAddr("85.214.132.117")); g.City != "Berlin" || g.Latitude == nil || g.AccuracyRadiusKM == 0 {
		t.Errorf("85.214.132.117: %+v, want Berlin with coordinates and accuracy radius", g)
	}
	for _, ip := range []string{"10.1.2.3", "192.168.0.1", "fd00::1"} {
		if g, ok := l.Lookup(netip.MustParseAddr(ip)); ok {
			t.Errorf("%s (private): %+v", ip, g)
		}
	}

	// The narrow decoder agrees with geoip2-golang's full City decode.
	ref, err := geoip2.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	ips := sampleAddrs(rand.New(rand.NewPCG(1, 2)), 20000)
	var names, differ int
	for _, ip := range ips {
		compareWithGeoIP2(t, l, ref, ip)
		if t.Failed() {
			t.FailNow()
		}
		rec, _ := ref.City(ip)
		if g, ok := l.Lookup(ip); ok && g.CountryCode != "" {
			names++
			if g.CountryName != rec.Country.Names.English {
				differ++
				if differ <= 5 {
					t.Logf("country name: CLDR %q, GeoLite2 %q", g.CountryName, rec.Country.Names.English)
				}
			}
		}
	}
	t.Logf("compared %d addresses with geoip2-golang; CLDR and GeoLite2 English country names differ on %d of %d hits", len(ips), differ, names)
}

func TestRealDBIPCity(t *testing.T) {
	paths := dbipPaths(t)
	l := newLocator(t, nil, paths...)
	checkCountries(t, l, wellKnown, "city ipv")
	// DB-IP places Google's anycast IPv6 resolver in Montreal (CA), unlike
	// MaxMind (US): only assert that it is found.
	if g, ok := l.Lookup(netip.MustParseAddr("2001:4860:4860::8888")); !ok || g.Database != "city ipv6" {
		t.Errorf("2001:4860:4860::8888: %+v %v", g, ok)
	} else {
		t.Logf("2001:4860:4860::8888 %s %s / %s", g.CountryCode, g.Subdivision, g.City)
	}
	if g, _ := l.Lookup(netip.MustParseAddr("8.8.8.8")); g.Database != "city ipv4" || g.City == "" || g.Latitude == nil {
		t.Errorf("8.8.8.8: %+v", g)
	}

	// The narrow decoder agrees with a reflection decode of all fields.
	type flatFull struct {
		CountryCode string  `maxminddb:"country_code"`
		State1      string  `maxminddb:"state1"`
		City        string  `maxminddb:"city"`
		Latitude    float32 `maxminddb:"latitude"`
		Longitude   float32 `maxminddb:"longitude"`
	}
	var readers []*maxminddb.Reader
	for _, p := range paths {
		r, err := maxminddb.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		readers = append(readers, r)
	}
	ips := sampleAddrs(rand.New(rand.NewPCG(3, 4)), 20000)
	hits := 0
	for _, ip := range ips {
		r := readers[0]
		if ip.Is6() {
			r = readers[1]
		}
		var rec flatFull
		res := r.Lookup(ip)
		if err := res.Decode(&rec); err != nil {
			t.Fatal(err)
		}
		g, ok := l.Lookup(ip)
		if ok != res.Found() {
			t.Fatalf("%s: found=%v, reflection decode found=%v", ip, ok, res.Found())
		}
		if !ok {
			continue
		}
		hits++
		if g.CountryCode != rec.CountryCode || g.Subdivision != rec.State1 || g.City != rec.City ||
			float32(*g.Latitude) != rec.Latitude || float32(*g.Longitude) != rec.Longitude {
			t.Fatalf("%s: %+v, reflection decode %+v", ip, g, rec)
		}
	}
	t.Logf("compared %d addresses (%d found) with a reflection decode", len(ips), hits)
}

// sampleAddrs returns n addresses, half IPv4 (uniform) and half IPv6 in
// the allocated global unicast blocks.
func sampleAddrs(rng *rand.Rand, n int) []netip.Addr {
	v6Prefixes := []uint16{0x2001, 0x2003, 0x2400, 0x2404, 0x2600, 0x2604, 0x2800, 0x2a00, 0x2a01, 0x2a02, 0x2c0f}
	out := make([]netip.Addr, 0, n)
	for i := range n {
		if i%2 == 0 {
			var b [4]byte
			for j := range b {
				b[j] = byte(rng.UintN(256))
			}
			out = append(out, netip.AddrFrom4(b))
			continue
		}
		var b [16]byte
		p := v6Prefixes[rng.IntN(len(v6Prefixes))]
		b[0], b[1] = byte(p>>8), byte(p)
		for j := 2; j < 8; j++ {
			b[j] = byte(rng.UintN(256))
		}
		b[15] = 1
		out = append(out, netip.AddrFrom16(b))
	}
	return out
}

// foundAddrs returns up to n sampled addresses that l locates.
func foundAddrs(l *Locator, n int) []netip.Addr {
	var out []netip.Addr
	for _, ip := range sampleAddrs(rand.New(rand.NewPCG(5, 6)), 50*n) {
		if _, ok := l.Lookup(ip); ok {
			out = append(out, ip)
			if len(out) == n {
				break
			}
		}
	}
	return out
}
