// Package sinktest is the test suite every delivery sink passes, in the
// style of testing/slogtest: a sink package gives Run a Harness that makes
// its sink and a receiving side the suite can steer, and Run checks, through
// the real delivery engine and a real Kafka-protocol broker on loopback:
// delivery of every event, order per link, retry after transient failures,
// a permanently refused event going to the dead-letter topic without
// holding back the others, and a shutdown in the middle of a batch losing
// nothing.
package sinktest

import (
	"testing"

	"github.com/sharelog/sharelog"
)

// Destination is the receiving side of a sink under test: a real server
// speaking the destination's protocol (an httptest.Server checking the wire
// format, a syslog listener, …), recording what it accepted. Its methods
// are called from the suite's goroutine while deliveries run, so they must
// be safe for concurrent use.
type Destination interface {
	// Received returns the ids of the events the destination accepted, in
	// the order it accepted them, repeats included.
	Received() []string
	// FailNext makes the next n deliveries (requests, or connections for
	// a stream protocol) fail the way the destination fails transiently:
	// HTTP 503 or 429 with "Retry-After: 0", a closed connection, ….
	FailNext(n int)
	// Reject makes the destination refuse the event with this id
	// permanently (an HTTP 400 for its request, a failed bulk item, …). It
	// returns false when the protocol has no way to refuse one event
	// (syslog); the suite then skips the dead-letter case.
	Reject(id string) bool
	// Stall makes every delivery wait, without answering, until release is
	// called; deliveries already answered are not affected.
	Stall() (release func())
}

// Harness makes the sink under test.
type Harness struct {
	// New returns a new sink delivering to a new destination. The suite
	// closes the sink; New registers the destination's clean-up with
	// t.Cleanup.
	New func(t *testing.T) (sharelog.Sink, Destination)
	// Alerts makes every event of the suite an alert.raised event, with
	// an Alert naming its link as the subject, for sinks that deliver
	// alerts only (Slack). The event keeps its id, link, actor and the
	// rest, so what the suite checks is unchanged.
	Alerts bool
}
