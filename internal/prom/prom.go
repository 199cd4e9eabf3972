// Package prom is the one way sharelog's components register their
// Prometheus collectors: on the Registerer their Deps give them, never on a
// global registry, all of them or none.
package prom

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Register registers cs on reg, all or none: when one fails, those
// registered before it are unregistered again and the error says which
// collector failed. A nil reg registers nothing (the metrics are kept by
// their owner but not exported), as Deps.Registerer's nil means.
//
// Two components of one kind (two webhook sinks) registering the same
// names on one registry is the usual failure: give each a Registerer
// wrapped with its own label (prometheus.WrapRegistererWith), as the sink
// registry does with sink=<name>.
func Register(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	if reg == nil {
		return nil
	}
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done)
			}
			return fmt.Errorf("registering metrics (two of a kind on one registry need a Registerer wrapped with a label each, as the sink label): %w", err)
		}
	}
	return nil
}
