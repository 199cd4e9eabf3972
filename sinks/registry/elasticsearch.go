package registry

import (
	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/sinks/elasticsearch"
)

// elasticsearchKind indexes into Elasticsearch, or OpenSearch (the same
// _bulk API).
var elasticsearchKind = Kind[elasticsearch.Config]{
	Type: "elasticsearch",
	New: func(c elasticsearch.Config, deps Deps) (sharelog.Sink, error) {
		return sink(elasticsearch.New(c, elasticsearch.Deps{Logger: deps.Logger, Registerer: deps.Registerer}))
	},
}
