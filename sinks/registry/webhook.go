package registry

import (
	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/sinks/webhook"
)

// webhookKind POSTs batches signed as Standard Webhooks to an HTTPS
// receiver.
var webhookKind = Kind[webhook.Config]{
	Type: "webhook",
	New: func(c webhook.Config, deps Deps) (sharelog.Sink, error) {
		return sink(webhook.New(c, webhook.Deps{Logger: deps.Logger, Registerer: deps.Registerer}))
	},
}
