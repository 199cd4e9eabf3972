package syslog

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/internal/eventtest"
)

// FuzzStorable: for every event ingest accepts (see eventtest.Storable),
// and every format the sink writes (CEF; LEEF with a tab and with a "^"
// delimiter), the syslog message is one line of valid UTF-8 (no CR, LF or
// NUL that would split or end a frame), an RFC 5424 header and a body that
// a CEF or LEEF reader parses, with no key twice; read back and unescaped,
// it carries the event id (CEF externalId, LEEF eventId) and the workspace
// id (CEF cs2, labelled workspaceId; LEEF workspaceId), and in LEEF the
// workspace name (its delimiters written as spaces, as documented; CEF has
// no field for it).
//
// The same holds when the message is cut at 2048 bytes, the UDP default of
// max_message_size: the id and the workspace come early enough to survive
// it for any valid event. Cut at 480 bytes, the least allowed size, the
// message is a prefix of the whole one, valid UTF-8, no longer than 480
// bytes, and (CEF) does not end in half an escape.
func FuzzStorable(f *testing.F) {
	type format struct {
		name  string
		leef  bool
		delim byte
	}
	var formats []format
	encoders := map[string][3]*encoder{} // whole, cut at 2048, cut at 480
	for _, fm := range []format{{"cef", false, 0}, {"leef-tab", true, '\t'}, {"leef-caret", true, '^'}} {
		var encs [3]*encoder
		for i, max := range []int{0, DefaultUDPMessageSize, MinMessageSize} {
			cfg := testConfig(FormatCEF)
			if fm.leef {
				cfg = testConfig(FormatLEEF)
				cfg.LEEFDelimiter = string(fm.delim)
			}
			cfg.MaxMessageSize = max
			if err := cfg.Validate(); err != nil {
				f.Fatal(err)
			}
			encs[i] = newEncoder(cfg, cfg.Hostname)
		}
		formats = append(formats, fm)
		encoders[fm.name] = encs
	}
	eventtest.Storable(f, func(t *testing.T, ev *sharelog.Event) {
		for _, fm := range formats {
			encs := encoders[fm.name]
			whole, cut := encs[0].appendMessage(nil, ev)
			if cut {
				t.Fatalf("%s: cut without a maximum size", fm.name)
			}
			checkSyslogMessage(t, fm.name, whole, fm.leef, fm.delim, false, ev)
			udp, cut := encs[1].appendMessage(nil, ev)
			if len(udp) > DefaultUDPMessageSize || !bytes.HasPrefix(whole, udp) || cut != (len(whole) > DefaultUDPMessageSize) {
				t.Fatalf("%s: cut at %d: %d bytes (cut %v) of %d", fm.name, DefaultUDPMessageSize, len(udp), cut, len(whole))
			}
			checkSyslogMessage(t, fm.name+" cut at 2048", udp, fm.leef, fm.delim, cut, ev)
			short, cut := encs[2].appendMessage(nil, ev)
			if len(short) > MinMessageSize || !bytes.HasPrefix(whole, short) || cut != (len(whole) > MinMessageSize) || !utf8.Valid(short) {
				t.Fatalf("%s: cut at %d: %d bytes (cut %v) of %d: %q", fm.name, MinMessageSize, len(short), cut, len(whole), short)
			}
			if bs := len(short) - len(bytes.TrimRight(short, `\`)); !fm.leef && bs%2 != 0 {
				t.Fatalf("%s: cut at %d ends in half an escape: %q", fm.name, MinMessageSize, short)
			}
		}
	})
}

// checkSyslogMessage reads msg as a SIEM would and checks that it carries
// ev's id and workspace. A cut message may end in part of a value.
func checkSyslogMessage(t *testing.T, name string, msg []byte, leef bool, delim byte, cut bool, ev *sharelog.Event) {
	t.Helper()
	if bytes.ContainsAny(msg, "\r\n\x00") {
		t.Fatalf("%s: line break or NUL in %q", name, msg)
	}
	if !utf8.Valid(msg) {
		t.Fatalf("%s: invalid UTF-8 in %q", name, msg)
	}
	// <PRI>1 with PRI of one to three digits.
	if gt := bytes.IndexByte(msg, '>'); msg[0] != '<' || gt < 2 || gt > 4 || !bytes.HasPrefix(msg[gt:], []byte(">1 ")) {
		t.Fatalf("%s: not an RFC 5424 header: %q", name, msg)
	}
	body := syslogBody(t, string(msg))
	want := map[string]string{}
	var got map[string]string
	if leef {
		got = readLEEF(t, body, delim, cut)
		want["eventId"] = ev.ID
		want["workspaceId"] = ev.Workspace.ID
		if ev.Workspace.Name != "" {
			want["workspaceName"] = strings.ReplaceAll(ev.Workspace.Name, string(delim), " ")
		}
	} else {
		var header []string
		header, got = parseCEF(t, body)
		if header[0] != "CEF:0" || header[4] != string(ev.Action) {
			t.Fatalf("%s: CEF header %q", name, header)
		}
		want["externalId"] = ev.ID
		want["cs2Label"] = "workspaceId"
		want["cs2"] = ev.Workspace.ID
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%s: %s read back as %q, want %q\nmessage %q", name, k, got[k], v, msg)
		}
	}
}

// readLEEF returns the attributes of a LEEF 2.0 body with delimiter delim,
// checking the header declares it (tab as x09). When cut, the last
// attribute may be partial and is left out.
func readLEEF(t *testing.T, body string, delim byte, cut bool) map[string]string {
	t.Helper()
	parts := strings.SplitN(body, "|", 7)
	if len(parts) != 7 || parts[0] != "LEEF:2.0" {
		t.Fatalf("LEEF header of %q", body)
	}
	if d := parts[5]; !(d == string(delim) || delim == '\t' && d == "x09") {
		t.Fatalf("LEEF delimiter field %q, want %q", d, delim)
	}
	attrs := strings.Split(parts[6], string(delim))
	if cut {
		attrs = attrs[:len(attrs)-1]
	}
	out := map[string]string{}
	for _, a := range attrs {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			t.Fatalf("LEEF attribute %q without = in %q", a, body)
		}
		if _, dup := out[k]; dup {
			t.Fatalf("LEEF key %s twice in %q", k, body)
		}
		out[k] = v
	}
	return out
}
