package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	sharelog "github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/server/api"
	"github.com/sharelog/sharelog/storage/archive"
	"github.com/sharelog/sharelog/storage/query"
)

// listFlag is a flag that may be repeated and takes comma-separated lists.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error {
	*l = append(*l, api.SplitList([]string{s})...)
	return nil
}

// filterFlags are the query's conditions, as flags.
type filterFlags struct {
	workspaces, actions, results  listFlag
	from, to                      string
	user, link, file, ip, country string
}

func (ff *filterFlags) register(fs *flag.FlagSet, all bool) {
	fs.Var(&ff.workspaces, "workspace", "workspace id (repeatable, or comma-separated)")
	fs.StringVar(&ff.from, "from", "", "from this time on: RFC 3339 or YYYY-MM-DD")
	fs.StringVar(&ff.to, "to", "", "before this time (RFC 3339), or up to and including this day (YYYY-MM-DD)")
	fs.StringVar(&ff.link, "link", "", "share link id")
	if !all {
		return
	}
	fs.Var(&ff.actions, "action", "action (link.downloaded, or a family: link.*; repeatable, or comma-separated)")
	fs.Var(&ff.results, "result", "success, denied or error (repeatable, or comma-separated)")
	fs.StringVar(&ff.user, "user", "", "actor or visitor email")
	fs.StringVar(&ff.file, "file", "", "file id")
	fs.StringVar(&ff.ip, "ip", "", "client IP address or CIDR prefix")
	fs.StringVar(&ff.country, "country", "", "two-letter country code")
}

// filter returns the Filter of the flags, validated, over scope.
func (ff *filterFlags) filter(scope []string) (query.Filter, error) {
	f := query.Filter{Workspaces: scope, Actions: ff.actions, User: ff.user, Link: ff.link, File: ff.file, IP: ff.ip, Country: ff.country}
	for _, r := range ff.results {
		f.Results = append(f.Results, sharelog.Result(r))
	}
	var errs []error
	var err error
	if ff.from != "" {
		if f.From, err = api.ParseTimeBound(ff.from, false); err != nil {
			errs = append(errs, fmt.Errorf("--from: %w", err))
		}
	}
	if ff.to != "" {
		if f.To, err = api.ParseTimeBound(ff.to, true); err != nil {
			errs = append(errs, fmt.Errorf("--to: %w", err))
		}
	}
	if len(errs) == 0 && len(scope) > 0 {
		if err := f.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return f, errors.Join(errs...)
}

// queryCmd prints archived events, read from archive.dir directly.
func queryCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sharelog query", flag.ContinueOnError)
	var ff filterFlags
	ff.register(fs, true)
	allWS := fs.Bool("all-workspaces", false, "every workspace in the archive (instead of --workspace)")
	limit := fs.Int("limit", api.DefaultLimit, "at most this many events; 0: all")
	cursor := fs.String("cursor", "", "start after this position (the cursor a previous query printed)")
	format := fs.String("format", "table", "table, json (as GET /v1/events answers), ndjson (one event a line) or csv")
	shapeName := fs.String("shape", "", "CSV shape: access or audit (default: access with --link, else audit)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: sharelog query (--workspace ID[,ID] | --all-workspaces) [filters] [--limit N] [--format table|json|ndjson|csv]\n\nPrints archived events, newest first, reading archive.dir directly.")
		fs.PrintDefaults()
	}
	cfg, _, err := loadConfig(fs, args, stderr)
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("query: unexpected argument %q", fs.Arg(0))
	}
	scope, err := cliScope(cfg.Archive.Dir, ff.workspaces, *allWS)
	if err != nil {
		return err
	}
	f, err := ff.filter(scope)
	if err != nil {
		return err
	}
	if *limit < 0 {
		return errors.New("--limit: must be 0 (all) or more")
	}
	var after *query.Cursor
	if *cursor != "" {
		c, err := query.ParseCursor(*cursor)
		if err != nil {
			return fmt.Errorf("--%w", err)
		}
		after = &c
	}
	shape, err := chooseShape(*shapeName, ff.link)
	if err != nil {
		return err
	}
	if *shapeName != "" && *format != "csv" {
		return errors.New("--shape: applies to --format csv only")
	}
	var out eventPrinter
	bw := bufio.NewWriterSize(stdout, 64<<10)
	switch *format {
	case "table":
		out = newTablePrinter(bw)
	case "json":
		out = &jsonPrinter{w: bw}
	case "ndjson":
		out = &ndjsonPrinter{w: bw}
	case "csv":
		out = &csvPrinter{w: query.NewCSVWriter(bw, shape)}
	default:
		return fmt.Errorf("--format: %q is not table, json, ndjson or csv", *format)
	}

	var (
		n    int
		next *query.Cursor
		st   query.Stats
		last *sharelog.Event
	)
	if len(scope) > 0 {
		st, err = query.New(cfg.Archive.Dir).Each(ctx, f, after, func(ev *sharelog.Event) error {
			if *limit > 0 && n == *limit {
				c := query.CursorOf(last)
				next = &c
				return errLimit
			}
			n++
			last = ev
			return out.event(ev)
		})
		if errors.Is(err, errLimit) {
			err = nil
		}
	}
	if err != nil {
		bw.Flush()
		return err
	}
	if err := out.end(next, st); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if next != nil && *format != "json" {
		fmt.Fprintf(stderr, "more events: add --cursor %s (or raise --limit)\n", next)
	}
	return nil
}

var errLimit = errors.New("limit reached")

// cliScope is the workspaces asked for, or with all every workspace in the
// archive; one of them is required.
func cliScope(root string, asked []string, all bool) ([]string, error) {
	switch {
	case all && len(asked) > 0:
		return nil, errors.New("give --workspace or --all-workspaces, not both")
	case all:
		return archive.Workspaces(root)
	case len(asked) == 0:
		return nil, errors.New("--workspace is required (or --all-workspaces)")
	}
	return asked, nil
}

func chooseShape(name, link string) (query.CSVShape, error) {
	if name == "" {
		if link != "" {
			return query.AccessLog, nil
		}
		return query.AuditLog, nil
	}
	shape, err := query.ParseCSVShape(name)
	if err != nil {
		return "", fmt.Errorf("--shape: %q is not access or audit", name)
	}
	return shape, nil
}

// eventPrinter writes the events of a query in one format.
type eventPrinter interface {
	event(*sharelog.Event) error
	// end finishes the output; next is the cursor of the following page,
	// nil when every event was printed.
	end(next *query.Cursor, st query.Stats) error
}

type tablePrinter struct {
	tw   *tabwriter.Writer
	rows int
}

func newTablePrinter(w io.Writer) *tablePrinter {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tWORKSPACE\tACTION\tRESULT\tACTOR\tLINK\tFILE\tIP\tCOUNTRY")
	return &tablePrinter{tw: tw}
}

func (p *tablePrinter) event(ev *sharelog.Event) error {
	result := string(ev.Result)
	if ev.Reason != "" && ev.Result != sharelog.Success {
		result += ":" + ev.Reason
	}
	actor := ev.Actor.Name()
	if ev.Actor.VisitorEmail != "" && ev.Actor.Email == "" && ev.Actor.APIKeyID == "" {
		actor = "visitor " + ev.Actor.VisitorEmail
	}
	var link, file, country string
	if ev.Link != nil {
		link = ev.Link.ID
	}
	if ev.File != nil {
		file = cmp.Or(ev.File.Name, ev.File.ID)
	}
	if ev.Geo != nil {
		country = ev.Geo.CountryCode
	}
	cells := []string{ev.Time.UTC().Format(query.CSVTimeLayout), ev.Workspace.ID, string(ev.Action), result, actor, link, file, ev.Client.IP, country}
	for i, c := range cells {
		cells[i] = cmp.Or(strings.Map(printable, c), "-")
	}
	if _, err := fmt.Fprintln(p.tw, strings.Join(cells, "\t")); err != nil {
		return err
	}
	// Flush every so often, so that memory stays bounded (the columns
	// may then shift between blocks).
	if p.rows++; p.rows%1000 == 0 {
		return p.tw.Flush()
	}
	return nil
}

// printable keeps a cell on one line and its column.
func printable(r rune) rune {
	if r < ' ' || r == 0x7f {
		return ' '
	}
	return r
}

func (p *tablePrinter) end(*query.Cursor, query.Stats) error { return p.tw.Flush() }

type ndjsonPrinter struct {
	w   *bufio.Writer
	buf []byte
}

func (p *ndjsonPrinter) event(ev *sharelog.Event) error {
	p.buf = append(ev.AppendJSON(p.buf[:0]), '\n')
	_, err := p.w.Write(p.buf)
	return err
}

func (p *ndjsonPrinter) end(*query.Cursor, query.Stats) error { return nil }

// jsonPrinter writes what GET /v1/events answers, streamed.
type jsonPrinter struct {
	w   *bufio.Writer
	n   int
	buf []byte
}

func (p *jsonPrinter) event(ev *sharelog.Event) error {
	p.buf = p.buf[:0]
	if p.n == 0 {
		p.buf = append(p.buf, `{"events":[`...)
	} else {
		p.buf = append(p.buf, ',')
	}
	p.n++
	p.buf = append(p.buf, '\n')
	p.buf = ev.AppendJSON(p.buf)
	_, err := p.w.Write(p.buf)
	return err
}

func (p *jsonPrinter) end(next *query.Cursor, st query.Stats) error {
	if p.n == 0 {
		p.w.WriteString(`{"events":[`)
	}
	p.w.WriteString("\n],\"next_cursor\":")
	if next != nil {
		c, _ := json.Marshal(next.String())
		p.w.Write(c)
	} else {
		p.w.WriteString("null")
	}
	stats, _ := json.Marshal(st)
	p.w.WriteString(`,"stats":`)
	p.w.Write(stats)
	_, err := p.w.WriteString("}\n")
	return err
}

type csvPrinter struct{ w *query.CSVWriter }

func (p *csvPrinter) event(ev *sharelog.Event) error       { return p.w.Write(ev) }
func (p *csvPrinter) end(*query.Cursor, query.Stats) error { return p.w.Flush() }

// exportCmd writes a CSV export: the access log of a link, or the audit log
// of workspaces, over a time range, a day at a time, with a progress bar
// when stderr is a terminal and a summary line in any case.
func exportCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sharelog export", flag.ContinueOnError)
	var ff filterFlags
	ff.register(fs, false)
	shapeName := fs.String("shape", "", "access or audit (default: access with --link, else audit)")
	output := fs.String("o", "", "write to this file (default: standard output)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: sharelog export (--link ID [--workspace ID] | --workspace ID[,ID]) [--from T] [--to T] [--shape access|audit] [-o FILE]\n\nWrites a CSV export of the archive (archive.dir).")
		fs.PrintDefaults()
	}
	cfg, logger, err := loadConfig(fs, args, stderr)
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("export: unexpected argument %q", fs.Arg(0))
	}
	root := cfg.Archive.Dir
	scope := []string(ff.workspaces)
	switch {
	case ff.link == "" && len(scope) == 0:
		return errors.New("export: give --link ID (a link's access log) or --workspace ID (a workspace's audit log)")
	case len(scope) == 0: // a link, in whichever workspace it is
		if scope, err = archive.Workspaces(root); err != nil {
			return err
		}
	}
	f, err := ff.filter(scope)
	if err != nil {
		return err
	}
	shape, err := chooseShape(*shapeName, ff.link)
	if err != nil {
		return err
	}
	days, err := exportDays(root, f)
	if err != nil {
		return err
	}

	var (
		w    io.Writer = stdout
		file *os.File
		dest = "standard output"
	)
	if *output != "" && *output != "-" {
		// Written aside and renamed when complete: no half export under
		// the name asked for.
		file, err = os.CreateTemp(filepath.Dir(*output), "."+filepath.Base(*output)+".*.partial")
		if err != nil {
			return fmt.Errorf("-o: %w", err)
		}
		defer func() {
			if file != nil {
				file.Close()
				os.Remove(file.Name())
			}
		}()
		w, dest = file, *output
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	out := query.NewCSVWriter(bw, shape)
	prog := newProgress(stderr, isTerminal(stderr), len(days))
	engine := query.New(root)
	var st query.Stats
	for i, d := range days {
		df := f
		df.From, df.To = d, d.AddDate(0, 0, 1)
		if f.From.After(df.From) {
			df.From = f.From
		}
		if !f.To.IsZero() && f.To.Before(df.To) {
			df.To = f.To
		}
		s, err := engine.Each(ctx, df, nil, func(ev *sharelog.Event) error {
			if err := out.Write(ev); err != nil {
				return err
			}
			prog.update(i, out.Rows())
			return nil
		})
		st.Add(s)
		if err != nil {
			prog.clear()
			return err
		}
		prog.update(i+1, out.Rows())
	}
	if err := out.Flush(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if file != nil {
		if err := file.Sync(); err != nil {
			return err
		}
		if err := file.Close(); err != nil {
			return err
		}
		if err := os.Rename(file.Name(), *output); err != nil {
			return err
		}
		file = nil
	}
	prog.clear()
	what := fmt.Sprintf("the %s log of %s", shape, strings.Join(ff.workspaces, ", "))
	if len(ff.workspaces) > 3 {
		what = fmt.Sprintf("the %s log of %d workspaces", shape, len(ff.workspaces))
	}
	if ff.link != "" {
		what = fmt.Sprintf("the %s log of link %s", shape, ff.link)
	}
	elapsed := time.Since(prog.start)
	fmt.Fprintf(stderr, "exported %s events (%s, %d days) to %s in %s (%s events/s)\n",
		thousands(out.Rows()), what, len(days), dest, elapsed.Round(time.Millisecond), thousands(int64(float64(out.Rows())/max(elapsed.Seconds(), 1e-3))))
	logger.Debug("export", "rows", out.Rows(), "rows_scanned", st.RowsScanned, "files", st.Files, "duplicates", st.Duplicates)
	return nil
}

// exportDays lists the UTC days that have a partition of the filter's
// workspaces within its range, newest first: the export's steps.
func exportDays(root string, f query.Filter) ([]time.Time, error) {
	seen := map[time.Time]bool{}
	for _, ws := range f.Workspaces {
		parts, err := archive.WorkspacePartitions(root, ws)
		if err != nil {
			return nil, err
		}
		for _, p := range parts {
			if (!f.From.IsZero() && !p.Day.AddDate(0, 0, 1).After(f.From)) || (!f.To.IsZero() && !p.Day.Before(f.To)) {
				continue
			}
			seen[p.Day] = true
		}
	}
	days := make([]time.Time, 0, len(seen))
	for d := range seen {
		days = append(days, d)
	}
	slices.SortFunc(days, func(a, b time.Time) int { return b.Compare(a) })
	return days, nil
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progress draws a one-line progress bar (days done of days total, events
// written, events/s), redrawn at most every 200 ms; it draws nothing when
// off.
type progress struct {
	w     io.Writer
	on    bool
	total int
	days  int // days done, for callers that count them apart
	start time.Time
	drawn time.Time
	now   func() time.Time
}

func newProgress(w io.Writer, on bool, total int) *progress {
	return &progress{w: w, on: on, total: total, start: time.Now(), now: time.Now}
}

func (p *progress) update(days int, rows int64) {
	if !p.on {
		return
	}
	now := p.now()
	if now.Sub(p.drawn) < 200*time.Millisecond && days < p.total {
		return
	}
	p.drawn = now
	const width = 24
	done := width
	if p.total > 0 {
		done = width * days / p.total
	}
	rate := float64(rows) / max(now.Sub(p.start).Seconds(), 1e-3)
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d days  %s events  %s events/s\x1b[K",
		strings.Repeat("#", done), strings.Repeat("-", width-done), days, p.total, thousands(rows), thousands(int64(rate)))
}

// clear removes the bar.
func (p *progress) clear() {
	if p.on && !p.drawn.IsZero() {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}

// thousands writes n with commas between groups of three digits.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// tokenCmd makes a new API token and prints it once, with the lines that
// configure it; sharelog keeps only its SHA-256.
func tokenCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sharelog token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("name", "", "the token's name, shown in logs (e.g. soc-siem, acme-exports)")
	var workspaces listFlag
	fs.Var(&workspaces, "workspace", `workspace id the token may read (repeatable, or comma-separated); "*" for every workspace`)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: sharelog token --name NAME --workspace ID[,ID] | --workspace '*'\n\nMakes a new API token for GET /v1/events and GET /v1/links/{id}/activity, prints it once, and the configuration that accepts it.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("token: unexpected argument %q (quote the * of --workspace '*')", fs.Arg(0))
	}
	token, digest := api.NewToken()
	t := api.Token{Name: *name, Workspaces: workspaces, SHA256: digest}
	check := api.Config{Tokens: []api.Token{t}}
	check.SetDefaults()
	if err := check.Validate(); err != nil {
		return errors.New(strings.NewReplacer("tokens[0].name", "--name", "tokens[0].workspaces", "--workspace").Replace(err.Error()))
	}
	quoted := make([]string, len(workspaces))
	for i, ws := range workspaces {
		quoted[i] = strconv.Quote(ws)
	}
	fmt.Fprintf(stdout, `New API token %q (shown only this once; sharelog keeps only its SHA-256):

    %s

Accept it by adding to the configuration:

api:
  tokens:
    - name: %s
      workspaces: [%s]
      sha256: %s

or this line to api.tokens_file:

%s %s %s

then restart the api role. Use it as: Authorization: Bearer <token>
`, *name, token, *name, strings.Join(quoted, ", "), digest, *name, digest, strings.Join(workspaces, ","))
	return nil
}
