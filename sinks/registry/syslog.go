package registry

import (
	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/sinks/syslog"
)

// syslogKind sends RFC 5424 messages with a CEF or LEEF body.
var syslogKind = Kind[syslog.Config]{
	Type: "syslog",
	New: func(c syslog.Config, deps Deps) (sharelog.Sink, error) {
		return sink(syslog.New(c, syslog.Deps{Logger: deps.Logger, Registerer: deps.Registerer}))
	},
}
