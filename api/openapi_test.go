package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/api"
	"github.com/hindsightsec/hindsight/draft"
	"github.com/hindsightsec/hindsight/ollama"
	"github.com/hindsightsec/hindsight/ollama/ollamatest"
	"github.com/hindsightsec/hindsight/retrieval"
	ollamaapi "github.com/ollama/ollama/api"
)

// spec validates responses against the OpenAPI document and records which operations were seen.
type spec struct {
	doc  map[string]any
	mu   sync.Mutex
	seen map[string]bool // "METHOD /path"
}

func loadSpec(t *testing.T) *spec {
	var doc map[string]any
	if err := json.Unmarshal(api.OpenAPI, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	return &spec{doc: doc, seen: map[string]bool{}}
}

// operation finds the documented path template matching a concrete path.
func (s *spec) operation(method, path string) (string, map[string]any) {
	for tmpl, item := range s.doc["paths"].(map[string]any) {
		re := "^" + regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(regexp.QuoteMeta(tmpl), `[^/]+`) + "$"
		re = strings.ReplaceAll(re, `\{`, "{")
		if ok, _ := regexp.MatchString(regexp.MustCompile(`\\\{[^}]+\\\}`).ReplaceAllString(regexp.QuoteMeta(tmpl), `[^/]+`)+"$", path); ok || regexp.MustCompile(re).MatchString(path) {
			if op, ok := item.(map[string]any)[strings.ToLower(method)]; ok {
				return tmpl, op.(map[string]any)
			}
		}
	}
	return "", nil
}

// check validates a response: its status must be documented for the operation and its body must
// match the documented schema for its content type.
func (s *spec) check(t *testing.T, method, path string, status int, contentType string, body []byte) {
	t.Helper()
	path, _, _ = strings.Cut(path, "?")
	tmpl, op := s.operation(method, path)
	if op == nil {
		t.Errorf("%s %s is not in the OpenAPI document", method, path)
		return
	}
	s.mu.Lock()
	s.seen[method+" "+tmpl] = true
	s.mu.Unlock()
	resp, ok := op["responses"].(map[string]any)[strconv.Itoa(status)].(map[string]any)
	if !ok {
		t.Errorf("%s %s answered %d, which the OpenAPI document does not list", method, tmpl, status)
		return
	}
	resp = s.resolve(resp)
	mt, _, _ := strings.Cut(contentType, ";")
	content, ok := resp["content"].(map[string]any)[mt].(map[string]any)
	if !ok {
		t.Errorf("%s %s %d: content type %q is not documented", method, tmpl, status, mt)
		return
	}
	if mt != "application/json" {
		return
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Errorf("%s %s %d: body is not JSON: %v", method, tmpl, status, err)
		return
	}
	if errs := s.validate(content["schema"].(map[string]any), v, "$"); len(errs) > 0 {
		t.Errorf("%s %s %d: response does not match the schema:\n  %s\nbody: %.400s", method, tmpl, status, strings.Join(errs, "\n  "), body)
	}
}

func (s *spec) resolve(node map[string]any) map[string]any {
	for {
		ref, ok := node["$ref"].(string)
		if !ok {
			return node
		}
		var cur any = s.doc
		for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			cur = cur.(map[string]any)[part]
		}
		node = cur.(map[string]any)
	}
}

// validate checks v against the subset of JSON Schema the document uses.
func (s *spec) validate(schema map[string]any, v any, at string) []string {
	schema = s.resolve(schema)
	var errs []string
	if all, ok := schema["allOf"].([]any); ok {
		// The parts of an allOf together describe one object: merge their fields.
		merged := map[string]any{"type": "object", "properties": map[string]any{}}
		var required []any
		for _, sub := range all {
			sub := s.resolve(sub.(map[string]any))
			for k, p := range sub["properties"].(map[string]any) {
				merged["properties"].(map[string]any)[k] = p
			}
			required = append(required, asSlice(sub["required"])...)
		}
		merged["required"] = required
		return s.validate(merged, v, at)
	}
	if enum, ok := schema["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			if e == v {
				found = true
			}
		}
		if !found {
			errs = append(errs, fmt.Sprintf("%s: %v is not one of %v", at, v, enum))
		}
	}
	switch schema["type"] {
	case "object":
		obj, ok := v.(map[string]any)
		if !ok {
			return append(errs, fmt.Sprintf("%s: want an object, got %T", at, v))
		}
		props, _ := schema["properties"].(map[string]any)
		for _, r := range asStrings(schema["required"]) {
			if _, ok := obj[r]; !ok {
				errs = append(errs, fmt.Sprintf("%s: required field %q is missing", at, r))
			}
		}
		for k, val := range obj {
			if p, ok := props[k]; ok {
				errs = append(errs, s.validate(p.(map[string]any), val, at+"."+k)...)
			} else if extra, ok := schema["additionalProperties"].(map[string]any); ok {
				errs = append(errs, s.validate(extra, val, at+"."+k)...)
			} else if schema["additionalProperties"] == false || len(props) > 0 {
				errs = append(errs, fmt.Sprintf("%s: field %q is not documented", at, k))
			}
		}
	case "array":
		arr, ok := v.([]any)
		if !ok {
			return append(errs, fmt.Sprintf("%s: want an array, got %T", at, v))
		}
		if items, ok := schema["items"].(map[string]any); ok {
			for i, x := range arr {
				errs = append(errs, s.validate(items, x, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			return append(errs, fmt.Sprintf("%s: want a string, got %T", at, v))
		}
		if p, ok := schema["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(str) {
			errs = append(errs, fmt.Sprintf("%s: %q does not match %s", at, str, p))
		}
		if schema["format"] == "date-time" {
			if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
				errs = append(errs, fmt.Sprintf("%s: %q is not a date-time", at, str))
			}
		}
	case "integer", "number":
		n, ok := v.(float64)
		if !ok {
			return append(errs, fmt.Sprintf("%s: want a number, got %T", at, v))
		}
		if schema["type"] == "integer" && n != float64(int64(n)) {
			errs = append(errs, fmt.Sprintf("%s: %v is not an integer", at, n))
		}
		if lo, ok := schema["minimum"].(float64); ok && n < lo {
			errs = append(errs, fmt.Sprintf("%s: %v < minimum %v", at, n, lo))
		}
		if hi, ok := schema["maximum"].(float64); ok && n > hi {
			errs = append(errs, fmt.Sprintf("%s: %v > maximum %v", at, n, hi))
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			errs = append(errs, fmt.Sprintf("%s: want a boolean, got %T", at, v))
		}
	}
	return errs
}

func asStrings(v any) []string {
	var out []string
	for _, x := range asSlice(v) {
		out = append(out, x.(string))
	}
	return out
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

// allOperations lists every documented METHOD /path.
func (s *spec) allOperations() []string {
	var out []string
	for path, item := range s.doc["paths"].(map[string]any) {
		for method := range item.(map[string]any) {
			out = append(out, strings.ToUpper(method)+" "+path)
		}
	}
	sort.Strings(out)
	return out
}

// server builds a server over a store with the fixture, with a model behind a fake Ollama.
func server(t *testing.T, gen *ollamatest.Fake, rateLimit float64) (*httptest.Server, map[string]string) {
	t.Helper()
	db := fixtureStore(t)
	r := retrieval.NewRetriever(db, retrieval.Builtin{})
	cfg := api.Config{Store: db, Search: r, Drafter: draft.New(r, nil), RateLimit: rateLimit}
	if gen != nil {
		c, _ := ollama.New(ollama.Options{Host: gen.Start(), Timeout: 5 * time.Second, Backoff: time.Millisecond})
		t.Cleanup(gen.Close)
		g, _ := ollama.NewGenerator(c, "llama3.1:8b")
		cfg.Drafter = draft.New(r, g)
		cfg.Ready = g.Ping
	}
	srv := httptest.NewServer(api.New(cfg))
	t.Cleanup(srv.Close)
	keys := map[string]string{}
	for name, k := range map[string]struct {
		tenant string
		role   hindsight.Role
	}{"reader": {"acme", hindsight.RoleReader}, "reviewer": {"acme", hindsight.RoleReviewer}, "globex": {"globex", hindsight.RoleReviewer}} {
		keys[name], _, _ = db.CreateKey(context.Background(), k.tenant, k.role)
	}
	return srv, keys
}

func call(t *testing.T, sp *spec, srv *httptest.Server, method, path, key, accept string, body string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, srv.URL+path, rd)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	sp.check(t, method, path, resp.StatusCode, resp.Header.Get("Content-Type"), b)
	return resp.StatusCode, resp.Header, b
}

func TestEveryRouteMatchesOpenAPI(t *testing.T) {
	sp := loadSpec(t)
	f := &ollamatest.Fake{Models: []string{"llama3.1:8b"}, Reply: func(ollamaapi.ChatRequest) string {
		return "1. Reset the password of the targeted service account [NOTE-K]\n2. Use group managed service accounts [NOTE-K, THR-X]"
	}}
	srv, keys := server(t, f, 1000)
	threat := `{"kind":"remediation","threat":{"title":"Kerberoasting with Rubeus","summary":"Rubeus asked for RC4 tickets","techniques":["T1558.003"]}}`

	expect := func(got, want int, body []byte) {
		t.Helper()
		if got != want {
			t.Errorf("status %d, want %d: %s", got, want, body)
		}
	}
	code, _, b := call(t, sp, srv, "GET", "/healthz", "", "", "")
	expect(code, 200, b)
	code, _, b = call(t, sp, srv, "GET", "/readyz", "", "", "")
	expect(code, 200, b)
	code, _, b = call(t, sp, srv, "GET", "/openapi.json", "", "", "")
	expect(code, 200, b)
	for _, path := range []string{"/console", "/console/console.js", "/console/console.css"} {
		code, _, b = call(t, sp, srv, "GET", path, "", "", "")
		expect(code, 200, b)
	}

	code, _, b = call(t, sp, srv, "POST", "/v1/search", keys["reader"], "", `{"text":"kerberoast rubeus","techniques":["T1558.003"],"k":3}`)
	expect(code, 200, b)
	code, _, b = call(t, sp, srv, "POST", "/v1/search", keys["reader"], "", `{"text":"x","k":500}`)
	expect(code, 400, b)
	code, _, b = call(t, sp, srv, "POST", "/v1/search", "", "", `{"text":"x"}`)
	expect(code, 401, b)

	code, hdr, b := call(t, sp, srv, "POST", "/v1/drafts", keys["reader"], "", threat)
	expect(code, 201, b)
	var d hindsight.Draft
	json.Unmarshal(b, &d)
	if hdr.Get("Location") != "/v1/drafts/"+d.ID || d.Model != "ollama:llama3.1:8b" {
		t.Errorf("Location %q, model %q", hdr.Get("Location"), d.Model)
	}
	if len(d.Recommendations) != 2 || strings.Join(d.Recommendations[1].Removed, ",") != "THR-X" {
		t.Errorf("recommendations = %+v", d.Recommendations)
	}
	code, _, b = call(t, sp, srv, "POST", "/v1/drafts", keys["reader"], "", `{"kind":"poem","threat":{}}`)
	expect(code, 400, b)
	code, _, b = call(t, sp, srv, "POST", "/v1/drafts", "bad", "", threat)
	expect(code, 401, b)

	code, _, b = call(t, sp, srv, "GET", "/v1/drafts/"+d.ID, keys["reader"], "", "")
	expect(code, 200, b)
	code, _, b = call(t, sp, srv, "GET", "/v1/drafts/"+d.ID, keys["globex"], "", "")
	expect(code, 404, b)
	code, _, b = call(t, sp, srv, "GET", "/v1/drafts/"+d.ID, "", "", "")
	expect(code, 401, b)

	review := `{"final":"- Reset the password","ratings":{"accuracy":4,"clarity":4,"completeness":3},"comment":"fine"}`
	code, _, b = call(t, sp, srv, "POST", "/v1/drafts/"+d.ID+"/reviews", keys["reviewer"], "", review)
	expect(code, 201, b)
	code, _, b = call(t, sp, srv, "POST", "/v1/drafts/"+d.ID+"/reviews", keys["reader"], "", review)
	expect(code, 403, b)
	code, _, b = call(t, sp, srv, "POST", "/v1/drafts/DRF-none/reviews", keys["reviewer"], "", review)
	expect(code, 404, b)
	code, _, b = call(t, sp, srv, "POST", "/v1/drafts/"+d.ID+"/reviews", keys["reviewer"], "", `{"final":"x"}`)
	expect(code, 400, b)
	code, _, b = call(t, sp, srv, "POST", "/v1/drafts/"+d.ID+"/reviews", "", "", review)
	expect(code, 401, b)

	code, _, b = call(t, sp, srv, "GET", "/v1/documents/NOTE-K", keys["reader"], "", "")
	expect(code, 200, b)
	code, _, b = call(t, sp, srv, "GET", "/v1/documents/THR-A1?kind=threat", keys["reader"], "", "")
	expect(code, 200, b)
	code, _, b = call(t, sp, srv, "GET", "/v1/documents/THR-G1", keys["reader"], "", "")
	expect(code, 404, b) // globex's case is invisible to acme
	code, _, b = call(t, sp, srv, "GET", "/v1/documents/THR-A1?kind=gadget", keys["reader"], "", "")
	expect(code, 400, b)
	code, _, b = call(t, sp, srv, "GET", "/v1/documents/NOTE-K", "", "", "")
	expect(code, 401, b)

	// Streaming: token events carry the answer, then the draft event.
	code, hdr, b = call(t, sp, srv, "POST", "/v1/drafts", keys["reader"], "text/event-stream", threat)
	expect(code, 200, b)
	events := sse(t, b)
	if len(events) < 3 || events[0].name != "token" || events[len(events)-1].name != "draft" {
		t.Fatalf("events = %+v", events)
	}
	var answer strings.Builder
	for _, e := range events[:len(events)-1] {
		var tok struct{ Text string }
		json.Unmarshal([]byte(e.data), &tok)
		answer.WriteString(tok.Text)
	}
	if !strings.HasPrefix(answer.String(), "1. Reset the password") {
		t.Errorf("streamed answer %q", answer.String())
	}
	sp.check(t, "POST", "/v1/drafts", 201, "application/json", []byte(events[len(events)-1].data))

	code, _, b = call(t, sp, srv, "GET", "/metrics", "", "", "")
	expect(code, 200, b)
	for _, want := range []string{`hindsight_http_requests_total{method="POST",route="/v1/drafts",status="201"} 1`,
		`hindsight_drafts_total{model="ollama:llama3.1:8b",fallback="false"} 2`,
		`hindsight_model_tokens_total{model="ollama:llama3.1:8b",direction="output"}`,
		`hindsight_draft_duration_seconds_count{model="ollama:llama3.1:8b"} 2`,
		`hindsight_http_request_duration_seconds_bucket{route="/v1/search",le="+Inf"} 3`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %q", want)
		}
	}

	exerciseEvalRoutes(t, sp, srv, keys)
	exerciseIngestRoutes(t, sp)

	for _, op := range sp.allOperations() {
		if !sp.seen[op] {
			t.Errorf("no test exercised %s", op)
		}
	}
}

type event struct{ name, data string }

func sse(t *testing.T, b []byte) []event {
	t.Helper()
	var out []event
	var cur event
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			cur.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			cur.data = strings.TrimPrefix(line, "data: ")
		case line == "" && cur.name != "":
			out = append(out, cur)
			cur = event{}
		}
	}
	return out
}

func TestModelDownAndRateLimit(t *testing.T) {
	sp := loadSpec(t)
	srv, keys := server(t, &ollamatest.Fake{Models: []string{"another-model"}}, 1000)
	threat := `{"kind":"remediation","threat":{"title":"Kerberoasting","techniques":["T1558.003"]}}`
	code, _, b := call(t, sp, srv, "POST", "/v1/drafts", keys["reader"], "", threat)
	if code != 503 || !strings.Contains(string(b), "ollama pull llama3.1:8b") {
		t.Errorf("model missing: %d %s, want 503 saying how to fix it", code, b)
	}
	code, _, b = call(t, sp, srv, "GET", "/readyz", "", "", "")
	if code != 503 {
		t.Errorf("readyz with the model missing = %d %s", code, b)
	}
	code, _, b = call(t, sp, srv, "POST", "/v1/drafts", keys["reader"], "text/event-stream", threat)
	if events := sse(t, b); code != 200 || len(events) != 1 || events[0].name != "error" || !strings.Contains(events[0].data, `"unavailable"`) {
		t.Errorf("streamed error: %d %+v", code, events)
	}

	limited, keys := server(t, nil, 1) // one request a second, bursts of two
	var statuses []int
	for range 4 {
		code, hdr, _ := call(t, sp, limited, "POST", "/v1/search", keys["reader"], "", `{"text":"kerberoast"}`)
		statuses = append(statuses, code)
		if code == 429 && hdr.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	if statuses[0] != 200 || statuses[3] != 429 {
		t.Errorf("statuses = %v, want the burst served and then 429", statuses)
	}
	// Another key has its own bucket.
	if code, _, _ := call(t, sp, limited, "POST", "/v1/search", keys["reviewer"], "", `{"text":"kerberoast"}`); code != 200 {
		t.Errorf("other key limited too: %d", code)
	}
}

// TestSearchRequestDocumented checks that the documented search request names every field the
// server reads, and offers exactly the sections there are.
func TestSearchRequestDocumented(t *testing.T) {
	sp := loadSpec(t)
	schema := sp.doc["components"].(map[string]any)["schemas"].(map[string]any)["SearchRequest"].(map[string]any)
	props := schema["properties"].(map[string]any)
	typ := reflect.TypeOf(api.SearchRequest{})
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		if _, ok := props[name]; !ok {
			t.Errorf("SearchRequest.%s (%q) is not in the OpenAPI document", typ.Field(i).Name, name)
		}
	}
	var enum []string
	for _, v := range props["sections"].(map[string]any)["items"].(map[string]any)["enum"].([]any) {
		enum = append(enum, v.(string))
	}
	if !slices.Equal(enum, hindsight.Sections) {
		t.Errorf("documented sections %v, want %v", enum, hindsight.Sections)
	}
}
