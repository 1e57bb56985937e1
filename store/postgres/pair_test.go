// Ported from store/sqlite/pair_test.go: the two stores must behave alike.

package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/store/postgres"
	"github.com/hindsightsec/hindsight/store/postgres/pgtest"
)

func pair(id, final string) hindsight.Pair {
	return hindsight.Pair{ID: id, Kind: hindsight.DraftRemediation, Model: "llama3.1:8b", PromptVersion: "v3", Tenant: "acme",
		Techniques: []string{"T1078.004"}, Draft: "- Reset the password", Final: final,
		Ratings: hindsight.Ratings{Accuracy: 4, Clarity: 5, Completeness: 3}, CreatedAt: time.Date(2024, 2, 1, 9, 0, 0, 0, time.UTC)}
}

func TestImportPairs(t *testing.T) {
	ctx := context.Background()
	setup := func(t *testing.T) *postgres.DB {
		db, _ := pgtest.Open(t)
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
