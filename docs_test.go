package sharelog_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// TestDocsLinks keeps the documentation whole: every relative link in
// README.md and docs/*.md names a file or folder of the repository, and
// every #anchor a heading of the page it points into (GitHub's anchors).
func TestDocsLinks(t *testing.T) {
	pages, err := filepath.Glob("docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	pages = append([]string{"README.md"}, pages...)
	links := 0
	for _, p := range pages {
		n, problems := checkLinks(p)
		links += n
		for _, pr := range problems {
			t.Error(pr)
		}
	}
	// The README's command table and documentation list alone link to
	// more pages than this; fewer means the link parser lost them.
	if links < 20 {
		t.Errorf("found %d relative links in %d pages; the parser misses links", links, len(pages))
	}
}

// TestDocsLinksCatchesBreakage: the checker reports a missing file, a
// missing heading in another page and in the same page, and ignores links
// in code.
func TestDocsLinksCatchesBreakage(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("docs/b.md", "# Live stream (WebSocket)\n\n## Elasticsearch / OpenSearch\n\n## Elasticsearch / OpenSearch\n")
	write("a.md", strings.Join([]string{
		"# A",
		"## Two commands",
		"[ok](docs/b.md#live-stream-websocket) [ok](docs/b.md#elasticsearch--opensearch-1) [ok](#two-commands) [ok](docs/)",
		"[ok](https://example.com/#nothing) [ok](docs/b.md)",
		"[missing file](docs/c.md) [missing heading](docs/b.md#limits) [missing here](#three-commands)",
		"`[in code](docs/none.md)`",
		"```",
		"[in a block](docs/none.md)",
		"```",
	}, "\n"))
	n, problems := checkLinks(filepath.Join(dir, "a.md"))
	if n != 8 {
		t.Errorf("counted %d links, want 8", n)
	}
	want := []string{"docs/c.md", "docs/b.md#limits", "#three-commands"}
	if len(problems) != len(want) {
		t.Fatalf("problems %q, want one each for %q", problems, want)
	}
	for i, w := range want {
		if !strings.Contains(problems[i], w) {
			t.Errorf("problem %d = %q, want it to name %q", i, problems[i], w)
		}
	}
}

var (
	mdLink     = regexp.MustCompile(`\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	codeSpan   = regexp.MustCompile("`+[^`]*`+")
	mdHeading  = regexp.MustCompile(`^#{1,6}\s+(.*?)\s*#*\s*$`)
	urlSchemed = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)
)

// checkLinks returns how many relative links (and in-page anchors) the
// Markdown file at path holds outside code, and one message per link
// that does not resolve.
func checkLinks(path string) (int, []string) {
	lines, err := proseLines(path)
	if err != nil {
		return 0, []string{err.Error()}
	}
	var problems []string
	n := 0
	for i, line := range lines {
		for _, m := range mdLink.FindAllStringSubmatch(codeSpan.ReplaceAllString(line, ""), -1) {
			target := m[1]
			if urlSchemed.MatchString(target) {
				continue
			}
			n++
			file, anchor, _ := strings.Cut(target, "#")
			dest := path
			if file != "" {
				dest = filepath.Join(filepath.Dir(path), filepath.FromSlash(file))
				if _, err := os.Stat(dest); err != nil {
					problems = append(problems, fmt.Sprintf("%s:%d: link %s: no such file", path, i+1, target))
					continue
				}
			}
			if anchor == "" {
				continue
			}
			if !strings.HasSuffix(dest, ".md") {
				problems = append(problems, fmt.Sprintf("%s:%d: link %s: an anchor into a file that is not Markdown", path, i+1, target))
				continue
			}
			anchors, err := headingAnchors(dest)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s:%d: link %s: %v", path, i+1, target, err))
				continue
			}
			if !anchors[anchor] {
				problems = append(problems, fmt.Sprintf("%s:%d: link %s: %s has no heading with that anchor", path, i+1, target, dest))
			}
		}
	}
	return n, problems
}

// proseLines returns the lines of a Markdown file with the fenced code
// blocks blanked (kept as empty lines, so line numbers stay right).
func proseLines(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(string(b), "\n")
	fence := ""
	for i, l := range lines {
		trimmed := strings.TrimLeft(l, " ")
		switch {
		case fence != "":
			if strings.HasPrefix(trimmed, fence) {
				fence = ""
			}
			lines[i] = ""
		case strings.HasPrefix(trimmed, "```"), strings.HasPrefix(trimmed, "~~~"):
			fence = trimmed[:3]
			lines[i] = ""
		}
	}
	return lines, nil
}

// headingAnchors returns the anchors GitHub gives the headings of a
// Markdown file: lower case, punctuation dropped (letters, digits, '-' and
// '_' stay), spaces to '-', and "-1", "-2", … after repeats.
func headingAnchors(path string) (map[string]bool, error) {
	lines, err := proseLines(path)
	if err != nil {
		return nil, err
	}
	anchors := map[string]bool{}
	seen := map[string]int{}
	for _, l := range lines {
		m := mdHeading.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		var b strings.Builder
		for _, r := range strings.ToLower(m[1]) {
			switch {
			case unicode.IsLetter(r), unicode.IsDigit(r), r == '-', r == '_':
				b.WriteRune(r)
			case r == ' ':
				b.WriteByte('-')
			}
		}
		a := b.String()
		if k := seen[a]; k > 0 {
			anchors[fmt.Sprintf("%s-%d", a, k)] = true
		} else {
			anchors[a] = true
		}
		seen[a]++
	}
	return anchors, nil
}
