package webhook

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sharelog/sharelog/internal/prom"
)

// metrics are one sink's. They carry no sink label: a process with several
// webhook sinks gives each a Registerer wrapped with its name
// (prometheus.WrapRegistererWith(prometheus.Labels{"sink": name}, reg)).
// Deliveries (events delivered, retried, dead-lettered) are counted by the
// delivery engine, not here.
type metrics struct {
	requests   *prometheus.CounterVec
	duration   prometheus.Histogram
	signatures prometheus.Counter
	refused    prometheus.Counter
	disabled   prometheus.Gauge
	secrets    prometheus.Gauge
}

// Status classes of the requests counter besides 1xx…5xx.
const (
	classError   = "error"   // no answer: network error, timeout, cancelled
	classRefused = "refused" // not sent: the address is not allowed
)

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sharelog_webhook_requests_total",
			Help: "Webhook requests by answer: status class (2xx, 3xx, 4xx, 5xx), error (no answer: network error or timeout) or refused (not sent: the address is loopback, private or link-local and not allow-listed).",
		}, []string{"class"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "sharelog_webhook_request_duration_seconds",
			Help:    "Time from sending a webhook request to the end of its answer.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 13),
		}),
		signatures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sharelog_webhook_signatures_total",
			Help: "Standard Webhooks signatures computed (one per signing secret per request).",
		}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sharelog_webhook_refused_addresses_total",
			Help: "Connections refused because the address was loopback, private, link-local or otherwise not public, and not in allow_private.",
		}),
		disabled: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sharelog_webhook_disabled",
			Help: "1 once the receiver answered 410 Gone: no more requests until the sink is restarted.",
		}),
		secrets: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sharelog_webhook_signing_secrets",
			Help: "Signing secrets in use (more than one while a secret is being rotated).",
		}),
	}
	for _, c := range []string{"1xx", "2xx", "3xx", "4xx", "5xx", classError, classRefused} {
		m.requests.WithLabelValues(c)
	}
	if err := prom.Register(reg, m.requests, m.duration, m.signatures, m.refused, m.disabled, m.secrets); err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	return m, nil
}

// statusClass is "2xx" for 204 and so on.
func statusClass(code int) string {
	if code < 100 || code > 599 {
		return classError
	}
	return string(rune('0'+code/100)) + "xx"
}
