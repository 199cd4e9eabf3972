package registry_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/internal/kafkatest"
	"github.com/sharelog/sharelog/internal/kafkax"
	"github.com/sharelog/sharelog/sinks/delivery"
	"github.com/sharelog/sharelog/sinks/registry"
	"github.com/sharelog/sharelog/tools/simulate"
)

// BenchmarkDelivery measures each sink type end to end under the delivery
// engine: enriched events already in Kafka (the embedded broker) →
// consumer group → batches → the sink → a local receiver that answers at
// once, counting the events it got. One op is the whole backlog; the
// metric is events/s.
func BenchmarkDelivery(b *testing.B) {
	const n = 50_000
	cfg := kafkax.Config{TopicPrefix: kafkatest.Prefix(b), Partitions: 4}
	cfg.SetDefaults()
	conn, err := kafkax.NewConn(cfg, kafkatest.Brokers(b, 4))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	tp := cfg.Topics()
	if err := conn.EnsureTopics(context.Background(), tp.Enriched, tp.DLQ); err != nil {
		b.Fatal(err)
	}
	produce(b, conn, n)
	secrets := filepath.Join(b.TempDir(), "w")
	os.WriteFile(secrets, []byte("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n"), 0o600)
	b.Setenv("BENCH_TOKEN", "00000000-0000-0000-0000-000000000000")

	var count atomic.Int64
	httpRecv := func(answer func(body []byte, w http.ResponseWriter)) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			answer(body, w)
		}))
		b.Cleanup(srv.Close)
		return srv.URL
	}
	webhook := httpRecv(func(body []byte, w http.ResponseWriter) {
		count.Add(int64(bytes.Count(body, []byte(`"pipeline":`))))
		w.WriteHeader(204)
	})
	splunk := httpRecv(func(body []byte, w http.ResponseWriter) {
		count.Add(int64(bytes.Count(body, []byte(`"pipeline":`))))
		io.WriteString(w, `{"text":"Success","code":0}`)
	})
	es := httpRecv(func(body []byte, w http.ResponseWriter) {
		items := bytes.Count(body, []byte("\n")) / 2
		count.Add(int64(items))
		var out bytes.Buffer
		out.WriteString(`{"errors":false,"items":[`)
		for i := range items {
			if i > 0 {
				out.WriteByte(',')
			}
			out.WriteString(`{"index":{"status":201}}`)
		}
		out.WriteString("]}")
		w.Header().Set("Content-Type", "application/json")
		w.Write(out.Bytes())
	})
	syslogAddr := tcpSyslogReceiver(b, &count)

	var runs int // every run a new consumer group, so each reads the whole backlog
	for _, tc := range []struct{ name, yaml string }{
		{"webhook-batch", fmt.Sprintf("{type: webhook, webhook: {url: %q, secrets: {file: %q}, mode: batch, allow_http: true, allow_private: [127.0.0.1]}}", webhook, secrets)},
		{"webhook-single", fmt.Sprintf("{type: webhook, webhook: {url: %q, secrets: {file: %q}, allow_http: true, allow_private: [127.0.0.1]}}", webhook, secrets)},
		{"splunk", fmt.Sprintf("{type: splunk, splunk: {url: %q, token: {env: BENCH_TOKEN}}}", splunk)},
		{"elasticsearch", fmt.Sprintf("{type: elasticsearch, elasticsearch: {url: %q}}", es)},
		{"syslog-cef-tcp", fmt.Sprintf("{type: syslog, syslog: {network: tcp, address: %q, format: cef}}", syslogAddr)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for range b.N {
				runs++
				c, err := loadConfig(b, fmt.Sprintf("sinks: [{name: bench-%s-%d, %s}]", tc.name, runs, tc.yaml[1:len(tc.yaml)-1]))
				if err != nil {
					b.Fatal(err)
				}
				sc := c.Sinks[0]
				sink, err := registry.New(sc, registry.Deps{})
				if err != nil {
					b.Fatal(err)
				}
				r, err := delivery.New(sc.Name, sink, sc.Filter, sc.Delivery, delivery.Deps{Conn: conn})
				if err != nil {
					b.Fatal(err)
				}
				count.Store(0)
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				start := time.Now()
				go func() { done <- r.Run(ctx) }()
				deadline := start.Add(5 * time.Minute)
				for count.Load() == 0 && time.Now().Before(deadline) {
					time.Sleep(time.Millisecond)
				}
				// From the first event received: the group join before it
				// is start-up, not delivery.
				first := time.Now()
				for count.Load() < n {
					if time.Now().After(deadline) {
						b.Fatalf("%d of %d events after 5 min", count.Load(), n)
					}
					time.Sleep(5 * time.Millisecond)
				}
				elapsed := time.Since(first)
				cancel()
				<-done
				b.ReportMetric(float64(n)/elapsed.Seconds(), "events/s")
				b.ReportMetric(first.Sub(start).Seconds(), "startup-s")
			}
		})
	}
}

// produce writes n simulated, enriched-looking events to the enriched topic.
func produce(b *testing.B, conn *kafkax.Conn, n int) {
	clock := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	gen := simulate.NewGenerator(simulate.Config{Seed: 3}, func() time.Time { clock = clock.Add(10 * time.Millisecond); return clock })
	w := conn.NewWriter()
	defer w.Close()
	msgs := make([]kafka.Message, 0, 1000)
	for i := range n {
		ev := gen.Next()
		ev.Geo = &sharelog.Geo{CountryCode: "CH", CountryName: "Switzerland", City: "Zürich"}
		ev.Platform = &sharelog.Platform{OSName: "Windows", OSVersion: "10", ClientName: "Chrome", ClientVersion: "131", DeviceType: sharelog.DeviceDesktop}
		ev.Session = &sharelog.Session{LinkSessionID: "ls_" + strconv.Itoa(i%977), Seq: 1 + i%5}
		ev.Pipeline = &sharelog.Pipeline{EnrichedAt: time.Now().UTC(), SchemaVersion: 1, Topic: "raw", Offset: int64(i)}
		v, err := ev.Encode()
		if err != nil {
			b.Fatal(err)
		}
		msgs = append(msgs, kafka.Message{Topic: conn.Config().Topics().Enriched, Key: []byte(ev.Key()), Value: v})
		if len(msgs) == cap(msgs) || i == n-1 {
			if err := w.WriteMessages(context.Background(), msgs...); err != nil {
				b.Fatal(err)
			}
			msgs = msgs[:0]
		}
	}
}

// tcpSyslogReceiver counts octet-counted syslog frames.
func tcpSyslogReceiver(b *testing.B, count *atomic.Int64) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReaderSize(c, 1<<16)
				for {
					lenStr, err := br.ReadString(' ')
					if err != nil {
						return
					}
					size, err := strconv.Atoi(lenStr[:len(lenStr)-1])
					if err != nil {
						return
					}
					if _, err := br.Discard(size); err != nil {
						return
					}
					count.Add(1)
				}
			}()
		}
	}()
	return ln.Addr().String()
}
