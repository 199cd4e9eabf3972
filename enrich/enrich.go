// Package enrich runs the enrich workers: they consume <prefix>.raw in the
// consumer group <prefix>-enrich, add geo, platform, session and pipeline
// data to each event, produce it to <prefix>.enriched under the same key, and
// only then commit the source offsets. An event that cannot be decoded or is
// invalid goes to <prefix>.dlq with the reason; the partition keeps flowing.
package enrich

import (
	"errors"
	"fmt"
	"time"

	"github.com/sharelog/sharelog/enrich/platform"
	"github.com/sharelog/sharelog/enrich/session"
	"github.com/sharelog/sharelog/internal/cfgerr"
)

// Config configures the enrich role.
type Config struct {
	// Workers is the number of consumers of the group this process runs;
	// each owns the partitions Kafka assigns it. Default 2.
	Workers int `yaml:"workers"`
	// BatchSize is the most messages enriched, produced and committed
	// together. Default 2000.
	BatchSize int `yaml:"batch_size"`
	// BatchWait is how long a worker waits to fill a batch once it has one
	// message. Default 2ms.
	BatchWait time.Duration `yaml:"batch_wait"`
	// ShutdownTimeout bounds finishing the batch in hand at shutdown.
	ShutdownTimeout time.Duration   `yaml:"shutdown_timeout"`
	Platform        platform.Config `yaml:"platform"`
	Session         session.Config  `yaml:"session"`
}

// SetDefaults fills unset fields.
func (c *Config) SetDefaults() {
	if c.Workers == 0 {
		c.Workers = 2
	}
	if c.BatchSize == 0 {
		c.BatchSize = 2000
	}
	if c.BatchWait == 0 {
		c.BatchWait = 2 * time.Millisecond
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = 10 * time.Second
	}
	c.Platform.SetDefaults()
	c.Session.SetDefaults()
}

// Validate reports every wrong field, each error naming it.
func (c Config) Validate() error {
	var errs []error
	if c.Workers < 1 || c.Workers > 256 {
		errs = append(errs, fmt.Errorf("workers: %d is not between 1 and 256", c.Workers))
	}
	if c.BatchSize < 1 || c.BatchSize > 100000 {
		errs = append(errs, fmt.Errorf("batch_size: %d is not between 1 and 100000", c.BatchSize))
	}
	if c.BatchWait < 0 || c.BatchWait > 10*time.Second {
		errs = append(errs, fmt.Errorf("batch_wait: %s is not between 0 and 10s", c.BatchWait))
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, errors.New("shutdown_timeout: must be positive"))
	}
	errs = append(errs, cfgerr.Prefix("platform", c.Platform.Validate()), cfgerr.Prefix("session", c.Session.Validate()))
	return errors.Join(errs...)
}
