package api

import (
	_ "embed"
	"net/http"
	"strconv"
)

// OpenAPIPattern is the route of the API's OpenAPI 3.1 document.
const OpenAPIPattern = "GET /v1/openapi.yaml"

// OpenAPI is the OpenAPI 3.1 document of every HTTP endpoint sharelog
// serves (ingest, query, live stream, operations). This file is the
// canonical copy; docs/openapi.yaml is kept byte-identical to it by
// TestOpenAPIDocsCopy, and the API tests validate their traffic against it.
//
//go:embed openapi.yaml
var OpenAPI []byte

// serveOpenAPI answers GET /v1/openapi.yaml, without authentication: the
// document holds no secret.
func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	w.Header().Set("Content-Length", strconv.Itoa(len(OpenAPI)))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	w.Write(OpenAPI)
}
