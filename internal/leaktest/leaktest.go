// Package leaktest checks that a package's tests leave no goroutine behind:
// the long-lived parts of sharelog (consumer loops, hubs, tails, monitors)
// must stop when their context ends or they are closed.
package leaktest

import (
	"testing"

	"go.uber.org/goleak"
)

// Options are the goroutines every package may leave: idle keep-alive
// connections of HTTP clients and the connection pools of kafka-go
// Transports (a writer's Close leaves its transport's pool), both closed by
// their transport's idle timeout rather than by the code under test.
// Readers, writers, hubs and loops of sharelog's own are not ignored.
func Options() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("github.com/segmentio/kafka-go.(*connPool).discover"),
		goleak.IgnoreTopFunction("github.com/segmentio/kafka-go.(*conn).run"),
	}
}

// VerifyTestMain runs the package's tests, then fails the run if goroutines
// started by them are still running (after goleak's retries). Use it as the
// package's TestMain:
//
//	func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }
func VerifyTestMain(m *testing.M) {
	goleak.VerifyTestMain(m, Options()...)
}
