package slack

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/sharelog/sharelog"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json")

// goldenMessage is the README's example: the chat.postMessage payload's
// text and blocks of one alert.
func goldenMessage(t *testing.T, ev *sharelog.Event, th thread) []byte {
	t.Helper()
	m := render(ev, th)
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // as people read it; on the wire & is \u0026, the same JSON
	enc.SetIndent("", "  ")
	if err := enc.Encode(struct {
		Channel string        `json:"channel"`
		Text    string        `json:"text"`
		Blocks  []slack.Block `json:"blocks"`
	}{"#security-alerts", m.text, m.blocks}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestRenderGolden(t *testing.T) {
	ev := testAlert("0193a1b2-c3d4-7e5f-8a9b-000000000001", "link:lk_9", 12)
	for _, c := range []struct {
		file string
		th   thread
	}{
		{"message.golden.json", thread{alerts: 1}},
		{"update.golden.json", thread{alerts: 3, first: time.Date(2026, 11, 22, 9, 4, 6, 0, time.UTC)}},
	} {
		got := goldenMessage(t, ev, c.th)
		path := filepath.Join("testdata", c.file)
		if *update {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -run TestRenderGolden -update to write it)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs (go test -run TestRenderGolden -update rewrites it):\n%s", path, got)
		}
		// Slack's own types read it back, blocks and all.
		var m struct {
			Blocks slack.Blocks `json:"blocks"`
		}
		if err := json.Unmarshal(want, &m); err != nil || len(m.Blocks.BlockSet) != 4 {
			t.Errorf("%s: %d blocks (%v)", path, len(m.Blocks.BlockSet), err)
		}
	}
}

func TestRenderMissingGroups(t *testing.T) {
	ev := &sharelog.Event{
		ID:        "a-bare",
		Time:      time.Date(2026, 11, 22, 9, 4, 5, 0, time.FixedZone("CET", 3600)),
		Workspace: sharelog.Workspace{ID: "ws-acme"},
		Actor:     sharelog.Actor{Type: sharelog.ActorUser, Email: "ana@example.com"},
		Action:    sharelog.AlertRaised,
		Result:    sharelog.Success,
		Client:    sharelog.Client{IP: "2001:db8::1", Kind: sharelog.ClientAPI},
		Alert:     &sharelog.Alert{Rule: "mass", Type: "mass_download", Severity: sharelog.SeverityCritical, Subject: "workspace:ws-acme", Count: 40, WindowSeconds: 3600},
	}
	m := render(ev, thread{alerts: 1})
	v := viewOf(t, slack.Blocks{BlockSet: m.blocks})
	for title, want := range map[string]string{
		"Who":      "ana@example.com (user)",
		"File":     "—",
		"Link":     "—",
		"IP":       "2001:db8::1\nlocation unknown",
		"Platform": "unknown\nclient api",
		"Result":   "success",
		"How many": "40 times in 1 h",
		"Since":    "—",
		"Time":     "2026-11-22 08:04:05 UTC",
	} {
		if v.Fields[title] != want {
			t.Errorf("%s = %q, want %q", title, v.Fields[title], want)
		}
	}
	if !strings.Contains(v.Header, "CRITICAL · mass") {
		t.Errorf("header %q", v.Header)
	}
	b, _ := json.Marshal(m.blocks)
	for _, bad := range []string{"<nil>", "%!", "0001-01-01"} {
		if bytes.Contains(b, []byte(bad)) || strings.Contains(m.text, bad) {
			t.Errorf("the message shows %q:\n%s\n%s", bad, m.text, b)
		}
	}
	if m.text != "[CRITICAL] mass: Mass download — ana@example.com from 2001:db8::1" {
		t.Errorf("text %q", m.text)
	}
}

func TestRenderEscapes(t *testing.T) {
	ev := testAlert("a1", "link:lk_9", 3)
	ev.Alert.Summary = "<!channel> look at <https://evil.example|this> & that\nsecond line"
	ev.File.Name = "<@U123> `x`.pdf"
	ev.Reason = "a>b"
	ev.Geo.City = "<b>"
	ev.Link.ID = "lk_`9`"
	m := render(ev, thread{alerts: 1})
	b, _ := json.Marshal(m.blocks)
	var raw []string
	var walk func(any)
	walk = func(x any) {
		switch y := x.(type) {
		case map[string]any:
			for k, v := range y {
				if s, ok := v.(string); ok && k == "text" {
					raw = append(raw, s)
				}
				walk(v)
			}
		case []any:
			for _, v := range y {
				walk(v)
			}
		}
	}
	var tree any
	_ = json.Unmarshal(b, &tree)
	walk(tree)
	raw = append(raw, m.text)
	for _, s := range raw {
		if strings.ContainsAny(s, "<>") && !strings.HasPrefix(s, "🟠") { // the header is plain_text
			t.Errorf("unescaped < or > in %q", s)
		}
	}
	all := strings.Join(raw, "\n")
	for _, want := range []string{"&lt;!channel&gt; look at &lt;https://evil.example|this&gt; &amp; that", "&lt;@U123&gt; `x`.pdf", "denied: a&gt;b", "&lt;b&gt;, Switzerland (CH)", "`lk_'9'`"} {
		if !strings.Contains(all, want) {
			t.Errorf("no %q in\n%s", want, all)
		}
	}
	if strings.Contains(m.text, "\n") {
		t.Errorf("the fallback text is not one line: %q", m.text)
	}
}

func TestRenderBoundsLongValues(t *testing.T) {
	ev := testAlert("a1", "link:lk_9", 3)
	ev.Alert.Summary = strings.Repeat("é", 5000)
	ev.File.Name = strings.Repeat("n", 5000)
	ev.Alert.Rule = strings.Repeat("r", 300)
	m := render(ev, thread{alerts: 1})
	for _, bl := range m.blocks {
		switch x := bl.(type) {
		case *slack.HeaderBlock:
			if len(x.Text.Text) > 150 {
				t.Errorf("header of %d bytes", len(x.Text.Text))
			}
		case *slack.SectionBlock:
			if x.Text != nil && len(x.Text.Text) > 3000 {
				t.Errorf("section of %d bytes", len(x.Text.Text))
			}
			for _, f := range x.Fields {
				if len(f.Text) > 2000 {
					t.Errorf("field of %d bytes", len(f.Text))
				}
			}
		}
	}
	if len(m.text) > 3000 || !strings.HasSuffix(m.text, "…") {
		t.Errorf("text of %d bytes", len(m.text))
	}
}

// The README shows the golden message as it is.
func TestReadmeShowsTheGoldenMessage(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	golden, err := os.ReadFile(filepath.Join("testdata", "message.golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(readme, append([]byte("```json\n"), golden...)) {
		t.Error("README.md does not show testdata/message.golden.json: paste it again")
	}
}
