package ollama

import (
	"context"
	"strings"

	"github.com/hindsightsec/hindsight"
	"github.com/ollama/ollama/api"
)

// Generator drafts with a chat model. It implements hindsight.Generator.
type Generator struct {
	client *Client
	model  string
}

var _ hindsight.Generator = (*Generator)(nil)

// NewGenerator returns a generator for a chat model (e.g. "llama3.1:8b"). It does not contact the
// server; use Client.Ping to check.
func NewGenerator(c *Client, model string) (*Generator, error) {
	if strings.TrimSpace(model) == "" {
		return nil, hindsight.Invalid("llm", "ollama: needs a model name, as in ollama:llama3.1:8b")
	}
	return &Generator{client: c, model: model}, nil
}

// Name implements hindsight.Generator.
func (g *Generator) Name() string { return "ollama:" + g.model }

// ContextTokens implements hindsight.Generator: the num_ctx the generator asks for.
func (g *Generator) ContextTokens() int { return g.client.opts.ContextTokens }

// Ping checks that the server answers and has the model.
func (g *Generator) Ping(ctx context.Context) error { return g.client.Ping(ctx, g.model) }

// Generate implements hindsight.Generator with a streamed chat. Temperature is low: drafts should
// stay close to their sources, and the same threat should get much the same draft.
func (g *Generator) Generate(ctx context.Context, p hindsight.Prompt, onToken func(string)) (hindsight.Generation, error) {
	stream := true
	opts := map[string]any{"num_ctx": g.client.opts.ContextTokens, "temperature": 0.1}
	if p.MaxTokens > 0 {
		opts["num_predict"] = p.MaxTokens
	}
	req := &api.ChatRequest{
		Model:    g.model,
		Stream:   &stream,
		Options:  opts,
		Messages: []api.Message{{Role: "system", Content: p.System}, {Role: "user", Content: p.User}},
	}
	var out hindsight.Generation
	err := g.client.retry(ctx, g.model, func(ctx context.Context) (bool, error) {
		var b strings.Builder
		started := false
		err := g.client.api.Chat(ctx, req, func(r api.ChatResponse) error {
			if r.Message.Content != "" {
				started = true
				b.WriteString(r.Message.Content)
				if onToken != nil {
					onToken(r.Message.Content)
				}
			}
			if r.Done {
				out.PromptTokens, out.OutputTokens = r.PromptEvalCount, r.EvalCount
			}
			return nil
		})
		out.Text = b.String()
		return started, err
	})
	if err != nil {
		return hindsight.Generation{}, err
	}
	return out, nil
}
