package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/sharelog/sharelog/storage/archive"
)

// retentionCmd applies the archive's retention policy once, or erases one
// person's events, and prints what went (or would go, with --dry-run) as
// JSON. Unless dry, it writes a retention.applied event per workspace that
// lost events into the archive (also after a run that failed part way, for
// what did go) and lists their ids in the report's AuditEventIDs.
func retentionCmd(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sharelog retention", flag.ContinueOnError)
	dry := fs.Bool("dry-run", false, "say what would be removed, remove nothing")
	erase := fs.String("erase", "", "erase every event of this email address (actor or visitor) instead")
	cfg, logger, err := loadConfig(fs, args, stderr)
	if err != nil {
		return err
	}
	var rm *archive.Removal
	now := time.Now()
	if *erase != "" {
		rm, err = archive.Erase(cfg.Archive.Dir, *erase, *dry, cfg.Archive.Parquet)
	} else {
		rm, err = archive.ApplyRetention(cfg.Archive.Dir, cfg.Archive.Retention, now, *dry, cfg.Archive.Parquet)
	}
	if rm != nil {
		host, _ := os.Hostname() // "" leaves server.node out
		err = errors.Join(err, rm.RecordAudit(cfg.Archive.Dir, now, host, cfg.Archive.Parquet))
		out, _ := json.MarshalIndent(rm, "", "  ")
		fmt.Fprintln(stdout, string(out))
	}
	if err != nil {
		return err
	}
	logger.Info("retention run", "dry_run", *dry, "archive", cfg.Archive.Dir, "events_removed", rm.Events, "audit_events", rm.AuditEventIDs)
	return nil
}
