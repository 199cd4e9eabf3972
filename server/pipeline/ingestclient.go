package pipeline

import (
	"github.com/sharelog/sharelog/ingest"
	"github.com/sharelog/sharelog/internal/kafkax"
)

// NewIngestClient returns the Go client producing through conn, as the
// server's other producers do: its brokers and transport (client id, TLS,
// SASL, connections), its topic prefix, linger, compression and write
// timeout. opts come after, so they can add to them (a time window). The
// server and `sharelog simulate --via kafka` build their clients here.
func NewIngestClient(conn *kafkax.Conn, opts ...ingest.Option) (*ingest.Client, error) {
	cfg := conn.Config()
	return ingest.NewClient(conn.Brokers(), append([]ingest.Option{
		ingest.WithTransport(conn.Transport()),
		ingest.WithTopicPrefix(cfg.TopicPrefix),
		ingest.WithLinger(cfg.Linger),
		ingest.WithCompression(kafkax.CompressionCodec(cfg.Compression)),
		ingest.WithRequestTimeout(cfg.WriteTimeout),
	}, opts...)...)
}
