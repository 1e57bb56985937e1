package ollama

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/hindsightsec/hindsight"
	"github.com/ollama/ollama/api"
)

// Embedder embeds with an Ollama embedding model (e.g. "nomic-embed-text"). It implements
// hindsight.Embedder; its space is named after the model, versioned by the model's digest, and
// sized by what the model returns, so a change of model or of its weights re-embeds.
type Embedder struct {
	client *Client
	model  string
	space  hindsight.Space
}

var _ hindsight.Embedder = (*Embedder)(nil)

// NewEmbedder asks the server for the model's digest and dimension and returns an embedder.
func NewEmbedder(ctx context.Context, c *Client, model string) (*Embedder, error) {
	if strings.TrimSpace(model) == "" {
		return nil, hindsight.Invalid("embedder", "ollama: needs a model name, as in ollama:nomic-embed-text")
	}
	e := &Embedder{client: c, model: model}
	version := "unknown"
	list, err := c.api.List(ctx)
	if err != nil {
		return nil, c.explain(err, model)
	}
	for _, m := range list.Models {
		if m.Name == model || m.Model == model || m.Name == model+":latest" {
			version = m.Digest
			if len(version) > 12 {
				version = version[:12]
			}
		}
	}
	vs, err := e.embed(ctx, []string{"dimension probe"})
	if err != nil {
		return nil, err
	}
	e.space = hindsight.Space{Name: "ollama:" + model, Version: version, Dim: len(vs[0])}
	return e, nil
}

// Space implements hindsight.Embedder.
func (e *Embedder) Space() hindsight.Space { return e.space }

// Embed implements hindsight.Embedder. The vectors are normalised here: Ollama's models do not all
// return unit vectors, and the stores compare by dot product.
func (e *Embedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	vs, err := e.embed(ctx, texts)
	if err != nil {
		return nil, err
	}
	for i, v := range vs {
		if e.space.Dim != 0 && len(v) != e.space.Dim {
			return nil, fmt.Errorf("ollama model %s returned %d values for text %d, want %d", e.model, len(v), i, e.space.Dim)
		}
		normalize(v)
	}
	return vs, nil
}

func (e *Embedder) embed(ctx context.Context, texts []string) ([][]float32, error) {
	if len(texts) == 0 {
		return nil, nil
	}
	truncate := true
	var out [][]float32
	err := e.client.retry(ctx, e.model, func(ctx context.Context) (bool, error) {
		resp, err := e.client.api.Embed(ctx, &api.EmbedRequest{Model: e.model, Input: texts, Truncate: &truncate})
		if err != nil {
			return false, err
		}
		out = resp.Embeddings
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) != len(texts) {
		return nil, fmt.Errorf("ollama model %s returned %d embeddings for %d texts", e.model, len(out), len(texts))
	}
	return out, nil
}

func normalize(v []float32) {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if s == 0 {
		return
	}
	inv := float32(1 / math.Sqrt(s))
	for i := range v {
		v[i] *= inv
	}
}
