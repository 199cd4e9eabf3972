package api

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/sharelog/sharelog/internal/openapitest"
	"github.com/sharelog/sharelog/server/stream"
)

// validated wraps a test server's handler so that every request the test
// makes, and every answer, must match OpenAPI (see internal/openapitest).
func validated(t testing.TB, h http.Handler) http.Handler {
	t.Helper()
	return openapitest.ForTest(t, OpenAPI).Handler(h)
}

// TestOpenAPIDocsCopy: docs/openapi.yaml is the served document, byte for
// byte (edit server/api/openapi.yaml, then copy it there).
func TestOpenAPIDocsCopy(t *testing.T) {
	docs, err := os.ReadFile("../../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(docs, OpenAPI) {
		t.Fatal("docs/openapi.yaml differs from server/api/openapi.yaml: cp server/api/openapi.yaml docs/openapi.yaml")
	}
}

// TestOpenAPIServed: GET /v1/openapi.yaml answers the document, as YAML,
// without a token; it describes every route the handler registers.
func TestOpenAPIServed(t *testing.T) {
	w := newStreamWorld(t, stream.Config{})
	resp, err := http.Get(w.srv.URL + "/v1/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/yaml" || !bytes.Equal(body, OpenAPI) {
		t.Fatalf("%d %q, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
	}
	var doc struct {
		OpenAPI string                    `yaml:"openapi"`
		Paths   map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	for _, p := range Patterns {
		method, path, _ := strings.Cut(p, " ")
		if doc.Paths[path][strings.ToLower(method)] == nil {
			t.Errorf("route %q is not in the document", p)
		}
	}
}

// TestOpenAPIValidationCatchesDrift: the validator the API tests run
// through does fail on answers and requests the document does not allow.
func TestOpenAPIValidationCatchesDrift(t *testing.T) {
	v, err := openapitest.New(OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string, header ...string) *http.Request {
		r := httptest.NewRequest("GET", path, nil)
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Set(header[i], header[i+1])
		}
		return r
	}
	jsonH := http.Header{"Content-Type": {"application/json"}, "Cache-Control": {"no-store"}}
	auth := []string{"Authorization", "Bearer slt_x"}
	goodPage := `{"events":[],"next_cursor":null,"stats":{"partitions":0,"files":0,"files_skipped":0,"row_groups":0,"row_groups_skipped":0,"rows_scanned":0,"rows_matched":0,"duplicates":0}}`
	if err := v.Check(get("/v1/events?limit=5", auth...), nil, 200, jsonH, []byte(goodPage), false); err != nil {
		t.Fatalf("a right answer is refused: %v", err)
	}
	for _, tc := range []struct {
		name   string
		req    *http.Request
		status int
		header http.Header
		body   string
		want   string
	}{
		{"field of the wrong type", get("/v1/events", auth...), 200, jsonH, strings.Replace(goodPage, `"next_cursor":null`, `"next_cursor":7`, 1), "next_cursor"},
		{"missing field", get("/v1/events", auth...), 200, jsonH, strings.Replace(goodPage, `"events":[],`, ``, 1), "events"},
		{"field not in the document", get("/v1/events", auth...), 200, jsonH, strings.Replace(goodPage, `"events":[]`, `"events":[],"total":3`, 1), "total"},
		{"undocumented status", get("/v1/events", auth...), 418, jsonH, `{"error":"teapot"}`, "status is not supported"},
		{"undocumented path", get("/v1/secrets", auth...), 200, jsonH, `{}`, "not an operation"},
		{"undocumented method", httptest.NewRequest("DELETE", "/v1/events", nil), 204, http.Header{}, ``, "not an operation"},
		{"missing required header", get("/v1/events"), 401, http.Header{"Content-Type": {"application/json"}}, `{"error":"no token"}`, "WWW-Authenticate"},
		{"wrong content type", get("/v1/events", auth...), 200, http.Header{"Content-Type": {"text/html"}, "Cache-Control": {"no-store"}}, `<p>`, "Content-Type"},
		{"an invalid request accepted", get("/v1/events?limit=0", auth...), 200, jsonH, goodPage, "does not match the document, yet was answered 200"},
		{"no credentials yet answered 200", get("/v1/events"), 200, jsonH, goodPage, "does not match the document"},
	} {
		err := v.Check(tc.req, nil, tc.status, tc.header, []byte(tc.body), false)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want …%s…", tc.name, err, tc.want)
		}
	}
	if n := len(v.Errors()); n != 10 {
		t.Errorf("%d errors recorded, want 10", n)
	}

	// Through the middleware: a handler that answers a wrong body.
	v2, _ := openapitest.New(OpenAPI)
	srv := httptest.NewServer(v2.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(201)
		io.WriteString(w, `{"ticket":"st_abc","expires_in":"30"}`)
	})))
	defer srv.Close()
	req, _ := http.NewRequest("POST", srv.URL+"/v1/stream/tickets", nil)
	req.Header.Set("Authorization", "Bearer slt_x")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	srv.Close() // waits for the handler, and so the check
	if errs := v2.Errors(); len(errs) != 1 || !strings.Contains(errs[0], "expires_in") {
		t.Fatalf("middleware found %q", errs)
	}
}
