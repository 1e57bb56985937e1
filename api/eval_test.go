package api_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/api"
	"github.com/hindsightsec/hindsight/draft"
	"github.com/hindsightsec/hindsight/eval"
	"github.com/hindsightsec/hindsight/retrieval"
	"github.com/hindsightsec/hindsight/store/sqlite"
)

// exerciseEvalRoutes calls the eval routes on a server whose store holds no report, so that
// TestEveryRouteMatchesOpenAPI sees them; TestLatestEvalReport checks the answers with reports.
func exerciseEvalRoutes(t *testing.T, sp *spec, srv *httptest.Server, keys map[string]string) {
	t.Helper()
	if code, _, b := call(t, sp, srv, "GET", "/v1/eval/reports/latest", keys["reader"], "", ""); code != 404 {
		t.Errorf("latest report with none stored: %d %s, want 404", code, b)
	}
	if code, _, b := call(t, sp, srv, "GET", "/v1/eval/reports/latest", "", "", ""); code != 401 {
		t.Errorf("latest report without a key: %d %s, want 401", code, b)
	}
}

func TestLatestEvalReport(t *testing.T) {
	ctx := context.Background()
	sp := loadSpec(t)
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "h.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	r := retrieval.NewRetriever(db, retrieval.Builtin{})
	srv := httptest.NewServer(api.New(api.Config{Store: db, Search: r, Drafter: draft.New(r, nil), RateLimit: 1000}))
	t.Cleanup(srv.Close)
	keys := map[string]string{}
	for name, tenant := range map[string]string{"acme": "acme", "globex": "globex", "initech": "initech"} {
		keys[name], _, _ = db.CreateKey(ctx, tenant, hindsight.RoleReader)
	}
	exerciseEvalRoutes(t, sp, srv, map[string]string{"reader": keys["acme"]})

	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	ratings := &hindsight.Ratings{Accuracy: 4, Clarity: 5, Completeness: 3}
	inputs := []eval.Input{
		{ID: "DRF-1", Kind: hindsight.DraftRemediation, Model: "extractive", PromptVersion: "extractive-1", Tenant: "acme",
			Techniques: []string{"T1003.001"}, CreatedAt: at, Ratings: ratings,
			Draft: "- Consider isolating WS-1 [THR-1]\n- Reset the password of svc_backup [THR-1, NOTE-1]\n- Monitor the environment",
			Final: "- Isolate WS-1\n- Reset the password of svc_backup\n- Enable LSA protection"},
		{ID: "DRF-2", Kind: hindsight.DraftHunting, Model: "extractive", PromptVersion: "extractive-1", Tenant: "globex",
			CreatedAt: at.AddDate(0, 1, 0), Draft: "- Search for procdump.exe", Final: "- Search for procdump.exe",
			Recommendations: []hindsight.Recommendation{{Text: "Search for procdump.exe", Citations: []string{"THR-2"}, Supported: true, Support: 1}}},
	}
	results, err := eval.Score(ctx, inputs, eval.Options{Embedder: retrieval.Builtin{}})
	if err != nil {
		t.Fatal(err)
	}
	all := eval.NewReport(results, eval.ReportConfig{Seed: 1, Bootstrap: 50, Source: "store", Embedder: "builtin"})
	all.Replay = &eval.ReplayInfo{Before: at, History: []string{"sample"}, Kinds: []string{"remediation"}, Drafters: []string{"extractive"}, K: 8}
	for _, rep := range []*eval.Report{all, all.ForTenant("acme"), all.ForTenant("globex")} {
		if err := db.SaveEvalReport(ctx, rep); err != nil {
			t.Fatal(err)
		}
	}

	for tenant, wantDraft := range map[string]string{"acme": "DRF-1", "globex": "DRF-2"} {
		code, _, b := call(t, sp, srv, "GET", "/v1/eval/reports/latest", keys[tenant], "", "")
		if code != 200 {
			t.Fatalf("%s: %d %s", tenant, code, b)
		}
		var got eval.Report
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if got.ID != all.ID || len(got.Drafts) != 1 || got.Drafts[0].ID != wantDraft || len(got.Tenants) != 1 || got.Tenants[0] != tenant {
			t.Errorf("%s got report %s with tenants %v and %d drafts; want only its own draft %s", tenant, got.ID, got.Tenants, len(got.Drafts), wantDraft)
		}
		for _, g := range got.Slices {
			if g.Dimension == "tenant" && g.Value != tenant {
				t.Errorf("%s's report has a slice of tenant %s", tenant, g.Value)
			}
		}
	}
	// A tenant with no drafts in any report sees none, not the report over every tenant.
	if code, _, b := call(t, sp, srv, "GET", "/v1/eval/reports/latest", keys["initech"], "", ""); code != 404 {
		t.Errorf("initech: %d %s, want 404", code, b)
	}
}
