package slack

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/sharelog/sharelog"
	"github.com/sharelog/sharelog/internal/eventtest"
)

// FuzzStorable: for every event ingest accepts (see eventtest.Storable),
// the message of an alert.raised event made from it as the rules make one
// (its who, what and where copied, the event as the last evidence, a
// summary quoting its strings), new or folding three alerts:
//
//   - marshals to the chat.postMessage JSON (text, blocks, metadata), and
//     Slack's own types read the blocks back;
//   - shows no event string as markup: every mrkdwn text and the fallback
//     text hold no "<" or ">" (so no <!channel>, <@U…> or <url|label>) and
//     no "&" that does not start &amp; &lt; or &gt; (or a part of one cut
//     just before the "…" of a length bound); the fallback text is one line;
//   - keeps within Block Kit's limits (header 150, section 3,000, field
//     2,000 bytes, at most 10 fields);
//   - carries the alert's id (the last block's id, the "Alert" context and
//     the metadata), the event's id (as the last evidence), and the
//     workspace (the "Workspace" context, name and id as they were once the
//     mrkdwn escapes are read; the id in the metadata).
//
// Other events are not rendered: Write accepts them without posting.
func FuzzStorable(f *testing.F) {
	eventtest.Storable(f, func(t *testing.T, ev *sharelog.Event) {
		alert := eventtest.Raised(ev)
		for _, th := range []thread{{alerts: 1}, {alerts: 3, first: ev.Time.Add(-time.Minute)}} {
			checkRendered(t, alert, ev.ID, render(alert, th))
		}
	})
}

var unescapeMrkdwn = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">")

func checkRendered(t *testing.T, alert *sharelog.Event, eventID string, m message) {
	t.Helper()
	payload, err := json.Marshal(struct {
		Text     string              `json:"text"`
		Blocks   []slack.Block       `json:"blocks"`
		Metadata slack.SlackMetadata `json:"metadata"`
	}{m.text, m.blocks, metadata(alert)})
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	var back struct {
		Text     string              `json:"text"`
		Blocks   slack.Blocks        `json:"blocks"`
		Metadata slack.SlackMetadata `json:"metadata"`
	}
	if err := json.Unmarshal(payload, &back); err != nil || len(back.Blocks.BlockSet) != len(m.blocks) {
		t.Fatalf("Slack's types read back %d of %d blocks: %v\n%s", len(back.Blocks.BlockSet), len(m.blocks), err, payload)
	}
	if p := back.Metadata.EventPayload; p["alert_id"] != alert.ID || p["workspace_id"] != alert.Workspace.ID {
		t.Fatalf("metadata %v", p)
	}
	if strings.ContainsAny(back.Text, "\r\n") {
		t.Fatalf("the fallback text is not one line: %q", back.Text)
	}
	checkEscaped(t, "text", back.Text)

	var contexts []string
	var blockID, happened string
	for _, bl := range back.Blocks.BlockSet {
		switch b := bl.(type) {
		case *slack.HeaderBlock:
			if len(b.Text.Text) > 150 || strings.ContainsAny(b.Text.Text, "\r\n") {
				t.Fatalf("header %q", b.Text.Text)
			}
		case *slack.SectionBlock:
			if b.Text != nil {
				if len(b.Text.Text) > 3000 {
					t.Fatalf("section of %d bytes", len(b.Text.Text))
				}
				checkEscaped(t, "section", b.Text.Text)
			}
			if len(b.Fields) > 10 {
				t.Fatalf("%d fields", len(b.Fields))
			}
			for _, fl := range b.Fields {
				if len(fl.Text) > 2000 {
					t.Fatalf("field of %d bytes", len(fl.Text))
				}
				checkEscaped(t, "field", fl.Text)
				if strings.HasPrefix(fl.Text, "*What happened*\n") {
					happened = fl.Text
				}
			}
		case *slack.ContextBlock:
			blockID = b.BlockID
			for _, el := range b.ContextElements.Elements {
				tx, ok := el.(*slack.TextBlockObject)
				if !ok || tx.Type != slack.MarkdownType {
					t.Fatalf("context element %#v", el)
				}
				if len(tx.Text) > 3000 {
					t.Fatalf("context element of %d bytes", len(tx.Text))
				}
				checkEscaped(t, "context", tx.Text)
				contexts = append(contexts, tx.Text)
			}
		default:
			t.Fatalf("block %T", bl)
		}
	}
	if blockID != BlockIDPrefix+alert.ID {
		t.Fatalf("block id %q, want the alert's id %q", blockID, alert.ID)
	}
	if !strings.Contains(happened, "last event `"+eventID+"`") {
		t.Fatalf("the event id %s is not the last evidence in %q", eventID, happened)
	}
	ws := alert.Workspace
	wantWS := "Workspace `" + ws.ID + "`"
	if ws.Name != "" && ws.Name != ws.ID {
		wantWS = "Workspace " + ws.Name + " `" + ws.ID + "`"
	}
	var gotWS, gotAlert bool
	for _, c := range contexts {
		gotWS = gotWS || unescapeMrkdwn.Replace(c) == wantWS
		gotAlert = gotAlert || c == "Alert `"+alert.ID+"`"
	}
	if !gotWS || !gotAlert {
		t.Fatalf("context %q lacks %q or the alert id %s", contexts, wantWS, alert.ID)
	}
}

// checkEscaped fails unless s is mrkdwn in which no markup comes from the
// event: no < or >, and each & starts an entity (or the part of one that a
// length bound left before its "…").
func checkEscaped(t *testing.T, what, s string) {
	t.Helper()
	if strings.ContainsAny(s, "<>") {
		t.Fatalf("%s: unescaped < or > in %q", what, s)
	}
	for i := strings.IndexByte(s, '&'); i >= 0; i = next(s, i) {
		rest := s[i:]
		ok := false
		for _, ent := range []string{"&amp;", "&lt;", "&gt;"} {
			if strings.HasPrefix(rest, ent) {
				ok = true
			}
			for n := 1; n < len(ent); n++ {
				if strings.HasPrefix(rest, ent[:n]+"…") {
					ok = true
				}
			}
		}
		if !ok {
			t.Fatalf("%s: a bare & at %d in %q", what, i, s)
		}
	}
}

func next(s string, i int) int {
	j := strings.IndexByte(s[i+1:], '&')
	if j < 0 {
		return -1
	}
	return i + 1 + j
}
