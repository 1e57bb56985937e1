package api_test

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/api"
	"github.com/hindsightsec/hindsight/draft"
	"github.com/hindsightsec/hindsight/ollama"
	"github.com/hindsightsec/hindsight/ollama/ollamatest"
	"github.com/hindsightsec/hindsight/retrieval"
	"github.com/hindsightsec/hindsight/store/sqlite"
	ollamaapi "github.com/ollama/ollama/api"
)

// TestGracefulShutdown stops the server while a draft is being written by a slow (fake) model:
// the request in flight completes, new connections are refused, and Serve returns.
func TestGracefulShutdown(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "h.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fake := &ollamatest.Fake{Models: []string{"m"}, TokenDelay: 40 * time.Millisecond,
		Reply: func(ollamaapi.ChatRequest) string { return "1. Reset the password of the affected account" }}
	c, _ := ollama.New(ollama.Options{Host: fake.Start(), Timeout: 10 * time.Second})
	defer fake.Close()
	g, _ := ollama.NewGenerator(c, "m")
	r := retrieval.NewRetriever(db, retrieval.Builtin{})
	srv := api.New(api.Config{Store: db, Search: r, Drafter: draft.New(r, g)})
	key, _, _ := db.CreateKey(ctx, "acme", hindsight.RoleReader)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(sctx, ln, 10*time.Second) }()

	status := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("POST", "http://"+ln.Addr().String()+"/v1/drafts",
			strings.NewReader(`{"kind":"remediation","threat":{"title":"Kerberoasting"}}`))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			status <- -1
			return
		}
		resp.Body.Close()
		status <- resp.StatusCode
	}()
	// Wait until the model is answering, then stop the server.
	for start := time.Now(); len(fake.Chats()) == 0; time.Sleep(5 * time.Millisecond) {
		if time.Since(start) > 5*time.Second {
			t.Fatal("the draft never reached the model")
		}
	}
	stop()
	if got := <-status; got != http.StatusCreated {
		t.Errorf("request in flight during shutdown: status %d, want 201", got)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after shutdown")
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/healthz"); err == nil {
		t.Error("the server still accepts connections after shutdown")
	}
}
