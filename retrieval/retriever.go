// Package retrieval finds the past cases and knowledge most similar to a new threat: it tokenises
// security text, embeds it with the built-in embedder (or another hindsight.Embedder), asks an
// index for vector and full-text candidates, and fuses them with the ATT&CK overlap into ranked,
// explained hits.
package retrieval

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

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
	// At is when the threat happened; a past case's age is measured from it. Zero means now,
	// which is right for a new threat; replaying history (eval, a draft for an old threat)
	// sets it, so that a case far from the threat in time, before or after, counts as old.
	At time.Time
	// SkipTerms leaves out the explanation's matching terms (Why.Terms), which take tokenising
	// each hit: for callers that do not show them, such as drafting.
	SkipTerms bool
}

// Weights tune the retriever. Each signal's list is fused by reciprocal rank fusion with its
// weight; a zero weight switches the signal off (it is not even queried), which is how eval
// measures each signal alone.
type Weights struct {
	Vector    float64 // dense similarity of the embedded text
	Text      float64 // BM25 over all terms
	Indicator float64 // BM25 over the query's indicators only: IPs, hashes, domains, paths, process names, flags
	Technique float64 // ATT&CK overlap: same technique, same parent, same tactic
	// Priors scales the fused score by what made a past case useful: disposition, severity,
	// age, the firing analytics' conversion rates, review status. 0 switches priors off.
	Priors float64
	// Diversity demotes a hit that nearly repeats a better one (same incident written twice),
	// 0 switches it off, 1 always moves such hits behind the rest.
	Diversity float64
}

// DefaultWeights are chosen by `hindsight eval retrieval` on generated corpora (BENCHMARKS.md):
// text weighs more than vectors (the built-in embedder hashes the same terms BM25 sees, so it adds
// less), indicators and ATT&CK overlap refine. Priors and diversity cost up to 0.003 nDCG@10 there,
// because the generated judgments call every case of a scenario relevant whatever its disposition
// or however closely it repeats another; they are kept mild rather than off, since a detection
// engineer wants a true positive before a false one and five copies of one incident help nobody.
var DefaultWeights = Weights{Vector: 1, Text: 1.5, Indicator: 0.25, Technique: 0.5, Priors: 0.3, Diversity: 0.3}

// rrfK damps the contribution of lower ranks in reciprocal rank fusion. The original paper's 60
// flattens the top ranks more than suits hybrid search over past cases: on generated corpora 20
// scored higher on recall@10 and nDCG@10 for both seeds measured (BENCHMARKS.md).
const rrfK = 20

// Retriever runs hybrid searches over an index.
type Retriever struct {
	index    Index
	embedder hindsight.Embedder
	weights  Weights
	// Now is the time ages are measured from; nil means time.Now.
	Now func() time.Time
	// batches overrides how many candidates' documents are loaded at first and then at a time
	// (default window+8, then 16), so that tests can hold the bound that stops loading to a
	// reference that loads every candidate.
	batches [2]int
}

// NewRetriever returns a retriever with the default weights.
func NewRetriever(index Index, embedder hindsight.Embedder) *Retriever {
	return &Retriever{index: index, embedder: embedder, weights: DefaultWeights}
}

// WithWeights returns a copy of the retriever that uses w.
func (r *Retriever) WithWeights(w Weights) *Retriever {
	c := *r
	c.weights = w
	return &c
}

// Weights returns the retriever's weights.
func (r *Retriever) Weights() Weights { return r.weights }

// signal is one ranked list of candidates.
type signal struct {
	name   string
	weight float64
	cands  []hindsight.Candidate
	err    error
}

// ranks calls fn with each of the signal's candidates but the excluded ones, and its rank among
// them, from 1.
func (s *signal) ranks(exclude []hindsight.DocKey, fn func(c hindsight.Candidate, rank int)) {
	rank := 0
	for _, c := range s.cands {
		if !slices.Contains(exclude, c.Doc) {
			rank++
			fn(c, rank)
		}
	}
}

// fused is what a candidate at rank adds to its fused score: reciprocal rank fusion.
func (s *signal) fused(rank int) float64 { return s.weight / float64(rrfK+rank) }

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
	w := r.weights
	// Ask each signal for more than k: fusion needs overlap between the lists, and diversity
	// needs spares.
	n := max(30, 3*q.K)
	var vec []float32
	if w.Vector > 0 || w.Technique > 0 {
		vecs, err := r.embedder.Embed(ctx, []string{text})
		if err != nil {
			return nil, &hindsight.Error{Code: hindsight.EUNAVAILABLE, Message: "embedder failed", Err: err}
		}
		vec = vecs[0]
	}
	var signals []*signal
	type job struct {
		s  *signal
		fn func() ([]hindsight.Candidate, error)
	}
	var jobs []job
	add := func(name string, weight float64, fn func() ([]hindsight.Candidate, error)) {
		if weight > 0 {
			s := &signal{name: name, weight: weight}
			signals = append(signals, s)
			jobs = append(jobs, job{s, fn})
		}
	}
	add("vector", w.Vector, func() ([]hindsight.Candidate, error) {
		return r.index.SearchVectors(ctx, r.embedder.Space(), vec, q.Filter, n)
	})
	add("text", w.Text, func() ([]hindsight.Candidate, error) { return r.index.SearchText(ctx, terms, q.Filter, n) })
	if ind := IndicatorTerms(q.Text); len(ind) > 0 {
		add("indicator", w.Indicator, func() ([]hindsight.Candidate, error) { return r.index.SearchText(ctx, ind, q.Filter, n) })
	}
	if len(q.Techniques) > 0 {
		// Candidates that share a technique (or its parent) even when their words differ;
		// ranked below by ATT&CK similarity once their documents are loaded.
		f := q.Filter
		f.Techniques = techniqueFamily(q.Techniques, q.Filter.Techniques)
		if len(f.Sections) == 0 {
			// Past cases are compared by what happened, not by the guidance sent: a threat's
			// guidance sections would only blur the comparison, and are most of its vectors.
			f.Sections = hindsight.DescriptiveSections
		}
		if len(f.Techniques) > 0 {
			add("technique", w.Technique, func() ([]hindsight.Candidate, error) {
				if vec == nil {
					return r.index.SearchText(ctx, terms, f, n)
				}
				return r.index.SearchVectors(ctx, r.embedder.Space(), vec, f, n)
			})
		}
	}
	if len(jobs) == 0 {
		return nil, hindsight.Invalid("weights", "every signal is switched off")
	}
	window := q.K // the hits ranked before diversity and the cut to k
	if w.Diversity > 0 {
		window = 3 * q.K
	}
	first, next := window+8, 16 // documents loaded at first, then at a time
	if r.batches[0] > 0 {
		first, next = r.batches[0], r.batches[1]
	}
	// The technique signal is the slowest (it scores every vector of its filter). While it runs,
	// the documents that lead the other signals are loaded, on the core it leaves free.
	var tech *job
	if last := &jobs[len(jobs)-1]; last.s.name == "technique" && len(jobs) > 1 {
		tech, jobs = last, jobs[:len(jobs)-1]
	}
	var techDone sync.WaitGroup
	if tech != nil {
		techDone.Add(1)
		go func() {
			defer techDone.Done()
			tech.s.cands, tech.s.err = tech.fn()
		}()
	}
	var wg sync.WaitGroup
	for _, j := range jobs[1:] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			j.s.cands, j.s.err = j.fn()
		}()
	}
	jobs[0].s.cands, jobs[0].s.err = jobs[0].fn()
	wg.Wait()
	docs := map[hindsight.DocKey]*hindsight.Document{}
	if tech != nil {
		r.prefetch(ctx, signals[:len(signals)-1], q.Exclude, first, docs)
	}
	techDone.Wait()
	for _, s := range signals {
		if s.err != nil {
			return nil, fmt.Errorf("%s search: %w", s.name, s.err)
		}
	}

	// The union of candidates, in first-seen order.
	var order []hindsight.DocKey
	seen := map[hindsight.DocKey]bool{}
	for _, s := range signals {
		for _, c := range s.cands {
			if !seen[c.Doc] && !slices.Contains(q.Exclude, c.Doc) {
				seen[c.Doc] = true
				order = append(order, c.Doc)
			}
		}
	}
	// The technique signal ranks by ATT&CK similarity, which needs its candidates' documents;
	// every other document is loaded only if it can still reach the top k (below).
	var tactics map[string][]string
	for _, s := range signals {
		if s.name == "technique" {
			keys := make([]hindsight.DocKey, 0, len(s.cands))
			for _, c := range s.cands {
				if seen[c.Doc] {
					keys = append(keys, c.Doc)
				}
			}
			if err := r.load(ctx, keys, docs); err != nil {
				return nil, err
			}
			tactics = r.tactics(ctx, q.Techniques, docs)
			s.cands = rankByTechnique(s.cands, q.Techniques, docs, tactics)
		}
	}

	// Fuse the ranks.
	hits := make(map[hindsight.DocKey]*hindsight.Hit, len(order))
	ranked := make([]*hindsight.Hit, len(order))
	for i, k := range order {
		ranked[i] = &hindsight.Hit{ID: k.ID, Kind: k.Kind, Tenant: k.Tenant,
			Why: hindsight.Why{Signals: map[string]float64{}, Ranks: map[string]int{}}}
		hits[k] = ranked[i]
	}
	for _, s := range signals {
		s.ranks(q.Exclude, func(c hindsight.Candidate, rank int) {
			h := hits[c.Doc]
			h.Why.Signals[s.name] = c.Score
			h.Why.Ranks[s.name] = rank
			h.Score += s.fused(rank)
			if h.Why.Section == "" {
				h.Why.Section = c.Section
			}
		})
	}
	seenAt := make(map[*hindsight.Hit]int, len(ranked)) // first-seen order breaks ties
	for i, h := range ranked {
		seenAt[h] = i
	}
	byScore := func(a, b *hindsight.Hit) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return cmp.Compare(seenAt[a], seenAt[b])
	}
	slices.SortStableFunc(ranked, byScore)

	// Load documents in fused order until no unloaded candidate can reach the top k: its
	// score is at most its fused score times the largest prior, and it must beat the k-th hit
	// after diversity (and the last hit diversity compares, when diversity is on).
	reach := 1.0
	if w.Priors > 0 {
		reach = 1 + w.Priors*(maxPrior-1)
	}
	sets := map[hindsight.DocKey]TermSet{}
	setOf := func(h *hindsight.Hit) TermSet {
		k := hindsight.DocKey{Tenant: h.Tenant, Kind: h.Kind, ID: h.ID}
		if s, ok := sets[k]; ok {
			return s
		}
		s := NewTermSet(caseText(h.Document))
		sets[k] = s
		return s
	}
	var present []*hindsight.Hit
	var dup []bool // which of present nearly repeat a better hit, once worked out for it
	for loaded, batch := 0, first; loaded < len(ranked); batch = next {
		part := ranked[loaded:min(loaded+batch, len(ranked))]
		loaded += len(part)
		keys := make([]hindsight.DocKey, len(part))
		for i, h := range part {
			keys[i] = hindsight.DocKey{Tenant: h.Tenant, Kind: h.Kind, ID: h.ID}
		}
		if err := r.load(ctx, keys, docs); err != nil {
			return nil, err
		}
		var fresh []*hindsight.Hit
		for i, h := range part {
			if d := docs[keys[i]]; d != nil { // nil: deleted since the signals ran
				h.Document, h.Title = d, d.Title
				h.Why.Techniques = sharedTechniques(q.Techniques, d.Techniques)
				fresh = append(fresh, h)
			}
		}
		if w.Priors > 0 {
			r.applyPriors(ctx, fresh, w.Priors, q.At)
		}
		present = append(present, fresh...)
		slices.SortStableFunc(present, byScore)
		dup = nil
		if loaded == len(ranked) {
			break
		}
		bound := ranked[loaded].Score * reach
		if len(present) < window || present[window-1].Score <= bound {
			continue
		}
		if w.Diversity > 0 {
			dup = nearCopies(present, q.K, setOf)
			if kthAfterDiversity(present, dup, q.K, w.Diversity) <= bound {
				continue
			}
		}
		break
	}
	if w.Diversity > 0 {
		if dup == nil {
			dup = nearCopies(present, q.K, setOf)
		}
		present = diversify(present, dup, w.Diversity)
	}
	out := make([]hindsight.Hit, 0, min(len(present), q.K))
	for _, h := range present[:min(len(present), q.K)] {
		if !q.SkipTerms {
			h.Why.Terms = matchingTerms(terms, surface, h.Document)
		}
		out = append(out, *h)
	}
	return out, nil
}

// prefetch loads the documents of the n candidates that lead signals' fusion, leaving out
// exclude. Errors are left for the load that needs the documents.
func (r *Retriever) prefetch(ctx context.Context, signals []*signal, exclude []hindsight.DocKey, n int, docs map[hindsight.DocKey]*hindsight.Document) {
	score := map[hindsight.DocKey]float64{}
	var keys []hindsight.DocKey
	for _, s := range signals {
		if s.err != nil {
			return
		}
		s.ranks(exclude, func(c hindsight.Candidate, rank int) {
			if _, ok := score[c.Doc]; !ok {
				keys = append(keys, c.Doc)
			}
			score[c.Doc] += s.fused(rank)
		})
	}
	slices.SortStableFunc(keys, func(a, b hindsight.DocKey) int { return cmp.Compare(score[b], score[a]) })
	_ = r.load(ctx, keys[:min(n, len(keys))], docs)
}

// load adds to docs the documents among keys that it lacks.
func (r *Retriever) load(ctx context.Context, keys []hindsight.DocKey, docs map[hindsight.DocKey]*hindsight.Document) error {
	var missing []hindsight.DocKey
	for _, k := range keys {
		if _, ok := docs[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	found, err := r.index.FindDocuments(ctx, missing)
	if err != nil {
		return fmt.Errorf("load documents: %w", err)
	}
	for _, k := range missing {
		docs[k] = found[k] // nil when absent, so it is not asked for again
	}
	return nil
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

// TechniqueSimilarity scores how much of the query's techniques a document shares: the same
// technique counts 1, the same parent technique (T1059.001 and T1059.003, or T1059 and T1059.001)
// 0.5, and a shared tactic 0.25 when tactics are known (tactics maps a technique or its parent to
// its tactics; nil when no ATT&CK bundle was ingested). The sum is divided by the number of query
// techniques, so a document matching all of them exactly scores 1.
func TechniqueSimilarity(query, doc []string, tactics map[string][]string) float64 {
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
			case best < 0.25 && shareTactic(q, d, tactics):
				best = 0.25
			}
		}
		s += best
	}
	return s / float64(len(query))
}

func shareTactic(a, b string, tactics map[string][]string) bool {
	ta, tb := tacticsOf(a, tactics), tacticsOf(b, tactics)
	for _, x := range ta {
		if slices.Contains(tb, x) {
			return true
		}
	}
	return false
}

func tacticsOf(t string, tactics map[string][]string) []string {
	if ts, ok := tactics[t]; ok {
		return ts
	}
	return tactics[hindsight.ParentTechnique(t)]
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
	at := make(map[string]int, len(terms))
	for i, t := range terms {
		if _, ok := at[t]; !ok {
			at[t] = i
		}
	}
	found := make([]bool, len(terms))
	for _, t := range Tokenize(DocumentText(d)) {
		if i, ok := at[t]; ok {
			found[i] = true
		}
	}
	var out []string
	for i, t := range terms {
		if !found[i] {
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

// ParseWeights reads weights written as "vector=1,text=1.5,indicator=0.5,technique=1,priors=1,diversity=1";
// signals left out keep their value in base.
func ParseWeights(s string, base Weights) (Weights, error) {
	w := base
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, val, ok := strings.Cut(part, "=")
		v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if !ok || err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
			return base, hindsight.Invalid("weights", "want name=number (number ≥ 0) in %q", part)
		}
		switch strings.TrimSpace(name) {
		case "vector":
			w.Vector = v
		case "text":
			w.Text = v
		case "indicator":
			w.Indicator = v
		case "technique":
			w.Technique = v
		case "priors":
			w.Priors = v
		case "diversity":
			w.Diversity = v
		default:
			return base, hindsight.Invalid("weights", "unknown signal %q (want vector, text, indicator, technique, priors or diversity)", name)
		}
	}
	return w, nil
}
