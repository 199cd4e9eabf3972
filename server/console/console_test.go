package console_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/sharelog/sharelog/server/console"
)

// The listening line names the console's URL when the server serves it,
// with localhost for an unspecified host, and nothing otherwise.
func TestLogAttr(t *testing.T) {
	withConsole := http.NewServeMux()
	withConsole.Handle(console.Prefix, console.Handler())
	withoutConsole := http.NewServeMux()
	withoutConsole.HandleFunc("GET /healthz", func(http.ResponseWriter, *http.Request) {})
	for _, c := range []struct {
		h    http.Handler
		addr string
		want string
	}{
		{withConsole, "127.0.0.1:8080", "console=http://127.0.0.1:8080/console/"},
		{withConsole, "0.0.0.0:8080", "console=http://localhost:8080/console/"},
		{withConsole, "[::]:9000", "console=http://localhost:9000/console/"},
		{withConsole, "[2001:db8::1]:443", "console=http://[2001:db8::1]:443/console/"},
		{withoutConsole, "127.0.0.1:8080", ""},
		{console.Handler(), "127.0.0.1:8080", ""}, // not a mux: unknown
	} {
		var out bytes.Buffer
		slog.New(slog.NewTextHandler(&out, nil)).Info("HTTP server listening", "addr", c.addr, console.LogAttr(c.h, c.addr))
		line := strings.TrimSpace(out.String())
		if c.want == "" && strings.Contains(line, "console") || c.want != "" && !strings.HasSuffix(line, " "+c.want) {
			t.Errorf("%s: %q, want the attribute %q", c.addr, line, c.want)
		}
	}
}
