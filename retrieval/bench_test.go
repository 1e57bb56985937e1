package retrieval_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/retrieval"
	"github.com/hindsightsec/hindsight/store/sqlite/sqlitebench"
)

// BenchmarkHybridSearch measures one hybrid query (every signal, k=10) over the embedded store,
// querying with generated threats as they arrive (title, summary, events, techniques). It reports
// p50 and p99 latency.
func BenchmarkHybridSearch(b *testing.B) {
	db, c := sqlitebench.Open(b, 2000)
	// The queries, made before the loop: the generated corpus is dropped so that the garbage
	// collector marks what a server holds, not the benchmark's copy of every threat.
	type query struct {
		text, tenant string
		techniques   []string
	}
	var queries []query
	for _, t := range c.Threats[:min(len(c.Threats), sqlitebench.Queries)] {
		queries = append(queries, query{strings.Join(append([]string{t.Title, t.Summary}, t.Events...), "\n"), t.Tenant, t.Techniques})
	}
	indexed := len(c.Threats)
	c = nil
	runtime.GC()
	for _, cfg := range []struct {
		name string
		w    retrieval.Weights
	}{{"full", retrieval.DefaultWeights}, {"vector", retrieval.Weights{Vector: 1}}, {"text", retrieval.Weights{Text: 1}}} {
		r := retrieval.NewRetriever(db, retrieval.Builtin{}).WithWeights(cfg.w)
		b.Run(fmt.Sprintf("%s/docs=%d", cfg.name, indexed), func(b *testing.B) {
			// The first search loads the in-memory index; that is start-up, not query time.
			if _, err := r.Search(context.Background(), retrieval.Query{Text: "warm up", Filter: hindsight.Filter{Tenant: "acme"}}); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			var lat sqlitebench.Latencies
			lat.Start()
			i := 0
			for b.Loop() {
				q := queries[i%len(queries)]
				i++
				lat.Time(func() {
					hits, err := r.Search(context.Background(), retrieval.Query{Text: q.text,
						Techniques: q.techniques, K: 10, Filter: hindsight.Filter{Tenant: q.tenant}})
					if err != nil || len(hits) == 0 {
						b.Fatalf("search: %v, %d hits", err, len(hits))
					}
				})
			}
			lat.Report(b)
		})
	}
}
