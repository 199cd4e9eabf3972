package sharelog

import (
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"
)

// Size limits on the raw event's strings, in bytes.
const (
	MaxIDLen        = 64
	MaxRefLen       = 128 // workspace, file, link, API key ids
	MaxNameLen      = 256 // workspace name
	MaxEmailLen     = 320
	MaxFileNameLen  = 1024
	MaxPathLen      = 4096
	MaxUserAgentLen = 2048
	MaxReasonLen    = 64
	MaxSummaryLen   = 256 // the reason of a retention.applied event
	MaxServerLen    = 128
	MaxIPLen        = 64
)

// FieldError says what is wrong with one field of an event. Field is the JSON
// path of the field ("client.ip").
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// FieldErrors is every problem found in one event.
type FieldErrors []*FieldError

func (fe FieldErrors) Error() string {
	parts := make([]string, len(fe))
	for i, e := range fe {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

type checker struct{ errs FieldErrors }

func (c *checker) fail(field, format string, args ...any) {
	c.errs = append(c.errs, &FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// str checks a string's presence, length and characters.
func (c *checker) str(field, v string, required bool, max int) bool {
	switch {
	case v == "":
		if required {
			c.fail(field, "is required")
		}
		return false
	case len(v) > max:
		c.fail(field, "is %d bytes, longer than the limit of %d", len(v), max)
		return false
	}
	switch invalid, control := checkText(v); {
	case invalid:
		c.fail(field, "is not valid UTF-8")
		return false
	case control:
		c.fail(field, "contains a control character")
		return false
	}
	return true
}

// checkText reports whether s is not valid UTF-8, else whether it holds a
// control character; the common all-printable-ASCII string in one pass.
func checkText(s string) (invalid, control bool) {
	for i := 0; i < len(s); i++ {
		if s[i]-0x20 >= 0x7f-0x20 { // not printable ASCII
			if !utf8.ValidString(s[i:]) {
				return true, false
			}
			return false, hasControl(s[i:])
		}
	}
	return false, false
}

// hasControl reports whether the valid UTF-8 string s holds a control
// character: C0 (below U+0020), DEL (U+007F) or C1 (U+0080 to U+009F, in
// UTF-8 the lead byte 0xC2 then 0x80 to 0x9F).
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c == 0xc2 && i+1 < len(s) && s[i+1] < 0xa0 {
			return true
		}
	}
	return false
}

func (c *checker) email(field, v string, required bool) {
	if c.str(field, v, required, MaxEmailLen) {
		at := strings.LastIndexByte(v, '@')
		if at <= 0 || at == len(v)-1 || strings.ContainsAny(v, " ,;<>") {
			c.fail(field, "%q is not an email address", v)
		}
	}
}

// Validate checks a raw event: required fields, the action list, a UTC time,
// a parseable IP, and the size of every string. A retention.applied event
// must have a system actor, result success and a reason: its summary, free
// text of at most MaxSummaryLen bytes. It returns nil or FieldErrors
// naming each wrong field. Enriched groups must be absent: the pipeline sets
// them.
func (e *Event) Validate() error {
	var c checker
	if c.str("id", e.ID, true, MaxIDLen) {
		switch {
		case !isUUID(e.ID) && !isULID(e.ID):
			c.fail("id", "%q is neither a UUID nor a ULID", e.ID)
		case strings.Trim(e.ID, "0-") == "":
			// The id is the idempotency key: an all-zero one would make
			// every event that carries it look like a repeat of the first.
			c.fail("id", "%q is the nil id; every event needs its own", e.ID)
		}
	}
	if e.Time.IsZero() {
		c.fail("time", "is required")
	} else if _, off := e.Time.Zone(); off != 0 {
		c.fail("time", "must be UTC (end in Z), has offset %+d s", off)
	}
	if c.str("workspace.id", e.Workspace.ID, true, MaxRefLen) {
		c.slug("workspace.id", e.Workspace.ID)
		if ws := e.Workspace.ID; ws == "." || strings.Contains(ws, "..") {
			// It names the archive's directory workspace=<id>.
			c.fail("workspace.id", "%q may not be \".\" or hold \"..\"", truncate(ws))
		}
	}
	c.str("workspace.name", e.Workspace.Name, false, MaxNameLen)

	switch e.Actor.Type {
	case ActorUser:
		c.email("actor.email", e.Actor.Email, true)
		if e.Actor.APIKeyID != "" {
			c.fail("actor.api_key_id", "is only given for an api_key actor")
		}
	case ActorAPIKey:
		c.str("actor.api_key_id", e.Actor.APIKeyID, true, MaxRefLen)
	case ActorAnonymous:
		if e.Actor.Email != "" || e.Actor.APIKeyID != "" {
			c.fail("actor", "an anonymous actor has no email or api_key_id")
		}
	case ActorSystem:
		if e.Actor.Email != "" || e.Actor.APIKeyID != "" || e.Actor.VisitorEmail != "" {
			c.fail("actor", "a system actor has no email, api_key_id or visitor_email")
		}
	case "":
		c.fail("actor.type", "is required (user, api_key, anonymous or system)")
	default:
		c.fail("actor.type", "%q is not one of user, api_key, anonymous, system", truncate(string(e.Actor.Type)))
	}
	if e.Action == RetentionApplied && e.Actor.Type != "" && e.Actor.Type != ActorSystem {
		c.fail("actor.type", "must be system for %s", e.Action)
	}
	if e.Actor.Type != ActorUser && e.Actor.Email != "" {
		c.email("actor.email", e.Actor.Email, false)
	}
	c.email("actor.visitor_email", e.Actor.VisitorEmail, false)

	switch {
	case e.Action == "":
		c.fail("action", "is required")
	case !e.Action.Valid():
		c.fail("action", "%q is not a known action", truncate(string(e.Action)))
	case e.Action == AlertRaised:
		c.fail("action", "%s is made by sharelog's detection rules, not sent by producers", e.Action)
	}
	// The reason of a retention.applied event is the run's summary in
	// words ("max_age: 1200 events before 2026-07-25"), not a code.
	summary := e.Action == RetentionApplied
	switch {
	case e.Result == "":
		c.fail("result", "is required (success, denied or error)")
	case !e.Result.Valid():
		c.fail("result", "%q is not one of success, denied, error", truncate(string(e.Result)))
	case summary && e.Result != Success:
		c.fail("result", "must be success for %s", e.Action)
	case summary && e.Reason == "":
		c.fail("reason", "is required for %s (what the run removed)", e.Action)
	case summary:
	case e.Result == Success && e.Reason != "":
		c.fail("reason", "is only given when result is denied or error")
	case e.Result != Success && e.Reason == "":
		c.fail("reason", "is required when result is %s", e.Result)
	}
	if summary {
		c.str("reason", e.Reason, false, MaxSummaryLen)
	} else if c.str("reason", e.Reason, false, MaxReasonLen) {
		c.slug("reason", e.Reason)
	}

	if e.File != nil {
		c.str("file.id", e.File.ID, true, MaxRefLen)
		c.str("file.name", e.File.Name, false, MaxFileNameLen)
		c.str("file.path", e.File.Path, false, MaxPathLen)
		if e.File.Size < 0 {
			c.fail("file.size", "is negative")
		}
	} else if strings.HasPrefix(string(e.Action), "file.") {
		c.fail("file", "is required for %s", e.Action)
	}
	if e.Link != nil {
		c.str("link.id", e.Link.ID, true, MaxRefLen)
	} else if e.Action.NeedsLink() {
		c.fail("link", "is required for %s", e.Action)
	}

	if c.str("client.ip", e.Client.IP, true, MaxIPLen) {
		if a, err := netip.ParseAddr(e.Client.IP); err != nil || a.Zone() != "" {
			c.fail("client.ip", "%q is not an IP address", e.Client.IP)
		}
	}
	c.str("client.user_agent", e.Client.UserAgent, false, MaxUserAgentLen)
	switch e.Client.Kind {
	case ClientBrowser, ClientCLI, ClientSDK, ClientAPI:
	case "":
		c.fail("client.kind", "is required (browser, cli, sdk or api)")
	default:
		c.fail("client.kind", "%q is not one of browser, cli, sdk, api", truncate(string(e.Client.Kind)))
	}
	if e.Server != nil {
		c.str("server.region", e.Server.Region, false, MaxServerLen)
		c.str("server.node", e.Server.Node, false, MaxServerLen)
	}

	for _, g := range [...]struct {
		name string
		set  bool
	}{{"geo", e.Geo != nil}, {"platform", e.Platform != nil}, {"session", e.Session != nil}, {"pipeline", e.Pipeline != nil}, {"alert", e.Alert != nil}} {
		if g.set {
			c.fail(g.name, "is set by the pipeline, not by the producer")
		}
	}
	if len(c.errs) == 0 {
		return nil
	}
	return c.errs
}

// slug checks that v holds only letters, digits, '_', '-', '.' and ':'.
func (c *checker) slug(field, v string) {
	for i := 0; i < len(v); i++ {
		b := v[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '-' || b == '.' || b == ':') {
			c.fail(field, "%q may hold only letters, digits and _ - . :", truncate(v))
			return
		}
	}
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// isUUID reports whether s is a UUID in its canonical 8-4-4-4-12 hex form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		default:
			if !isHex(s[i]) {
				return false
			}
		}
	}
	return true
}

func isHex(b byte) bool { return b >= '0' && b <= '9' || b >= 'a' && b <= 'f' || b >= 'A' && b <= 'F' }

// isULID reports whether s is a ULID: 26 Crockford base32 characters, the
// first at most '7'.
func isULID(s string) bool {
	if len(s) != 26 || s[0] > '7' {
		return false
	}
	for i := 0; i < 26; i++ {
		b := s[i]
		if b >= 'a' && b <= 'z' {
			b -= 'a' - 'A'
		}
		if !(b >= '0' && b <= '9' || b >= 'A' && b <= 'Z') || b == 'I' || b == 'L' || b == 'O' || b == 'U' {
			return false
		}
	}
	return true
}
