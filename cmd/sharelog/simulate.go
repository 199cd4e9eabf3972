package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	sharelog "github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/config"
	"github.com/sharelog/sharelog/ingest"
	"github.com/sharelog/sharelog/internal/kafkax"
	"github.com/sharelog/sharelog/internal/secret"
	"github.com/sharelog/sharelog/server/pipeline"
	"github.com/sharelog/sharelog/tools/simulate"
)

func simulateCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sharelog simulate", flag.ContinueOnError)
	rate := fs.Int("rate", 100, "events per second")
	duration := fs.Duration("duration", 0, "how long to send (0: until interrupted)")
	batch := fs.Int("batch", 100, "events per request")
	workers := fs.Int("workers", 4, "concurrent senders")
	via := fs.String("via", "http", "http (POST /v1/events) or kafka (the Go client, straight to <prefix>.raw)")
	url := fs.String("url", "", "ingest URL (default http://<http.addr>/v1/events)")
	key := fs.String("key", "", "ingest key (default: the first of ingest.keys, else <data_dir>/ingest.key)")
	gz := fs.Bool("gzip", false, "gzip request bodies")
	seed := fs.Int64("seed", 0, "random seed (0: time-based)")
	cfg, logger, err := loadConfig(fs, args, stderr)
	if err != nil {
		return err
	}
	if *rate <= 0 || *batch <= 0 || *workers <= 0 {
		return fmt.Errorf("--rate, --batch and --workers must be positive")
	}

	var sender simulate.Sender
	switch *via {
	case "http":
		k, err := ingestKey(cfg, *key)
		if err != nil {
			return err
		}
		u := *url
		if u == "" {
			u = "http://" + cfg.HTTP.Addr + "/v1/events"
		}
		sender = &simulate.HTTPSender{URL: u, Key: k, Gzip: *gz, Client: &http.Client{Timeout: 30 * time.Second}}
	case "kafka":
		brokers := cfg.Kafka.Brokers
		if len(brokers) == 0 {
			brokers = []string{cfg.Kafka.Embedded.Addr}
		}
		conn, err := kafkax.NewConn(cfg.Kafka, brokers)
		if err != nil {
			return err
		}
		defer conn.Close()
		client, err := pipeline.NewIngestClient(conn)
		if err != nil {
			return err
		}
		defer client.Close()
		sender = clientSender{client}
	default:
		return fmt.Errorf("--via: %q is not http or kafka", *via)
	}

	fmt.Fprintf(stderr, "simulating %d events/s via %s (batches of %d, %d workers)\n", *rate, *via, *batch, *workers)
	stats, err := simulate.Run(ctx, simulate.Config{Seed: *seed}, *rate, *duration, *batch, *workers, sender, logger)
	fmt.Fprintf(stdout, "sent %d events (%d failed) in %s: %.0f events/s\n",
		stats.Sent, stats.Failed, stats.Elapsed.Round(time.Millisecond), float64(stats.Sent)/max(stats.Elapsed.Seconds(), 1e-9))
	if err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

// ingestKey returns the key to send with: the flag, the configured keys,
// the keys file, or the key generated into the data directory.
func ingestKey(cfg *config.Config, flagKey string) (string, error) {
	switch {
	case flagKey != "":
		return flagKey, nil
	case len(cfg.Ingest.Keys) > 0:
		return cfg.Ingest.Keys[0], nil
	case cfg.Ingest.KeysFile != "":
		keys, err := secret.ReadLines(cfg.Ingest.KeysFile)
		if err != nil {
			return "", err
		}
		return keys[0], nil
	}
	path := filepath.Join(cfg.DataDir, "ingest.key")
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("no ingest key: give --key, set SHARELOG_INGEST_KEYS, or start `sharelog run` first so that it generates %s", path)
	}
	return strings.TrimSpace(string(data)), nil
}

// clientSender sends through the Go client, as the link and file server does.
type clientSender struct{ c *ingest.Client }

func (s clientSender) Send(ctx context.Context, batch []*sharelog.Event) error {
	return s.c.Publish(ctx, batch...)
}
