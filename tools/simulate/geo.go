package simulate

import (
	_ "embed"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
)

// prefixTable is the table of real address blocks, one per line; see the
// file's header for its columns.
//
//go:embed prefixes.tsv
var prefixTable string

// netKind says what kind of network an address block belongs to.
type netKind uint8

const (
	netISP netKind = iota
	netMobile
	netHosting
	netCloud
)

// prefix is one address block of the table.
type prefix struct {
	Prefix  netip.Prefix
	Country string
	Kind    netKind
	Weight  int
	Network string
}

// country is the address blocks of one country, with cumulative weights for
// drawing one.
type country struct {
	Code     string
	prefixes []*prefix
	cum      []int // cumulative weights of prefixes
	// residential holds the indexes of isp and mobile blocks, with their
	// cumulative weights, for drawing visitors that are people at home or on
	// the road rather than servers.
	residential    []int
	residentialCum []int
}

// geoTable is the parsed prefix table. It is built once and only read after.
type geoTable struct {
	prefixes  []*prefix
	countries map[string]*country
	hosting   []*prefix // hosting and cloud blocks, for scanners and integrations
}

// parsePrefixTable parses the embedded table. It returns an error naming the
// line of the first malformed row.
func parsePrefixTable(text string) (*geoTable, error) {
	t := &geoTable{countries: map[string]*country{}}
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) != 5 {
			return nil, fmt.Errorf("prefixes.tsv:%d: %d columns, want 5", n+1, len(cols))
		}
		p, err := netip.ParsePrefix(cols[0])
		if err != nil {
			return nil, fmt.Errorf("prefixes.tsv:%d: %v", n+1, err)
		}
		if p != p.Masked() {
			return nil, fmt.Errorf("prefixes.tsv:%d: %s has host bits set", n+1, p)
		}
		if p.Addr().Is6() && p.Bits() > 64 {
			return nil, fmt.Errorf("prefixes.tsv:%d: IPv6 block %s is longer than /64", n+1, p)
		}
		if p.Addr().Is4() && p.Bits() > 24 {
			return nil, fmt.Errorf("prefixes.tsv:%d: IPv4 block %s is longer than /24", n+1, p)
		}
		cc := cols[1]
		if len(cc) != 2 || strings.ToUpper(cc) != cc {
			return nil, fmt.Errorf("prefixes.tsv:%d: country %q is not an ISO 3166-1 alpha-2 code", n+1, cc)
		}
		var kind netKind
		switch cols[2] {
		case "isp":
			kind = netISP
		case "mobile":
			kind = netMobile
		case "hosting":
			kind = netHosting
		case "cloud":
			kind = netCloud
		default:
			return nil, fmt.Errorf("prefixes.tsv:%d: kind %q is not isp, mobile, hosting or cloud", n+1, cols[2])
		}
		w, err := strconv.Atoi(cols[3])
		if err != nil || w <= 0 {
			return nil, fmt.Errorf("prefixes.tsv:%d: weight %q is not a positive integer", n+1, cols[3])
		}
		pr := &prefix{Prefix: p, Country: cc, Kind: kind, Weight: w, Network: cols[4]}
		t.prefixes = append(t.prefixes, pr)
		c := t.countries[cc]
		if c == nil {
			c = &country{Code: cc}
			t.countries[cc] = c
		}
		c.prefixes = append(c.prefixes, pr)
		c.cum = append(c.cum, last(c.cum)+w)
		if kind == netISP || kind == netMobile {
			c.residential = append(c.residential, len(c.prefixes)-1)
			c.residentialCum = append(c.residentialCum, last(c.residentialCum)+w)
		}
		if kind == netHosting || kind == netCloud {
			t.hosting = append(t.hosting, pr)
		}
	}
	if len(t.prefixes) == 0 {
		return nil, fmt.Errorf("prefixes.tsv: no address blocks")
	}
	return t, nil
}

func last(s []int) int {
	if len(s) == 0 {
		return 0
	}
	return s[len(s)-1]
}

// geo is the parsed, read-only prefix table shared by all generators.
var geo = func() *geoTable {
	t, err := parsePrefixTable(prefixTable)
	if err != nil {
		panic("simulate: " + err.Error())
	}
	return t
}()

// residentialPrefix draws an isp or mobile block of the country by weight,
// or any block of the country when it has none.
func (c *country) residentialPrefix(r *rand.Rand) *prefix {
	if len(c.residential) == 0 {
		return c.prefixes[pickCum(r, c.cum)]
	}
	return c.prefixes[c.residential[pickCum(r, c.residentialCum)]]
}

// randomAddr returns a random host address inside p. IPv4 addresses avoid
// the .0 and .255 host octets, which real clients seldom have; IPv6
// addresses get a random 64-bit interface identifier, as with privacy
// extensions.
func randomAddr(r *rand.Rand, p netip.Prefix) netip.Addr {
	bits := p.Bits()
	if p.Addr().Is4() {
		b := p.Addr().As4()
		base := binary.BigEndian.Uint32(b[:])
		hostBits := 32 - bits
		for {
			v := base | uint32(r.Uint64()&(1<<hostBits-1))
			if o := v & 0xff; o != 0 && o != 0xff {
				binary.BigEndian.PutUint32(b[:], v)
				return netip.AddrFrom4(b)
			}
		}
	}
	b := p.Addr().As16()
	hi := binary.BigEndian.Uint64(b[:8])
	if bits < 64 {
		hi |= r.Uint64() & (1<<(64-bits) - 1)
	}
	lo := r.Uint64()
	if lo == 0 {
		lo = 1
	}
	binary.BigEndian.PutUint64(b[:8], hi)
	binary.BigEndian.PutUint64(b[8:], lo)
	return netip.AddrFrom16(b)
}

// pickCum draws an index with probability proportional to its weight, given
// the cumulative weights.
func pickCum(r *rand.Rand, cum []int) int {
	x := r.IntN(cum[len(cum)-1])
	lo, hi := 0, len(cum)-1
	for lo < hi {
		m := (lo + hi) / 2
		if cum[m] > x {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}

// visitorCountries weights where share-link visitors come from, roughly as
// traffic to a European-based sharing service is spread. Every code must be
// in prefixes.tsv.
var visitorCountries = []weighted[string]{
	{"US", 160}, {"DE", 120}, {"GB", 80}, {"FR", 60}, {"CH", 50}, {"NL", 40},
	{"CA", 35}, {"JP", 35}, {"IN", 40}, {"AU", 30}, {"ES", 30}, {"IT", 30},
	{"BR", 25}, {"SE", 20}, {"AT", 20}, {"BE", 18}, {"PL", 18}, {"MX", 15},
	{"KR", 15}, {"CN", 15}, {"DK", 10}, {"NO", 10}, {"FI", 8}, {"IE", 10},
	{"PT", 8}, {"AR", 8}, {"SG", 10}, {"HK", 8}, {"NZ", 6}, {"AE", 10},
	{"IL", 8}, {"TR", 10}, {"ZA", 8}, {"ID", 8}, {"RU", 5}, {"UA", 5},
}

// attackCountries weights where password guessing and blocked addresses come
// from, besides hosting and cloud blocks anywhere.
var attackCountries = []weighted[string]{
	{"RU", 20}, {"CN", 20}, {"BR", 10}, {"IN", 10}, {"US", 10}, {"TR", 5},
	{"ID", 5}, {"UA", 5}, {"NL", 5}, {"DE", 5},
}

// weighted is a value with a relative weight, for tables drawn from.
type weighted[T any] struct {
	V T
	W int
}

// chooser draws values of a weighted table.
type chooser[T any] struct {
	vals []T
	cum  []int
}

func newChooser[T any](tab []weighted[T]) chooser[T] {
	c := chooser[T]{vals: make([]T, len(tab)), cum: make([]int, len(tab))}
	sum := 0
	for i, e := range tab {
		if e.W <= 0 {
			panic("simulate: non-positive weight in table")
		}
		sum += e.W
		c.vals[i], c.cum[i] = e.V, sum
	}
	return c
}

func (c chooser[T]) pick(r *rand.Rand) T { return c.vals[pickCum(r, c.cum)] }
