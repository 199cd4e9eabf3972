package archivebench

import (
	"bufio"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	sharelog "github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/storage/query"
)

//go:embed duckdb_driver.py
var duckdbDriver []byte

// duck is the long-lived python3 process that runs DuckDB.
type duck struct {
	cmd      *exec.Cmd
	in       io.WriteCloser
	out      *bufio.Scanner
	Version  string
	Settings map[string]string
	script   string
}

type duckAnswer struct {
	Seconds float64  `json:"seconds"`
	IDs     []string `json:"ids"`
	Count   int64    `json:"count"`
	Error   string   `json:"error"`
}

// startDuckDB starts the driver with python and waits for its greeting.
func startDuckDB(python string, threads int) (*duck, error) {
	f, err := os.CreateTemp("", "sharelog-duckdb-*.py")
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(duckdbDriver); err != nil {
		f.Close()
		return nil, err
	}
	f.Close()
	d := &duck{script: f.Name()}
	d.cmd = exec.Command(python, f.Name(), fmt.Sprint(threads))
	d.cmd.Stderr = os.Stderr
	if d.in, err = d.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := d.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := d.cmd.Start(); err != nil {
		os.Remove(f.Name())
		return nil, fmt.Errorf("duckdb: starting %s: %w", python, err)
	}
	d.out = bufio.NewScanner(stdout)
	d.out.Buffer(make([]byte, 1<<20), 64<<20)
	if !d.out.Scan() {
		d.Close()
		return nil, fmt.Errorf("duckdb: %s %s said nothing (is the duckdb module installed? pip install duckdb pyarrow): %v", python, f.Name(), d.out.Err())
	}
	var hello struct {
		Version  string            `json:"version"`
		Settings map[string]string `json:"settings"`
	}
	if err := json.Unmarshal(d.out.Bytes(), &hello); err != nil {
		d.Close()
		return nil, fmt.Errorf("duckdb: greeting %q: %w", d.out.Text(), err)
	}
	d.Version, d.Settings = hello.Version, hello.Settings
	return d, nil
}

func (d *duck) query(sql string, params []any, want string) (duckAnswer, error) {
	req, err := json.Marshal(map[string]any{"sql": sql, "params": params, "want": want})
	if err != nil {
		return duckAnswer{}, err
	}
	if _, err := d.in.Write(append(req, '\n')); err != nil {
		return duckAnswer{}, fmt.Errorf("duckdb: %w", err)
	}
	if !d.out.Scan() {
		return duckAnswer{}, fmt.Errorf("duckdb: no answer: %v", d.out.Err())
	}
	var a duckAnswer
	if err := json.Unmarshal(d.out.Bytes(), &a); err != nil {
		return a, fmt.Errorf("duckdb: answer %q: %w", d.out.Text(), err)
	}
	if a.Error != "" {
		return a, fmt.Errorf("duckdb: %s\n%s", a.Error, sql)
	}
	return a, nil
}

// Close ends the process.
func (d *duck) Close() error {
	d.in.Close()
	err := d.cmd.Wait()
	os.Remove(d.script)
	return err
}

// Kinds of question.
const (
	KindLink = "link"
	KindUser = "user"
	KindIP   = "ip"
)

// Scopes.
const (
	ScopeWorkspace = "one workspace"
	ScopeAll       = "all workspaces"
)

// Questions.
const (
	QuestionPage  = "newest 1,000"
	QuestionCount = "count all"
)

// PageSize is the page the first question asks for.
const PageSize = 1000

// Row is the timings of one question over the samples of one kind.
type Row struct {
	Layout   string    `json:"layout"`
	Kind     string    `json:"kind"`
	Scope    string    `json:"scope"`
	Question string    `json:"question"`
	Engine   []float64 `json:"engine_seconds"`
	DuckDB   []float64 `json:"duckdb_seconds"`
	// Matches are the events each query returned (a page) or counted.
	Matches []int64     `json:"matches"`
	Stats   query.Stats `json:"stats"` // summed over the queries
}

// kindSpec says how one kind of question is put to each engine.
type kindSpec struct {
	name    string
	samples []Sample
	filter  func(v string) query.Filter
	where   string
	params  func(v string) []any
}

func kinds(m *Manifest) []kindSpec {
	return []kindSpec{
		{KindLink, m.Links, func(v string) query.Filter { return query.Filter{Link: v} }, "link_id = ?", func(v string) []any { return []any{v} }},
		{KindUser, m.Users, func(v string) query.Filter { return query.Filter{User: v} }, "(actor_email = ? OR actor_visitor_email = ?)", func(v string) []any { return []any{v, v} }},
		{KindIP, m.IPs, func(v string) query.Filter { return query.Filter{IP: v} }, "client_ip = ?", func(v string) []any { return []any{v} }},
	}
}

// sqlString quotes s as an SQL string literal.
func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// glob is the read_parquet path of a scope.
func glob(root, workspace string) string {
	if workspace == "" {
		return filepath.Join(root, "*", "*", "*.parquet")
	}
	return filepath.Join(root, "workspace="+workspace, "*", "*.parquet")
}

// runQueries puts every sampled question to both engines over the layout at
// root, and checks that they agree.
func runQueries(ctx context.Context, root, layout string, m *Manifest, d *duck, scopes []string, progress io.Writer) ([]Row, error) {
	eng := query.New(root)
	var rows []Row
	for _, scope := range scopes {
		for _, k := range kinds(m) {
			page := Row{Layout: layout, Kind: k.name, Scope: scope, Question: QuestionPage}
			count := Row{Layout: layout, Kind: k.name, Scope: scope, Question: QuestionCount}
			for _, s := range k.samples {
				if err := ctx.Err(); err != nil {
					return rows, err
				}
				f := k.filter(s.Value)
				ws := ""
				if scope == ScopeWorkspace {
					f.Workspaces, ws = []string{s.Workspace}, s.Workspace
				} else {
					f.Workspaces = m.Workspaces
				}
				from := fmt.Sprintf("read_parquet(%s, hive_partitioning=true)", sqlString(glob(root, ws)))
				pageSQL := fmt.Sprintf("SELECT * FROM %s WHERE %s ORDER BY time DESC, id DESC LIMIT %d", from, k.where, PageSize)
				countSQL := fmt.Sprintf("SELECT count(DISTINCT id) FROM %s WHERE %s", from, k.where)
				what := fmt.Sprintf("%s %s=%s (%s, %s)", layout, k.name, s.Value, scope, s.Workspace)

				// Newest 1,000: the API's question.
				var ids []string
				var st query.Stats
				var engSec float64
				for warm := range 2 {
					t0 := time.Now()
					p, err := eng.Search(ctx, f, PageSize, nil)
					engSec = time.Since(t0).Seconds()
					if err != nil {
						return rows, fmt.Errorf("%s: engine: %w", what, err)
					}
					if warm == 1 {
						ids, st = eventIDs(p.Events), p.Stats
					}
				}
				var da duckAnswer
				for range 2 {
					var err error
					if da, err = d.query(pageSQL, k.params(s.Value), "ids"); err != nil {
						return rows, fmt.Errorf("%s: %w", what, err)
					}
				}
				if !slices.Equal(ids, da.IDs) {
					return rows, fmt.Errorf("%s: %w on the newest %d: %d vs %d ids, first difference at %d",
						what, errDisagree, PageSize, len(ids), len(da.IDs), firstDiff(ids, da.IDs))
				}
				page.Engine = append(page.Engine, engSec)
				page.DuckDB = append(page.DuckDB, da.Seconds)
				page.Matches = append(page.Matches, int64(len(ids)))
				page.Stats.Add(st)

				// Count all matches.
				var n int64
				for warm := range 2 {
					n = 0
					t0 := time.Now()
					cst, err := eng.Each(ctx, f, nil, func(*sharelog.Event) error { n++; return nil })
					engSec = time.Since(t0).Seconds()
					if err != nil {
						return rows, fmt.Errorf("%s: engine: %w", what, err)
					}
					if warm == 1 {
						st = cst
					}
				}
				for range 2 {
					var err error
					if da, err = d.query(countSQL, k.params(s.Value), "count"); err != nil {
						return rows, fmt.Errorf("%s: %w", what, err)
					}
				}
				if n != da.Count {
					return rows, fmt.Errorf("%s: %w: the engine counts %d events, DuckDB %d", what, errDisagree, n, da.Count)
				}
				if n < int64(len(ids)) || (len(ids) < PageSize && n != int64(len(ids))) {
					return rows, fmt.Errorf("%s: %w: %d events counted but the page holds %d", what, errDisagree, n, len(ids))
				}
				count.Engine = append(count.Engine, engSec)
				count.DuckDB = append(count.DuckDB, da.Seconds)
				count.Matches = append(count.Matches, n)
				count.Stats.Add(st)
			}
			if progress != nil {
				fmt.Fprintf(progress, "archivebench: %s, %s, %s: %d queries, engine p50 %s / %s, DuckDB p50 %s / %s\n",
					layout, scope, k.name, len(k.samples),
					msec(quantile(page.Engine, 0.5)), msec(quantile(count.Engine, 0.5)),
					msec(quantile(page.DuckDB, 0.5)), msec(quantile(count.DuckDB, 0.5)))
			}
			rows = append(rows, page, count)
		}
	}
	return rows, nil
}

func eventIDs(evs []*sharelog.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.ID
	}
	return out
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// quantile is the nearest-rank quantile q of xs (seconds); 0 for none.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func msec(s float64) string {
	ms := s * 1000
	switch {
	case ms >= 100:
		return fmt.Sprintf("%.0f ms", ms)
	case ms >= 10:
		return fmt.Sprintf("%.1f ms", ms)
	default:
		return fmt.Sprintf("%.2f ms", ms)
	}
}

// errDisagree is wrapped by the errors of queries whose answers differ.
var errDisagree = errors.New("the engine and DuckDB disagree")
