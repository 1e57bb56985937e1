package retrieval_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/retrieval"
	"github.com/hindsightsec/hindsight/retrieval/retrievaltest"
	"github.com/hindsightsec/hindsight/sample"
	"github.com/hindsightsec/hindsight/store/sqlite"
)

// benchCorpus builds an embedded store with n generated threats (HINDSIGHT_BENCH_THREATS
// overrides n) and returns it with the threats to query with.
func benchCorpus(b *testing.B, n int) (*sqlite.DB, []hindsight.Document) {
	b.Helper()
	if v, err := strconv.Atoi(os.Getenv("HINDSIGHT_BENCH_THREATS")); err == nil && v > 0 {
		n = v
	}
	c, err := sample.Generate(sample.Config{Threats: n, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	db, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	start := time.Now()
	docs := append(c.Threats, c.Knowledge...)
	for i := 0; i < len(docs); i += 512 {
		batch := make([]*hindsight.Document, 0, 512)
		for j := i; j < min(i+512, len(docs)); j++ {
			batch = append(batch, &docs[j])
		}
		retrievaltest.Write(b, db, "bench", batch...)
	}
	b.Logf("indexed %d documents in %s", len(docs), time.Since(start).Round(time.Millisecond))
	return db, c.Threats
}

// BenchmarkHybridSearch measures one hybrid query (every signal, k=10) over the embedded store,
// querying with generated threats as they arrive (title, summary, events, techniques). It reports
// p50 and p99 latency.
func BenchmarkHybridSearch(b *testing.B) {
	db, threats := benchCorpus(b, 2000)
	for _, cfg := range []struct {
		name string
		w    retrieval.Weights
	}{{"full", retrieval.DefaultWeights}, {"vector", retrieval.Weights{Vector: 1}}, {"text", retrieval.Weights{Text: 1}}} {
		r := retrieval.NewRetriever(db, retrieval.Builtin{}).WithWeights(cfg.w)
		b.Run(fmt.Sprintf("%s/docs=%d", cfg.name, len(threats)), func(b *testing.B) {
			// The first search loads the in-memory index; that is start-up, not query time.
			if _, err := r.Search(context.Background(), retrieval.Query{Text: "warm up", Filter: hindsight.Filter{Tenant: "acme"}}); err != nil {
				b.Fatal(err)
			}
			var lat []time.Duration
			i := 0
			for b.Loop() {
				t := threats[i%len(threats)]
				i++
				start := time.Now()
				hits, err := r.Search(context.Background(), retrieval.Query{Text: strings.Join(append([]string{t.Title, t.Summary}, t.Events...), "\n"),
					Techniques: t.Techniques, K: 10, Filter: hindsight.Filter{Tenant: t.Tenant}})
				if err != nil || len(hits) == 0 {
					b.Fatalf("search: %v, %d hits", err, len(hits))
				}
				lat = append(lat, time.Since(start))
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds())/1000, "p99-ms")
		})
	}
}
