package archive

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	sharelog "github.com/sharelog/sharelog"
)

// Policy says what the archive keeps.
type Policy struct {
	// MaxAge is how long events are kept (default 120 days).
	MaxAge time.Duration `yaml:"max_age"`
	// WorkspaceMaxAge overrides MaxAge per workspace id.
	WorkspaceMaxAge map[string]time.Duration `yaml:"workspace_max_age"`
	// InactiveLinkAge is how long a link's events are kept after the link
	// became inactive: its last link.revoked, link.expired or
	// link.deactivated event (default 90 days).
	InactiveLinkAge time.Duration `yaml:"inactive_link_age"`
}

// SetDefaults fills unset fields.
func (p *Policy) SetDefaults() {
	if p.MaxAge == 0 {
		p.MaxAge = 120 * 24 * time.Hour
	}
	if p.InactiveLinkAge == 0 {
		p.InactiveLinkAge = 90 * 24 * time.Hour
	}
}

// Validate reports every wrong field.
func (p Policy) Validate() error {
	var errs []error
	if p.MaxAge < 24*time.Hour {
		errs = append(errs, fmt.Errorf("max_age: %s is under one day", p.MaxAge))
	}
	if p.InactiveLinkAge < 24*time.Hour {
		errs = append(errs, fmt.Errorf("inactive_link_age: %s is under one day", p.InactiveLinkAge))
	}
	for ws, age := range p.WorkspaceMaxAge {
		if age < 24*time.Hour {
			errs = append(errs, fmt.Errorf("workspace_max_age[%s]: %s is under one day", ws, age))
		}
	}
	return errors.Join(errs...)
}

func (p Policy) maxAge(workspace string) time.Duration {
	if age, ok := p.WorkspaceMaxAge[workspace]; ok {
		return age
	}
	return p.MaxAge
}

// Removal is what one retention or erasure run removed (or, dry, would
// remove). Events are counted once they are gone (their partition removed,
// or their file rewritten without them and the old file removed), so a run
// that fails part way reports what it did remove.
type Removal struct {
	DryRun bool
	// Partitions are the day directories removed whole for their age.
	Partitions []string
	// Events counts the events removed by rule: "max_age", "inactive_link",
	// "erasure".
	Events map[string]int64
	// FilesRewritten counts the files rewritten without some of their events
	// (a file left with none is removed).
	FilesRewritten int
	// InactiveLinks are the links whose events went, past InactiveLinkAge.
	InactiveLinks []string
	// Workspaces is, by workspace id, what went of that workspace's events;
	// only workspaces that lost events are in it.
	Workspaces map[string]*WorkspaceRemoval
	// AuditEventIDs are the ids of the retention.applied events RecordAudit
	// wrote into the archive for this run, in workspace order; none for a
	// dry run.
	AuditEventIDs []string
}

// WorkspaceRemoval is what one run removed of one workspace's events.
type WorkspaceRemoval struct {
	// Events counts the events removed by rule, as Removal.Events.
	Events map[string]int64
	// Before bounds the events removed by max_age: all were before it (the
	// midnight after the newest day removed). Zero when max_age removed
	// none.
	Before time.Time `json:",omitzero"`
	// InactiveLinks are the links of this workspace whose events went.
	InactiveLinks []string `json:",omitempty"`
}

func newRemoval(dry bool) *Removal {
	return &Removal{DryRun: dry, Events: map[string]int64{}, Workspaces: map[string]*WorkspaceRemoval{}}
}

// removed counts n events of workspace ws removed by rule.
func (r *Removal) removed(ws, rule string, n int64) *WorkspaceRemoval {
	r.Events[rule] += n
	w := r.Workspaces[ws]
	if w == nil {
		w = &WorkspaceRemoval{Events: map[string]int64{}}
		r.Workspaces[ws] = w
	}
	w.Events[rule] += n
	return w
}

// ApplyRetention removes from the archive under root what policy no longer
// keeps at now: whole day partitions past their workspace's maximum age, and
// the events of links inactive for longer than InactiveLinkAge (rewriting
// the files concerned). With dryRun it changes nothing and reports what would
// go. Run it while the sink writes: it never touches today's partition for
// the age rule, and a file rewritten is replaced atomically (the new file is
// durable before the old one goes).
func ApplyRetention(root string, policy Policy, now time.Time, dryRun bool, opts Options) (*Removal, error) {
	policy.SetDefaults()
	rm := newRemoval(dryRun)
	parts, err := Partitions(root)
	if err != nil {
		return rm, err
	}
	var kept []Partition
	for _, p := range parts {
		end := p.Day.AddDate(0, 0, 1) // every event of the day is before end
		if !end.After(now.Add(-policy.maxAge(p.Workspace))) {
			n, err := countEvents(p.Dir)
			if err != nil {
				return rm, err
			}
			if !dryRun {
				if err := os.RemoveAll(p.Dir); err != nil {
					return rm, fmt.Errorf("archive: retention: %w", err)
				}
			}
			rm.Partitions = append(rm.Partitions, p.Dir)
			if n > 0 {
				if w := rm.removed(p.Workspace, "max_age", n); end.After(w.Before) {
					w.Before = end
				}
			}
			continue
		}
		kept = append(kept, p)
	}

	// Links inactive long enough: the time of their last deactivation.
	inactive := map[string]time.Time{}
	for _, p := range kept {
		if err := eachFile(p.Dir, func(path string) error {
			return ReadEach(path, func(ev *sharelog.Event) error {
				switch ev.Action {
				case sharelog.LinkRevoked, sharelog.LinkExpired, sharelog.LinkDeactivated:
					if ev.Link != nil && ev.Time.After(inactive[ev.Link.ID]) {
						inactive[ev.Link.ID] = ev.Time
					}
				}
				return nil
			})
		}); err != nil {
			return rm, err
		}
	}
	gone := map[string]bool{}
	for link, since := range inactive {
		if !since.Add(policy.InactiveLinkAge).After(now) {
			gone[link] = true
			rm.InactiveLinks = append(rm.InactiveLinks, link)
		}
	}
	sort.Strings(rm.InactiveLinks)
	if len(gone) == 0 {
		return rm, nil
	}
	err = rewrite(kept, rm, "inactive_link", dryRun, opts, func(ev *sharelog.Event) bool {
		return ev.Link != nil && gone[ev.Link.ID]
	})
	return rm, err
}

// Erase removes every event whose actor is email (actor.email or
// actor.visitor_email, compared case-insensitively): the right to erasure.
// With dryRun it changes nothing and reports what would go.
func Erase(root, email string, dryRun bool, opts Options) (*Removal, error) {
	rm := newRemoval(dryRun)
	if !strings.Contains(email, "@") {
		return rm, fmt.Errorf("archive: erase: %q is not an email address", email)
	}
	parts, err := Partitions(root)
	if err != nil {
		return rm, err
	}
	err = rewrite(parts, rm, "erasure", dryRun, opts, func(ev *sharelog.Event) bool {
		return strings.EqualFold(ev.Actor.Email, email) || strings.EqualFold(ev.Actor.VisitorEmail, email)
	})
	return rm, err
}

// rewrite drops the events drop selects from every file of parts.
func rewrite(parts []Partition, rm *Removal, rule string, dryRun bool, opts Options, drop func(*sharelog.Event) bool) error {
	for _, p := range parts {
		err := eachFile(p.Dir, func(path string) error {
			events, err := ReadFile(path)
			if err != nil {
				return err
			}
			keep := events[:0]
			links := map[string]bool{} // of the events dropped
			for _, ev := range events {
				if !drop(ev) {
					keep = append(keep, ev)
				} else if ev.Link != nil {
					links[ev.Link.ID] = true
				}
			}
			removed := len(events) - len(keep)
			if removed == 0 {
				return nil
			}
			if !dryRun {
				if len(keep) > 0 {
					if _, _, err := WriteFile(p.Dir, keep, opts); err != nil {
						return err
					}
				}
				if err := os.Remove(path); err != nil {
					return err
				}
			}
			w := rm.removed(p.Workspace, rule, int64(removed))
			rm.FilesRewritten++
			if rule == "inactive_link" {
				for l := range links {
					if !slices.Contains(w.InactiveLinks, l) {
						w.InactiveLinks = append(w.InactiveLinks, l)
					}
				}
				slices.Sort(w.InactiveLinks)
			}
			if dryRun {
				return nil
			}
			return syncDir(p.Dir)
		})
		if err != nil {
			return fmt.Errorf("archive: %s: %w", rule, err)
		}
	}
	return nil
}

// Partition is one day directory of one workspace.
type Partition struct {
	Dir       string
	Workspace string
	Day       time.Time // midnight UTC
}

// Partitions lists the day directories under root, in path order (by
// workspace, then day). Directories whose names are not ours are skipped.
func Partitions(root string) ([]Partition, error) {
	return listPartitions(filepath.Join(root, "workspace=*", "date=*"))
}

// WorkspacePartitions lists the day directories of one workspace, oldest
// first; none when the workspace has no events or its id is not a valid
// directory name.
func WorkspacePartitions(root, workspace string) ([]Partition, error) {
	if checkWorkspaceID(workspace) != nil {
		return nil, nil
	}
	return listPartitions(filepath.Join(root, "workspace="+escapeGlob(workspace), "date=*"))
}

func escapeGlob(s string) string {
	return strings.NewReplacer(`\`, `\\`, "*", `\*`, "?", `\?`, "[", `\[`).Replace(s)
}

func listPartitions(pattern string) ([]Partition, error) {
	dirs, err := filepath.Glob(pattern)
	if err != nil {
		return nil, err
	}
	sort.Strings(dirs)
	var out []Partition
	for _, d := range dirs {
		ws := strings.TrimPrefix(filepath.Base(filepath.Dir(d)), "workspace=")
		day, err := time.Parse(time.DateOnly, strings.TrimPrefix(filepath.Base(d), "date="))
		if err != nil {
			continue // not ours
		}
		out = append(out, Partition{Dir: d, Workspace: ws, Day: day})
	}
	return out, nil
}

// Files lists the complete archive files of a partition directory, in name
// order; files being written (see TempPrefix) are not listed.
func Files(dir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(escapeGlob(dir), "*"+Ext))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	return files, nil
}

func eachFile(dir string, fn func(path string) error) error {
	files, err := Files(dir)
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := fn(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

func countEvents(dir string) (int64, error) {
	var n int64
	err := eachFile(dir, func(path string) error {
		return ReadEach(path, func(*sharelog.Event) error { n++; return nil })
	})
	return n, err
}
