package sqlite

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/retrieval"
	"github.com/hindsightsec/hindsight/retrieval/retrievaltest"
	"github.com/hindsightsec/hindsight/sample"
)

// TestRunsFindWhatAFullScanFinds compares text searches that read only the runs of chunk slots
// their filter allows with searches that read every posting, over a store loaded whole (each
// tenant's documents together), then changed (documents added after, in written order, and
// others deleted, leaving dead slots inside runs), then loaded whole again once the documents
// written since were too many.
func TestRunsFindWhatAFullScanFinds(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "h.db")
	c, err := sample.Generate(sample.Config{Threats: 600, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	ptr := func(ds []hindsight.Document) []*hindsight.Document {
		out := make([]*hindsight.Document, len(ds))
		for i := range ds {
			out[i] = &ds[i]
		}
		return out
	}
	threats := ptr(c.Threats)
	db, err := Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	retrievaltest.Write(t, db, "knowledge", ptr(c.Knowledge)...)
	retrievaltest.Write(t, db, "threats", threats[:400]...)
	db.Close()

	// Opened again, the first search loads the store whole.
	db, err = Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tenants := map[string]bool{}
	for _, d := range threats {
		tenants[d.Tenant] = true
	}
	var filters []hindsight.Filter
	for tenant := range tenants {
		filters = append(filters, hindsight.Filter{Tenant: tenant}, hindsight.Filter{Tenant: tenant, OtherTenants: true},
			hindsight.Filter{Tenant: tenant, Kinds: []hindsight.Kind{hindsight.KindAnalytic, hindsight.KindNote}},
			hindsight.Filter{Tenant: tenant, Kinds: []hindsight.Kind{hindsight.KindThreat}, Sections: []string{hindsight.SectionCase}})
	}
	compare := func(stage string, wantRuns bool) {
		t.Helper()
		for _, q := range threats[380:420] {
			terms := retrieval.Tokenize(q.Title + " " + q.Summary + " " + strings.Join(q.Events, " "))
			for _, f := range filters {
				db.index.noRuns = false
				got, err := db.SearchText(ctx, terms, f, 30)
				if err != nil {
					t.Fatal(err)
				}
				ix, err := db.current(ctx, "")
				if err != nil {
					t.Fatal(err)
				}
				runs := ix.filtered(&f).runs
				ix.mu.RUnlock()
				if wantRuns && (runs == nil || len(runs) > 8) {
					t.Errorf("%s, filter %+v: %d runs (nil: %t), want a few", stage, f, len(runs), runs == nil)
				}
				db.index.noRuns = true
				db.index.mu.Lock()
				db.index.filters = nil
				db.index.mu.Unlock()
				want, err := db.SearchText(ctx, terms, f, 30)
				if err != nil {
					t.Fatal(err)
				}
				db.index.mu.Lock()
				db.index.filters = nil
				db.index.mu.Unlock()
				if !slices.Equal(got, want) {
					t.Fatalf("%s, filter %+v, query %s:\nwith runs    %v\nwithout runs %v", stage, f, q.ID, got, want)
				}
				if len(want) == 0 && !f.OtherTenants && len(f.Kinds) == 0 {
					t.Errorf("%s, filter %+v, query %s: nothing found", stage, f, q.ID)
				}
			}
		}
	}
	compare("loaded whole", true)
	retrievaltest.Write(t, db, "threats", threats[400:]...)
	var gone []hindsight.DocKey
	for i := 0; i < 400; i += 7 {
		gone = append(gone, threats[i].Key())
	}
	if _, err := db.DeleteDocuments(ctx, gone); err != nil {
		t.Fatal(err)
	}
	compare("changed", false)

	// A quarter of the index written since the load, and the slack lowered to nothing: the next
	// search loads the index whole again, each tenant's documents together.
	db.index.regroupSlack = -1 << 30
	retrievaltest.Write(t, db, "threats", threats[1])
	compare("regrouped", true)
	ix, err := db.current(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	grouped, chunks := ix.grouped, len(ix.chunks)
	ix.mu.RUnlock()
	if grouped != chunks {
		t.Errorf("after regrouping, %d of %d chunk slots grouped", grouped, chunks)
	}
}
