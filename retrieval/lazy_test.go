package retrieval

import (
	"cmp"
	"context"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/sample"
)

// memIndex is an exact in-memory index: a vector and term counts per document, scored by brute
// force. (The store packages import this one through eval, so its internal tests cannot use them.)
type memIndex struct {
	docs  []*hindsight.Document
	vecs  [][]float32
	terms []map[string]int
}

func newMemIndex(docs []hindsight.Document) *memIndex {
	ix := &memIndex{}
	for i := range docs {
		d := &docs[i]
		terms := Tokenize(DocumentText(d))
		tf := map[string]int{}
		for _, t := range terms {
			tf[t]++
		}
		ix.docs = append(ix.docs, d)
		ix.vecs = append(ix.vecs, Builtin{}.EmbedTerms(terms))
		ix.terms = append(ix.terms, tf)
	}
	return ix
}

func (ix *memIndex) top(f hindsight.Filter, n int, score func(i int) float64) []hindsight.Candidate {
	var out []hindsight.Candidate
	for i, d := range ix.docs {
		if !f.Matches(d) {
			continue
		}
		if s := score(i); s > 0 {
			out = append(out, hindsight.Candidate{Doc: d.Key(), Section: "case", Score: s})
		}
	}
	slices.SortStableFunc(out, func(a, b hindsight.Candidate) int { return cmp.Compare(b.Score, a.Score) })
	return out[:min(n, len(out))]
}

func (ix *memIndex) SearchVectors(_ context.Context, _ hindsight.Space, vec []float32, f hindsight.Filter, n int) ([]hindsight.Candidate, error) {
	return ix.top(f, n, func(i int) float64 {
		var s float64
		for j, x := range vec {
			s += float64(x * ix.vecs[i][j])
		}
		return s
	}), nil
}

func (ix *memIndex) SearchText(_ context.Context, terms []string, f hindsight.Filter, n int) ([]hindsight.Candidate, error) {
	return ix.top(f, n, func(i int) float64 {
		var s float64
		for _, t := range terms {
			s += math.Log1p(float64(ix.terms[i][t]))
		}
		return s
	}), nil
}

func (ix *memIndex) FindDocuments(_ context.Context, keys []hindsight.DocKey) (map[hindsight.DocKey]*hindsight.Document, error) {
	out := map[hindsight.DocKey]*hindsight.Document{}
	for _, d := range ix.docs {
		if slices.Contains(keys, d.Key()) {
			out[d.Key()] = d
		}
	}
	return out, nil
}

// countingIndex counts the documents the retriever loads.
type countingIndex struct {
	Index
	mu     sync.Mutex
	loaded int
}

func (c *countingIndex) FindDocuments(ctx context.Context, keys []hindsight.DocKey) (map[hindsight.DocKey]*hindsight.Document, error) {
	c.mu.Lock()
	c.loaded += len(keys)
	c.mu.Unlock()
	return c.Index.FindDocuments(ctx, keys)
}

// TestSearchLoadsOnlyWhatCanRank holds the retriever's bound on which documents it loads to the
// reference that loads every candidate: over generated history, with priors and diversity mild,
// strong and off, the hits (and every score and explanation) are the same, and far fewer
// documents are loaded.
func TestSearchLoadsOnlyWhatCanRank(t *testing.T) {
	ctx := context.Background()
	c, err := sample.Generate(sample.Config{Threats: 400, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	// Some guidance approved, so that priors above 1 exist for the bound to allow for.
	for i := range c.Threats {
		if i%4 == 0 {
			c.Threats[i].Metadata = map[string]json.RawMessage{"status": json.RawMessage(`"approved"`)}
		}
	}
	db := newMemIndex(append(c.Threats, c.Knowledge...))
	emb := Builtin{}
	now := c.Threats[len(c.Threats)-1].OccurredAt
	for _, w := range []Weights{
		DefaultWeights,
		{Vector: 1, Text: 1.5, Indicator: 0.25, Technique: 0.5, Priors: 1, Diversity: 1},
		{Vector: 1, Text: 1, Technique: 1, Priors: 0.5},
		{Vector: 1, Text: 1, Diversity: 0.7},
		// Far stronger than any default, so that the bound decides often.
		{Vector: 1, Text: 1, Technique: 0.5, Priors: 4, Diversity: 0.9},
		{Vector: 1, Text: 1, Technique: 0.5, Priors: 4},
		{Vector: 1, Text: 1, Priors: 4},
	} {
		lazyIx, allIx := &countingIndex{Index: db}, &countingIndex{Index: db}
		// One document at a time, so that the bound alone decides where loading stops.
		lazy := &Retriever{index: lazyIx, embedder: emb, weights: w, Now: func() time.Time { return now }, batches: [2]int{1, 1}}
		all := &Retriever{index: allIx, embedder: emb, weights: w, Now: func() time.Time { return now }, batches: [2]int{MaxK * 10, 1}}
		for i, th := range c.Threats[:80] {
			q := Query{Text: strings.Join(append([]string{th.Title, th.Summary}, th.Events...), "\n"),
				Techniques: th.Techniques, K: 3 + i%8, Filter: hindsight.Filter{Tenant: th.Tenant},
				Exclude: []hindsight.DocKey{{Tenant: th.Tenant, Kind: th.Kind, ID: th.ID}}}
			got, err := lazy.Search(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			want, err := all.Search(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if diff := gocmp.Diff(want, got); diff != "" {
				t.Fatalf("weights %+v, query %s: hits differ (-all +lazy):\n%s", w, th.ID, diff)
			}
		}
		t.Logf("weights %+v: %d documents loaded, %d when all are", w, lazyIx.loaded, allIx.loaded)
		if w == DefaultWeights && lazyIx.loaded*10 > allIx.loaded*6 {
			t.Errorf("default weights: loaded %d documents, against %d for all candidates: want under 60%%", lazyIx.loaded, allIx.loaded)
		}
	}
}

// TestMaxPrior: the best document there can be has exactly maxPrior, which the retriever's bound
// on unloaded candidates relies on.
func TestMaxPrior(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rate := 1.0
	best := &hindsight.Document{Disposition: hindsight.DispositionTruePositive, Severity: hindsight.SeverityCritical,
		OccurredAt: now, ConversionRate: &rate, Metadata: map[string]json.RawMessage{"status": json.RawMessage(`"approved"`)}}
	if p := prior(best, nil, now); p != maxPrior {
		t.Errorf("prior of the best document = %v, want maxPrior %v", p, maxPrior)
	}
}
