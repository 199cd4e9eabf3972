package email

import (
	"net/mail"
	"slices"
	"strings"
	"testing"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/internal/eventtest"
)

// FuzzStorable: for every event ingest accepts (see eventtest.Storable),
// the mails the sink composes for it — the link notification when it is a
// success on a link (with the link opted in for its action), and the alert
// of an alert.raised event made from it as the rules make one — are what
// net/mail reads as a message (parse: CRLF only, lines of at most 998
// bytes, 7-bit, a multipart/alternative body of a text and an HTML part,
// quoted-printable) with exactly the headers compose writes, each once, so
// no event string injected one, and a one-line subject. They carry what
// compose promises: X-Sharelog-Event-Ids lists the event's id (the
// alert's, for an alert); the text part ends with that id ("Event ids:",
// "sharelog alert"), an alert lists the event's id as evidence;
// X-Sharelog-Link is a token, the link id itself when it is one; the text
// part names the link by its id in full (when the id is one line without
// spaces around it, which clean would change); and the text part (and an
// alert's HTML part) shows the workspace id in full.
func FuzzStorable(f *testing.F) {
	cfg := &Config{
		SMTP:              SMTP{Address: "smtp.example.com:587", From: "sharelog <sharelog@example.com>"},
		LinkNotifications: []LinkNotification{{Link: "lk_placeholder", To: []string{"Owner <owner@example.com>"}}},
		Alerts:            &Alerts{To: []string{"secops@example.com"}, MinSeverity: sharelog.SeverityLow},
	}
	s := newSink(f, cfg, Deps{})
	owner := s.links["lk_placeholder"][0].addr
	eventtest.Storable(f, func(t *testing.T, ev *sharelog.Event) {
		var batch []*sharelog.Event
		if ev.Result == sharelog.Success && ev.Link != nil {
			// Opt the event's link in for its action.
			s.links = map[string][]linkRcpt{ev.Link.ID: {{addr: owner, actions: map[sharelog.Action]bool{ev.Action: true}}}}
			batch = append(batch, ev)
		}
		alert := eventtest.Raised(ev)
		batch = append(batch, alert)
		msgs := s.plan(batch)
		if len(msgs) != len(batch) {
			t.Fatalf("%d mails planned for %d events", len(msgs), len(batch))
		}
		for _, m := range msgs {
			checkMail(t, m, s.compose(batch, m, testNow), ev, alert)
		}
	})
}

func checkMail(t *testing.T, m *message, data []byte, ev, alert *sharelog.Event) {
	t.Helper()
	p := parse(t, data)
	if t.Failed() {
		t.FailNow()
	}
	want := []string{"Auto-Submitted", "Content-Type", "Date", "From", "Message-Id", "Mime-Version", "Subject", "To", "X-Auto-Response-Suppress", HeaderEventIDs, "X-Sharelog-Kind"}
	if m.link != "" {
		want = append(want, "X-Sharelog-Link")
	}
	var got []string
	for k, vs := range p.Header {
		if len(vs) != 1 {
			t.Fatalf("%s header %d times: %q", k, len(vs), vs)
		}
		got = append(got, k)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("headers %q, want %q", got, want)
	}
	if strings.ContainsAny(p.Subject, "\r\n") {
		t.Fatalf("subject %q", p.Subject)
	}
	if _, err := mail.ParseAddressList(p.Header.Get("To")); err != nil {
		t.Fatalf("To %q: %v", p.Header.Get("To"), err)
	}
	id := ev.ID
	if m.kind == kindAlert {
		id = alert.ID
	}
	if !slices.Equal(p.IDs, []string{id}) {
		t.Fatalf("%s: %s %q, want %s", m.kind, HeaderEventIDs, p.IDs, id)
	}
	if m.link != "" {
		hl := p.Header.Get("X-Sharelog-Link")
		if hl == "" || strings.ContainsFunc(hl, func(r rune) bool { return r <= ' ' || r >= 0x7f || r == ',' }) {
			t.Fatalf("X-Sharelog-Link %q is not a token", hl)
		}
		if !strings.ContainsFunc(m.link, func(r rune) bool { return r <= ' ' || r >= 0x7f || r == ',' }) && hl != m.link {
			t.Fatalf("X-Sharelog-Link %q, want %q", hl, m.link)
		}
	}
	// A link id that is one line without spaces around it is shown as it
	// is: clean leaves it alone.
	showsLink := ev.Link != nil && ev.Link.ID == strings.TrimSpace(ev.Link.ID) && !strings.ContainsAny(ev.Link.ID, "\u2028\u2029")
	switch m.kind {
	case kindLink:
		if showsLink && !strings.HasPrefix(p.Text, "Your share link "+ev.Link.ID+" was used") {
			t.Fatalf("link mail: the text does not name the link %q:\n%s", ev.Link.ID, p.Text)
		}
		if !strings.HasSuffix(p.Text, "Event ids: "+ev.ID+"\n") {
			t.Fatalf("link mail: the text does not end with the event id %s:\n%s", ev.ID, p.Text)
		}
	case kindAlert:
		if !strings.HasSuffix(p.Text, "sharelog alert "+alert.ID+"\n") || !strings.Contains(p.Text, "\n  "+ev.ID+"\n") {
			t.Fatalf("alert mail: the text lacks the alert id %s or the evidence %s:\n%s", alert.ID, ev.ID, p.Text)
		}
		if showsLink && !strings.Contains(p.Text, "\n  link:      "+ev.Link.ID+"\n") {
			t.Fatalf("alert mail: the text does not name the link %q:\n%s", ev.Link.ID, p.Text)
		}
	}
	// The HTML of a link mail has no workspace column.
	ws := ev.Workspace.ID
	if !strings.Contains(p.Text, "workspace: ") || !strings.Contains(p.Text, ws) || m.kind == kindAlert && !strings.Contains(p.HTML, ws) {
		t.Fatalf("%s mail: the workspace id %s is not shown in full:\n%s", m.kind, ws, p.Text)
	}
}
