package email

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sharelog/sharelog/internal/prom"
)

// metrics are one sink's. They carry no sink label: a process with several
// email sinks gives each a Registerer wrapped with its name. Events
// delivered, retried and dead-lettered are counted by the delivery engine.
type metrics struct {
	mails       *prometheus.CounterVec // kind, outcome
	recipients  *prometheus.CounterVec // outcome
	sessions    *prometheus.CounterVec // result
	sessionTime prometheus.Histogram
	disabled    prometheus.Gauge
}

// Outcomes of the mails counter.
const (
	outcomeSent      = "sent"      // 250 after DATA
	outcomeRefused   = "refused"   // 5xx: permanent
	outcomeDeferred  = "deferred"  // 4xx or no answer: retried
	outcomeDuplicate = "duplicate" // already accepted by an earlier attempt: not sent again
)

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		mails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sharelog_email_messages_total",
			Help: "Emails by kind (link, alert) and outcome: sent (accepted by the SMTP server), refused (5xx, dead-lettered), deferred (4xx or network error, retried), duplicate (accepted by an earlier attempt, not sent again).",
		}, []string{"kind", "outcome"}),
		recipients: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sharelog_email_recipients_total",
			Help: "Envelope recipients (RCPT TO) by outcome: accepted, refused (5xx), deferred (4xx).",
		}, []string{"outcome"}),
		sessions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sharelog_email_sessions_total",
			Help: "SMTP sessions (one per Write with mail to send) by result: ok (connected, TLS and login done), error (could not connect, TLS or greeting failed), auth_failed (login refused).",
		}, []string{"result"}),
		sessionTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "sharelog_email_session_seconds",
			Help:    "Time of one SMTP session, from dialling to QUIT.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 12),
		}),
		disabled: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sharelog_email_disabled",
			Help: "1 once the SMTP server refused the login or the sender: no more mail until the sink is restarted with a fixed smtp section.",
		}),
	}
	for _, k := range []string{kindLink, kindAlert} {
		for _, o := range []string{outcomeSent, outcomeRefused, outcomeDeferred, outcomeDuplicate} {
			m.mails.WithLabelValues(k, o)
		}
	}
	for _, o := range []string{"accepted", outcomeRefused, outcomeDeferred} {
		m.recipients.WithLabelValues(o)
	}
	for _, r := range []string{"ok", "error", "auth_failed"} {
		m.sessions.WithLabelValues(r)
	}
	if err := prom.Register(reg, m.mails, m.recipients, m.sessions, m.sessionTime, m.disabled); err != nil {
		return nil, fmt.Errorf("email: %w", err)
	}
	return m, nil
}
