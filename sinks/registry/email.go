package registry

import (
	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/sinks/email"
)

// emailKind mails link owners' notifications and alerts; its
// delivery.batch_wait defaults to a minute, so that a link's notifications
// within a minute make one mail.
var emailKind = Kind[email.Config]{
	Type: "email",
	EntryDefaults: func(c *Config) {
		if c.Delivery.BatchWait == 0 {
			c.Delivery.BatchWait = email.DefaultBatchWait
		}
	},
	New: func(c email.Config, deps Deps) (sharelog.Sink, error) {
		return sink(email.New(c, email.Deps{Logger: deps.Logger, Registerer: deps.Registerer}))
	},
}
