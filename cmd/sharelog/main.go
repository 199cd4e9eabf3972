// Command sharelog runs the sharelog pipeline: every role together (run) or
// one role per process (ingest, enrich, sink, api), and the tools around it
// (query, export, token, retention, simulate, bench); rules runs the
// detection rules alone.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

const usage = `sharelog — access and audit events of a file and link sharing service, carried through Kafka.

Usage:
  sharelog run       [--config FILE]   every role in one process (embedded Kafka when no brokers are configured)
  sharelog ingest    [--config FILE]   POST /v1/events → <prefix>.raw
  sharelog enrich    [--config FILE]   <prefix>.raw → geo, platform, session → <prefix>.enriched
  sharelog sink archive [--config FILE]  <prefix>.enriched → Parquet archive (archive.dir)
  sharelog sink NAME [--config FILE]  <prefix>.enriched → the delivery sink NAME of sinks: (webhook, splunk, …)
  sharelog rules     [--config FILE]   <prefix>.enriched → detection rules → <prefix>.alerts (+ enriched), <prefix>.commands
  sharelog replay    --sink NAME --from T --to T [--workspace ID] [--action A] [--link ID] [--user EMAIL] [--result R]
                                       re-send archived events to one sink, oldest first, with progress
  sharelog api       [--config FILE]   GET /v1/events, GET /v1/links/{id}/activity over archive.dir (no Kafka needed)
  sharelog query     (--workspace ID | --all-workspaces) [--from T] [--to T] [--action A] [--user EMAIL] [--link ID]
                     [--file ID] [--ip IP|CIDR] [--country CC] [--result R] [--limit N] [--format table|json|ndjson|csv]
                                       print archived events, newest first (reads archive.dir)
  sharelog export    (--link ID [--workspace ID] | --workspace ID) [--from T] [--to T] [--shape access|audit] [-o FILE]
                                       write a CSV export (access log of a link, audit log of a workspace)
  sharelog token     --name NAME --workspace ID[,ID] | '*'   make an API token; prints it once and its configuration
  sharelog retention [--dry-run] [--erase EMAIL]  apply the archive's retention (or erase a person's events)
  sharelog simulate  [flags]           send traffic like a busy link and file server
  sharelog bench     [flags]           measure ingest → Kafka → enrich end to end
  sharelog bench stream [flags]        measure the live stream: N WebSocket clients, events posted at a rate, latency, server CPU and memory
  sharelog bench archive [flags]       measure archive writes, size and queries against DuckDB (10M events: make bench-archive)
  sharelog config    [--config FILE]   print the effective configuration (secrets hidden) and every key's variable

Every configuration key can be set from the environment as SHARELOG_<PATH>,
e.g. SHARELOG_HTTP_ADDR, SHARELOG_KAFKA_BROKERS, SHARELOG_INGEST_KEYS.
Run "sharelog COMMAND -h" for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "sharelog:", err)
		}
		os.Exit(1)
	}
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run":
		return runRoles(ctx, "run", rest, stdout, stderr, roleIngest|roleEnrich|roleArchive|roleAPI|roleSinks|roleRules)
	case "ingest":
		return runRoles(ctx, "ingest", rest, stdout, stderr, roleIngest)
	case "enrich":
		return runRoles(ctx, "enrich", rest, stdout, stderr, roleEnrich)
	case "sink":
		if len(rest) == 0 || strings.HasPrefix(rest[0], "-") {
			return fmt.Errorf("sink: name the sink to run: archive, or the name of an entry of sinks:")
		}
		if rest[0] == "archive" {
			return runRoles(ctx, "sink archive", rest[1:], stdout, stderr, roleArchive)
		}
		return runRoles(ctx, "sink "+rest[0], rest[1:], stdout, stderr, roleSinks)
	case "rules":
		return runRoles(ctx, "rules", rest, stdout, stderr, roleRules)
	case "replay":
		return replayCmd(ctx, rest, stdout, stderr)
	case "api":
		return runRoles(ctx, "api", rest, stdout, stderr, roleAPI)
	case "query":
		return queryCmd(ctx, rest, stdout, stderr)
	case "export":
		return exportCmd(ctx, rest, stdout, stderr)
	case "token":
		return tokenCmd(rest, stdout, stderr)
	case "retention":
		return retentionCmd(ctx, rest, stdout, stderr)
	case "simulate":
		return simulateCmd(ctx, rest, stdout, stderr)
	case "bench":
		return benchCmd(ctx, rest, stdout, stderr)
	case "config":
		return configCmd(rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}
