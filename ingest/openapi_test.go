package ingest

import (
	"bytes"
	"compress/gzip"
	"io"
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

// TestGzipNDJSONMatchesTheDocument: a gzip-compressed NDJSON batch is
// accepted, and an unsupported Content-Encoding refused, both as the
// OpenAPI document describes (newServer validates them).
func TestGzipNDJSONMatchesTheDocument(t *testing.T) {
	srv := newServer(t, newHandler(t, nil))
	var body bytes.Buffer
	zw := gzip.NewWriter(&body)
	for _, id := range []string{"0193a1b2-c3d4-7e5f-8a9b-0000000000d1", "0193a1b2-c3d4-7e5f-8a9b-0000000000d2"} {
		raw, err := validEvent(id).Encode()
		if err != nil {
			t.Fatal(err)
		}
		zw.Write(append(raw, '\n'))
	}
	zw.Close()
	for _, tc := range []struct {
		encoding string
		want     int
	}{{"gzip", http.StatusAccepted}, {"br", http.StatusBadRequest}} {
		req, _ := http.NewRequest("POST", srv.URL+"/v1/events", bytes.NewReader(body.Bytes()))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/x-ndjson")
		req.Header.Set("Content-Encoding", tc.encoding)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("Content-Encoding %s: %d %s, want %d", tc.encoding, resp.StatusCode, got, tc.want)
		}
	}
}
