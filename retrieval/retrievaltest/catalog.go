package retrievaltest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/eval"
)

// Catalog is what the API, ingest and eval keep in a store besides the searchable documents: API
// keys, drafts and their reviews, imported eval pairs and eval reports.
type Catalog interface {
	CreateKey(ctx context.Context, tenant string, role hindsight.Role) (string, *hindsight.Key, error)
	FindKeyBySecret(ctx context.Context, secret string) (*hindsight.Key, error)
	FindKeys(ctx context.Context, tenant string) ([]*hindsight.Key, error)
	CreateDraft(ctx context.Context, d *hindsight.Draft) error
	FindDraftByID(ctx context.Context, tenant, id string) (*hindsight.Draft, error)
	CreateReview(ctx context.Context, r *hindsight.Review) error
	FindReviews(ctx context.Context, tenant, draftID string) ([]*hindsight.Review, error)
	ImportPairs(ctx context.Context, pairs []hindsight.Pair) (inserted, updated, unchanged int, err error)
	FindPairs(ctx context.Context, f eval.PairFilter) ([]eval.StoredPair, error)
	SaveEvalReport(ctx context.Context, r *eval.Report) error
	FindLatestEvalReport(ctx context.Context, tenant string) (json.RawMessage, error)
}

// ExerciseCatalog runs the catalog's part of the suite. open must return a new, empty store each
// time it is called.
func ExerciseCatalog(t *testing.T, open func(t *testing.T) Catalog) {
	t.Run("Keys", func(t *testing.T) { t.Parallel(); testKeys(t, open) })
	t.Run("DraftsAndReviews", func(t *testing.T) { t.Parallel(); testDraftsAndReviews(t, open) })
	t.Run("ImportPairs", func(t *testing.T) { t.Parallel(); testImportPairs(t, open) })
	t.Run("FindPairs", func(t *testing.T) { t.Parallel(); testFindPairs(t, open) })
	t.Run("EvalReports", func(t *testing.T) { t.Parallel(); testEvalReports(t, open) })
}

func testKeys(t *testing.T, open func(t *testing.T) Catalog) {
	ctx := context.Background()
	db := open(t)
	secret, k, err := db.CreateKey(ctx, "acme", hindsight.RoleReviewer)
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.FindKeyBySecret(ctx, secret)
	if err != nil || got.ID != k.ID || got.Tenant != "acme" || got.Role != hindsight.RoleReviewer || !got.CreatedAt.Equal(k.CreatedAt) {
		t.Fatalf("FindKeyBySecret = %+v, %v; want %+v", got, err, k)
	}
	for _, bad := range []string{"", "nope", secret + "x", flipLast(secret), "hsk_" + k.ID + "_", "hsk_\x00_x", "hsk_\xff_x"} {
		if _, err := db.FindKeyBySecret(ctx, bad); hindsight.ErrorCode(err) != hindsight.EUNAUTHORIZED {
			t.Errorf("FindKeyBySecret(%q) err = %v, want unauthorized", bad, err)
		}
	}
	if _, _, err := db.CreateKey(ctx, "acme", "root"); hindsight.ErrorField(err) != "role" {
		t.Errorf("bad role: %v", err)
	}
	if _, _, err := db.CreateKey(ctx, "globex", hindsight.RoleReader); err != nil {
		t.Fatal(err)
	}
	if ks, err := db.FindKeys(ctx, "acme"); err != nil || len(ks) != 1 || ks[0].ID != k.ID {
		t.Errorf("FindKeys(acme) = %v, %v", ks, err)
	}
	if ks, err := db.FindKeys(ctx, ""); err != nil || len(ks) != 2 {
		t.Errorf("FindKeys(all) = %v, %v", ks, err)
	}
}

func testDraftsAndReviews(t *testing.T, open func(t *testing.T) Catalog) {
	ctx := context.Background()
	db := open(t)
	d := &hindsight.Draft{ID: "DRF-1", Tenant: "acme", Kind: hindsight.DraftRemediation, Text: "- do x [T-1]", Model: "extractive", PromptVersion: "x1", CreatedAt: time.Now()}
	if err := db.CreateDraft(ctx, d); err != nil {
		t.Fatal(err)
	}
	if _, err := db.FindDraftByID(ctx, "globex", "DRF-1"); hindsight.ErrorCode(err) != hindsight.ENOTFOUND {
		t.Errorf("other tenant's draft: err = %v, want not_found", err)
	}
	got, err := db.FindDraftByID(ctx, "acme", "DRF-1")
	if err != nil || got.Text != d.Text {
		t.Fatalf("FindDraftByID = %+v, %v", got, err)
	}
	// Both reviews in the same microsecond: they still come back in the order they were made.
	at := time.Now().Truncate(time.Microsecond)
	for i, final := range []string{"first", "second"} {
		r := &hindsight.Review{ID: "REV-" + final, DraftID: "DRF-1", Tenant: "acme", Reviewer: "k1", Final: final,
			Ratings: hindsight.Ratings{Accuracy: 4, Clarity: 5, Completeness: 3 + i}, CreatedAt: at}
		if err := db.CreateReview(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.CreateReview(ctx, &hindsight.Review{ID: "REV-x", DraftID: "DRF-1", Tenant: "globex", Final: "x",
		Ratings: hindsight.Ratings{Accuracy: 1, Clarity: 1, Completeness: 1}}); hindsight.ErrorCode(err) != hindsight.ENOTFOUND {
		t.Errorf("review of another tenant's draft: %v", err)
	}
	rs, err := db.FindReviews(ctx, "acme", "DRF-1")
	if err != nil || len(rs) != 2 || rs[0].Final != "first" || rs[1].Ratings.Completeness != 4 || !rs[0].CreatedAt.Equal(at.Truncate(time.Microsecond)) {
		t.Errorf("FindReviews = %+v, %v", rs, err)
	}
	if rs, err := db.FindReviews(ctx, "globex", "DRF-1"); err != nil || len(rs) != 0 {
		t.Errorf("another tenant's reviews: %v, %v", rs, err)
	}
}

func pair(id, final string) hindsight.Pair {
	return hindsight.Pair{ID: id, Kind: hindsight.DraftRemediation, Model: "llama3.1:8b", PromptVersion: "v3", Tenant: "acme",
		Techniques: []string{"T1078.004"}, Draft: "- Reset the password", Final: final,
		Ratings: hindsight.Ratings{Accuracy: 4, Clarity: 5, Completeness: 3}, CreatedAt: time.Date(2024, 2, 1, 9, 0, 0, 0, time.UTC)}
}

func testImportPairs(t *testing.T, open func(t *testing.T) Catalog) {
	ctx := context.Background()
	setup := func(t *testing.T) Catalog {
		db := open(t)
		if ins, upd, same, err := db.ImportPairs(ctx, []hindsight.Pair{pair("DRF-1", "final one"), pair("DRF-2", "final two")}); err != nil || ins != 2 || upd+same != 0 {
			t.Fatalf("first import: %d inserted, %d updated, %d unchanged, %v", ins, upd, same, err)
		}
		return db
	}

	t.Run("stored as a draft with one imported review", func(t *testing.T) {
		t.Parallel()
		db := setup(t)
		d, err := db.FindDraftByID(ctx, "acme", "DRF-1")
		if err != nil {
			t.Fatal(err)
		}
		if d.Text != "- Reset the password" || d.Model != "llama3.1:8b" || d.PromptVersion != "v3" || d.Kind != hindsight.DraftRemediation ||
			!d.CreatedAt.Equal(time.Date(2024, 2, 1, 9, 0, 0, 0, time.UTC)) || len(d.Threat.Techniques) != 1 || d.Sources == nil {
			t.Errorf("draft = %+v", d)
		}
		rs, err := db.FindReviews(ctx, "acme", "DRF-1")
		if err != nil || len(rs) != 1 || rs[0].Final != "final one" || rs[0].Reviewer != hindsight.ImportedReviewer || rs[0].Ratings.Completeness != 3 {
			t.Errorf("reviews = %+v, %v", rs, err)
		}
		if _, err := db.FindDraftByID(ctx, "globex", "DRF-1"); hindsight.ErrorCode(err) != hindsight.ENOTFOUND {
			t.Errorf("another tenant sees the draft: %v", err)
		}
	})

	t.Run("importing again changes nothing", func(t *testing.T) {
		t.Parallel()
		db := setup(t)
		ins, upd, same, err := db.ImportPairs(ctx, []hindsight.Pair{pair("DRF-1", "final one"), pair("DRF-2", "final two")})
		if err != nil || ins+upd != 0 || same != 2 {
			t.Errorf("re-import: %d inserted, %d updated, %d unchanged, %v", ins, upd, same, err)
		}
		if rs, _ := db.FindReviews(ctx, "acme", "DRF-1"); len(rs) != 1 {
			t.Errorf("%d reviews after re-import, want 1", len(rs))
		}
	})

	t.Run("a changed pair replaces its imported review and keeps API reviews", func(t *testing.T) {
		t.Parallel()
		db := setup(t)
		api := &hindsight.Review{ID: "REV-0a1b", DraftID: "DRF-1", Tenant: "acme", Reviewer: "KEY-1", Final: "from the API",
			Ratings: hindsight.Ratings{Accuracy: 1, Clarity: 1, Completeness: 1}, CreatedAt: time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)}
		if err := db.CreateReview(ctx, api); err != nil {
			t.Fatal(err)
		}
		changed := pair("DRF-1", "final one, edited")
		changed.Model = "llama3.1:70b"
		ins, upd, same, err := db.ImportPairs(ctx, []hindsight.Pair{changed, pair("DRF-2", "final two")})
		if err != nil || ins != 0 || upd != 1 || same != 1 {
			t.Fatalf("changed pair: %d inserted, %d updated, %d unchanged, %v", ins, upd, same, err)
		}
		rs, _ := db.FindReviews(ctx, "acme", "DRF-1")
		if len(rs) != 2 || rs[0].Final != "final one, edited" || rs[1].Final != "from the API" {
			t.Errorf("reviews = %+v", rs)
		}
		if d, _ := db.FindDraftByID(ctx, "acme", "DRF-1"); d == nil || d.Model != "llama3.1:70b" {
			t.Errorf("draft = %+v", d)
		}
	})

	t.Run("conflicts store nothing", func(t *testing.T) {
		t.Parallel()
		db := setup(t)
		made := &hindsight.Draft{ID: "DRF-API", Tenant: "acme", Kind: hindsight.DraftRemediation, Text: "- Reset the password",
			Model: "llama3.1:8b", PromptVersion: "v3", Threat: hindsight.Document{Techniques: []string{"T1078.004"}},
			CreatedAt: time.Date(2024, 2, 1, 9, 0, 0, 0, time.UTC)}
		if err := db.CreateDraft(ctx, made); err != nil {
			t.Fatal(err)
		}
		if err := db.CreateReview(ctx, &hindsight.Review{ID: "REV-ff", DraftID: "DRF-API", Tenant: "acme", Reviewer: "KEY-1", Final: "shipped",
			Ratings: hindsight.Ratings{Accuracy: 4, Clarity: 5, Completeness: 3}, CreatedAt: time.Date(2024, 2, 3, 0, 0, 0, 0, time.UTC)}); err != nil {
			t.Fatal(err)
		}
		// The pair that the API draft and its review make, exported and read back, is unchanged.
		if ins, upd, same, err := db.ImportPairs(ctx, []hindsight.Pair{pair("DRF-API", "shipped")}); err != nil || same != 1 || ins+upd != 0 {
			t.Errorf("own export: %d inserted, %d updated, %d unchanged, %v", ins, upd, same, err)
		}
		for name, p := range map[string]hindsight.Pair{
			"differs from an API draft": pair("DRF-API", "something else"),
			"another tenant's draft":    func() hindsight.Pair { p := pair("DRF-1", "final one"); p.Tenant = "globex"; return p }(),
		} {
			_, _, _, err := db.ImportPairs(ctx, []hindsight.Pair{pair("DRF-NEW", "new"), p})
			if hindsight.ErrorCode(err) != hindsight.ECONFLICT {
				t.Errorf("%s: %v, want ECONFLICT", name, err)
			}
		}
		if _, err := db.FindDraftByID(ctx, "acme", "DRF-NEW"); hindsight.ErrorCode(err) != hindsight.ENOTFOUND {
			t.Errorf("a conflicting batch stored its other pairs: %v", err)
		}
		if rs, _ := db.FindReviews(ctx, "acme", "DRF-API"); len(rs) != 1 || rs[0].Final != "shipped" {
			t.Errorf("API reviews = %+v", rs)
		}
	})
}

func testFindPairs(t *testing.T, open func(t *testing.T) Catalog) {
	ctx := context.Background()
	db := open(t)
	t0 := time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)
	draft := func(id, tenant string, kind hindsight.DraftKind, at time.Time) {
		t.Helper()
		d := &hindsight.Draft{ID: id, Tenant: tenant, Kind: kind, Text: "1. Isolate the host [THR-1]", Model: "extractive",
			PromptVersion: "extractive-1", CreatedAt: at, Threat: hindsight.Document{ID: "THR-9", Techniques: []string{"T1003.001"}},
			Recommendations: []hindsight.Recommendation{{Text: "Isolate the host", Citations: []string{"THR-1"}, Supported: true, Support: 1}}}
		if err := db.CreateDraft(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	review := func(id, draftID, tenant, final string, at time.Time) {
		t.Helper()
		r := &hindsight.Review{ID: id, DraftID: draftID, Tenant: tenant, Reviewer: "k1", Final: final,
			Ratings: hindsight.Ratings{Accuracy: 4, Clarity: 3, Completeness: 5}, CreatedAt: at}
		if err := db.CreateReview(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	draft("D1", "acme", hindsight.DraftRemediation, t0)
	draft("D2", "acme", hindsight.DraftHunting, t0.Add(time.Hour)) // never reviewed
	draft("D3", "globex", hindsight.DraftRemediation, t0.Add(2*time.Hour))
	draft("D4", "acme", hindsight.DraftHardening, t0.Add(3*time.Hour))
	review("R1", "D1", "acme", "- Isolate the host", t0.Add(10*time.Minute))
	review("R2", "D1", "acme", "- Isolate the host now", t0.Add(20*time.Minute)) // supersedes R1
	review("R3", "D3", "globex", "- Call globex", t0.Add(3*time.Hour))
	review("R4", "D4", "acme", "- Enable LSA protection", t0.Add(4*time.Hour))

	ids := func(f eval.PairFilter) []string {
		t.Helper()
		ps, err := db.FindPairs(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, p := range ps {
			out = append(out, p.Draft.ID+"/"+p.Review.ID)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		f    eval.PairFilter
		want []string
	}{
		{"all tenants, latest review, unreviewed left out", eval.PairFilter{}, []string{"D1/R2", "D3/R3", "D4/R4"}},
		{"one tenant", eval.PairFilter{Tenant: "acme"}, []string{"D1/R2", "D4/R4"}},
		{"kinds", eval.PairFilter{Kinds: []hindsight.DraftKind{hindsight.DraftHardening, hindsight.DraftHunting}}, []string{"D4/R4"}},
		{"since inclusive, until exclusive", eval.PairFilter{Since: t0.Add(2 * time.Hour), Until: t0.Add(3 * time.Hour)}, []string{"D3/R3"}},
		{"another tenant's name", eval.PairFilter{Tenant: "initech"}, nil},
	} {
		if diff := cmp.Diff(tc.want, ids(tc.f)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
	ps, _ := db.FindPairs(ctx, eval.PairFilter{Tenant: "acme"})
	p := ps[0]
	if p.Review.Final != "- Isolate the host now" || p.Review.DraftID != "D1" || p.Review.Tenant != "acme" ||
		p.Review.Ratings != (hindsight.Ratings{Accuracy: 4, Clarity: 3, Completeness: 5}) || !p.Review.CreatedAt.Equal(t0.Add(20*time.Minute)) {
		t.Errorf("review = %+v", p.Review)
	}
	if len(p.Draft.Recommendations) != 1 || p.Draft.Recommendations[0].Citations[0] != "THR-1" || !p.Draft.CreatedAt.Equal(t0) {
		t.Errorf("draft = %+v", p.Draft)
	}
	in := eval.InputFromStored(p)
	if in.Reference != eval.ReferenceReview || in.ThreatID != "THR-9" || in.Ratings == nil || in.Recommendations == nil {
		t.Errorf("input = %+v", in)
	}
}

func testEvalReports(t *testing.T, open func(t *testing.T) Catalog) {
	ctx := context.Background()
	db := open(t)
	t0 := time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)
	if _, err := db.FindLatestEvalReport(ctx, "acme"); hindsight.ErrorCode(err) != hindsight.ENOTFOUND {
		t.Fatalf("no report yet: %v, want not found", err)
	}
	report := func(id string, at time.Time, tenants ...string) *eval.Report {
		var ds []eval.DraftResult
		for _, tn := range tenants {
			ds = append(ds, eval.DraftResult{ID: "D-" + tn, Tenant: tn, Kind: hindsight.DraftRemediation, Metrics: map[string]float64{"ter": 10}})
		}
		return eval.NewReport(ds, eval.ReportConfig{ID: id, Seed: 1, Bootstrap: -1, Now: func() time.Time { return at }})
	}
	save := func(r *eval.Report) {
		t.Helper()
		if err := db.SaveEvalReport(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	latest := func(tenant string) string {
		t.Helper()
		raw, err := db.FindLatestEvalReport(ctx, tenant)
		if hindsight.ErrorCode(err) == hindsight.ENOTFOUND {
			return "none"
		} else if err != nil {
			t.Fatal(err)
		}
		var r eval.Report
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatal(err)
		}
		return r.ID + ":" + r.Drafts[0].Tenant
	}
	all := report("EVR-all", t0, "acme", "globex")
	save(all)
	if got := latest("globex"); got != "none" {
		t.Errorf("a report over two tenants was served to globex: %s", got)
	}
	save(all.ForTenant("globex"))
	save(report("EVR-a1", t0.Add(-time.Hour), "acme"))
	if got := latest("globex"); got != "EVR-all:globex" {
		t.Errorf("globex latest = %s", got)
	}
	if got := latest("acme"); got != "EVR-a1:acme" {
		t.Errorf("acme latest = %s", got)
	}
	save(report("EVR-a2", t0.Add(time.Hour), "acme"))
	if got := latest("acme"); got != "EVR-a2:acme" {
		t.Errorf("acme latest after a newer report = %s", got)
	}
	save(report("EVR-a2", t0.Add(time.Hour), "acme")) // saving again replaces, never duplicates
	if got := latest(""); got != "none" {
		t.Errorf("the empty tenant was served %s", got)
	}
	if err := db.SaveEvalReport(ctx, &eval.Report{}); hindsight.ErrorCode(err) != hindsight.EINVALID {
		t.Errorf("report without an ID: %v", err)
	}
}

func flipLast(secret string) string {
	last := byte('0')
	if secret[len(secret)-1] == '0' {
		last = '1'
	}
	return secret[:len(secret)-1] + string(last)
}
