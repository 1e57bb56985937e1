// Package storebench holds what the store benchmarks share: one generated history, ready to be
// written to any backend with its embeddings computed up front (so that no load time is spent
// embedding), the new threats to query it with, an exact search over the same vectors to measure
// recall against, and latency percentiles. BenchmarkBackends, in this package's tests, loads the
// same data into every backend in one run and compares them; store/postgres's benchmarks use the
// same data for what only PostgreSQL has.
package storebench

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/ingest"
	"github.com/hindsightsec/hindsight/retrieval"
	"github.com/hindsightsec/hindsight/sample"
)

// DefaultChunks is the number of chunks loaded when HINDSIGHT_BENCH_CHUNKS is unset: enough to see
// that every benchmark works, few enough for `make bench`. The figures in BENCHMARKS.md are taken
// at 100,000.
const DefaultChunks = 5_000

// BatchSize is the number of documents Load writes per call, ingest's default batch.
const BatchSize = 256

// QueryCount is the number of new threats Generate makes to query with.
const QueryCount = 200

// ChunksFromEnv returns the number of chunks a benchmark loads: HINDSIGHT_BENCH_CHUNKS, or
// DefaultChunks when it is unset.
func ChunksFromEnv() (int, error) {
	s := os.Getenv("HINDSIGHT_BENCH_CHUNKS")
	if s == "" {
		return DefaultChunks, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("HINDSIGHT_BENCH_CHUNKS=%q: want a positive number of chunks", s)
	}
	return n, nil
}

// Data is a generated history (sample.Generate, seed 1, four tenants) chunked as ingest chunks it
// and embedded with the built-in embedder, and new threats to query it with.
type Data struct {
	// Space is the embedding space of every vector: the built-in embedder's.
	Space hindsight.Space
	// Writes are the documents as ingest hands them to a store, every one with its chunks:
	// the global knowledge first, then threats oldest first.
	Writes []hindsight.DocumentWrite
	// Chunks is the number of chunks in Writes.
	Chunks int
	// Queries are new threats: generated after the last loaded one and never loaded.
	Queries []Query

	docs  map[hindsight.DocKey]int // index in Writes
	norms [][]float64              // per write, per chunk: the vector's length
}

// Query is a new threat as the retriever would search for it.
type Query struct {
	// Threat is the new threat; its tenant scopes the search.
	Threat *hindsight.Document
	// Text is the threat's title and summary.
	Text string
	// Terms are Text's search terms.
	Terms []string
	// Vector is Text embedded with the built-in embedder.
	Vector []float32
}

// Generate builds Data of at least chunks chunks (it stops after the document that reaches the
// number) and QueryCount new threats to search with. The same number of chunks always gives the
// same data, whichever benchmark asks.
func Generate(ctx context.Context, chunks int) (*Data, error) {
	if chunks <= 0 {
		return nil, fmt.Errorf("storebench.Generate: want a positive number of chunks, got %d", chunks)
	}
	queries := QueryCount
	// A generated threat has three or four chunks: a third of the chunks in threats, plus the
	// queries and a margin, always reaches the number with the queries left over.
	corpus, err := sample.Generate(sample.Config{Threats: chunks/3 + queries + 100, Seed: 1})
	if err != nil {
		return nil, fmt.Errorf("generate the history: %w", err)
	}
	embedder := retrieval.Builtin{}
	d := &Data{Space: embedder.Space(), docs: map[hindsight.DocKey]int{}}
	add := func(doc *hindsight.Document) {
		w := hindsight.DocumentWrite{Document: doc, Source: "storebench.jsonl", RecordHash: doc.ID, ContentHash: doc.ID, Space: d.Space.String()}
		norms := make([]float64, 0, 4)
		for i, s := range ingest.Sections(doc) {
			terms := retrieval.Tokenize(s.Text)
			vec := embedder.EmbedTerms(terms)
			w.Chunks = append(w.Chunks, hindsight.Chunk{Seq: i, Section: s.Name, Text: s.Text, Terms: terms, Vector: vec})
			norms = append(norms, norm(vec))
		}
		d.docs[doc.Key()] = len(d.Writes)
		d.Writes = append(d.Writes, w)
		d.norms = append(d.norms, norms)
		d.Chunks += len(w.Chunks)
	}
	for i := range corpus.Knowledge {
		add(&corpus.Knowledge[i])
	}
	next := 0
	for ; next < len(corpus.Threats) && d.Chunks < chunks; next++ {
		if next%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		add(&corpus.Threats[next])
	}
	if d.Chunks < chunks || len(corpus.Threats)-next < queries {
		return nil, fmt.Errorf("generated %d chunks and %d new threats, want %d and %d", d.Chunks, len(corpus.Threats)-next, chunks, queries)
	}
	for _, th := range corpus.Threats[next : next+queries] {
		text := th.Title + " " + th.Summary
		vecs, err := embedder.Embed(ctx, []string{text})
		if err != nil {
			return nil, err
		}
		d.Queries = append(d.Queries, Query{Threat: &th, Text: text, Terms: retrieval.Tokenize(text), Vector: vecs[0]})
	}
	return d, nil
}

// Writer is what Load needs of a store.
type Writer interface {
	WriteDocuments(ctx context.Context, ws []hindsight.DocumentWrite) error
}

// Load writes every document to w in ingest's batches of BatchSize.
func (d *Data) Load(ctx context.Context, w Writer) error {
	for i := 0; i < len(d.Writes); i += BatchSize {
		if err := w.WriteDocuments(ctx, d.Writes[i:min(i+BatchSize, len(d.Writes))]); err != nil {
			return fmt.Errorf("write documents %d to %d: %w", i, min(i+BatchSize, len(d.Writes))-1, err)
		}
	}
	return nil
}

// Exact returns the n documents nearest to vec among those that pass f, by brute force over every
// chunk: each document with its nearest chunk and that chunk's cosine similarity, best first, ties
// in key order. It is the answer an approximate search is measured against.
func (d *Data) Exact(vec []float32, f hindsight.Filter, n int) []hindsight.Candidate {
	qn := norm(vec)
	var all []hindsight.Candidate
	for i := range d.Writes {
		w := &d.Writes[i]
		if !f.Matches(w.Document) {
			continue
		}
		if c, ok := d.nearestChunk(i, vec, qn); ok {
			all = append(all, c)
		}
	}
	slices.SortFunc(all, func(a, b hindsight.Candidate) int {
		if a.Score != b.Score {
			if a.Score > b.Score {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Doc.String(), b.Doc.String())
	})
	return all[:min(n, len(all))]
}

// nearestChunk returns write i's chunk nearest to vec (whose length is qn), or false when the
// document has no chunk with a vector.
func (d *Data) nearestChunk(i int, vec []float32, qn float64) (hindsight.Candidate, bool) {
	w := &d.Writes[i]
	best := hindsight.Candidate{Doc: w.Document.Key(), Score: math.Inf(-1)}
	for j, ch := range w.Chunks {
		if len(ch.Vector) != len(vec) || d.norms[i][j] == 0 || qn == 0 {
			continue
		}
		var dot float64
		for k, x := range ch.Vector {
			dot += float64(x) * float64(vec[k])
		}
		if s := dot / (d.norms[i][j] * qn); s > best.Score {
			best.Score, best.Section = s, ch.Section
		}
	}
	return best, !math.IsInf(best.Score, -1)
}

func norm(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

// scoreTolerance is how much nearer than the exact search's n-th document a returned document may
// seem and still count as a tie: backends compute cosine similarity in float32.
const scoreTolerance = 1e-6

// Accuracy sums how a backend's answers compare with exact search over many queries.
type Accuracy struct {
	// Wanted counts the documents the exact searches returned.
	Wanted int
	// Found counts the documents that both the backend and the exact search returned.
	Found int
	// AsNear counts the documents the backend returned that are at least as near to the query as
	// the exact search's last: many generated threats are equally near a query, and a document as
	// near as the one it displaced is an equally right answer.
	AsNear int
}

// Add compares one query's results with the exact search's. It returns an error, and adds
// nothing, when a result is not a document of the data, does not pass the filter, or comes twice.
func (a *Accuracy) Add(d *Data, vec []float32, f hindsight.Filter, got, want []hindsight.Candidate) error {
	exact := make(map[hindsight.DocKey]bool, len(want))
	for _, c := range want {
		exact[c.Doc] = true
	}
	qn := norm(vec)
	found, asNear := 0, 0
	seen := map[hindsight.DocKey]bool{}
	for _, c := range got {
		i, ok := d.docs[c.Doc]
		switch {
		case !ok:
			return fmt.Errorf("result %s is no document of the data", c.Doc)
		case !f.Matches(d.Writes[i].Document):
			return fmt.Errorf("result %s does not pass the filter %+v", c.Doc, f)
		case seen[c.Doc]:
			return fmt.Errorf("result %s comes twice", c.Doc)
		}
		seen[c.Doc] = true
		if exact[c.Doc] {
			found++
		}
		// The document's true similarity, not the backend's own figure of it.
		if nc, ok := d.nearestChunk(i, vec, qn); ok && len(want) > 0 && nc.Score >= want[len(want)-1].Score-scoreTolerance {
			asNear++
		}
	}
	a.Wanted += len(want)
	a.Found += found
	a.AsNear += min(asNear, len(want))
	return nil
}

// Recall is the share of the exact searches' documents the backend found (recall@n); 1 when no
// search wanted any.
func (a Accuracy) Recall() float64 { return share(a.Found, a.Wanted) }

// AsNearShare is AsNear over Wanted: recall@n that counts ties as right answers.
func (a Accuracy) AsNearShare() float64 { return share(a.AsNear, a.Wanted) }

func share(n, of int) float64 {
	if of == 0 {
		return 1
	}
	return float64(n) / float64(of)
}

// Percentile returns the p-th percentile (0 < p ≤ 1) of the latencies by the nearest-rank method,
// sorting them in place; 0 for none.
func Percentile(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	slices.Sort(lat)
	return lat[max(0, int(math.Ceil(p*float64(len(lat))))-1)]
}

// ReportLatency reports the p50 and p99 of the latencies in milliseconds, and hides ns/op, which
// for a benchmark that times each call itself says less than the percentiles.
func ReportLatency(b *testing.B, lat []time.Duration) {
	b.ReportMetric(ms(Percentile(lat, 0.50)), "p50-ms")
	b.ReportMetric(ms(Percentile(lat, 0.99)), "p99-ms")
	b.ReportMetric(0, "ns/op")
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }
