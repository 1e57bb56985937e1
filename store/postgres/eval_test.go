// Ported from store/sqlite/eval_test.go: the two stores must behave alike.

package postgres_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/eval"
	"github.com/hindsightsec/hindsight/store/postgres/pgtest"
)

func TestFindPairs(t *testing.T) {
	ctx := context.Background()
	db, _ := pgtest.Open(t)
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

func TestEvalReports(t *testing.T) {
	ctx := context.Background()
	db, _ := pgtest.Open(t)
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
