// Package ollamatest provides Fake, an in-process stand-in for an Ollama server: an httptest
// server that answers the parts of Ollama's HTTP API that Hindsight uses (/api/chat streamed as
// NDJSON, /api/embed, /api/show, /api/tags, HEAD /) with the request and response shapes of the
// real API. It is a fake, not Ollama: answers come from the test's Reply function, and it records
// every request so tests can check what a model would have been sent.
package ollamatest

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/ollama/ollama/api"
)

// Fake is a fake Ollama server. Set its fields before the first request.
type Fake struct {
	// Models are the models the fake has; requests for others get Ollama's 404.
	Models []string
	// Reply returns the assistant's answer to a chat request. Nil answers "1. Do nothing [X]".
	Reply func(req api.ChatRequest) string
	// TokenDelay is slept before each streamed piece, to make a slow model.
	TokenDelay time.Duration
	// FailFirst makes the first FailFirst chat or embed requests fail with FailStatus (a transient
	// 503 by default).
	FailFirst  int
	FailStatus int
	// Dim is the embedding dimension; 0 means 8.
	Dim int

	srv      *httptest.Server
	mu       sync.Mutex
	chats    []api.ChatRequest
	embeds   []api.EmbedRequest
	failures int
}

// Start starts the fake and returns its base URL. Close stops it.
func (f *Fake) Start() string {
	mux := http.NewServeMux()
	mux.HandleFunc("HEAD /{$}", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("POST /api/chat", f.chat)
	mux.HandleFunc("POST /api/embed", f.embed)
	mux.HandleFunc("POST /api/show", f.show)
	mux.HandleFunc("GET /api/tags", f.tags)
	f.srv = httptest.NewServer(mux)
	return f.srv.URL
}

// Close stops the fake.
func (f *Fake) Close() { f.srv.Close() }

// Chats returns the chat requests received so far.
func (f *Fake) Chats() []api.ChatRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.ChatRequest(nil), f.chats...)
}

// Embeds returns the embed requests received so far.
func (f *Fake) Embeds() []api.EmbedRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.EmbedRequest(nil), f.embeds...)
}

func (f *Fake) has(model string) bool {
	for _, m := range f.Models {
		if m == model || m+":latest" == model || m == model+":latest" {
			return true
		}
	}
	return false
}

// fail writes Ollama's error shape: {"error": "..."} with the status.
func fail(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func (f *Fake) injectFailure(w http.ResponseWriter) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failures < f.FailFirst {
		f.failures++
		status := f.FailStatus
		if status == 0 {
			status = http.StatusServiceUnavailable
		}
		fail(w, status, "server busy")
		return true
	}
	return false
}

func (f *Fake) chat(w http.ResponseWriter, r *http.Request) {
	var req api.ChatRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	f.mu.Lock()
	f.chats = append(f.chats, req)
	f.mu.Unlock()
	if !f.has(req.Model) {
		fail(w, http.StatusNotFound, fmt.Sprintf("model %q not found, try pulling it first", req.Model))
		return
	}
	if f.injectFailure(w) {
		return
	}
	answer := "1. Do nothing [X]"
	if f.Reply != nil {
		answer = f.Reply(req)
	}
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if req.Stream != nil && !*req.Stream {
		writeJSON(w, api.ChatResponse{Model: req.Model, CreatedAt: created, Message: api.Message{Role: "assistant", Content: answer},
			Done: true, DoneReason: "stop", Metrics: api.Metrics{PromptEvalCount: words(req), EvalCount: len(strings.Fields(answer))}})
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	flusher, _ := w.(http.Flusher)
	for _, piece := range splitKeep(answer) {
		if f.TokenDelay > 0 {
			select {
			case <-time.After(f.TokenDelay):
			case <-r.Context().Done():
				return
			}
		}
		enc.Encode(api.ChatResponse{Model: req.Model, CreatedAt: created, Message: api.Message{Role: "assistant", Content: piece}})
		if flusher != nil {
			flusher.Flush()
		}
	}
	enc.Encode(api.ChatResponse{Model: req.Model, CreatedAt: created, Message: api.Message{Role: "assistant"}, Done: true, DoneReason: "stop",
		Metrics: api.Metrics{PromptEvalCount: words(req), EvalCount: len(strings.Fields(answer))}})
}

func words(req api.ChatRequest) int {
	n := 0
	for _, m := range req.Messages {
		n += len(strings.Fields(m.Content))
	}
	return n
}

// splitKeep splits text into pieces of a few characters, as a model streams tokens.
func splitKeep(s string) []string {
	var out []string
	for len(s) > 0 {
		n := min(4, len(s))
		out = append(out, s[:n])
		s = s[n:]
	}
	return out
}

func (f *Fake) embed(w http.ResponseWriter, r *http.Request) {
	var req api.EmbedRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	f.mu.Lock()
	f.embeds = append(f.embeds, req)
	f.mu.Unlock()
	if !f.has(req.Model) {
		fail(w, http.StatusNotFound, fmt.Sprintf("model %q not found, try pulling it first", req.Model))
		return
	}
	if f.injectFailure(w) {
		return
	}
	var inputs []string
	switch v := req.Input.(type) {
	case string:
		inputs = []string{v}
	case []any:
		for _, x := range v {
			s, _ := x.(string)
			inputs = append(inputs, s)
		}
	}
	dim := f.Dim
	if dim == 0 {
		dim = 8
	}
	resp := api.EmbedResponse{Model: req.Model}
	for _, in := range inputs {
		resp.Embeddings = append(resp.Embeddings, vector(in, dim))
	}
	writeJSON(w, resp)
}

// vector is a deterministic, unnormalised vector derived from the text's words.
func vector(text string, dim int) []float32 {
	v := make([]float32, dim)
	for _, word := range strings.Fields(strings.ToLower(text)) {
		h := fnv.New32a()
		h.Write([]byte(word))
		v[h.Sum32()%uint32(dim)] += 2
	}
	return v
}

func (f *Fake) show(w http.ResponseWriter, r *http.Request) {
	var req api.ShowRequest
	json.NewDecoder(r.Body).Decode(&req)
	if !f.has(req.Model) {
		fail(w, http.StatusNotFound, fmt.Sprintf("model '%s' not found", req.Model))
		return
	}
	writeJSON(w, api.ShowResponse{Details: api.ModelDetails{Format: "gguf", Family: "llama"}})
}

func (f *Fake) tags(w http.ResponseWriter, r *http.Request) {
	var resp api.ListResponse
	for _, m := range f.Models {
		h := fnv.New64a()
		h.Write([]byte(m))
		resp.Models = append(resp.Models, api.ListModelResponse{Name: m, Model: m, Digest: fmt.Sprintf("%016x%016x", h.Sum64(), h.Sum64())})
	}
	writeJSON(w, resp)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
