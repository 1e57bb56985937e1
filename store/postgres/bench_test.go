package postgres_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/store/postgres/pgtest"
	"github.com/hindsightsec/hindsight/store/storebench"
)

// These benchmarks measure what only PostgreSQL has, on the generated history of
// store/storebench (HINDSIGHT_BENCH_CHUNKS chunks, storebench.DefaultChunks when unset), embedded
// before any timing starts. The load with the index kept current, and k=10 vector search scoped to
// a tenant, are measured with the other backends by storebench's BenchmarkBackends.
//
//	HINDSIGHT_BENCH_CHUNKS=100000 go test ./store/postgres -run '^$' -bench BulkLoadIndexAfter -benchtime 1x -timeout 60m
//	HINDSIGHT_BENCH_CHUNKS=100000 go test ./store/postgres -run '^$' -bench Search -benchtime 1000x -timeout 60m

var (
	benchOnce sync.Once
	benchData *storebench.Data
	benchErr  error
)

// data returns the generated history, made once per process.
func data(b *testing.B) *storebench.Data {
	b.Helper()
	benchOnce.Do(func() {
		var n int
		if n, benchErr = storebench.ChunksFromEnv(); benchErr == nil {
			benchData, benchErr = storebench.Generate(context.Background(), n)
		}
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchData
}

// BenchmarkBulkLoadIndexAfter measures WriteDocuments in ingest's batches of 256 documents into an
// empty store with no vector index, and the building of the index at the end: the order pgvector
// recommends for a first load. Its time includes the build.
func BenchmarkBulkLoadIndexAfter(b *testing.B) {
	d := data(b)
	ctx := context.Background()
	var total, build time.Duration
	for range b.N {
		b.StopTimer()
		db, _ := pgtest.Open(b)
		if err := db.CreateSpace(ctx, space.String(), space.Dim); err != nil {
			b.Fatal(err)
		}
		if err := db.DropVectorIndex(ctx, space.String()); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		if err := d.Load(ctx, db); err != nil {
			b.Fatal(err)
		}
		t := time.Now()
		if err := db.BuildVectorIndex(ctx, space.String(), space.Dim); err != nil {
			b.Fatal(err)
		}
		build += time.Since(t)
		total += time.Since(start)
	}
	b.ReportMetric(float64(d.Chunks*b.N)/total.Seconds(), "chunks/s")
	b.ReportMetric(float64(d.Chunks), "chunks")
	b.ReportMetric(build.Seconds()/float64(b.N), "build-s")
}

// BenchmarkSearch measures k=10 searches over the loaded history with the filters beyond the
// tenant that make PostgreSQL's planner choose between the HNSW index and an exact scan, and full
// text search: one query a new threat's title and summary, scoped to its tenant. It reports each
// call's latency (p50, p99) and, for vector search, recall@10 and as-near@10 against exact search
// (storebench.Accuracy).
func BenchmarkSearch(b *testing.B) {
	d := data(b)
	ctx := context.Background()
	db, dsn := pgtest.Open(b)
	if err := db.CreateSpace(ctx, space.String(), space.Dim); err != nil {
		b.Fatal(err)
	}
	if err := db.DropVectorIndex(ctx, space.String()); err != nil {
		b.Fatal(err)
	}
	setup := time.Now()
	if err := d.Load(ctx, db); err != nil {
		b.Fatal(err)
	}
	if err := db.BuildVectorIndex(ctx, space.String(), space.Dim); err != nil {
		b.Fatal(err)
	}
	conn := pgtest.Connect(b)
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE "+pgtest.SchemaOf(dsn)+".documents, "+pgtest.SchemaOf(dsn)+".chunks"); err != nil {
		b.Fatal(err)
	}
	b.Logf("loaded %d chunks and built the index in %v", d.Chunks, time.Since(setup))

	filters := []struct {
		name string
		f    func(th *hindsight.Document) hindsight.Filter
	}{
		{"tenant+kind+severity", func(th *hindsight.Document) hindsight.Filter {
			return hindsight.Filter{Tenant: th.Tenant, Kinds: []hindsight.Kind{hindsight.KindThreat}, MinSeverity: hindsight.SeverityHigh}
		}},
		{"tenant+technique", func(th *hindsight.Document) hindsight.Filter {
			return hindsight.Filter{Tenant: th.Tenant, Techniques: []string{hindsight.ParentTechnique(th.Techniques[0])}}
		}},
	}
	for _, fl := range filters {
		// The plan and the recall, once per filter rather than once per run of the sub-benchmark.
		plan, err := db.ExplainVectorSearch(ctx, space, d.Queries[0].Vector, fl.f(d.Queries[0].Threat), 10, false)
		if err != nil {
			b.Fatal(err)
		}
		var acc storebench.Accuracy
		for _, q := range d.Queries {
			f := fl.f(q.Threat)
			got, err := db.SearchVectors(ctx, space, q.Vector, f, 10)
			if err != nil {
				b.Fatal(err)
			}
			if err := acc.Add(d, q.Vector, f, got, d.Exact(q.Vector, f, 10)); err != nil {
				b.Fatalf("%s: %v", q.Threat.Key(), err)
			}
		}
		b.Run("vector/"+fl.name, func(b *testing.B) {
			b.Logf("HNSW index in the plan: %v", strings.Contains(plan, "Index Scan using chunks_embedding_"))
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				q := d.Queries[i%len(d.Queries)]
				start := time.Now()
				got, err := db.SearchVectors(ctx, space, q.Vector, fl.f(q.Threat), 10)
				lat = append(lat, time.Since(start))
				if err != nil || len(got) == 0 {
					b.Fatalf("SearchVectors: %d results, %v", len(got), err)
				}
			}
			b.StopTimer()
			storebench.ReportLatency(b, lat)
			b.ReportMetric(acc.Recall(), "recall@10")
			b.ReportMetric(acc.AsNearShare(), "as-near@10")
		})
	}
	b.Run("text/tenant", func(b *testing.B) {
		lat := make([]time.Duration, 0, b.N)
		for i := range b.N {
			q := d.Queries[i%len(d.Queries)]
			start := time.Now()
			got, err := db.SearchText(ctx, q.Terms, hindsight.Filter{Tenant: q.Threat.Tenant}, 10)
			lat = append(lat, time.Since(start))
			if err != nil || len(got) == 0 {
				b.Fatalf("SearchText: %d results, %v", len(got), err)
			}
		}
		b.StopTimer()
		storebench.ReportLatency(b, lat)
	})
}
