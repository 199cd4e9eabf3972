package api

import (
	"strings"
	"testing"
)

// FuzzParseEvents: any query string either is refused with an error naming
// a parameter, or gives a request whose filter the engine accepts.
func FuzzParseEvents(f *testing.F) {
	for _, s := range []string{
		"", "workspace=ws-a&from=2026-11-01&to=2026-11-30&action=link.*,file.uploaded&result=denied",
		"ip=203.0.113.0/24&country=de&limit=50&format=csv&shape=access", "cursor=c1.abc.YWJj", "limit=10001",
		"user=a@b.example&user=c@d.example", "%zz", "format=json&shape=audit", "link=%00&file=%ff",
	} {
		f.Add(s, "")
		f.Add(s, "text/csv;q=0.5, application/json")
	}
	f.Fuzz(func(t *testing.T, raw, accept string) {
		req, err := parseEvents(raw, accept)
		if err != nil {
			if strings.TrimSpace(err.Error()) == "" {
				t.Fatal("empty error")
			}
			return
		}
		if err := checkFilter(req.filter); err != nil {
			t.Fatalf("accepted a filter the engine refuses: %v", err)
		}
		if req.limit < 1 || req.limit > 10000 || (req.format != formatJSON && req.format != formatCSV) || req.shape.Header() == nil {
			t.Fatalf("accepted %+v", req)
		}
	})
}

// FuzzParseTokensFile: no input panics; what parses has three fields a line.
func FuzzParseTokensFile(f *testing.F) {
	f.Add([]byte("# c\nsoc 8b4b1c25639f8332b17185cf8aa9b0b92f55b459c4b28d0c9efb2b8391d77695 *\n"))
	f.Add([]byte("a b c d\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tokens, lines, err := ParseTokensFile(data)
		if err == nil && len(tokens) != len(lines) {
			t.Fatal("tokens and lines differ")
		}
		_ = validateTokens(tokens, func(int) string { return "t" })
	})
}
