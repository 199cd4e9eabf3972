package splunk

import (
	"testing"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/sinks/sinktest"
)

// TestSuite runs the shared sink suite against the HEC test server, once
// plain and once with gzip and indexer acknowledgement (each batch
// acknowledged after one "not yet").
func TestSuite(t *testing.T) {
	for _, c := range []struct {
		name      string
		gzip, ack bool
	}{{"plain", false, false}, {"gzip+ack", true, true}} {
		t.Run(c.name, func(t *testing.T) {
			sinktest.Run(t, sinktest.Harness{New: func(t *testing.T) (sharelog.Sink, sinktest.Destination) {
				h := newHECServer(t, testToken)
				h.setAck(c.ack, 1, false)
				cfg := testConfig(t, h.URL())
				cfg.Gzip, cfg.Ack = c.gzip, c.ack
				s, err := New(cfg, Deps{})
				if err != nil {
					t.Fatal(err)
				}
				return s, h
			}})
		})
	}
}
