// Package testgeo builds small GeoIP2 City databases for tests and
// benchmarks outside the geo package, with mmdbwriter, in MaxMind's own
// record layout.
package testgeo

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// Network is one network of a test database.
type Network struct {
	CIDR                              string
	Country, CountryName, Subdivision string
	City                              string
	Lat, Lon                          float64
}

// Default is what WriteCityDB writes when given no networks:
// 81.2.69.0/24 Cambridge, England, GB and 2a02:8100::/32 Berlin, DE.
var Default = []Network{
	{"81.2.69.0/24", "GB", "United Kingdom", "England", "Cambridge", 52.2, 0.12},
	{"2a02:8100::/32", "DE", "Germany", "Land Berlin", "Berlin", 52.52, 13.4},
}

// WriteCityDB writes a GeoIP2-City database holding nets (Default when
// empty) into a temporary directory of tb and returns its path.
func WriteCityDB(tb testing.TB, nets ...Network) string {
	tb.Helper()
	if len(nets) == 0 {
		nets = Default
	}
	w, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoIP2-City", RecordSize: 28, IPVersion: 6})
	if err != nil {
		tb.Fatal(err)
	}
	names := func(en string) mmdbtype.Map { return mmdbtype.Map{"en": mmdbtype.String(en)} }
	for _, n := range nets {
		_, ipnet, err := net.ParseCIDR(n.CIDR)
		if err != nil {
			tb.Fatal(err)
		}
		rec := mmdbtype.Map{
			"country":      mmdbtype.Map{"iso_code": mmdbtype.String(n.Country), "names": names(n.CountryName)},
			"subdivisions": mmdbtype.Slice{mmdbtype.Map{"names": names(n.Subdivision)}},
			"city":         mmdbtype.Map{"names": names(n.City)},
			"location": mmdbtype.Map{"latitude": mmdbtype.Float64(n.Lat), "longitude": mmdbtype.Float64(n.Lon),
				"accuracy_radius": mmdbtype.Uint16(20)},
		}
		if err := w.Insert(ipnet, rec); err != nil {
			tb.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(tb.TempDir(), "city.mmdb")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}
