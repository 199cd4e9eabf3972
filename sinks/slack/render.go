package slack

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/sharelog/sharelog"
)

// TimeLayout is how times are written in messages, always in UTC.
const TimeLayout = "2006-01-02 15:04:05 UTC"

// BlockIDPrefix starts the block id of the last block of every message,
// followed by the id of the alert.raised event the message shows: a Slack
// app (or a test) reading the message knows which alert it is.
const BlockIDPrefix = "sharelog-alert-"

// thread is what a message folding several alerts says about them.
type thread struct {
	alerts int       // alerts shown by this message, this one included
	first  time.Time // when the message was posted
}

// message is one rendered alert: the fallback text (notifications, clients
// without blocks) and the blocks.
type message struct {
	text   string
	blocks []slack.Block
}

// severityEmoji marks the header.
var severityEmoji = map[sharelog.Severity]string{
	sharelog.SeverityLow:      "🔵",
	sharelog.SeverityMedium:   "🟡",
	sharelog.SeverityHigh:     "🟠",
	sharelog.SeverityCritical: "🔴",
}

// Limits of Block Kit, with some room.
const (
	maxHeader  = 150  // plain_text of a header block
	maxField   = 1900 // a section field (2,000)
	maxSection = 2900 // a section text (3,000)
	maxValue   = 300  // any one value from an event
	maxText    = 400  // the fallback text
)

// render makes the message of an alert.raised event. th says how many
// alerts the message stands for (1 for a new message).
func render(ev *sharelog.Event, th thread) message {
	a := ev.Alert
	sev := strings.ToUpper(string(a.Severity))
	if sev == "" {
		sev = "ALERT"
	}
	emoji := severityEmoji[a.Severity]
	if emoji == "" {
		emoji = "⚪"
	}
	header := truncate(fmt.Sprintf("%s %s · %s", emoji, sev, oneLine(a.Rule)), maxHeader)

	var summary strings.Builder
	summary.WriteString("*")
	summary.WriteString(esc(typeWords(a.Type)))
	summary.WriteString("*")
	if a.Summary != "" {
		summary.WriteString(": ")
		summary.WriteString(esc(truncate(a.Summary, maxSection-200)))
	}
	if th.alerts > 1 {
		fmt.Fprintf(&summary, "\n:repeat: *%d alerts* for this rule and subject since %s (this message is updated, not repeated)", th.alerts, th.first.UTC().Format(TimeLayout))
	}

	fields := []*slack.TextBlockObject{
		field("What happened", whatHappened(ev)),
		field("Who", who(ev.Actor)),
		field("File", file(ev.File)),
		field("Link", link(ev.Link)),
		field("IP", ip(ev)),
		field("Platform", platform(ev)),
		field("Result", result(ev)),
		field("How many", howMany(a)),
		field("Since", stamp(a.Since)),
		field("Time", stamp(ev.Time)),
	}

	ctx := []slack.MixedElement{
		mrkdwn("Subject " + code(a.Subject)),
		mrkdwn("Workspace " + workspace(ev.Workspace)),
		mrkdwn("Rule " + code(a.Rule) + " (" + esc(a.Type) + ")"),
		mrkdwn("Alert " + code(ev.ID)),
	}
	blocks := []slack.Block{
		slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, header, true, false)),
		slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, summary.String(), false, false), nil, nil),
		slack.NewSectionBlock(nil, fields, nil),
		slack.NewContextBlock(BlockIDPrefix+ev.ID, ctx...),
	}
	return message{text: fallback(ev, th), blocks: blocks}
}

// fallback is the one-line text of notifications.
func fallback(ev *sharelog.Event, th thread) string {
	a := ev.Alert
	var b strings.Builder
	fmt.Fprintf(&b, "[%s] %s: ", strings.ToUpper(string(a.Severity)), oneLine(a.Rule))
	if a.Summary != "" {
		b.WriteString(oneLine(a.Summary))
	} else {
		b.WriteString(typeWords(a.Type))
	}
	fmt.Fprintf(&b, " — %s from %s", ev.Actor.Name(), oneLine(ev.Client.IP))
	if loc := place(ev.Geo); loc != "" {
		b.WriteString(" (" + loc + ")")
	}
	if th.alerts > 1 {
		fmt.Fprintf(&b, " — %d alerts since %s", th.alerts, th.first.UTC().Format(TimeLayout))
	}
	return esc(truncate(oneLine(b.String()), maxText))
}

func whatHappened(ev *sharelog.Event) string {
	a := ev.Alert
	s := esc(typeWords(a.Type)) + " " + code(a.Type)
	if n := len(a.Evidence); n > 0 {
		s += "\nlast event " + code(a.Evidence[n-1])
		if a.Action != "" {
			s += " " + code(string(a.Action))
		}
		if n > 1 {
			s += fmt.Sprintf(" (%d events of evidence)", n)
		}
	}
	return s
}

func who(a sharelog.Actor) string {
	s := esc(a.Name())
	if a.Type != "" && a.Type != sharelog.ActorSystem && string(a.Type) != a.Name() {
		s += " (" + esc(string(a.Type)) + ")"
	}
	if a.VisitorEmail != "" && a.VisitorEmail != a.Name() {
		s += "\nvisitor email " + esc(a.VisitorEmail)
	}
	return s
}

func file(f *sharelog.File) string {
	if f == nil || f.ID == "" && f.Name == "" {
		return "—"
	}
	name := f.Name
	if name == "" {
		name = "(no name)"
	}
	s := esc(name)
	if f.ID != "" {
		s += "\n" + code(f.ID)
	}
	return s
}

func link(l *sharelog.Link) string {
	if l == nil || l.ID == "" {
		return "—"
	}
	return code(l.ID)
}

func ip(ev *sharelog.Event) string {
	s := esc(ev.Client.IP)
	if s == "" {
		s = "unknown"
	}
	if loc := place(ev.Geo); loc != "" {
		return s + "\n" + esc(loc)
	}
	return s + "\nlocation unknown"
}

// place is "City, Country (CC)", what is known of it, or "".
func place(g *sharelog.Geo) string {
	if g == nil {
		return ""
	}
	var parts []string
	if g.City != "" {
		parts = append(parts, g.City)
	}
	switch {
	case g.CountryName != "" && g.CountryCode != "":
		parts = append(parts, g.CountryName+" ("+g.CountryCode+")")
	case g.CountryName != "":
		parts = append(parts, g.CountryName)
	case g.CountryCode != "":
		parts = append(parts, g.CountryCode)
	}
	return oneLine(strings.Join(parts, ", "))
}

func platform(ev *sharelog.Event) string {
	var parts []string
	if p := ev.Platform; p != nil {
		if os := strings.TrimSpace(p.OSName + " " + p.OSVersion); os != "" {
			parts = append(parts, os)
		}
		if c := strings.TrimSpace(p.ClientName + " " + p.ClientVersion); c != "" {
			parts = append(parts, c)
		}
		if p.DeviceType != "" {
			parts = append(parts, string(p.DeviceType))
		}
	}
	s := esc(strings.Join(parts, " · "))
	if s == "" {
		s = "unknown"
	}
	if ev.Client.Kind != "" {
		s += "\nclient " + esc(string(ev.Client.Kind))
	}
	return s
}

func result(ev *sharelog.Event) string {
	s := esc(string(ev.Result))
	if s == "" {
		s = "—"
	}
	if ev.Reason != "" {
		s += ": " + esc(ev.Reason)
	}
	return s
}

// howMany is "12 times in 5 min", or "12 times" for a rule without a window.
func howMany(a *sharelog.Alert) string {
	s := strconv.Itoa(a.Count) + " times"
	if a.Count == 1 {
		s = "once"
	}
	if a.WindowSeconds > 0 {
		s += " in " + sharelog.HumanDuration(time.Duration(a.WindowSeconds)*time.Second)
	}
	return s
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format(TimeLayout)
}

func workspace(w sharelog.Workspace) string {
	if w.Name != "" && w.Name != w.ID {
		return esc(w.Name) + " " + code(w.ID)
	}
	return code(w.ID)
}

// typeWords is the rule type as people read it: "Password brute force".
func typeWords(t string) string {
	if t == "" {
		return "Alert"
	}
	t = strings.ReplaceAll(t, "_", " ")
	r, n := utf8.DecodeRuneInString(t)
	return strings.ToUpper(string(r)) + t[n:]
}

func field(title, value string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, truncate("*"+title+"*\n"+value, maxField), false, false)
}

func mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
}

// code puts a value from the event in `code`, escaped; "—" when empty.
func code(s string) string {
	s = strings.ReplaceAll(oneLine(truncate(s, maxValue)), "`", "'")
	if s == "" {
		return "—"
	}
	return "`" + esc(s) + "`"
}

// esc escapes the three characters Slack's mrkdwn gives a meaning to
// (&, <, >: links, mentions, entities), so that a value from an event (a
// file name, an email, a reason) shows as written and cannot mention
// @channel or hide a link. It also bounds the value's length.
func esc(s string) string {
	s = truncate(s, maxSection)
	if !strings.ContainsAny(s, "&<>") {
		return s
	}
	return mrkdwnEscaper.Replace(s)
}

var mrkdwnEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// oneLine replaces line breaks and other control characters by spaces.
func oneLine(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if isControl(r) {
			return ' '
		}
		return r
	}, s)
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || r == 0x2028 || r == 0x2029 }

// truncate cuts s to at most n bytes on a rune boundary, ending in "…".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
