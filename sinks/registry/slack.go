package registry

import (
	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/sinks/slack"
)

// slackKind posts alerts (alert.raised events) to Slack channels; its
// filter defaults to the action alert.raised.
var slackKind = Kind[slack.Config]{
	Type: "slack",
	EntryDefaults: func(c *Config) {
		if len(c.Filter.Actions) == 0 {
			c.Filter.Actions = []string{string(sharelog.AlertRaised)}
		}
	},
	New: func(c slack.Config, deps Deps) (sharelog.Sink, error) {
		return sink(slack.New(c, slack.Deps{Logger: deps.Logger, Registerer: deps.Registerer}))
	},
}
