package slack

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/sinks/sinktest"
)

// TestSuite runs the shared suite with alert.raised events, in both modes.
// The suite's alerts of one link share a rule and a subject, so in bot
// mode, after the first one, each is a chat.update of the link's message;
// the servers record the alert id of every message they accept (its block
// id), posted or updated, so that the suite sees each alert delivered. A
// destination failing transiently answers 429 with Retry-After: 0; one
// refusing an alert answers invalid_blocks (bot) or 400 (webhook).
func TestSuite(t *testing.T) {
	t.Run("bot", func(t *testing.T) {
		sinktest.Run(t, sinktest.Harness{Alerts: true, New: func(t *testing.T) (sharelog.Sink, sinktest.Destination) {
			srv := newSlackServer(t)
			cfg := Config{Token: envRef(t, "TEST_SLACK_BOT_TOKEN", testToken), APIURL: srv.GetAPIURL(), Routes: []Route{{Channel: "#security-alerts"}}}
			s, err := New(cfg, Deps{})
			if err != nil {
				t.Fatal(err)
			}
			return s, srv
		}})
	})
	// Incoming webhooks drop the repeats of a window, which the suite
	// would miss; a clock that moves an hour at each look ends every
	// window at once, so that each alert is a message of its own.
	t.Run("webhook", func(t *testing.T) {
		sinktest.Run(t, sinktest.Harness{Alerts: true, New: func(t *testing.T) (sharelog.Sink, sinktest.Destination) {
			srv := newWebhookServer(t)
			cfg := Config{Routes: []Route{{WebhookURL: envRef(t, "TEST_SLACK_WEBHOOK", srv.hookURL())}}}
			s, err := New(cfg, Deps{Now: hourly()})
			if err != nil {
				t.Fatal(err)
			}
			return s, srv
		}})
	})
}

// hourly is a clock an hour later at each call.
func hourly() func() time.Time {
	var n atomic.Int64
	base := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	return func() time.Time { return base.Add(time.Duration(n.Add(1)) * time.Hour) }
}
