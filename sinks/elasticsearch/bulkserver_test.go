package elasticsearch

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
)

// bulkServer is a _bulk endpoint on loopback that behaves as Elasticsearch
// does for the requests the sink sends, and checks their wire format
// strictly: a violation fails the test and is answered 400.
//
// It stores documents per index and id: an "index" action stores or
// replaces (201, 200), a "create" of an id already in the index answers
// 409 version_conflict_engine_exception. It honours the filter_path the
// sink sends, as Elasticsearch does, unless fullAnswers is set.
type bulkServer struct {
	t   testing.TB
	srv *httptest.Server

	// Set before the first request.
	wantAuth    string // the Authorization header required; "" none
	fullAnswers bool   // ignore filter_path

	mu       sync.Mutex
	requests []*bulkRequest
	received []string                   // ids stored, in order, repeats included
	stored   map[string]map[string]bool // index → ids
	failNext int
	rejected map[string]bool  // ids refused with 400 mapper_parsing_exception
	itemFail map[string][]int // id → statuses to answer before storing it
	stall    chan struct{}
}

// bulkRequest is one request as the server read it.
type bulkRequest struct {
	Header  http.Header
	Query   string
	Body    []byte // decompressed
	Actions []bulkAction
	Docs    []map[string]any
	RawDocs [][]byte
}

type bulkAction struct {
	Op, Index, ID string
}

func newBulkServer(t testing.TB) *bulkServer {
	s := &bulkServer{t: t, stored: map[string]map[string]bool{}, rejected: map[string]bool{}, itemFail: map[string][]int{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.handle))
	t.Cleanup(func() {
		s.release()
		s.srv.Close()
	})
	return s
}

// URL is the server's base URL.
func (s *bulkServer) URL() string { return s.srv.URL }

func (s *bulkServer) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stall != nil {
		close(s.stall)
		s.stall = nil
	}
}

// Received implements sinktest.Destination.
func (s *bulkServer) Received() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.received)
}

// FailNext implements sinktest.Destination: the next n requests are
// answered 503, then 429, alternately, with Retry-After: 0.
func (s *bulkServer) FailNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext += n
}

// Reject implements sinktest.Destination: the item of this id is answered
// 400 mapper_parsing_exception.
func (s *bulkServer) Reject(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejected[id] = true
	return true
}

// Stall implements sinktest.Destination.
func (s *bulkServer) Stall() (release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stall = make(chan struct{})
	return s.release
}

// FailItem makes the item of id fail with these statuses, one per request,
// before it is stored.
func (s *bulkServer) FailItem(id string, statuses ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.itemFail[id] = append(s.itemFail[id], statuses...)
}

// Requests returns the requests read so far.
func (s *bulkServer) Requests() []*bulkRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

func (s *bulkServer) fail(w http.ResponseWriter, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.t.Errorf("bulk server: %s", msg)
	writeJSON(w, http.StatusBadRequest, nil, map[string]any{
		"error":  map[string]any{"type": "parse_exception", "reason": msg},
		"status": 400,
	})
}

func (s *bulkServer) handle(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	stall := s.stall
	s.mu.Unlock()
	if stall != nil {
		select {
		case <-stall:
		case <-r.Context().Done():
			return
		}
	}

	if r.Method != http.MethodPost || r.URL.Path != "/_bulk" {
		s.fail(w, "%s %s, want POST /_bulk", r.Method, r.URL.Path)
		return
	}
	if got := r.Header.Get("Content-Type"); got != "application/x-ndjson" {
		s.fail(w, "Content-Type %q, want application/x-ndjson", got)
		return
	}
	if got := r.URL.Query().Get("filter_path"); got != "errors,items.*.status,items.*.error" {
		s.fail(w, "filter_path %q", got)
		return
	}
	if s.wantAuth != "" && r.Header.Get("Authorization") != s.wantAuth {
		writeJSON(w, http.StatusUnauthorized, http.Header{"Www-Authenticate": {`Basic realm="security"`, `ApiKey`}}, map[string]any{
			"error":  map[string]any{"type": "security_exception", "reason": "unable to authenticate user [sharelog] for REST request [/_bulk]"},
			"status": 401,
		})
		return
	}
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return // the client went away
	}
	if r.ContentLength != int64(len(raw)) {
		s.fail(w, "Content-Length %d for a body of %d bytes", r.ContentLength, len(raw))
		return
	}
	body := raw
	switch enc := r.Header.Get("Content-Encoding"); enc {
	case "":
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			s.fail(w, "gzip: %v", err)
			return
		}
		if body, err = io.ReadAll(zr); err != nil {
			s.fail(w, "gzip: %v", err)
			return
		}
	default:
		s.fail(w, "Content-Encoding %q", enc)
		return
	}
	req, err := parseBulk(body)
	if err != nil {
		s.fail(w, "%v", err)
		return
	}
	req.Header, req.Query = r.Header.Clone(), r.URL.RawQuery

	s.mu.Lock()
	s.requests = append(s.requests, req)
	if s.failNext > 0 {
		s.failNext--
		code := http.StatusServiceUnavailable
		if s.failNext%2 == 1 {
			code = http.StatusTooManyRequests
		}
		s.mu.Unlock()
		writeJSON(w, code, http.Header{"Retry-After": {"0"}}, map[string]any{
			"error":  map[string]any{"type": "es_rejected_execution_exception", "reason": "rejected execution"},
			"status": code,
		})
		return
	}
	items := make([]any, len(req.Actions))
	anyErr := false
	for i, a := range req.Actions {
		res := map[string]any{"_index": a.Index, "_id": a.ID}
		status, errType, reason := 0, "", ""
		switch {
		case s.rejected[a.ID]:
			status, errType = 400, "mapper_parsing_exception"
			reason = fmt.Sprintf("failed to parse field [source.ip] of type [ip] in document with id '%s'", a.ID)
		case len(s.itemFail[a.ID]) > 0:
			status = s.itemFail[a.ID][0]
			s.itemFail[a.ID] = s.itemFail[a.ID][1:]
			errType, reason = "es_rejected_execution_exception", "rejected execution of coordinating operation"
			if status != 429 {
				errType, reason = "unavailable_shards_exception", "primary shard is not active"
			}
		case a.Op == "create" && s.stored[a.Index][a.ID]:
			status, errType = 409, "version_conflict_engine_exception"
			reason = fmt.Sprintf("[%s]: version conflict, document already exists (current version [1])", a.ID)
		default:
			status = 201
			res["result"] = "created"
			if s.stored[a.Index][a.ID] {
				status, res["result"] = 200, "updated"
			}
			if s.stored[a.Index] == nil {
				s.stored[a.Index] = map[string]bool{}
			}
			s.stored[a.Index][a.ID] = true
			s.received = append(s.received, a.ID)
			res["_version"], res["_seq_no"], res["_primary_term"] = 1, i, 1
			res["_shards"] = map[string]any{"total": 2, "successful": 1, "failed": 0}
		}
		res["status"] = status
		if errType != "" {
			anyErr = true
			res["error"] = map[string]any{"type": errType, "reason": reason, "index": a.Index, "shard": "0"}
		}
		if !s.fullAnswers { // filter_path=errors,items.*.status,items.*.error
			for k := range res {
				if k != "status" && k != "error" {
					delete(res, k)
				}
			}
		}
		items[i] = map[string]any{a.Op: res}
	}
	s.mu.Unlock()
	answer := map[string]any{"errors": anyErr, "items": items}
	if s.fullAnswers {
		answer["took"] = 3
	}
	writeJSON(w, http.StatusOK, nil, answer)
}

// parseBulk reads an NDJSON bulk body of index and create actions, as the
// sink writes them: every line ends with \n, an action line has exactly
// _index and _id, a document is a JSON object whose event.id is the _id.
func parseBulk(body []byte) (*bulkRequest, error) {
	req := &bulkRequest{Body: body}
	if len(body) == 0 || body[len(body)-1] != '\n' {
		return nil, fmt.Errorf("the body does not end with a newline")
	}
	lines := bytes.Split(body[:len(body)-1], []byte("\n"))
	if len(lines)%2 != 0 {
		return nil, fmt.Errorf("%d lines: not action/document pairs", len(lines))
	}
	for i := 0; i < len(lines); i += 2 {
		var action map[string]map[string]any
		dec := json.NewDecoder(bytes.NewReader(lines[i]))
		dec.UseNumber()
		if err := dec.Decode(&action); err != nil {
			return nil, fmt.Errorf("line %d: action: %v", i+1, err)
		}
		if len(action) != 1 {
			return nil, fmt.Errorf("line %d: action %s: want one key", i+1, lines[i])
		}
		var a bulkAction
		for op, meta := range action {
			index, _ := meta["_index"].(string)
			id, _ := meta["_id"].(string)
			if (op != "index" && op != "create") || len(meta) != 2 || index == "" || id == "" {
				return nil, fmt.Errorf("line %d: action %s: want index or create with _index and _id", i+1, lines[i])
			}
			if strings.ToLower(index) != index {
				return nil, fmt.Errorf("line %d: index %q must be lowercase", i+1, index)
			}
			a = bulkAction{Op: op, Index: index, ID: id}
		}
		if err := checkJSON(lines[i]); err != nil {
			return nil, fmt.Errorf("line %d: action: %v: %s", i+1, err, lines[i])
		}
		if err := checkJSON(lines[i+1]); err != nil {
			return nil, fmt.Errorf("line %d: document: %v: %s", i+2, err, lines[i+1])
		}
		var doc map[string]any
		dec = json.NewDecoder(bytes.NewReader(lines[i+1]))
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil {
			return nil, fmt.Errorf("line %d: document: %v", i+2, err)
		}
		if _, ok := doc["@timestamp"].(string); !ok {
			return nil, fmt.Errorf("line %d: document without @timestamp", i+2)
		}
		if got := lookup(doc, "event.id"); got != a.ID {
			return nil, fmt.Errorf("line %d: event.id %v, _id %s", i+2, got, a.ID)
		}
		req.Actions = append(req.Actions, a)
		req.Docs = append(req.Docs, doc)
		req.RawDocs = append(req.RawDocs, lines[i+1])
	}
	return req, nil
}

// lookup returns the value at a dotted path of a decoded document, nil when
// absent.
func lookup(doc map[string]any, path string) any {
	var v any = doc
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		if v, ok = m[k]; !ok {
			return nil
		}
	}
	return v
}

func writeJSON(w http.ResponseWriter, code int, h http.Header, v any) {
	for k, vs := range h {
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
