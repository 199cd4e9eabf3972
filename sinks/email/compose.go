package email

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/textproto"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/sharelog/sharelog"
)

// HeaderEventIDs is the header listing the ids of the events a mail reports,
// comma-separated (folded over several lines when long).
const HeaderEventIDs = "X-Sharelog-Event-Ids"

// timeLayout shows event times, always in UTC.
const timeLayout = "2006-01-02 15:04:05 UTC"

// eventView is one event as the mails show it.
type eventView struct {
	ID        string
	Time      string
	Action    string
	Result    string
	Who       string
	IP        string
	Location  string
	Platform  string
	File      string
	Path      string
	Workspace string
	Link      string
}

func viewEvent(ev *sharelog.Event, short bool) eventView {
	v := eventView{
		ID:     clean(ev.ID, 100),
		Time:   ev.Time.UTC().Format(timeLayout),
		Action: string(ev.Action),
		Result: string(ev.Result),
		Who:    clean(ev.Actor.Name(), 200),
		IP:     clean(ev.Client.IP, 64),
	}
	if short {
		v.Action = strings.TrimPrefix(v.Action, "link.")
	}
	if ev.Result != sharelog.Success && ev.Reason != "" {
		v.Result += " (" + clean(ev.Reason, 100) + ")"
	}
	if ev.Actor.Type == sharelog.ActorAnonymous && ev.Actor.VisitorEmail != "" {
		v.Who += " (visitor)"
	}
	if ev.Actor.Type == sharelog.ActorAPIKey && ev.Actor.Email == "" {
		v.Who = "API key " + v.Who
	}
	if g := ev.Geo; g != nil {
		var parts []string
		for _, p := range []string{g.City, g.Subdivision, g.CountryName} {
			if p != "" && !slices.Contains(parts, p) {
				parts = append(parts, p)
			}
		}
		if len(parts) == 0 && g.CountryCode != "" {
			parts = append(parts, g.CountryCode)
		}
		v.Location = clean(strings.Join(parts, ", "), 200)
	}
	if p := ev.Platform; p != nil {
		client := strings.TrimSpace(p.ClientName + " " + p.ClientVersion)
		os := strings.TrimSpace(p.OSName + " " + p.OSVersion)
		s := client
		if os != "" {
			if s != "" {
				s += " on "
			}
			s += os
		}
		if p.DeviceType != "" {
			if s != "" {
				s += " (" + string(p.DeviceType) + ")"
			} else {
				s = string(p.DeviceType)
			}
		}
		v.Platform = clean(s, 200)
	}
	if v.Platform == "" && ev.Client.UserAgent != "" {
		v.Platform = clean(ev.Client.UserAgent, 120)
	}
	if f := ev.File; f != nil {
		v.File = clean(f.Name, 200)
		if v.File == "" {
			v.File = clean(f.ID, 100)
		}
		v.Path = clean(f.Path, 300)
	}
	// Ids are shown whole: validation bounds them (MaxRefLen).
	v.Workspace = clean(ev.Workspace.ID, sharelog.MaxRefLen)
	if ev.Workspace.Name != "" {
		v.Workspace = clean(ev.Workspace.Name, 100) + " (" + v.Workspace + ")"
	}
	if ev.Link != nil {
		v.Link = clean(ev.Link.ID, sharelog.MaxRefLen)
	}
	return v
}

// clean makes s one printable line of at most max runes: control characters
// (line breaks: no header or layout injection) become spaces, invalid UTF-8
// is replaced, and a longer text is cut with "…".
func clean(s string, max int) string {
	var b strings.Builder
	n := 0
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		if n == max {
			b.WriteString("…")
			break
		}
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			r = ' '
		}
		b.WriteRune(r)
		n++
	}
	return strings.TrimSpace(b.String())
}

// token makes s safe for a structured header: printable ASCII without
// spaces or commas.
func token(s string) string {
	return strings.Map(func(r rune) rune {
		if r <= ' ' || r >= 0x7f || r == ',' {
			return '_'
		}
		return r
	}, s)
}

// linkSubject is the subject of a link notification:
// `[sharelog] "Q4 report.pdf" downloaded 3 times via link lk_9`.
func (s *Sink) linkSubject(views []eventView, link string) string {
	var files []string
	for _, v := range views {
		if v.File != "" && !slices.Contains(files, v.File) {
			files = append(files, v.File)
		}
	}
	var what string
	switch len(files) {
	case 0:
	case 1:
		what = fmt.Sprintf("%q ", clean(files[0], 80))
	default:
		what = fmt.Sprintf("%q and %d other files ", clean(files[0], 60), len(files)-1)
	}
	var order []string
	count := map[string]int{}
	for _, v := range views {
		if count[v.Action] == 0 {
			order = append(order, v.Action)
		}
		count[v.Action]++
	}
	acts := make([]string, len(order))
	for i, a := range order {
		acts[i] = a + " " + times(count[a])
	}
	if what == "" {
		return fmt.Sprintf("%s link %s %s", s.cfg.SubjectPrefix, clean(link, 60), strings.Join(acts, ", "))
	}
	return fmt.Sprintf("%s %s%s via link %s", s.cfg.SubjectPrefix, what, strings.Join(acts, ", "), clean(link, 60))
}

func times(n int) string {
	if n == 1 {
		return "once"
	}
	return fmt.Sprintf("%d times", n)
}

// alertSubject is `[sharelog][high] password brute force on link lk_9`.
func (s *Sink) alertSubject(a *sharelog.Alert) string {
	return fmt.Sprintf("%s[%s] %s on %s", s.cfg.SubjectPrefix, clean(string(a.Severity), 20), alertWhat(a), alertOn(a))
}

func alertWhat(a *sharelog.Alert) string {
	what := a.Type
	if what == "" {
		what = a.Rule
	}
	return clean(strings.ReplaceAll(what, "_", " "), 80)
}

func alertOn(a *sharelog.Alert) string {
	kind, value, ok := strings.Cut(a.Subject, ":")
	if !ok {
		return clean(a.Subject, 100)
	}
	return clean(kind+" "+value, 100)
}

// compose renders the whole mail m: headers and a multipart/alternative
// body, with CRLF line ends.
func (s *Sink) compose(batch []*sharelog.Event, m *message, date time.Time) []byte {
	var text, html bytes.Buffer
	var subject string
	switch m.kind {
	case kindAlert:
		ev := batch[m.events[0]]
		subject = s.alertSubject(ev.Alert)
		s.alertBodies(&text, &html, ev)
	default:
		views := make([]eventView, len(m.events))
		for i, idx := range m.events {
			views[i] = viewEvent(batch[idx], true)
		}
		subject = s.linkSubject(views, m.link)
		s.linkBodies(&text, &html, views, m)
	}

	var buf bytes.Buffer
	buf.Grow(text.Len()*2 + html.Len()*2 + 1024)
	mw := multipart.NewWriter(&buf)
	to := make([]string, len(m.to))
	for i, a := range m.to {
		to[i] = a.String()
	}
	header(&buf, "From", s.fromHdr)
	header(&buf, "To", strings.Join(to, ", "))
	header(&buf, "Subject", mime.QEncoding.Encode("utf-8", subject))
	header(&buf, "Date", date.Format(time.RFC1123Z))
	header(&buf, "Message-ID", s.messageID(m))
	header(&buf, "MIME-Version", "1.0")
	header(&buf, "Auto-Submitted", "auto-generated")
	header(&buf, "X-Auto-Response-Suppress", "All")
	header(&buf, "X-Sharelog-Kind", m.kind)
	if m.link != "" {
		header(&buf, "X-Sharelog-Link", token(m.link))
	}
	ids := make([]string, len(m.ids))
	for i, id := range m.ids {
		ids[i] = token(id)
	}
	header(&buf, HeaderEventIDs, strings.Join(ids, ", "))
	header(&buf, "Content-Type", `multipart/alternative; boundary="`+mw.Boundary()+`"`)
	buf.WriteString("\r\n")
	part(mw, "text/plain; charset=utf-8", text.Bytes())
	part(mw, "text/html; charset=utf-8", html.Bytes())
	mw.Close()
	return buf.Bytes()
}

// messageID is derived from the mail's kind, recipients and events: the
// same mail sent again has the same id.
func (s *Sink) messageID(m *message) string {
	h := sha256.New()
	h.Write([]byte(m.kind))
	for _, r := range m.rcpts {
		h.Write([]byte{0})
		h.Write([]byte(strings.ToLower(r)))
	}
	for _, id := range m.ids {
		h.Write([]byte{1})
		h.Write([]byte(id))
	}
	return "<" + hex.EncodeToString(h.Sum(nil)[:16]) + "@" + token(s.domain) + ">"
}

// header writes "Name: value", folded at spaces to lines of about 78
// characters.
func header(buf *bytes.Buffer, name, value string) {
	buf.WriteString(name)
	buf.WriteString(":")
	n := len(name) + 1
	for i, w := range strings.Split(value, " ") {
		if i > 0 && n+1+len(w) > 78 {
			buf.WriteString("\r\n")
			n = 0
		}
		buf.WriteByte(' ')
		buf.WriteString(w)
		n += 1 + len(w)
	}
	buf.WriteString("\r\n")
}

// part writes one quoted-printable part.
func part(mw *multipart.Writer, contentType string, body []byte) {
	pw, _ := mw.CreatePart(textproto.MIMEHeader{
		"Content-Type":              {contentType},
		"Content-Transfer-Encoding": {"quoted-printable"},
	})
	qp := quotedprintable.NewWriter(pw)
	qp.Write(body)
	qp.Close()
}

// label pads a plain-text label.
func label(b *bytes.Buffer, indent, name, value string) {
	if value == "" {
		return
	}
	fmt.Fprintf(b, "%s%-10s %s\n", indent, name+":", value)
}

func (s *Sink) linkBodies(text, html *bytes.Buffer, views []eventView, m *message) {
	link := clean(m.link, sharelog.MaxRefLen)
	ids := make([]string, len(m.ids))
	for i, id := range m.ids {
		ids[i] = token(id)
	}
	fmt.Fprintf(text, "Your share link %s was used %s.\n\n", link, times(len(views)))
	for _, v := range views {
		fmt.Fprintf(text, "%s  %s\n", v.Time, v.Action)
		label(text, "  ", "by", v.Who)
		from := v.IP
		if v.Location != "" {
			from += ", " + v.Location
		}
		label(text, "  ", "from", from)
		label(text, "  ", "platform", v.Platform)
		file := v.File
		if v.Path != "" && v.Path != v.File {
			file += " (" + v.Path + ")"
		}
		label(text, "  ", "file", file)
		label(text, "  ", "workspace", v.Workspace)
		text.WriteString("\n")
	}
	fmt.Fprintf(text, "-- \nsharelog mails you because notifications are on for link %s.\nEvent ids: %s\n", link, strings.Join(ids, ", "))
	linkHTML.Execute(html, struct {
		Link   string
		Count  string
		Events []eventView
		IDs    string
	}{link, times(len(views)), views, strings.Join(ids, ", ")})
}

func (s *Sink) alertBodies(text, html *bytes.Buffer, ev *sharelog.Event) {
	a := ev.Alert
	v := viewEvent(ev, false)
	if a.Action != "" {
		v.Action = string(a.Action) // the event that raised it, not alert.raised
	}
	evidence := make([]string, len(a.Evidence))
	for i, id := range a.Evidence {
		evidence[i] = clean(id, 100)
	}
	d := alertData{
		Title:    fmt.Sprintf("[%s] %s on %s", clean(string(a.Severity), 20), alertWhat(a), alertOn(a)),
		Summary:  clean(a.Summary, 1000),
		Rule:     clean(a.Rule, 100),
		Type:     clean(a.Type, 100),
		Severity: clean(string(a.Severity), 20),
		Subject:  clean(a.Subject, 200),
		Count:    fmt.Sprintf("%d", a.Count),
		Raised:   v.Time,
		Event:    v,
		Evidence: evidence,
		ID:       v.ID,
	}
	if a.WindowSeconds > 0 {
		d.Count += " events within " + (time.Duration(a.WindowSeconds) * time.Second).String()
	} else {
		d.Count += " events"
	}
	if !a.Since.IsZero() {
		d.Count += ", since " + a.Since.UTC().Format(timeLayout)
	}
	fmt.Fprintf(text, "%s\n\n", d.Title)
	if d.Summary != "" {
		fmt.Fprintf(text, "%s\n\n", d.Summary)
	}
	rule := d.Rule
	if d.Type != "" && d.Type != d.Rule {
		rule += " (" + d.Type + ")"
	}
	label(text, "", "Rule", rule)
	label(text, "", "Severity", d.Severity)
	label(text, "", "Subject", d.Subject)
	label(text, "", "Count", d.Count)
	label(text, "", "Raised", d.Raised)
	text.WriteString("\nLast event counted:\n")
	label(text, "  ", "by", v.Who)
	from := v.IP
	if v.Location != "" {
		from += ", " + v.Location
	}
	label(text, "  ", "from", from)
	label(text, "  ", "platform", v.Platform)
	file := v.File
	if v.Path != "" && v.Path != v.File {
		file += " (" + v.Path + ")"
	}
	label(text, "  ", "file", file)
	label(text, "  ", "link", v.Link)
	label(text, "  ", "workspace", v.Workspace)
	if len(evidence) > 0 {
		text.WriteString("\nEvidence (event ids, oldest first):\n")
		for _, id := range evidence {
			fmt.Fprintf(text, "  %s\n", id)
		}
	}
	fmt.Fprintf(text, "-- \nsharelog alert %s\n", d.ID)
	alertHTML.Execute(html, d)
}

type alertData struct {
	Title, Summary, Rule, Type, Severity, Subject, Count, Raised string
	Event                                                        eventView
	Evidence                                                     []string
	ID                                                           string
}

var linkHTML = template.Must(template.New("link").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Link {{.Link}}</title></head>
<body style="font-family: sans-serif; font-size: 14px">
<p>Your share link <b>{{.Link}}</b> was used {{.Count}}.</p>
<table cellpadding="4" cellspacing="0" border="1" style="border-collapse: collapse">
<tr><th>Time (UTC)</th><th>Action</th><th>Who</th><th>IP</th><th>Location</th><th>Platform</th><th>File</th></tr>
{{range .Events}}<tr><td>{{.Time}}</td><td>{{.Action}}</td><td>{{.Who}}</td><td>{{.IP}}</td><td>{{.Location}}</td><td>{{.Platform}}</td><td>{{.File}}{{if .Path}}<br><small>{{.Path}}</small>{{end}}</td></tr>
{{end}}</table>
<p style="color: #666; font-size: 12px">sharelog mails you because notifications are on for link {{.Link}}.<br>Event ids: {{.IDs}}</p>
</body></html>
`))

var alertHTML = template.Must(template.New("alert").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Title}}</title></head>
<body style="font-family: sans-serif; font-size: 14px">
<h2>{{.Title}}</h2>
{{if .Summary}}<p>{{.Summary}}</p>{{end}}
<table cellpadding="4" cellspacing="0">
<tr><th align="left">Rule</th><td>{{.Rule}}{{if and .Type (ne .Type .Rule)}} ({{.Type}}){{end}}</td></tr>
<tr><th align="left">Severity</th><td>{{.Severity}}</td></tr>
<tr><th align="left">Subject</th><td>{{.Subject}}</td></tr>
<tr><th align="left">Count</th><td>{{.Count}}</td></tr>
<tr><th align="left">Raised</th><td>{{.Raised}}</td></tr>
</table>
<h3>Last event counted</h3>
<table cellpadding="4" cellspacing="0">
<tr><th align="left">Who</th><td>{{.Event.Who}}</td></tr>
<tr><th align="left">IP</th><td>{{.Event.IP}}{{if .Event.Location}}, {{.Event.Location}}{{end}}</td></tr>
{{if .Event.Platform}}<tr><th align="left">Platform</th><td>{{.Event.Platform}}</td></tr>{{end}}
{{if .Event.File}}<tr><th align="left">File</th><td>{{.Event.File}}{{if .Event.Path}} ({{.Event.Path}}){{end}}</td></tr>{{end}}
{{if .Event.Link}}<tr><th align="left">Link</th><td>{{.Event.Link}}</td></tr>{{end}}
<tr><th align="left">Workspace</th><td>{{.Event.Workspace}}</td></tr>
</table>
{{if .Evidence}}<h3>Evidence (event ids, oldest first)</h3>
<ul>{{range .Evidence}}<li><code>{{.}}</code></li>{{end}}</ul>{{end}}
<p style="color: #666; font-size: 12px">sharelog alert {{.ID}}</p>
</body></html>
`))
