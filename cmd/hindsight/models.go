package main

import (
	"context"
	"strings"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/ollama"
	"github.com/hindsightsec/hindsight/retrieval"
)

// embedder returns the embedder named by --embedder, built once.
func (m *Main) embedder(ctx context.Context) (hindsight.Embedder, error) {
	if m.emb != nil {
		return m.emb, nil
	}
	model, isOllama := strings.CutPrefix(m.Config.Embedder, "ollama:")
	if !isOllama {
		m.emb = retrieval.Builtin{}
		return m.emb, nil
	}
	c, err := m.ollama()
	if err != nil {
		return nil, err
	}
	e, err := ollama.NewEmbedder(ctx, c, model)
	if err != nil {
		return nil, err
	}
	m.emb = e
	return e, nil
}

// generator returns the model named by --llm, or nil for the extractive drafter.
func (m *Main) generator() (*ollama.Generator, error) {
	model, isOllama := strings.CutPrefix(m.Config.LLM, "ollama:")
	if !isOllama {
		return nil, nil
	}
	c, err := m.ollama()
	if err != nil {
		return nil, err
	}
	return ollama.NewGenerator(c, model)
}

func (m *Main) ollama() (*ollama.Client, error) {
	return ollama.New(ollama.Options{Timeout: m.Config.LLMTimeout})
}
