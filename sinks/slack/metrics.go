package slack

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sharelog/sharelog/internal/prom"
)

// metrics are one sink's. They carry no sink label: the registry gives each
// sink a Registerer wrapped with its name. Deliveries (events delivered,
// retried, dead-lettered) are counted by the delivery engine, not here.
type metrics struct {
	messages *prometheus.CounterVec   // route, kind
	requests *prometheus.CounterVec   // method, outcome
	duration *prometheus.HistogramVec // method
	repeats  prometheus.Counter
	unrouted prometheus.Counter
	tracked  prometheus.Gauge
	disabled prometheus.Gauge
}

// Kinds of the messages counter.
const (
	kindPosted     = "posted"
	kindUpdated    = "updated"
	kindSuppressed = "suppressed"
)

// Methods and outcomes of the requests counter.
const (
	methodPost    = "chat.postMessage"
	methodUpdate  = "chat.update"
	methodWebhook = "webhook"

	outcomeOK          = "ok"
	outcomeRateLimited = "rate_limited"
	outcomeRefused     = "refused"     // Slack said no: an error code, a 4xx
	outcomeUnavailable = "unavailable" // no answer, a timeout, a 5xx
)

func newMetrics(reg prometheus.Registerer, routes []string) (*metrics, error) {
	m := &metrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sharelog_slack_messages_total",
			Help: "Slack messages by route and kind: posted (a new message), updated (a repeat of an alert folded into the message of its window with chat.update), suppressed (a repeat dropped: incoming webhooks cannot update a message).",
		}, []string{"route", "kind"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sharelog_slack_requests_total",
			Help: "Requests to Slack by method (chat.postMessage, chat.update, webhook) and outcome: ok, rate_limited (429), refused (an error code or a 4xx), unavailable (no answer, timeout, 5xx).",
		}, []string{"method", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sharelog_slack_request_duration_seconds",
			Help:    "Time from sending a request to Slack to the end of its answer.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 11),
		}, []string{"method"}),
		repeats: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sharelog_slack_repeats_skipped_total",
			Help: "Alert deliveries skipped because that alert had already gone to that route (a batch retried after partial success).",
		}),
		unrouted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sharelog_slack_alerts_unrouted_total",
			Help: "Alerts that no route's filters (workspaces, rules, min_severity) selected.",
		}),
		tracked: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sharelog_slack_tracked_messages",
			Help: "Route, rule and subject keys whose last message is remembered for flood control (bounded).",
		}),
		disabled: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sharelog_slack_disabled",
			Help: "1 once Slack refused the credentials (revoked token or webhook): no more requests until the sink is restarted.",
		}),
	}
	for _, r := range routes {
		for _, k := range []string{kindPosted, kindUpdated, kindSuppressed} {
			m.messages.WithLabelValues(r, k)
		}
	}
	if err := prom.Register(reg, m.messages, m.requests, m.duration, m.repeats, m.unrouted, m.tracked, m.disabled); err != nil {
		return nil, fmt.Errorf("slack: %w", err)
	}
	return m, nil
}
