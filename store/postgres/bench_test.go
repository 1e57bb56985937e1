package postgres_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/retrieval"
	"github.com/hindsightsec/hindsight/sample"
	"github.com/hindsightsec/hindsight/store/postgres/pgtest"
)

// The benchmarks load benchChunks chunks (HINDSIGHT_BENCH_CHUNKS overrides it) of a generated
// history: realistic threats of four tenants and the global knowledge, chunked, tokenised and
// embedded with the built-in embedder before any timing starts.
//
//	go test ./store/postgres -run '^$' -bench BulkLoad -benchtime 1x -timeout 60m
//	go test ./store/postgres -run '^$' -bench Search -benchtime 1000x -timeout 60m
const benchChunks = 100_000

var (
	benchOnce   sync.Once
	benchWrites []hindsight.DocumentWrite
	benchCorpus *sample.Corpus
	benchErr    error
)

// benchData returns the writes of the generated history, cut after the first document that brings
// the chunks to the target, and the number of chunks they hold.
func benchData(b *testing.B) ([]hindsight.DocumentWrite, *sample.Corpus, int) {
	b.Helper()
	target := benchChunks
	if s := os.Getenv("HINDSIGHT_BENCH_CHUNKS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			b.Fatalf("HINDSIGHT_BENCH_CHUNKS=%q: want a positive number", s)
		}
		target = n
	}
	benchOnce.Do(func() {
		// A generated threat has between three and four chunks.
		ws, corpus := corpusWrites(b, target/3+100)
		n := 0
		for i, w := range ws {
			n += len(w.Chunks)
			if n >= target {
				ws = ws[:i+1]
				break
			}
		}
		if n < target {
			benchErr = fmt.Errorf("generated %d chunks, want %d", n, target)
		}
		benchWrites, benchCorpus = ws, corpus
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	n := 0
	for _, w := range benchWrites {
		n += len(w.Chunks)
	}
	return benchWrites, benchCorpus, n
}

// BenchmarkBulkLoad measures WriteDocuments in ingest's batches of 256 documents into an empty
// store, embedding excluded. "indexed" is what an ingest does: the space's HNSW index exists
// from the first write and every chunk is inserted into it. "index-after" loads with no index and
// builds it at the end, the order pgvector recommends for a first load; its time includes the build.
func BenchmarkBulkLoad(b *testing.B) {
	ws, _, chunks := benchData(b)
	ctx := context.Background()
	for _, indexAfter := range []bool{false, true} {
		name := "indexed"
		if indexAfter {
			name = "index-after"
		}
		b.Run(name, func(b *testing.B) {
			var total, build time.Duration
			for range b.N {
				b.StopTimer()
				db, _ := pgtest.Open(b)
				if indexAfter {
					if err := db.CreateSpace(ctx, space.String(), space.Dim); err != nil {
						b.Fatal(err)
					}
					if err := db.DropVectorIndex(ctx, space.String()); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				start := time.Now()
				load(b, db, ws)
				if indexAfter {
					t := time.Now()
					if err := db.BuildVectorIndex(ctx, space.String(), space.Dim); err != nil {
						b.Fatal(err)
					}
					build += time.Since(t)
				}
				total += time.Since(start)
			}
			b.ReportMetric(float64(chunks*b.N)/total.Seconds(), "chunks/s")
			b.ReportMetric(float64(chunks), "chunks")
			if indexAfter {
				b.ReportMetric(build.Seconds()/float64(b.N), "build-s")
			}
		})
	}
}

// BenchmarkSearch measures k=10 searches over the loaded history, one query a new threat's title
// and summary, scoped to its tenant: the latency of each call (p50, p99) and, for vector search,
// recall@10 against an exact search with the same filter (the share of the exact search's
// documents found) and as-near@10 (the share of results at least as near as the exact search's
// 10th: with ties, another document at the same distance is an equally right answer).
func BenchmarkSearch(b *testing.B) {
	ws, corpus, chunks := benchData(b)
	ctx := context.Background()
	db, dsn := pgtest.Open(b)
	if err := db.CreateSpace(ctx, space.String(), space.Dim); err != nil {
		b.Fatal(err)
	}
	if err := db.DropVectorIndex(ctx, space.String()); err != nil {
		b.Fatal(err)
	}
	setup := time.Now()
	load(b, db, ws)
	if err := db.BuildVectorIndex(ctx, space.String(), space.Dim); err != nil {
		b.Fatal(err)
	}
	conn := pgtest.Connect(b)
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE "+pgtest.SchemaOf(dsn)+".documents, "+pgtest.SchemaOf(dsn)+".chunks"); err != nil {
		b.Fatal(err)
	}
	b.Logf("loaded %d chunks and built the index in %v", chunks, time.Since(setup))

	// Queries: every 97th threat of the loaded ones, as a new threat of its tenant would ask.
	type query struct {
		text  string
		vec   []float32
		terms []string
		th    *hindsight.Document
	}
	var queries []query
	for i := 0; i < len(corpus.Threats) && len(queries) < 100; i += 97 {
		th := &corpus.Threats[i]
		text := th.Title + " " + th.Summary
		terms := retrieval.Tokenize(text)
		queries = append(queries, query{text, retrieval.Builtin{}.EmbedTerms(terms), terms, th})
	}
	filters := []struct {
		name string
		f    func(th *hindsight.Document) hindsight.Filter
	}{
		{"tenant", func(th *hindsight.Document) hindsight.Filter { return hindsight.Filter{Tenant: th.Tenant} }},
		{"tenant+kind+severity", func(th *hindsight.Document) hindsight.Filter {
			return hindsight.Filter{Tenant: th.Tenant, Kinds: []hindsight.Kind{hindsight.KindThreat}, MinSeverity: hindsight.SeverityHigh}
		}},
		{"tenant+technique", func(th *hindsight.Document) hindsight.Filter {
			return hindsight.Filter{Tenant: th.Tenant, Techniques: []string{hindsight.ParentTechnique(th.Techniques[0])}}
		}},
	}
	for _, fl := range filters {
		// The plan and the recall, once per filter rather than once per run of the sub-benchmark.
		plan, err := db.ExplainVectorSearch(ctx, space, queries[0].vec, fl.f(queries[0].th), 10, false)
		if err != nil {
			b.Fatal(err)
		}
		found, asNear, total := 0, 0, 0
		for _, q := range queries {
			f := fl.f(q.th)
			got, err := db.SearchVectors(ctx, space, q.vec, f, 10)
			if err != nil {
				b.Fatal(err)
			}
			want, err := db.SearchVectorsExact(ctx, space, q.vec, f, 10)
			if err != nil {
				b.Fatal(err)
			}
			exact := map[hindsight.DocKey]bool{}
			for _, c := range want {
				exact[c.Doc] = true
			}
			for _, c := range got {
				if exact[c.Doc] {
					found++
				}
				// Many generated threats of one scenario are equally near: a document as near
				// as the exact search's k-th is as good an answer as the one it displaced.
				if len(want) > 0 && c.Score >= want[len(want)-1].Score-1e-6 {
					asNear++
				}
			}
			total += len(want)
		}
		b.Run("vector/"+fl.name, func(b *testing.B) {
			b.Logf("HNSW index in the plan: %v", strings.Contains(plan, "Index Scan using chunks_embedding_"))
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				q := queries[i%len(queries)]
				start := time.Now()
				got, err := db.SearchVectors(ctx, space, q.vec, fl.f(q.th), 10)
				lat = append(lat, time.Since(start))
				if err != nil || len(got) == 0 {
					b.Fatalf("SearchVectors: %d results, %v", len(got), err)
				}
			}
			b.StopTimer()
			reportLatency(b, lat)
			b.ReportMetric(float64(found)/float64(total), "recall@10")
			b.ReportMetric(float64(asNear)/float64(total), "as-near@10")
		})
	}
	b.Run("text/tenant", func(b *testing.B) {
		lat := make([]time.Duration, 0, b.N)
		for i := range b.N {
			q := queries[i%len(queries)]
			start := time.Now()
			got, err := db.SearchText(ctx, q.terms, hindsight.Filter{Tenant: q.th.Tenant}, 10)
			lat = append(lat, time.Since(start))
			if err != nil || len(got) == 0 {
				b.Fatalf("SearchText: %d results, %v", len(got), err)
			}
		}
		b.StopTimer()
		reportLatency(b, lat)
	})
}

func reportLatency(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op") // the percentiles say more than the mean
}
