package email

import (
	"fmt"
	"testing"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/sinks/sinktest"
)

// TestSuite runs the shared suite against the test SMTP server, STARTTLS
// and AUTH included: every link of the suite (lnk-suite-N) is opted in, each
// mail names its events in X-Sharelog-Event-Ids, FailNext answers 451 to
// DATA, Reject answers 550 to the mail holding the event.
func TestSuite(t *testing.T) {
	sinktest.Run(t, sinktest.Harness{New: func(t *testing.T) (sharelog.Sink, sinktest.Destination) {
		ts := newTestServer(t, serverOpts{suite: true, users: map[string]string{"sharelog": testPassword}})
		cfg := testConfig(t, ts)
		cfg.LinkNotifications = nil
		for i := range 12 {
			cfg.LinkNotifications = append(cfg.LinkNotifications, LinkNotification{
				Link: fmt.Sprintf("lnk-suite-%d", i), To: []string{fmt.Sprintf("owner%d@example.com", i)},
			})
		}
		s, err := New(*cfg, Deps{})
		if err != nil {
			t.Fatal(err)
		}
		return s, ts
	}})
}
