package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/retrieval"
	"github.com/hindsightsec/hindsight/store/postgres/pgtest"
	"github.com/hindsightsec/hindsight/store/storebench"
)

// TestVectorSearchUsesIndex checks on a few thousand chunks that the approximate query is planned
// as a scan of the space's partial HNSW index, filters and all, and that its results agree with an
// exact search: a filter that few documents pass still finds all of them, and a broad one finds
// nearly the same documents.
func TestVectorSearchUsesIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, dsn := pgtest.Open(t)
	data, err := storebench.Generate(ctx, 2000)
	if err != nil {
		t.Fatal(err)
	}
	if err := data.Load(ctx, db); err != nil {
		t.Fatal(err)
	}
	// As autovacuum would after a load: the planner picks the index by the statistics.
	conn := pgtest.Connect(t)
	if _, err := conn.Exec(ctx, "ANALYZE "+pgtest.SchemaOf(dsn)+".documents, "+pgtest.SchemaOf(dsn)+".chunks"); err != nil {
		t.Fatal(err)
	}
	q := func(text string) []float32 { return retrieval.Builtin{}.EmbedTerms(retrieval.Tokenize(text)) }

	// A few thousand chunks are few enough for a sequential scan to be cheaper (BenchmarkSearch
	// shows the index chosen at 100,000): what matters here is that the query can use the index,
	// whose expression and partial predicate it must match.
	plan, err := db.ExplainVectorSearch(ctx, space, q("lsass dump"), hindsight.Filter{Tenant: "acme", Kinds: []hindsight.Kind{hindsight.KindThreat}}, 10, true)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan, "Index Scan using chunks_embedding_") {
		t.Errorf("the vector search cannot use the space's index:\n%s", plan)
	}

	var threats []*hindsight.Document
	for _, w := range data.Writes {
		if w.Document.Kind == hindsight.KindThreat && len(threats) < 40 {
			threats = append(threats, w.Document)
		}
	}
	found, total := 0, 0
	for i, th := range threats {
		vec := q(th.Title + " " + th.Summary)
		filters := []hindsight.Filter{
			{Tenant: th.Tenant},
			{Tenant: th.Tenant, Kinds: []hindsight.Kind{hindsight.KindThreat}, MinSeverity: hindsight.SeverityHigh},
			// Passed by few documents: the approximate search must find every one of them.
			{Tenant: th.Tenant, Techniques: th.Techniques[:1], Since: th.OccurredAt.AddDate(0, -1, 0), Until: th.OccurredAt.AddDate(0, 1, 0)},
		}
		for j, f := range filters {
			got, err := db.SearchVectors(ctx, space, vec, f, 10)
			if err != nil {
				t.Fatal(err)
			}
			want, err := db.SearchVectorsExact(ctx, space, vec, f, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Errorf("query %d, filter %d: %d results, exact search has %d", i, j, len(got), len(want))
				continue
			}
			exact := map[hindsight.DocKey]bool{}
			for _, c := range want {
				exact[c.Doc] = true
			}
			hits := 0
			for k, c := range got {
				if c.Doc.Tenant != "" && c.Doc.Tenant != th.Tenant {
					t.Fatalf("another tenant's document: %v", c.Doc)
				}
				if k > 0 && c.Score > got[k-1].Score {
					t.Errorf("query %d, filter %d: not best first: %v", i, j, got)
				}
				if exact[c.Doc] {
					hits++
				}
			}
			if len(want) < 10 && hits != len(want) {
				t.Errorf("query %d, filter %d: found %d of the %d documents the filter passes", i, j, hits, len(want))
			}
			found, total = found+hits, total+len(want)
		}
	}
	if recall := float64(found) / float64(total); recall < 0.9 {
		t.Errorf("recall@10 against exact search = %.3f, want at least 0.9", recall)
	} else {
		t.Logf("recall@10 against exact search: %.3f over %d results", recall, total)
	}
}
