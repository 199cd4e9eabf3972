package delivery

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sharelog/sharelog/internal/prom"
)

// metrics are one runner's; every series carries the label sink=<name>, so
// runners of several sinks share a registry.
type metrics struct {
	events   *prometheus.CounterVec
	filtered prometheus.Counter // events' child counted per event, resolved once
	latency  prometheus.Histogram
	batch    prometheus.Histogram
	disabled prometheus.Gauge
}

func newMetrics(name string, reg prometheus.Registerer, inFlight func() int) (*metrics, error) {
	labels := prometheus.Labels{"sink": name}
	m := &metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name:        "sharelog_sink_events_total",
			Help:        "Events by outcome: delivered, retried (each re-send), dead_lettered (refused for good, in the DLQ), filtered (not selected by the sink's filter).",
			ConstLabels: labels,
		}, []string{"outcome"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:        "sharelog_sink_delivery_seconds",
			Help:        "Time from enrichment to the destination's acceptance, per event.",
			ConstLabels: labels,
			Buckets:     prometheus.ExponentialBuckets(0.005, 2, 16),
		}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:        "sharelog_sink_batch_events",
			Help:        "Events per Write to the destination, retries included.",
			ConstLabels: labels,
			Buckets:     prometheus.ExponentialBuckets(1, 2, 14),
		}),
		disabled: prometheus.NewGauge(prometheus.GaugeOpts{
			Name:        "sharelog_sink_disabled",
			Help:        "1 when the destination asked not to be called again (HTTP 410): deliveries stopped until restart.",
			ConstLabels: labels,
		}),
	}
	for _, o := range []string{"delivered", "retried", "dead_lettered", "filtered"} {
		m.events.WithLabelValues(o)
	}
	m.filtered = m.events.WithLabelValues("filtered")
	if reg == nil {
		return m, nil
	}
	inFlightGauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "sharelog_sink_in_flight_events",
		Help:        "Events taken from Kafka and not yet delivered, dead-lettered or filtered.",
		ConstLabels: labels,
	}, func() float64 { return float64(inFlight()) })
	if err := prom.Register(reg, m.events, m.latency, m.batch, m.disabled, inFlightGauge); err != nil {
		return nil, fmt.Errorf("metrics of sink %s: %w", name, err)
	}
	return m, nil
}
