package registry

import (
	"fmt"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/sinks/splunk"
)

// splunkKind sends to a Splunk HTTP Event Collector, with indexer
// acknowledgement when splunk.ack is set.
var splunkKind = Kind[splunk.Config]{
	Type: "splunk",
	Check: func(c Config, s *splunk.Config) error {
		if s.Ack && c.Delivery.Timeout <= s.AckTimeout {
			return fmt.Errorf("delivery.timeout: %s must be longer than splunk.ack_timeout (%s): a write waits for the acknowledgement", c.Delivery.Timeout, s.AckTimeout)
		}
		return nil
	},
	New: func(c splunk.Config, deps Deps) (sharelog.Sink, error) {
		return sink(splunk.New(c, splunk.Deps{Logger: deps.Logger, Registerer: deps.Registerer}))
	},
}
