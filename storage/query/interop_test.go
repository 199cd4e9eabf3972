package query

import (
	"context"
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sharelog/sharelog"
)

// interopScript answers each question of a JSON list with DuckDB and with
// pyarrow, reading the whole archive as a Hive-partitioned dataset, as an
// analyst would. It prints, per question, the distinct ids DuckDB returns
// newest first and the set pyarrow returns.
const interopScript = `
import json, sys
import duckdb
import pyarrow.dataset as ds
import pyarrow.compute as pc
root, questions = sys.argv[1], json.loads(sys.argv[2])
con = duckdb.connect()
con.execute("SET TimeZone='UTC'")
data = ds.dataset(root, format="parquet", partitioning="hive")
out = []
for q in questions:
    where, params, expr = ["workspace_id IN (SELECT unnest(?))"], [q["workspaces"]], pc.field("workspace_id").isin(q["workspaces"])
    for col in ("link_id", "file_id", "geo_country_code", "client_ip"):
        if q.get(col):
            where.append(col + " = ?"); params.append(q[col]); expr = expr & (pc.field(col) == q[col])
    if q.get("user"):
        where.append("(actor_email = ? OR actor_visitor_email = ?)"); params += [q["user"], q["user"]]
        expr = expr & ((pc.field("actor_email") == q["user"]) | (pc.field("actor_visitor_email") == q["user"]))
    if q.get("actions"):
        where.append("action IN (SELECT unnest(?))"); params.append(q["actions"]); expr = expr & pc.field("action").isin(q["actions"])
    if q.get("from_us") is not None:
        where.append("epoch_us(time) >= ? AND epoch_us(time) < ?"); params += [q["from_us"], q["to_us"]]
    sql = ("SELECT id FROM (SELECT DISTINCT id, time FROM read_parquet(?, hive_partitioning=true) WHERE "
           + " AND ".join(where) + ") ORDER BY time DESC, id DESC")
    duck = [r[0] for r in con.execute(sql, [root + "/*/*/*.parquet"] + params).fetchall()]
    t = data.to_table(columns=["id", "time"], filter=expr)
    ids = t["id"].to_pylist()
    if q.get("from_us") is not None:
        us = pc.cast(t["time"], "int64").to_pylist()
        ids = [i for i, u in zip(ids, us) if q["from_us"] <= u < q["to_us"]]
    out.append({"duckdb": duck, "pyarrow": sorted(set(ids))})
print(json.dumps(out))
`

type interopQuestion struct {
	Workspaces []string `json:"workspaces"`
	LinkID     string   `json:"link_id,omitempty"`
	FileID     string   `json:"file_id,omitempty"`
	Country    string   `json:"geo_country_code,omitempty"`
	IP         string   `json:"client_ip,omitempty"`
	User       string   `json:"user,omitempty"`
	Actions    []string `json:"actions,omitempty"`
	FromUS     *int64   `json:"from_us,omitempty"`
	ToUS       *int64   `json:"to_us,omitempty"`
}

func (q interopQuestion) filter() Filter {
	f := Filter{Workspaces: q.Workspaces, Link: q.LinkID, File: q.FileID, Country: q.Country, IP: q.IP, User: q.User, Actions: q.Actions}
	if q.FromUS != nil {
		f.From, f.To = time.UnixMicro(*q.FromUS).UTC(), time.UnixMicro(*q.ToUS).UTC()
	}
	return f
}

// TestDuckDBAndPyarrowAgree asks DuckDB and pyarrow the questions the engine
// answers, over the same files (several files and row groups per partition,
// repeats included): the same events, and for DuckDB the same order.
func TestDuckDBAndPyarrowAgree(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not found; install Python 3 and `pip install pyarrow duckdb` to run the interop tests")
	}
	if err := exec.Command("python3", "-c", "import duckdb, pyarrow.dataset").Run(); err != nil {
		t.Skipf("python3 cannot import duckdb and pyarrow (%v); run `pip install pyarrow duckdb`", err)
	}
	w := newWorld(t)
	all := workspacesOf(w.events)
	ev := w.events[2500]
	for i := 2500; ev.Link == nil || ev.File == nil; i++ {
		ev = w.events[i]
	}
	from, to := ev.Time.Add(-20*time.Hour).UnixMicro(), ev.Time.Add(3*time.Hour).UnixMicro()
	questions := []interopQuestion{
		{Workspaces: all},
		{Workspaces: all[:1]},
		{Workspaces: all, LinkID: ev.Link.ID},
		{Workspaces: []string{ev.Workspace.ID}, FileID: ev.File.ID},
		{Workspaces: all, Country: "FR"},
		{Workspaces: all, IP: ev.Client.IP},
		{Workspaces: all, User: firstActorEmail(w.events)},
		{Workspaces: all, Actions: []string{"link.opened", "link.password_failed"}},
		{Workspaces: all, FromUS: &from, ToUS: &to},
		{Workspaces: all, LinkID: ev.Link.ID, FromUS: &from, ToUS: &to},
	}
	qs, _ := json.Marshal(questions)
	cmd := exec.Command("python3", "-c", interopScript, w.root, string(qs))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v\n%s", err, stderr.String())
	}
	var answers []struct{ DuckDB, Pyarrow []string }
	if err := json.Unmarshal(b, &answers); err != nil || len(answers) != len(questions) {
		t.Fatalf("python3 printed %.300q: %v", b, err)
	}
	e := New(w.root)
	for i, q := range questions {
		var ids []string
		if _, err := e.Each(context.Background(), q.filter(), nil, func(ev *sharelog.Event) error {
			ids = append(ids, ev.ID)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(ids) == 0 {
			t.Errorf("question %d (%+v) matches nothing: the test data is too thin", i, q)
		}
		if !slices.Equal(ids, answers[i].DuckDB) {
			t.Errorf("question %d (%+v): sharelog %d events, DuckDB %d\n%s", i, q, len(ids), len(answers[i].DuckDB), firstDiff(ids, answers[i].DuckDB))
		}
		set := slices.Sorted(slices.Values(ids))
		if !slices.Equal(set, answers[i].Pyarrow) {
			t.Errorf("question %d (%+v): sharelog %d events, pyarrow %d", i, q, len(set), len(answers[i].Pyarrow))
		}
	}
}
