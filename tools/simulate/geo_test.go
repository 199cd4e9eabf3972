package simulate

import (
	"math/rand/v2"
	"net/netip"
	"os"
	"strings"
	"testing"

	sharegeo "github.com/sharelog/sharelog/enrich/geo"
)

// special holds the IANA special-purpose ranges (RFC 6890 and successors):
// no public client is there.
var special = func() []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range []string{
		// IPv4
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
		"172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.31.196.0/24", "192.52.193.0/24",
		"192.88.99.0/24", "192.168.0.0/16", "192.175.48.0/24", "198.18.0.0/15",
		"198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
		// IPv6
		"::/8", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32",
		"2002::/16", "2620:4f:8000::/48", "3fff::/20", "5f00::/16", "fc00::/7", "fe80::/10", "ff00::/8",
	} {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}()

var globalUnicast6 = netip.MustParsePrefix("2000::/3")

func TestPrefixTable(t *testing.T) {
	tab, err := parsePrefixTable(prefixTable)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	countries := map[string]bool{}
	v6countries := map[string]bool{}
	seen := map[netip.Prefix]bool{}
	for _, p := range tab.prefixes {
		if seen[p.Prefix] {
			t.Errorf("%s listed twice", p.Prefix)
		}
		seen[p.Prefix] = true
		countries[p.Country] = true
		if p.Prefix.Addr().Is6() {
			v6countries[p.Country] = true
			if !globalUnicast6.Contains(p.Prefix.Addr()) {
				t.Errorf("%s (%s) is outside 2000::/3", p.Prefix, p.Network)
			}
		}
		for _, s := range special {
			if s.Overlaps(p.Prefix) {
				t.Errorf("%s (%s) overlaps the special-purpose range %s", p.Prefix, p.Network, s)
			}
		}
		a := p.Prefix.Addr()
		if !a.IsGlobalUnicast() || a.IsPrivate() || a.IsLoopback() || a.IsMulticast() || a.IsLinkLocalUnicast() {
			t.Errorf("%s (%s) is not public unicast", p.Prefix, p.Network)
		}
		for range 200 {
			ip := randomAddr(r, p.Prefix)
			if !p.Prefix.Contains(ip) {
				t.Fatalf("randomAddr(%s) = %s, outside the block", p.Prefix, ip)
			}
			if back, err := netip.ParseAddr(ip.String()); err != nil || back != ip {
				t.Fatalf("address %s does not round-trip: %v", ip, err)
			}
		}
		// Blocks must not overlap each other, or an address would belong to
		// two rows.
		for _, q := range tab.prefixes {
			if q != p && q.Prefix.Overlaps(p.Prefix) {
				t.Errorf("%s overlaps %s", p.Prefix, q.Prefix)
			}
		}
	}
	if len(countries) < 25 {
		t.Errorf("%d countries, want at least 25", len(countries))
	}
	if len(v6countries) < 20 {
		t.Errorf("IPv6 blocks for %d countries, want at least 20", len(v6countries))
	}
	for _, tabName := range []struct {
		name string
		ws   []weighted[string]
	}{{"visitorCountries", visitorCountries}, {"attackCountries", attackCountries}} {
		for _, c := range tabName.ws {
			if tab.countries[c.V] == nil {
				t.Errorf("%s names %s, which has no block", tabName.name, c.V)
			}
		}
	}
	for _, tpl := range workspaceTemplates {
		if tab.countries[tpl.Country] == nil {
			t.Errorf("workspace %s is in %s, which has no block", tpl.Name, tpl.Country)
		}
	}
	if len(tab.hosting) == 0 {
		t.Error("no hosting or cloud blocks")
	}
}

func TestParsePrefixTableErrors(t *testing.T) {
	for _, bad := range []string{
		"10.0.0.0/33\tDE\tisp\t1\tX",
		"79.192.0.1/10\tDE\tisp\t1\tX",
		"79.192.0.0/10\tde\tisp\t1\tX",
		"79.192.0.0/10\tDE\tdialup\t1\tX",
		"79.192.0.0/10\tDE\tisp\t0\tX",
		"79.192.0.0/10\tDE\tisp\t1",
		"2003::/80\tDE\tisp\t1\tX",
		"# only comments",
	} {
		if _, err := parsePrefixTable(bad); err == nil {
			t.Errorf("parsePrefixTable(%q) accepted", bad)
		}
	}
}

// TestPrefixesAgainstDBIP checks, with the pipeline's own geo enricher, that
// the real city databases (DB-IP City Lite, or GeoIP2 City) place each block
// in its country. Set SHARELOG_TEST_DBIP_CITY to the comma-separated .mmdb
// paths (IPv4 and IPv6 files) to run it; `make test` does.
func TestPrefixesAgainstDBIP(t *testing.T) {
	paths := os.Getenv("SHARELOG_TEST_DBIP_CITY")
	if paths == "" {
		t.Skip("SHARELOG_TEST_DBIP_CITY is not set")
	}
	loc, err := sharegeo.New(sharegeo.Config{CityDB: strings.Split(paths, ",")}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer loc.Close()
	r := rand.New(rand.NewPCG(3, 4))
	const perBlock = 100
	total, wrong := 0, 0
	for _, p := range geo.prefixes {
		bad := map[string]int{}
		for range perBlock {
			ip := randomAddr(r, p.Prefix)
			g, _ := loc.Lookup(ip)
			total++
			if g.CountryCode != p.Country {
				wrong++
				bad[g.CountryCode]++
			}
		}
		// A block may hold a few sub-allocations the database places
		// elsewhere; most of it must be where we say.
		n := 0
		for _, c := range bad {
			n += c
		}
		if n > perBlock/10 {
			t.Errorf("%s (%s, %s): %d of %d addresses elsewhere: %v", p.Prefix, p.Network, p.Country, n, perBlock, bad)
		} else if n > 0 {
			t.Logf("%s (%s, %s): %d of %d addresses elsewhere: %v", p.Prefix, p.Network, p.Country, n, perBlock, bad)
		}
	}
	if wrong*100 > total {
		t.Errorf("%d of %d addresses (over 1%%) resolve to another country", wrong, total)
	}
	t.Logf("%d of %d generated addresses resolve to their intended country", total-wrong, total)
}
