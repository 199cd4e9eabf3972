package archive

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	sharelog "github.com/sharelog/sharelog"
)

// auditEvents reads the retention.applied events of the archive under root.
func auditEvents(t *testing.T, root string) map[string]*sharelog.Event {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(root, "*", "*", "*"+Ext))
	out := map[string]*sharelog.Event{}
	for _, f := range files {
		evs, err := ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			if ev.Action == sharelog.RetentionApplied {
				if want, _ := PartitionDir(root, ev.Workspace.ID, ev.Time); filepath.Dir(f) != want {
					t.Errorf("audit event %s in %s, want %s", ev.ID, filepath.Dir(f), want)
				}
				out[ev.ID] = ev
			}
		}
	}
	return out
}

// TestAuditEvents: a retention run and an erasure each give one
// retention.applied event per workspace that lost events, with the counts
// per rule in the reason and no email; the events are valid, go into the
// archive, and neither later retention nor erasure removes them early.
func TestAuditEvents(t *testing.T) {
	root := t.TempDir()
	day := 24 * time.Hour
	const visitor = "visitor@y.example"
	writeDays(t, root, []*sharelog.Event{
		retEvent(1, "wsA", "", "a@x.example", sharelog.FileUploaded, retNow.Add(-200*day)),  // max_age
		retEvent(2, "wsA", "", "a@x.example", sharelog.FileUploaded, retNow.Add(-10*day)),   // kept
		retEvent(3, "wsB", "", "b@x.example", sharelog.FileUploaded, retNow.Add(-200*day)),  // wsB keeps 300 days
		retEvent(4, "wsA", "L1", "a@x.example", sharelog.LinkOpened, retNow.Add(-110*day)),  // inactive_link
		retEvent(5, "wsA", "L1", "a@x.example", sharelog.LinkRevoked, retNow.Add(-100*day)), // inactive_link
		retEvent(6, "wsC", "", "c@x.example", sharelog.FileUploaded, retNow.Add(-150*day)),  // max_age
		retEvent(7, "wsC", "", "c@x.example", sharelog.FileUploaded, retNow.Add(-149*day)),  // max_age
		retEvent(8, "wsA", "L3", visitor, sharelog.LinkDownloaded, retNow.Add(-100*day)),    // erasure
		retEvent(9, "wsC", "", visitor, sharelog.FileDownloaded, retNow.Add(-5*day)),        // erasure
	})
	policy := Policy{WorkspaceMaxAge: map[string]time.Duration{"wsB": 300 * day}}

	dry, err := ApplyRetention(root, policy, retNow, true, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if evs := dry.AuditEvents(retNow, "host-1"); evs != nil {
		t.Fatalf("a dry run has audit events: %v", evs)
	}
	if err := dry.RecordAudit(root, retNow, "host-1", Options{}); err != nil || len(dry.AuditEventIDs) != 0 || len(auditEvents(t, root)) != 0 {
		t.Fatalf("a dry run recorded %v (%v)", dry.AuditEventIDs, err)
	}
	if w := dry.Workspaces["wsA"]; w == nil || w.Events["inactive_link"] != 2 || w.Events["max_age"] != 1 {
		t.Fatalf("dry run per workspace: %+v", dry.Workspaces)
	}

	rm, err := ApplyRetention(root, policy, retNow, false, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := rm.Workspaces["wsB"]; ok || len(rm.Workspaces) != 2 {
		t.Fatalf("workspaces %+v, want wsA and wsC", rm.Workspaces)
	}
	evs := rm.AuditEvents(retNow, "host-1")
	want := map[string]string{
		"wsA": "max_age: 1 event before 2026-05-07; inactive_link: 2 events of 1 link",
		"wsC": "max_age: 2 events before 2026-06-27",
	}
	checkAudit(t, evs, want, "host-1")

	// The CLI's and the sink's path: written into the archive.
	if err := rm.RecordAudit(root, retNow, "host-1", Options{}); err != nil {
		t.Fatal(err)
	}
	if len(rm.AuditEventIDs) != 2 {
		t.Fatalf("audit event ids %v", rm.AuditEventIDs)
	}
	archived := auditEvents(t, root)
	for _, id := range rm.AuditEventIDs {
		if archived[id] == nil {
			t.Fatalf("audit event %s not in the archive (%v)", id, archived)
		}
	}

	er, err := Erase(root, strings.ToUpper(visitor), false, Options{})
	if err != nil {
		t.Fatal(err)
	}
	evs = er.AuditEvents(retNow.Add(time.Minute), "")
	checkAudit(t, evs, map[string]string{"wsA": "erasure: 1 event", "wsC": "erasure: 1 event"}, "")
	if err := er.RecordAudit(root, retNow.Add(time.Minute), "", Options{}); err != nil || len(er.AuditEventIDs) != 2 {
		t.Fatalf("erasure audit %v %v", er.AuditEventIDs, err)
	}
	all := slices.Concat(rm.AuditEventIDs, er.AuditEventIDs)
	if len(auditEvents(t, root)) != 4 {
		t.Fatalf("%d audit events in the archive, want 4", len(auditEvents(t, root)))
	}

	// Nothing left to remove: no audit events, and the ones written stay,
	// through retention (they concern no link) and erasure (they carry no
	// email) until their day is past the maximum age like any other.
	again, err := ApplyRetention(root, policy, retNow.Add(119*day), false, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []string{"a@x.example", "c@x.example", visitor} {
		if _, err := Erase(root, e, false, Options{}); err != nil {
			t.Fatal(err)
		}
	}
	left := auditEvents(t, root)
	for _, id := range all {
		if left[id] == nil {
			t.Fatalf("audit event %s removed early (%+v)", id, again)
		}
	}
	if _, err := ApplyRetention(root, policy, retNow.Add(121*day), false, Options{}); err != nil {
		t.Fatal(err)
	}
	if left := auditEvents(t, root); len(left) != 0 {
		t.Fatalf("%d audit events outlived their day's maximum age", len(left))
	}
}

func checkAudit(t *testing.T, evs []*sharelog.Event, want map[string]string, node string) {
	t.Helper()
	if len(evs) != len(want) {
		t.Fatalf("%d audit events, want %d: %v", len(evs), len(want), evs)
	}
	seen := map[string]bool{}
	for i, ev := range evs {
		if err := ev.Validate(); err != nil {
			t.Fatalf("audit event %d invalid: %v", i, err)
		}
		if i > 0 && ev.ID <= evs[i-1].ID || seen[ev.ID] {
			t.Fatalf("ids not fresh and increasing: %s after %s", ev.ID, evs[i-1].ID)
		}
		seen[ev.ID] = true
		if ev.ID[14] != '7' {
			t.Fatalf("id %s is not a UUIDv7", ev.ID)
		}
		if got, ok := want[ev.Workspace.ID]; !ok || ev.Reason != got {
			t.Errorf("workspace %s: reason %q, want %q", ev.Workspace.ID, ev.Reason, got)
		}
		if i > 0 && ev.Workspace.ID <= evs[i-1].Workspace.ID {
			t.Errorf("not in workspace order: %s after %s", ev.Workspace.ID, evs[i-1].Workspace.ID)
		}
		if strings.Contains(ev.Reason, "@") || strings.Contains(ev.Reason, "visitor") || strings.Contains(ev.Reason, "L1") {
			t.Errorf("reason %q names an email or a link", ev.Reason)
		}
		if ev.Actor != (sharelog.Actor{Type: sharelog.ActorSystem}) || ev.Action != sharelog.RetentionApplied || ev.Result != sharelog.Success ||
			ev.Time.Location() != time.UTC || ev.Client.IP != AuditClientIP || ev.Client.Kind != AuditClientKind || ev.Link != nil || ev.File != nil {
			t.Errorf("audit event %+v", ev)
		}
		if (node == "") != (ev.Server == nil) || ev.Server != nil && ev.Server.Node != node {
			t.Errorf("server %+v, want node %q", ev.Server, node)
		}
	}
}

// TestRecordAuditHostname: the host's name as the node is valid.
func TestRecordAuditHostname(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Skip(err)
	}
	rm := newRemoval(false)
	rm.removed("ws-1", "erasure", 3)
	evs := rm.AuditEvents(retNow, host)
	if len(evs) != 1 || evs[0].Validate() != nil || evs[0].Reason != "erasure: 3 events" || !evs[0].Time.Equal(retNow) {
		t.Fatalf("%+v", evs)
	}
}
