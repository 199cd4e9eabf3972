package query

import (
	"bytes"
	"cmp"
	"encoding/csv"
	"testing"

	sharelog "github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/internal/eventtest"
)

// FuzzStorable: every event ingest accepts is written in both CSV shapes
// as one well-formed record under the header, its ids and workspace in
// their columns (the workspace by its name when it has one) as the formula
// guard leaves them (see eventtest.Storable).
func FuzzStorable(f *testing.F) {
	eventtest.Storable(f, func(t *testing.T, ev *sharelog.Event) {
		for _, shape := range []CSVShape{AccessLog, AuditLog} {
			var buf bytes.Buffer
			w := NewCSVWriter(&buf, shape)
			if err := w.Write(ev); err != nil {
				t.Fatalf("%s: %v", shape, err)
			}
			if err := w.Flush(); err != nil {
				t.Fatalf("%s: %v", shape, err)
			}
			recs, err := csv.NewReader(&buf).ReadAll()
			if err != nil || len(recs) != 2 || len(recs[1]) != len(shape.Header()) {
				t.Fatalf("%s: %v, %d records: %q", shape, err, len(recs), recs)
			}
			row := map[string]string{}
			for i, name := range recs[0] {
				row[name] = recs[1][i]
			}
			switch shape {
			case AccessLog:
				if row["linkSessionId"] != csvSafe(ev.Session.LinkSessionID) {
					t.Fatalf("access: linkSessionId %q", row["linkSessionId"])
				}
			case AuditLog:
				if row["workspace"] != csvSafe(cmp.Or(ev.Workspace.Name, ev.Workspace.ID)) || ev.File != nil && row["fileId"] != csvSafe(ev.File.ID) {
					t.Fatalf("audit: workspace %q fileId %q of %+v", row["workspace"], row["fileId"], ev)
				}
			}
		}
	})
}
