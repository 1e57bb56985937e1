package ollama_test

import (
	"context"
	"math"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/ollama"
	"github.com/hindsightsec/hindsight/ollama/ollamatest"
	"github.com/ollama/ollama/api"
)

func start(t *testing.T, f *ollamatest.Fake) *ollama.Client {
	t.Helper()
	url := f.Start()
	t.Cleanup(f.Close)
	c, err := ollama.New(ollama.Options{Host: url, Backoff: time.Millisecond, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestGenerateStreams(t *testing.T) {
	f := &ollamatest.Fake{Models: []string{"llama3.1:8b"}, Reply: func(req api.ChatRequest) string { return "1. Reset the password [THR-1]" }}
	g, err := ollama.NewGenerator(start(t, f), "llama3.1:8b")
	if err != nil {
		t.Fatal(err)
	}
	var pieces []string
	out, err := g.Generate(context.Background(), hindsight.Prompt{System: "rules", User: "task", MaxTokens: 100}, func(s string) { pieces = append(pieces, s) })
	if err != nil {
		t.Fatal(err)
	}
	if out.Text != "1. Reset the password [THR-1]" || strings.Join(pieces, "") != out.Text || len(pieces) < 2 {
		t.Errorf("text %q from %d pieces", out.Text, len(pieces))
	}
	if out.OutputTokens == 0 || out.PromptTokens == 0 {
		t.Errorf("token counts not read: %+v", out)
	}
	req := f.Chats()[0]
	if req.Messages[0].Role != "system" || req.Messages[0].Content != "rules" || req.Messages[1].Content != "task" {
		t.Errorf("messages sent = %+v", req.Messages)
	}
	if req.Options["num_ctx"] != float64(8192) || req.Options["num_predict"] != float64(100) {
		t.Errorf("options sent = %v", req.Options)
	}
	if g.Name() != "ollama:llama3.1:8b" || g.ContextTokens() != 8192 {
		t.Errorf("Name %q, ContextTokens %d", g.Name(), g.ContextTokens())
	}
}

func TestGenerateErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("model not found", func(t *testing.T) {
		g, _ := ollama.NewGenerator(start(t, &ollamatest.Fake{Models: []string{"other"}}), "llama3.1:8b")
		_, err := g.Generate(ctx, hindsight.Prompt{User: "x"}, nil)
		if hindsight.ErrorCode(err) != hindsight.EUNAVAILABLE || !strings.Contains(hindsight.ErrorMessage(err), "ollama pull llama3.1:8b") {
			t.Errorf("err = %v", err)
		}
		if err := g.Ping(ctx); hindsight.ErrorCode(err) != hindsight.EUNAVAILABLE {
			t.Errorf("Ping = %v", err)
		}
	})
	t.Run("server down", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := ln.Addr().String()
		ln.Close()
		c, _ := ollama.New(ollama.Options{Host: addr, Backoff: time.Millisecond})
		g, _ := ollama.NewGenerator(c, "llama3.1:8b")
		start := time.Now()
		_, err := g.Generate(ctx, hindsight.Prompt{User: "x"}, nil)
		if hindsight.ErrorCode(err) != hindsight.EUNAVAILABLE || !strings.Contains(hindsight.ErrorMessage(err), "cannot reach Ollama") {
			t.Errorf("err = %v", err)
		}
		if time.Since(start) > 2*time.Second {
			t.Errorf("a refused connection took %s: it must not be retried", time.Since(start))
		}
	})
	t.Run("transient errors are retried", func(t *testing.T) {
		f := &ollamatest.Fake{Models: []string{"m"}, FailFirst: 2}
		g, _ := ollama.NewGenerator(start(t, f), "m")
		if _, err := g.Generate(ctx, hindsight.Prompt{User: "x"}, nil); err != nil {
			t.Errorf("after two 503s: %v", err)
		}
		if n := len(f.Chats()); n != 3 {
			t.Errorf("%d requests, want 3", n)
		}
	})
	t.Run("retries give up", func(t *testing.T) {
		f := &ollamatest.Fake{Models: []string{"m"}, FailFirst: 10}
		g, _ := ollama.NewGenerator(start(t, f), "m")
		if _, err := g.Generate(ctx, hindsight.Prompt{User: "x"}, nil); hindsight.ErrorCode(err) != hindsight.EUNAVAILABLE {
			t.Errorf("err = %v", err)
		}
		if n := len(f.Chats()); n != 3 {
			t.Errorf("%d requests, want 3 attempts", n)
		}
	})
	t.Run("slow model times out", func(t *testing.T) {
		f := &ollamatest.Fake{Models: []string{"m"}, TokenDelay: 300 * time.Millisecond, Reply: func(api.ChatRequest) string { return strings.Repeat("word ", 20) }}
		url := f.Start()
		defer f.Close()
		c, _ := ollama.New(ollama.Options{Host: url, Timeout: 500 * time.Millisecond})
		g, _ := ollama.NewGenerator(c, "m")
		start := time.Now()
		_, err := g.Generate(ctx, hindsight.Prompt{User: "x"}, nil)
		if hindsight.ErrorCode(err) != hindsight.EUNAVAILABLE || !strings.Contains(hindsight.ErrorMessage(err), "did not answer within 500ms") {
			t.Errorf("err = %v", err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("timeout of 500ms took %s", d)
		}
	})
}

func TestEmbedder(t *testing.T) {
	ctx := context.Background()
	f := &ollamatest.Fake{Models: []string{"nomic-embed-text"}, Dim: 16}
	e, err := ollama.NewEmbedder(ctx, start(t, f), "nomic-embed-text")
	if err != nil {
		t.Fatal(err)
	}
	if s := e.Space(); s.Name != "ollama:nomic-embed-text" || s.Dim != 16 || s.Version == "" || s.Version == "unknown" {
		t.Errorf("space = %+v", s)
	}
	vs, err := e.Embed(ctx, []string{"lsass dump", "kerberoast svc_sql"})
	if err != nil || len(vs) != 2 {
		t.Fatalf("Embed = %v, %v", vs, err)
	}
	for _, v := range vs {
		var s float64
		for _, x := range v {
			s += float64(x) * float64(x)
		}
		if math.Abs(s-1) > 1e-5 {
			t.Errorf("vector not normalised: squared norm %v", s)
		}
	}
	if _, err := ollama.NewEmbedder(ctx, start(t, &ollamatest.Fake{}), "nomic-embed-text"); hindsight.ErrorCode(err) != hindsight.EUNAVAILABLE {
		t.Errorf("missing model: %v", err)
	}
}

// TestRealOllama runs against the Ollama server named by OLLAMA_HOST with the models named by
// HINDSIGHT_TEST_OLLAMA_MODEL (chat) and HINDSIGHT_TEST_OLLAMA_EMBED_MODEL (embedding).
func TestRealOllama(t *testing.T) {
	host, model := os.Getenv("OLLAMA_HOST"), os.Getenv("HINDSIGHT_TEST_OLLAMA_MODEL")
	if host == "" || model == "" {
		t.Skip("set OLLAMA_HOST and HINDSIGHT_TEST_OLLAMA_MODEL to test against a real Ollama server")
	}
	c, err := ollama.New(ollama.Options{Host: host})
	if err != nil {
		t.Fatal(err)
	}
	g, _ := ollama.NewGenerator(c, model)
	out, err := g.Generate(context.Background(), hindsight.Prompt{System: "Answer in one word.", User: "Say OK.", MaxTokens: 10}, nil)
	if err != nil || strings.TrimSpace(out.Text) == "" {
		t.Fatalf("Generate = %+v, %v", out, err)
	}
	if em := os.Getenv("HINDSIGHT_TEST_OLLAMA_EMBED_MODEL"); em != "" {
		e, err := ollama.NewEmbedder(context.Background(), c, em)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Embed(context.Background(), []string{"lsass"}); err != nil {
			t.Fatal(err)
		}
	}
}
