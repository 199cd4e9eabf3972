package splunk

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sharelog/sharelog/internal/prom"
)

// metrics are one sink's.
type metrics struct {
	requests    *prometheus.CounterVec
	bytes       prometheus.Counter
	ackSeconds  prometheus.Histogram
	ackTimeouts prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sharelog_splunk_requests_total",
			Help: "Requests to the HTTP Event Collector by endpoint (event, ack) and HTTP status (\"error\": no answer).",
		}, []string{"endpoint", "status"}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sharelog_splunk_request_bytes_total",
			Help: "Bytes of event request bodies sent, after compression.",
		}),
		ackSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "sharelog_splunk_ack_seconds",
			Help:    "Time from the collector's answer to its indexer acknowledgement, per batch.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 12),
		}),
		ackTimeouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sharelog_splunk_ack_timeouts_total",
			Help: "Batches whose indexer acknowledgement did not come in time (they are sent again).",
		}),
	}
	if err := prom.Register(reg, m.requests, m.bytes, m.ackSeconds, m.ackTimeouts); err != nil {
		return nil, fmt.Errorf("splunk: %w", err)
	}
	return m, nil
}

func (m *metrics) request(endpoint, status string) {
	m.requests.WithLabelValues(endpoint, status).Inc()
}
