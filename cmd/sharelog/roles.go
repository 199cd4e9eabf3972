package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/sharelog/sharelog/config"
	"github.com/sharelog/sharelog/internal/secret"
	"github.com/sharelog/sharelog/server/pipeline"
)

const (
	roleIngest  = pipeline.Ingest
	roleEnrich  = pipeline.Enrich
	roleArchive = pipeline.Archive
	roleAPI     = pipeline.API
	roleSinks   = pipeline.Sinks
	roleRules   = pipeline.Rules
)

// loadConfig parses the common --config flag and loads the configuration.
func loadConfig(fs *flag.FlagSet, args []string, stderr io.Writer) (*config.Config, *slog.Logger, error) {
	path := fs.String("config", os.Getenv("SHARELOG_CONFIG"), "YAML configuration file (optional; env SHARELOG_CONFIG)")
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	environ := os.Environ()
	cfg, warnings, err := config.Load(*path, withoutConfigVar(environ))
	if err != nil {
		return nil, nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	logger := newLogger(cfg.Log, stderr)
	for _, w := range warnings {
		logger.Warn(w)
	}
	return cfg, logger, nil
}

// withoutConfigVar drops SHARELOG_CONFIG, which names the file rather than
// a key.
func withoutConfigVar(environ []string) []string {
	out := environ[:0:0]
	for _, kv := range environ {
		if !strings.HasPrefix(kv, "SHARELOG_CONFIG=") {
			out = append(out, kv)
		}
	}
	return out
}

func newLogger(c config.LogConfig, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func runRoles(ctx context.Context, name string, args []string, stdout, stderr io.Writer, roles pipeline.Roles) error {
	fs := flag.NewFlagSet("sharelog "+name, flag.ContinueOnError)
	cfg, logger, err := loadConfig(fs, args, stderr)
	if err != nil {
		return err
	}
	var sinks []string
	if n, ok := strings.CutPrefix(name, "sink "); ok && roles == roleSinks {
		sinks = []string{n} // pipeline.Start refuses a name not configured
	}
	p, err := pipeline.Start(ctx, cfg, roles, pipeline.Options{
		Logger:   logger,
		Notice:   stdout,
		Embedded: name == "run",
		Sinks:    sinks,
	})
	if err != nil {
		return err
	}
	logger.Info("sharelog started", "command", name, "http", p.Addr(), "kafka", p.Brokers())
	return p.Run(ctx)
}

func configCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sharelog config", flag.ContinueOnError)
	cfg, _, err := loadConfig(fs, args, stderr)
	if err != nil {
		return err
	}
	// The fields tagged secret:"true" in the configuration's types are
	// hidden, wherever they are.
	shown := secret.Redact(*cfg)
	out, err := yaml.Marshal(&shown)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "# effective configuration\n%s\n# environment overrides\n", out)
	for _, k := range config.Keys() {
		fmt.Fprintf(stdout, "# %-36s %s\n", k, config.Env(k))
	}
	return nil
}
