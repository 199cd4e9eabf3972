package archive

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	sharelog "github.com/sharelog/sharelog"
)

// The client of a retention.applied event. sharelog acts on its own host,
// not through a client, but the schema requires client.ip and client.kind:
// the loopback address and "api" (a program, not a person's browser or CLI)
// stand in, and the actor type system is what marks the event as sharelog's.
const (
	AuditClientIP   = "127.0.0.1"
	AuditClientKind = sharelog.ClientAPI
)

// AuditEvents returns the retention.applied events that record this run:
// one per workspace that lost events, in workspace order, each with a fresh
// UUIDv7, the time now (in UTC), a system actor, result success, and as its
// reason a summary per rule, e.g. "max_age: 1200 events before 2026-07-25;
// inactive_link: 30 events of 2 links; erasure: 4 events". The summary
// names no email address and no link. node, when not empty (and not over
// sharelog.MaxServerLen), is the server.node of the events: the host's name.
//
// A dry run removed nothing: it has no audit events (nil).
func (r *Removal) AuditEvents(now time.Time, node string) []*sharelog.Event {
	if r == nil || r.DryRun || len(r.Workspaces) == 0 {
		return nil
	}
	now = now.UTC()
	var ids sharelog.UUIDv7
	var out []*sharelog.Event
	for _, ws := range slices.Sorted(maps.Keys(r.Workspaces)) {
		summary := r.Workspaces[ws].summary()
		if summary == "" {
			continue
		}
		ev := &sharelog.Event{
			ID:        ids.New(now),
			Time:      now,
			Workspace: sharelog.Workspace{ID: ws},
			Actor:     sharelog.Actor{Type: sharelog.ActorSystem},
			Action:    sharelog.RetentionApplied,
			Result:    sharelog.Success,
			Reason:    summary,
			Client:    sharelog.Client{IP: AuditClientIP, Kind: AuditClientKind},
		}
		if node != "" && len(node) <= sharelog.MaxServerLen {
			ev.Server = &sharelog.Server{Node: node}
		}
		out = append(out, ev)
	}
	return out
}

// summary says what went, rule by rule, in the order max_age,
// inactive_link, erasure; "" when nothing did.
func (w *WorkspaceRemoval) summary() string {
	var parts []string
	if n := w.Events["max_age"]; n > 0 {
		s := "max_age: " + count(n, "event")
		if !w.Before.IsZero() {
			s += " before " + w.Before.UTC().Format(time.DateOnly)
		}
		parts = append(parts, s)
	}
	if n := w.Events["inactive_link"]; n > 0 {
		s := "inactive_link: " + count(n, "event")
		if len(w.InactiveLinks) > 0 {
			s += " of " + count(int64(len(w.InactiveLinks)), "link")
		}
		parts = append(parts, s)
	}
	if n := w.Events["erasure"]; n > 0 {
		parts = append(parts, "erasure: "+count(n, "event"))
	}
	return strings.Join(parts, "; ")
}

func count(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.FormatInt(n, 10) + " " + noun + "s"
}

// RecordAudit writes the run's audit events (AuditEvents) into the archive
// under root, each as its own file in its workspace's partition of now's
// day, and appends the ids of those written to r.AuditEventIDs. The archive is
// the compliance record: queries and exports show the run like any event.
// The events age out with the other events of that day; erasure never
// removes them (they carry no email) nor does the inactive-link rule (they
// concern no link).
//
// A dry run, or a run that removed nothing, writes nothing. An event that
// fails Validate or cannot be written is an error; the others are still
// written, and the errors are joined.
func (r *Removal) RecordAudit(root string, now time.Time, node string, opts Options) error {
	var errs []error
	for _, ev := range r.AuditEvents(now, node) {
		if err := ev.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("archive: audit event of workspace %s: %w", ev.Workspace.ID, err))
			continue
		}
		dir, err := PartitionDir(root, ev.Workspace.ID, ev.Time)
		if err == nil {
			_, _, err = WriteFile(dir, []*sharelog.Event{ev}, opts)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("archive: audit event of workspace %s: %w", ev.Workspace.ID, err))
			continue
		}
		r.AuditEventIDs = append(r.AuditEventIDs, ev.ID)
	}
	return errors.Join(errs...)
}
