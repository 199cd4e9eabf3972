package pipeline

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/sharelog/sharelog/config"
	"github.com/sharelog/sharelog/internal/openapitest"
	"github.com/sharelog/sharelog/server/api"
)

// TestServedEndpointsMatchOpenAPI: the routes the process wiring adds to
// the API's (/metrics, /healthz, /readyz) and the document itself answer as
// the OpenAPI document says, from a real api process without Kafka; so does
// a path it does not describe fail the check.
func TestServedEndpointsMatchOpenAPI(t *testing.T) {
	cfg := &config.Config{DataDir: t.TempDir()}
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Log.Level = "warn"
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	p, err := Start(context.Background(), cfg, API, Options{Notice: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() { cancel(); <-done }()

	v, err := openapitest.New(api.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	check := func(method, path string) error {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+p.Addr()+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if path == "/v1/openapi.yaml" && !bytes.Equal(body, api.OpenAPI) {
			t.Errorf("GET /v1/openapi.yaml: %d bytes, not the document", len(body))
		}
		return v.Check(req, nil, resp.StatusCode, resp.Header, body, false)
	}
	for _, path := range []string{"/metrics", "/healthz", "/readyz", "/v1/openapi.yaml"} {
		if err := check("GET", path); err != nil {
			t.Error(err)
		}
	}
	if err := check("GET", "/v1/nothing"); err == nil {
		t.Error("an undocumented path passed the check")
	}
}
