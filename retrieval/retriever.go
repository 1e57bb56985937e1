// Package retrieval finds the past cases and knowledge most similar to a new threat: it tokenises
// security text, embeds it with the built-in embedder (or another hindsight.Embedder), asks an
// index for vector and full-text candidates, and fuses them with the ATT&CK overlap into ranked,
// explained hits.
package retrieval

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hindsightsec/hindsight"
)

// Index is what the retriever needs of a backend. Every method applies the filter (tenant scope
// first) inside the backend's own query.
type Index interface {
	// SearchVectors returns up to n documents whose chunks are nearest to vec, each with its
	// nearest chunk's cosine similarity, best first.
	SearchVectors(ctx context.Context, space hindsight.Space, vec []float32, f hindsight.Filter, n int) ([]hindsight.Candidate, error)
	// SearchText returns up to n documents whose chunks best match any of the terms, with a
	// BM25-like score (higher is better), best first.
	SearchText(ctx context.Context, terms []string, f hindsight.Filter, n int) ([]hindsight.Candidate, error)
	// FindDocuments returns the documents it holds among keys.
	FindDocuments(ctx context.Context, keys []hindsight.DocKey) (map[hindsight.DocKey]*hindsight.Document, error)
}

// MaxK is the largest number of hits a search returns.
const MaxK = 100

// Query is a search. Filter.Tenant is required.
type Query struct {
	Text       string
	Techniques []string // ATT&CK techniques of the new threat; they also rank
	Filter     hindsight.Filter
	K          int                // hits wanted, 1..MaxK; 0 means 10
	Exclude    []hindsight.DocKey // documents never returned (e.g. the threat being drafted for)
}

// Weights are the weights of each signal in reciprocal rank fusion.
type Weights struct {
	Vector, Text, Technique float64
}

// DefaultWeights weigh the signals equally.
var DefaultWeights = Weights{Vector: 1, Text: 1, Technique: 1}

// rrfK damps the contribution of lower ranks in reciprocal rank fusion, as in the original paper.
const rrfK = 60

// Retriever runs hybrid searches over an index.
type Retriever struct {
	index    Index
	embedder hindsight.Embedder
	weights  Weights
}

// NewRetriever returns a retriever with the default weights.
func NewRetriever(index Index, embedder hindsight.Embedder) *Retriever {
	return &Retriever{index: index, embedder: embedder, weights: DefaultWeights}
}

// Search returns up to q.K hits, best first, each with the document and an explanation.
func (r *Retriever) Search(ctx context.Context, q Query) ([]hindsight.Hit, error) {
	if err := validate(&q); err != nil {
		return nil, err
	}
	text := strings.TrimSpace(q.Text + " " + strings.Join(q.Techniques, " "))
	terms, surface := tokenize(text, true)
	if len(terms) == 0 {
		return nil, hindsight.Invalid("text", "has no searchable terms")
	}
	// Ask each signal for more than k: fusion needs overlap between the lists.
	n := max(50, 5*q.K)
	vecs, err := r.embedder.Embed(ctx, []string{text})
	if err != nil {
		return nil, &hindsight.Error{Code: hindsight.EUNAVAILABLE, Message: "embedder failed", Err: err}
	}
	type result struct {
		cands []hindsight.Candidate
		err   error
	}
	vch := make(chan result, 1)
	go func() {
		c, err := r.index.SearchVectors(ctx, r.embedder.Space(), vecs[0], q.Filter, n)
		vch <- result{c, err}
	}()
	textCands, err := r.index.SearchText(ctx, terms, q.Filter, n)
	vres := <-vch
	if err != nil {
		return nil, fmt.Errorf("text search: %w", err)
	}
	if vres.err != nil {
		return nil, fmt.Errorf("vector search: %w", vres.err)
	}

	fused := map[hindsight.DocKey]*hindsight.Hit{}
	var order []hindsight.DocKey
	add := func(signal string, w float64, cands []hindsight.Candidate) {
		rank := 0
		for _, c := range cands {
			if slices.Contains(q.Exclude, c.Doc) {
				continue
			}
			rank++
			h := fused[c.Doc]
			if h == nil {
				h = &hindsight.Hit{ID: c.Doc.ID, Kind: c.Doc.Kind, Tenant: c.Doc.Tenant,
					Why: hindsight.Why{Signals: map[string]float64{}, Ranks: map[string]int{}, Section: c.Section}}
				fused[c.Doc] = h
				order = append(order, c.Doc)
			}
			h.Why.Signals[signal] = c.Score
			h.Why.Ranks[signal] = rank
			h.Score += w / float64(rrfK+rank)
		}
	}
	add("vector", r.weights.Vector, vres.cands)
	add("text", r.weights.Text, textCands)

	docs, err := r.index.FindDocuments(ctx, order)
	if err != nil {
		return nil, fmt.Errorf("load documents: %w", err)
	}
	if len(q.Techniques) > 0 {
		// The ATT&CK signal ranks the candidates by how much of the query's techniques they share.
		type ts struct {
			key   hindsight.DocKey
			score float64
		}
		var byTech []ts
		for _, k := range order {
			if d := docs[k]; d != nil {
				if s := TechniqueSimilarity(q.Techniques, d.Techniques); s > 0 {
					byTech = append(byTech, ts{k, s})
				}
			}
		}
		sort.SliceStable(byTech, func(i, j int) bool { return byTech[i].score > byTech[j].score })
		for i, t := range byTech {
			h := fused[t.key]
			h.Why.Signals["technique"] = t.score
			h.Why.Ranks["technique"] = i + 1
			h.Score += r.weights.Technique / float64(rrfK+i+1)
		}
	}

	hits := make([]hindsight.Hit, 0, len(order))
	for _, k := range order {
		d := docs[k]
		if d == nil {
			continue // deleted between the searches and the load
		}
		h := fused[k]
		h.Title, h.Document = d.Title, d
		h.Why.Techniques = sharedTechniques(q.Techniques, d.Techniques)
		hits = append(hits, *h)
	}
	sort.SliceStable(hits, func(i, j int) bool { return hits[i].Score > hits[j].Score })
	if len(hits) > q.K {
		hits = hits[:q.K]
	}
	for i := range hits {
		hits[i].Why.Terms = matchingTerms(terms, surface, hits[i].Document)
	}
	return hits, nil
}

func validate(q *Query) error {
	if q.Filter.Tenant == "" {
		return hindsight.Invalid("tenant", "is required")
	}
	if q.K == 0 {
		q.K = 10
	}
	if q.K < 1 || q.K > MaxK {
		return hindsight.Invalid("k", "must be between 1 and %d, got %d", MaxK, q.K)
	}
	for i, k := range q.Filter.Kinds {
		if !k.Valid() {
			return hindsight.Invalid(fmt.Sprintf("kinds[%d]", i), "unknown kind %q", k)
		}
	}
	for i, t := range q.Techniques {
		if !hindsight.ValidTechnique(t) {
			return hindsight.Invalid(fmt.Sprintf("techniques[%d]", i), "%q is not an ATT&CK technique ID (want T1234 or T1234.567)", t)
		}
	}
	for i, t := range q.Filter.Techniques {
		if !hindsight.ValidTechnique(t) {
			return hindsight.Invalid(fmt.Sprintf("technique[%d]", i), "%q is not an ATT&CK technique ID (want T1234 or T1234.567)", t)
		}
	}
	return nil
}

// TechniqueSimilarity scores how much of the query's techniques a document shares: an exact match
// counts 1, a shared parent technique (T1059.001 and T1059.003, or T1059 and T1059.001) counts 0.5;
// the sum is divided by the number of query techniques.
func TechniqueSimilarity(query, doc []string) float64 {
	if len(query) == 0 || len(doc) == 0 {
		return 0
	}
	var s float64
	for _, q := range query {
		best := 0.0
		for _, d := range doc {
			switch {
			case q == d:
				best = 1
			case hindsight.ParentTechnique(q) == hindsight.ParentTechnique(d):
				best = max(best, 0.5)
			}
		}
		s += best
	}
	return s / float64(len(query))
}

func sharedTechniques(query, doc []string) []string {
	var out []string
	for _, q := range query {
		for _, d := range doc {
			if q == d || hindsight.ParentTechnique(q) == hindsight.ParentTechnique(d) {
				if !slices.Contains(out, d) {
					out = append(out, d)
				}
			}
		}
	}
	return out
}

// matchingTerms lists the query terms that occur in the document, in query order, as the query
// wrote them (its words rather than their stems).
func matchingTerms(terms []string, surface map[string]string, d *hindsight.Document) []string {
	docTerms := map[string]bool{}
	for _, t := range Tokenize(DocumentText(d)) {
		docTerms[t] = true
	}
	var out []string
	for _, t := range terms {
		if !docTerms[t] {
			continue
		}
		if w := surface[t]; w != "" {
			t = w
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// DocumentText returns all the searchable text of a document, in one string.
func DocumentText(d *hindsight.Document) string {
	parts := []string{d.Title, d.Summary, strings.Join(d.Events, "\n"), d.Remediation, d.Hunting, d.Hardening,
		d.Description, d.Body, strings.Join(d.Techniques, " "), strings.Join(d.Analytics, " "), strings.Join(d.Tags, " ")}
	return strings.Join(parts, "\n")
}
