package elasticsearch

import (
	"testing"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/sinks/sinktest"
)

// TestSuite runs the shared sink suite against the bulk test server, in
// both modes: a refused event is a failed bulk item (400), a transient
// failure a 503 or 429 for the whole request.
func TestSuite(t *testing.T) {
	for _, mode := range []Mode{ModeIndex, ModeDataStream} {
		t.Run(string(mode), func(t *testing.T) {
			sinktest.Run(t, sinktest.Harness{New: func(t *testing.T) (sharelog.Sink, sinktest.Destination) {
				srv := newBulkServer(t)
				cfg := Config{URL: srv.URL(), Mode: mode}
				cfg.SetDefaults()
				s, err := New(cfg, Deps{})
				if err != nil {
					t.Fatal(err)
				}
				return s, srv
			}})
		})
	}
}
