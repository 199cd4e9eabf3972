package syslog

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sharelog/sharelog"
)

// Syslog severities (RFC 5424 §6.2.1) the sink uses.
const (
	sevCritical = 2
	sevError    = 3
	sevWarning  = 4
	sevNotice   = 5
	sevInfo     = 6
)

// level is an event's importance in each format's scale.
type level struct {
	cef    int // CEF Severity, 0–10
	leef   int // LEEF sev, 1–10
	syslog int // syslog severity, 0 (emergency) – 7 (debug)
}

// The levels, from the highest; README.md has the table.
var (
	levelBlocked        = level{cef: 8, leef: 8, syslog: sevWarning}
	levelPasswordFailed = level{cef: 7, leef: 7, syslog: sevWarning}
	levelRefused        = level{cef: 5, leef: 5, syslog: sevNotice}
	levelAccessChange   = level{cef: 4, leef: 4, syslog: sevNotice}
	levelRoutine        = level{cef: 3, leef: 3, syslog: sevInfo}
)

// levelOf maps an event to its level: blocked access first, then failed
// passwords (by action or by reason), then any other refusal or error, then
// successful changes to who can reach what, then the rest.
func levelOf(ev *sharelog.Event) level {
	if ev.Alert != nil { // an alert.raised event: its own severity
		switch ev.Alert.Severity {
		case sharelog.SeverityCritical:
			return level{cef: 10, leef: 10, syslog: sevCritical}
		case sharelog.SeverityHigh:
			return level{cef: 9, leef: 9, syslog: sevError}
		case sharelog.SeverityMedium:
			return levelBlocked
		}
		return levelRefused
	}
	switch {
	case ev.Action == sharelog.AccessBlocked || ev.Reason == "ip_blocked" || ev.Reason == "domain_restricted":
		return levelBlocked
	case ev.Action == sharelog.LinkPasswordFailed || ev.Reason == "wrong_password":
		return levelPasswordFailed
	case ev.Result == sharelog.Denied || ev.Result == sharelog.Error:
		return levelRefused
	}
	switch ev.Action {
	case sharelog.LinkCreated, sharelog.LinkSettingsChanged, sharelog.LinkRevoked,
		sharelog.FileDeleted, sharelog.MemberInvited, sharelog.MemberRemoved, sharelog.MemberRoleChanged:
		return levelAccessChange
	}
	return levelRoutine
}

// eventName is the CEF Name: the action in words ("link.password_failed":
// "Link password failed"), with the result when it is not success ("Link
// opened (denied)").
func eventName(dst []byte, ev *sharelog.Event) []byte {
	a := string(ev.Action)
	for i := 0; i < len(a); i++ {
		c := a[i]
		switch {
		case i == 0 && c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		case c == '.' || c == '_':
			c = ' '
		}
		dst = append(dst, c)
	}
	if ev.Result != sharelog.Success && ev.Result != "" {
		dst = append(dst, " ("...)
		dst = append(dst, ev.Result...)
		dst = append(dst, ')')
	}
	return dst
}

// family is the part of the action before the dot ("link", "file",
// "member", "access", "retention").
func family(a sharelog.Action) string {
	s, _, _ := strings.Cut(string(a), ".")
	return s
}

// encoder writes one event as an RFC 5424 syslog message with a CEF or LEEF
// body. It is read-only after newEncoder, so safe for concurrent use.
type encoder struct {
	leef     bool
	facility int
	// header is "HOSTNAME APP-NAME - " (PROCID is the nil value).
	header string
	// prefix is "CEF:0|Vendor|Product|Version|" or
	// "LEEF:2.0|Vendor|Product|Version|".
	prefix string
	// delim and delimField are the LEEF delimiter and its header field.
	delim      byte
	delimField string
	maxSize    int // 0: no limit
}

func newEncoder(cfg Config, hostname string) *encoder {
	fac, _ := facilityCode(cfg.Facility)
	e := &encoder{
		leef:     cfg.Format == FormatLEEF,
		facility: fac,
		header:   hostname + " " + cfg.AppName + " - ",
		maxSize:  cfg.MaxMessageSize,
	}
	if e.leef {
		e.prefix = "LEEF:2.0|" + cfg.Vendor + "|" + cfg.Product + "|" + cfg.ProductVersion + "|"
		e.delim, _ = leefDelimiter(cfg.LEEFDelimiter)
		if e.delim == '\t' {
			e.delimField = "x09"
		} else {
			e.delimField = string(e.delim)
		}
	} else {
		e.prefix = "CEF:0|" + cfg.Vendor + "|" + cfg.Product + "|" + cfg.ProductVersion + "|"
	}
	return e
}

// appendMessage appends the syslog message of ev (without framing) and
// reports whether it was cut to the maximum size. The message holds no
// line feed or carriage return.
func (e *encoder) appendMessage(dst []byte, ev *sharelog.Event) ([]byte, bool) {
	start := len(dst)
	lv := levelOf(ev)
	// <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG
	dst = append(dst, '<')
	dst = strconv.AppendInt(dst, int64(e.facility*8+lv.syslog), 10)
	dst = append(dst, ">1 "...)
	if ev.Time.IsZero() {
		dst = append(dst, '-')
	} else {
		dst = ev.Time.UTC().AppendFormat(dst, "2006-01-02T15:04:05.000Z")
	}
	dst = append(dst, ' ')
	dst = append(dst, e.header...)
	dst = appendMsgID(dst, string(ev.Action))
	dst = append(dst, " - "...)
	if e.leef {
		dst = e.appendLEEF(dst, ev, lv)
	} else {
		dst = e.appendCEF(dst, ev, lv)
	}
	if e.maxSize > 0 && len(dst)-start > e.maxSize {
		return dst[:start+cut(dst[start:], e.maxSize, !e.leef)], true
	}
	return dst, false
}

// appendMsgID appends the MSGID: the action, which is printable ASCII of at
// most 32 bytes for every valid action; anything else is replaced by "_"
// and cut at 32, and an empty one is the nil value.
func appendMsgID(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, '-')
	}
	if len(s) > 32 {
		s = s[:32]
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 33 || c > 126 {
			c = '_'
		}
		dst = append(dst, c)
	}
	return dst
}

// cut returns where to cut msg so that it is at most max bytes long: on a
// UTF-8 character boundary and, for CEF (escapes), not after the "\" of an
// escape.
func cut(msg []byte, max int, escapes bool) int {
	n := max
	for n > 0 && msg[n]&0xC0 == 0x80 { // msg[n] starts the part cut away
		n--
	}
	if escapes {
		bs := 0
		for i := n - 1; i >= 0 && msg[i] == '\\'; i-- {
			bs++
		}
		if bs%2 == 1 {
			n--
		}
	}
	return n
}

// CEF

// appendCEF appends "CEF:0|Vendor|Product|Version|SignatureID|Name|Severity|Extension".
// The most useful extension fields come first, so that a message cut to
// the maximum size loses the least.
func (e *encoder) appendCEF(dst []byte, ev *sharelog.Event, lv level) []byte {
	dst = append(dst, e.prefix...)
	dst = appendCEFHeader(dst, string(ev.Action))
	dst = append(dst, '|')
	// The name is made of the action and result, which appendCEFHeader
	// would leave alone anyway: they hold no "|" or "\" for valid events.
	mark := len(dst)
	dst = eventName(dst, ev)
	if name := dst[mark:]; needsCEFHeaderEscape(name) {
		s := string(name)
		dst = appendCEFHeader(dst[:mark], s)
	}
	dst = append(dst, '|')
	dst = strconv.AppendInt(dst, int64(lv.cef), 10)
	dst = append(dst, "|rt="...)
	dst = strconv.AppendInt(dst, ev.Time.UnixMilli(), 10)
	x := cefExt{dst}
	x.str("externalId", ev.ID)
	x.str("cat", family(ev.Action))
	x.str("act", string(ev.Action))
	x.str("outcome", string(ev.Result))
	x.str("reason", ev.Reason)
	x.str("suser", ev.Actor.Name())
	x.str("src", ev.Client.IP)
	if ev.Link != nil {
		x.labelled("cs1", "linkId", ev.Link.ID)
	}
	x.labelled("cs2", "workspaceId", ev.Workspace.ID)
	if f := ev.File; f != nil {
		x.str("fileId", f.ID)
		x.str("fname", f.Name)
		if f.Size != 0 {
			x.dst = append(x.dst, " fsize="...)
			x.dst = strconv.AppendInt(x.dst, f.Size, 10)
		}
		x.str("filePath", f.Path)
	}
	if ev.Session != nil {
		x.labelled("cs3", "linkSessionId", ev.Session.LinkSessionID)
	}
	if g := ev.Geo; g != nil {
		x.labelled("cs4", "sourceCountry", g.CountryCode)
		x.labelled("cs5", "sourceCity", g.City)
	}
	if s := ev.Server; s != nil {
		x.labelled("cs6", "serverRegion", s.Region)
		x.str("deviceExternalId", s.Node)
	}
	x.labelled("flexString1", "clientKind", string(ev.Client.Kind))
	x.labelled("flexString2", "actorType", string(ev.Actor.Type))
	x.str("requestClientApplication", ev.Client.UserAgent)
	return x.dst
}

// cefExt appends " key=value" pairs of a CEF extension.
type cefExt struct{ dst []byte }

// str appends " key=value", value escaped; nothing when value is empty.
func (x *cefExt) str(key, value string) {
	if value == "" {
		return
	}
	x.dst = append(x.dst, ' ')
	x.dst = append(x.dst, key...)
	x.dst = append(x.dst, '=')
	x.dst = appendCEFValue(x.dst, value)
}

// labelled appends " keyLabel=label key=value", the CEF custom field pair;
// nothing when value is empty.
func (x *cefExt) labelled(key, label, value string) {
	if value == "" {
		return
	}
	x.dst = append(x.dst, ' ')
	x.dst = append(x.dst, key...)
	x.dst = append(x.dst, "Label="...)
	x.dst = append(x.dst, label...)
	x.str(key, value)
}

func needsCEFHeaderEscape(b []byte) bool {
	for _, c := range b {
		if c == '|' || c == '\\' || c < 0x20 || c >= 0x7f {
			return true
		}
	}
	return false
}

// appendCEFHeader appends s escaped for a CEF header field: "\" as "\\",
// "|" as "\|"; control characters (line breaks included, which a header
// may not hold) become a space, invalid UTF-8 U+FFFD.
func appendCEFHeader(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '\\' || c == '|':
				dst = append(dst, '\\', c)
			case c < 0x20 || c == 0x7f:
				dst = append(dst, ' ')
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		dst, i = appendRune(dst, s, i)
	}
	return dst
}

// appendCEFValue appends s escaped for a CEF extension value: "\" as "\\",
// "=" as "\=", line feed as "\n", carriage return as "\r"; other control
// characters become a space, invalid UTF-8 U+FFFD. "|" needs no escape in
// the extension.
func appendCEFValue(dst []byte, s string) []byte {
	i := 0
	for i < len(s) && s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\' && s[i] != '=' {
		i++
	}
	dst = append(dst, s[:i]...) // the plain ASCII start, often all of s
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '\\' || c == '=':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c < 0x20 || c == 0x7f:
				dst = append(dst, ' ')
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		dst, i = appendRune(dst, s, i)
	}
	return dst
}

// appendRune appends the non-ASCII character at s[i]: U+FFFD for invalid
// UTF-8, a space for a C1 control character, else as it is. It returns
// the index after it.
func appendRune(dst []byte, s string, i int) ([]byte, int) {
	r, size := utf8.DecodeRuneInString(s[i:])
	switch {
	case r == utf8.RuneError && size == 1:
		dst = append(dst, "\uFFFD"...)
	case r < 0xa0:
		dst = append(dst, ' ')
	default:
		dst = append(dst, s[i:i+size]...)
	}
	return dst, i + size
}

// LEEF

// leefTimeFormat is devTimeFormat (Java SimpleDateFormat) for the devTime
// the sink writes: 2026-11-22T10:00:00.000+0000.
const leefTimeFormat = "yyyy-MM-dd'T'HH:mm:ss.SSSZ"

// appendLEEF appends
// "LEEF:2.0|Vendor|Product|Version|EventID|Delimiter|key=value<delim>…",
// the most useful attributes first.
func (e *encoder) appendLEEF(dst []byte, ev *sharelog.Event, lv level) []byte {
	dst = append(dst, e.prefix...)
	dst = appendLEEFHeader(dst, string(ev.Action))
	dst = append(dst, '|')
	dst = append(dst, e.delimField...)
	dst = append(dst, "|devTime="...)
	dst = ev.Time.UTC().AppendFormat(dst, "2006-01-02T15:04:05.000-0700")
	x := leefAttrs{dst: dst, delim: e.delim}
	x.str("devTimeFormat", leefTimeFormat)
	x.str("cat", string(ev.Result))
	x.dst = append(x.dst, x.delim)
	x.dst = append(x.dst, "sev="...)
	x.dst = strconv.AppendInt(x.dst, int64(lv.leef), 10)
	x.str("eventId", ev.ID)
	x.str("usrName", ev.Actor.Name())
	x.str("src", ev.Client.IP)
	x.str("reason", ev.Reason)
	x.str("actorType", string(ev.Actor.Type))
	if ev.Link != nil {
		x.str("linkId", ev.Link.ID)
	}
	x.str("workspaceId", ev.Workspace.ID)
	x.str("workspaceName", ev.Workspace.Name)
	if f := ev.File; f != nil {
		x.str("fileId", f.ID)
		x.str("fileName", f.Name)
		if f.Size != 0 {
			x.dst = append(x.dst, x.delim)
			x.dst = append(x.dst, "fileSize="...)
			x.dst = strconv.AppendInt(x.dst, f.Size, 10)
		}
		x.str("filePath", f.Path)
	}
	if ev.Session != nil {
		x.str("linkSessionId", ev.Session.LinkSessionID)
	}
	if g := ev.Geo; g != nil {
		x.str("srcCountry", g.CountryCode)
		x.str("srcCity", g.City)
	}
	if s := ev.Server; s != nil {
		x.str("serverRegion", s.Region)
		x.str("serverNode", s.Node)
	}
	x.str("clientKind", string(ev.Client.Kind))
	x.str("userAgent", ev.Client.UserAgent)
	return x.dst
}

// leefAttrs appends "<delim>key=value" attributes of a LEEF event.
type leefAttrs struct {
	dst   []byte
	delim byte
}

// str appends "<delim>key=value"; nothing when value is empty.
func (x *leefAttrs) str(key, value string) {
	if value == "" {
		return
	}
	x.dst = append(x.dst, x.delim)
	x.dst = append(x.dst, key...)
	x.dst = append(x.dst, '=')
	x.dst = appendLEEFValue(x.dst, value, x.delim)
}

// appendLEEFHeader appends s for a LEEF header field. LEEF defines no
// escape, so "|" and control characters become a space (the EventID, an
// action, never holds them).
func appendLEEFHeader(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c == '|' || c < 0x20 || c == 0x7f {
				c = ' '
			}
			dst = append(dst, c)
			i++
			continue
		}
		dst, i = appendRune(dst, s, i)
	}
	return dst
}

// appendLEEFValue appends s as a LEEF attribute value. LEEF defines no
// escape and a value may not hold the delimiter: the delimiter, line breaks
// and other control characters become a space, invalid UTF-8 U+FFFD. "="
// and "|" stay (a parser splits at the first "=").
func appendLEEFValue(dst []byte, s string, delim byte) []byte {
	i := 0
	for i < len(s) && s[i] >= 0x20 && s[i] < 0x7f && s[i] != delim {
		i++
	}
	dst = append(dst, s[:i]...) // the plain ASCII start, often all of s
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if c == delim || c < 0x20 || c == 0x7f {
				c = ' '
			}
			dst = append(dst, c)
			i++
			continue
		}
		dst, i = appendRune(dst, s, i)
	}
	return dst
}
