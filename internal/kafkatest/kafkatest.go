// Package kafkatest gives tests the Kafka they run against: a real cluster
// when SHARELOG_TEST_KAFKA_BROKERS names one (scripts/kafka-up prints the
// address), else a fresh embedded broker of the test's own. Each test gets
// topic names of its own, so tests sharing a real cluster do not mix.
package kafkatest

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	sharelog "github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/internal/kafkax"
)

// EnvBrokers names the environment variable holding a real cluster's
// bootstrap addresses, comma-separated.
const EnvBrokers = "SHARELOG_TEST_KAFKA_BROKERS"

// Real returns the real cluster's brokers, or nil when the tests use the
// embedded broker.
func Real() []string {
	if v := strings.TrimSpace(os.Getenv(EnvBrokers)); v != "" {
		return strings.Split(v, ",")
	}
	return nil
}

// Brokers returns the brokers for test t: the real cluster's, or those of
// an embedded broker (partitions per auto-created topic) stopped when t ends.
func Brokers(t testing.TB, partitions int) []string {
	t.Helper()
	if b := Real(); b != nil {
		return b
	}
	e, err := kafkax.StartEmbedded(kafkax.EmbeddedConfig{Addr: "127.0.0.1:0"}, t.TempDir(), partitions)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return []string{e.Addr()}
}

var seq atomic.Int64

// Prefix returns a topic prefix no other test of any run uses.
func Prefix(t testing.TB) string {
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, t.Name())
	if len(name) > 60 {
		name = name[:60]
	}
	return fmt.Sprintf("t%d-%d-%s", time.Now().UnixNano()%1e9, seq.Add(1), name)
}

// ReadIDs reads topic from its start in a consumer group of its own until
// every id of want has arrived or timeout passed, decoding each message as
// an enriched event. Duplicates may arrive before the last new id, so it
// reads by ids, not by count. It returns how often each id arrived.
func ReadIDs(t testing.TB, brokers []string, topic string, want []string, timeout time.Duration) map[string]int {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: brokers, Topic: topic, GroupID: fmt.Sprintf("%s-check-%d", topic, time.Now().UnixNano()),
		StartOffset: kafka.FirstOffset, MaxWait: 200 * time.Millisecond,
		ReadBackoffMin: 2 * time.Millisecond, ReadBackoffMax: time.Second,
	})
	defer r.Close()
	wanted := make(map[string]bool, len(want))
	for _, id := range want {
		wanted[id] = true
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	seen := map[string]int{}
	for found := 0; found < len(wanted); {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			break
		}
		ev, err := sharelog.DecodeEnriched(m.Value)
		if err != nil {
			t.Fatalf("enriched message %d/%d: %v", m.Partition, m.Offset, err)
		}
		seen[ev.ID]++
		if seen[ev.ID] == 1 && wanted[ev.ID] {
			found++
		}
	}
	return seen
}

// FreeAddr returns a loopback address that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
