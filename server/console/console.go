// Package console is sharelog's web console: a single-page app embedded in
// the binary and served under /console/ by `sharelog api` and `sharelog
// run`. It is a client of the public API only (GET /v1/events, GET
// /v1/links/{id}/activity, POST /v1/stream/tickets, GET /v1/stream), logged
// in with an API token kept in the browser's sessionStorage, so it can show
// nothing the token may not read.
package console

import (
	"embed"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
)

//go:embed assets
var assets embed.FS

// Prefix is the path the console is served under.
const Prefix = "/console/"

// Handler serves the console's files under Prefix. The pages are static;
// every piece of data comes from the API with the user's token.
func Handler() http.Handler {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.StripPrefix(Prefix, http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}

// LogAttr is the console's address as a log attribute of the HTTP server
// listening on addr with handler h (console=http://127.0.0.1:8080/console/),
// so that the start of `sharelog run` says where the console is. An
// unspecified host (0.0.0.0, ::) is written localhost. When h does not serve
// the console, the attribute is empty and slog leaves it out.
func LogAttr(h http.Handler, addr string) slog.Attr {
	mux, ok := h.(*http.ServeMux)
	if !ok {
		return slog.Attr{}
	}
	if _, pattern := mux.Handler(&http.Request{Method: http.MethodGet, URL: &url.URL{Path: Prefix}}); pattern != Prefix {
		return slog.Attr{}
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return slog.Attr{}
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return slog.String("console", "http://"+net.JoinHostPort(host, port)+Prefix)
}
