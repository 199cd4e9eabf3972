package geo

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// DefaultReloadInterval is how often Run checks the database files for
// replacement when Config.ReloadInterval is zero.
const DefaultReloadInterval = time.Minute

// Config configures a Locator.
type Config struct {
	// CityDB lists one or more city databases in MaxMind DB (.mmdb) format:
	// GeoIP2/GeoLite2 City files (as geoipupdate keeps them current) and/or
	// the flat DB-IP City Lite files of the ip-location-db project (one
	// IPv4 and one IPv6 file). An address is looked up in the files that
	// cover its family, in this order; the first hit wins. Empty disables
	// geolocation.
	CityDB []string `yaml:"city_db"`
	// ReloadInterval is how often Run checks the files for replacement
	// (changed inode, size or modification time). Zero means
	// DefaultReloadInterval.
	ReloadInterval time.Duration `yaml:"reload_interval"`
}

// SetDefaults fills in the zero fields with their defaults.
func (c *Config) SetDefaults() {
	if c.ReloadInterval == 0 {
		c.ReloadInterval = DefaultReloadInterval
	}
}

// Validate reports every problem with the configuration, each error naming
// its field path relative to this section ("city_db[1]: must not be empty").
// It does not open the files; New does, and its errors name the path.
func (c Config) Validate() error {
	var errs []error
	seen := make(map[string]int, len(c.CityDB))
	for i, p := range c.CityDB {
		switch {
		case strings.TrimSpace(p) == "":
			errs = append(errs, fmt.Errorf("city_db[%d]: must not be empty", i))
		case strings.TrimSpace(p) != p:
			errs = append(errs, fmt.Errorf("city_db[%d]: %q has leading or trailing space", i, p))
		default:
			if j, dup := seen[p]; dup {
				errs = append(errs, fmt.Errorf("city_db[%d]: %q is already city_db[%d]", i, p, j))
			} else {
				seen[p] = i
			}
		}
	}
	if c.ReloadInterval < 0 {
		errs = append(errs, fmt.Errorf("reload_interval: must not be negative, got %s", c.ReloadInterval))
	}
	return errors.Join(errs...)
}
