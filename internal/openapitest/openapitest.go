// Package openapitest checks HTTP traffic against sharelog's OpenAPI
// document (server/api/openapi.yaml) in tests: a Validator wraps a test
// server's handler, and every request that reaches it, and every answer it
// gives, WebSocket handshakes included, must match the document.
//
// The rules, for each request:
//   - its method and path must be an operation of the document;
//   - its answer's status must be documented for that operation, and its
//     headers and body must match what the document says of that status;
//   - the request itself (parameters, security, body) must match the
//     operation, unless the answer is a documented 4xx: a test that sends a
//     request the document calls invalid must get a documented refusal.
//
// It is built on github.com/getkin/kin-openapi (openapi3filter), which
// validates OpenAPI 3.1 documents with JSON Schema 2020-12. It is a test
// helper: nothing outside tests imports it.
package openapitest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// maxBody is the most of a request or response body that is kept for
// validation; a longer body's schema is not checked (its status and
// headers still are).
const maxBody = 16 << 20

// Validator checks requests and responses against one document. It is safe
// for concurrent use.
type Validator struct {
	router routers.Router
	mu     sync.Mutex
	errs   []string
	seen   int
}

// New returns a validator of spec (the YAML or JSON of an OpenAPI 3.1
// document), which must itself be valid.
func New(spec []byte) (*Validator, error) {
	registerDecoders()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(spec)
	if err != nil {
		return nil, fmt.Errorf("openapitest: loading the document: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("openapitest: the document is not valid: %w", err)
	}
	doc.Servers = nil // match paths on whatever address the test server has
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("openapitest: %w", err)
	}
	return &Validator{router: router}, nil
}

// ForTest returns a validator of spec whose findings fail t when t's
// cleanups run (register it before the test servers it wraps, so that their
// Close, which waits for the requests in flight, runs first).
func ForTest(t testing.TB, spec []byte) *Validator {
	t.Helper()
	v, err := New(spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, e := range v.Errors() {
			t.Errorf("OpenAPI: %s", e)
		}
	})
	return v
}

// Errors returns what was found so far, one line per problem.
func (v *Validator) Errors() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]string(nil), v.errs...)
}

// Checked is the number of exchanges checked so far.
func (v *Validator) Checked() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.seen
}

func (v *Validator) report(format string, args ...any) {
	v.mu.Lock()
	v.errs = append(v.errs, fmt.Sprintf(format, args...))
	v.mu.Unlock()
}

// Handler returns next wrapped: each exchange is checked once the handler
// returns (a WebSocket handshake when the 101 is written, before it reaches
// the client).
func (v *Validator) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := &teeBody{rc: r.Body, contentLength: r.ContentLength}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = body
		}
		rec := &recorder{ResponseWriter: w}
		rec.onHandshake = func(resp *http.Response) {
			v.Check(r, body.bytes(), resp.StatusCode, resp.Header, nil, false)
		}
		aborted := true
		defer func() {
			if rec.hijacked {
				return // checked by onHandshake, or answered outside HTTP
			}
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			// An aborted answer (http.ErrAbortHandler) is cut off on purpose:
			// its status and headers are checked, not its body.
			skipBody := aborted || rec.truncated
			v.Check(r, body.bytes(), status, rec.headerOr(w), rec.body.Bytes(), skipBody)
		}()
		next.ServeHTTP(rec, r)
		aborted = false
	})
}

// Check checks one exchange: r (its body as reqBody, nil when not read
// whole), answered status with header and respBody (not checked when
// skipRespBody). What it finds is recorded (Errors) and returned.
func (v *Validator) Check(r *http.Request, reqBody []byte, status int, header http.Header, respBody []byte, skipRespBody bool) error {
	v.mu.Lock()
	v.seen++
	v.mu.Unlock()
	what := fmt.Sprintf("%s %s → %d", r.Method, r.URL.RequestURI(), status)
	vr := r.Clone(context.Background())
	vr.Body = http.NoBody
	excludeBody := reqBody == nil && r.ContentLength != 0
	if reqBody != nil {
		if enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc == "gzip" || enc == "x-gzip" {
			if plain, err := gunzip(reqBody); err == nil {
				reqBody = plain
				vr.Header.Del("Content-Encoding")
			}
		}
		vr.Body = io.NopCloser(bytes.NewReader(reqBody))
		vr.ContentLength = int64(len(reqBody))
	}
	route, pathParams, err := v.router.FindRoute(vr)
	if err != nil {
		err = fmt.Errorf("%s: not an operation of the document: %v", what, err)
		v.report("%v", err)
		return err
	}
	opts := &openapi3filter.Options{
		IncludeResponseStatus: true,
		MultiError:            true,
		ExcludeRequestBody:    excludeBody,
		ExcludeResponseBody:   skipRespBody,
		AuthenticationFunc:    presentCredentials,
	}
	in := &openapi3filter.RequestValidationInput{Request: vr, PathParams: pathParams, Route: route, Options: opts}
	reqErr := openapi3filter.ValidateRequest(context.Background(), in)
	var errs []error
	if reqErr != nil && !(status >= 400 && status < 500 && route.Operation.Responses.Status(status) != nil) {
		errs = append(errs, fmt.Errorf("the request does not match the document, yet was answered %d: %v", status, reqErr))
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: header, Options: opts}
	out.SetBodyBytes(respBody)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		errs = append(errs, fmt.Errorf("the answer does not match the document: %v", err))
	}
	if err := errors.Join(errs...); err != nil {
		err = fmt.Errorf("%s: %w", what, err)
		v.report("%v", err)
		return err
	}
	return nil
}

// presentCredentials accepts a request that carries the credentials of
// the scheme (a Bearer Authorization header, or the API key parameter);
// whether they are valid is the server's to say.
func presentCredentials(_ context.Context, ai *openapi3filter.AuthenticationInput) error {
	r := ai.RequestValidationInput.Request
	s := ai.SecurityScheme
	switch {
	case s.Type == "http" && strings.EqualFold(s.Scheme, "bearer"):
		h := r.Header.Get("Authorization")
		if len(h) > len("Bearer ") && strings.EqualFold(h[:len("Bearer ")], "Bearer ") {
			return nil
		}
		return errors.New("no Authorization: Bearer header")
	case s.Type == "apiKey" && s.In == "query":
		if r.URL.Query().Get(s.Name) != "" {
			return nil
		}
		return fmt.Errorf("no %s parameter", s.Name)
	case s.Type == "apiKey" && s.In == "header":
		if r.Header.Get(s.Name) != "" {
			return nil
		}
		return fmt.Errorf("no %s header", s.Name)
	}
	return fmt.Errorf("security scheme %q is not supported by openapitest", ai.SecuritySchemeName)
}

func gunzip(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(zr, maxBody))
}

var decodersOnce sync.Once

// registerDecoders teaches openapi3filter NDJSON, and reads a body of any
// other type (none, as the ingest endpoint allows) the way the ingest
// endpoint does: a JSON array, else NDJSON.
func registerDecoders() {
	decodersOnce.Do(func() {
		openapi3filter.RegisterBodyDecoder("application/x-ndjson", ndjsonDecoder)
		openapi3filter.RegisterBodyDecoder("*/*", func(body io.Reader, h http.Header, s *openapi3.SchemaRef, fn openapi3filter.EncodingFn) (any, error) {
			data, err := io.ReadAll(body)
			if err != nil {
				return nil, err
			}
			if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '[' {
				return openapi3filter.JSONBodyDecoder(bytes.NewReader(data), h, s, fn)
			}
			return ndjsonDecoder(bytes.NewReader(data), h, s, fn)
		})
	})
}

// ndjsonDecoder reads NDJSON as the array of its lines' values (blank
// lines skipped).
func ndjsonDecoder(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
	sc := bufio.NewScanner(body)
	sc.Buffer(nil, maxBody)
	out := []any{}
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("NDJSON line %d: %w", n, err)
		}
		out = append(out, v)
	}
	return out, sc.Err()
}

// teeBody keeps what the handler reads of a request body.
type teeBody struct {
	rc            io.ReadCloser
	contentLength int64
	mu            sync.Mutex
	buf           bytes.Buffer
	eof, over     bool
}

func (t *teeBody) Read(p []byte) (int, error) {
	n, err := t.rc.Read(p)
	t.mu.Lock()
	if t.buf.Len()+n > maxBody {
		t.over = true
	} else {
		t.buf.Write(p[:n])
	}
	if err == io.EOF {
		t.eof = true
	}
	t.mu.Unlock()
	return n, err
}

func (t *teeBody) Close() error { return t.rc.Close() }

// bytes returns the body if it was read whole, else nil.
func (t *teeBody) bytes() []byte {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	whole := t.eof || t.contentLength > 0 && int64(t.buf.Len()) == t.contentLength
	if t.over || !whole {
		return nil
	}
	return bytes.Clone(t.buf.Bytes())
}

// recorder passes an answer through, keeping its status, headers and
// body. Unwrap gives http.ResponseController the writer beneath (deadlines);
// Flush and Hijack are its own, so that it sees them.
type recorder struct {
	http.ResponseWriter
	status      int
	header      http.Header
	body        bytes.Buffer
	truncated   bool
	hijacked    bool
	onHandshake func(*http.Response)
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *recorder) headerOr(w http.ResponseWriter) http.Header {
	if r.header != nil {
		return r.header
	}
	return w.Header().Clone()
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 && code >= 200 {
		r.status = code
		r.header = r.ResponseWriter.Header().Clone()
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
	n, err := r.ResponseWriter.Write(p)
	if r.body.Len()+n > maxBody {
		r.truncated = true
	} else {
		r.body.Write(p[:n])
	}
	return n, err
}

func (r *recorder) FlushError() error {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
	return http.NewResponseController(r.ResponseWriter).Flush()
}

func (r *recorder) Flush() { _ = r.FlushError() }

func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(r.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	r.hijacked = true
	return &handshakeConn{Conn: conn, done: r.onHandshake}, brw, nil
}

// handshakeConn holds back what is written to a hijacked connection until
// it has a whole HTTP response head (the WebSocket handshake's answer),
// checks it, then passes everything through.
type handshakeConn struct {
	net.Conn
	head    []byte
	checked bool
	done    func(*http.Response)
}

func (c *handshakeConn) Write(p []byte) (int, error) {
	if c.checked {
		return c.Conn.Write(p)
	}
	c.head = append(c.head, p...)
	if !bytes.Contains(c.head, []byte("\r\n\r\n")) {
		return len(p), nil
	}
	c.checked = true
	if resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(c.head)), nil); err == nil {
		c.done(resp)
	} else {
		c.done(&http.Response{StatusCode: 0, Header: http.Header{}})
	}
	if _, err := c.Conn.Write(c.head); err != nil {
		return 0, err
	}
	return len(p), nil
}
