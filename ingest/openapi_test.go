package ingest

import (
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/sharelog/sharelog/internal/openapitest"
)

// newServer serves h at /v1/events, where sharelog mounts it, and checks
// every request the test makes there, and every answer, against the API's
// OpenAPI document (server/api/openapi.yaml; see internal/openapitest).
func newServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	spec, err := os.ReadFile("../server/api/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	v := openapitest.ForTest(t, spec)
	mux := http.NewServeMux()
	mux.Handle("/v1/events", h)
	srv := httptest.NewServer(v.Handler(mux))
	t.Cleanup(srv.Close) // before v's check: it waits for the requests in flight
	return srv
}
