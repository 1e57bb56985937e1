package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/retrieval"
	"github.com/hindsightsec/hindsight/store/sqlite"
)

func open(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "h.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

var space = retrieval.Builtin{}.Space()

// write stores documents with one chunk each, embedded with the built-in embedder.
func write(t *testing.T, db *sqlite.DB, docs ...*hindsight.Document) {
	t.Helper()
	var ws []hindsight.DocumentWrite
	for _, d := range docs {
		text := d.Title + " " + d.Summary + " " + d.Body
		terms := retrieval.Tokenize(text)
		ws = append(ws, hindsight.DocumentWrite{
			Document: d, Source: "test.jsonl", RecordHash: text, ContentHash: text, Space: space.String(),
			Chunks: []hindsight.Chunk{{Seq: 0, Section: "case", Text: text, Terms: terms, Vector: retrieval.Builtin{}.EmbedTerms(terms)}},
		})
	}
	if err := db.WriteDocuments(context.Background(), ws); err != nil {
		t.Fatal(err)
	}
}

func query(text string) []float32 { return retrieval.Builtin{}.EmbedTerms(retrieval.Tokenize(text)) }

func TestReopenKeepsDataAndMigratesOnce(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "h.db")
	db, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	write(t, db, &hindsight.Document{Kind: hindsight.KindNote, ID: "N1", Title: "Reset passwords"})
	db.Close()
	db, err = sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db.Close()
	got, err := db.FindDocuments(ctx, []hindsight.DocKey{{Kind: hindsight.KindNote, ID: "N1"}})
	if err != nil || len(got) != 1 {
		t.Fatalf("after reopen: %v, %v", got, err)
	}
}

func TestOtherProcessWritesAreSeen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "h.db")
	a, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	f := hindsight.Filter{Tenant: "acme"}
	if got, _ := a.SearchVectors(ctx, space, query("ntds.dit"), f, 5); len(got) != 0 {
		t.Fatalf("empty store: %v", got)
	}
	write(t, b, &hindsight.Document{Kind: hindsight.KindNote, ID: "N1", Title: "ntds.dit extraction"})
	if got, _ := a.SearchVectors(ctx, space, query("ntds.dit"), f, 5); len(got) != 1 {
		t.Errorf("write by another connection not seen: %v", got)
	}
}

func TestKeys(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	secret, k, err := db.CreateKey(ctx, "acme", hindsight.RoleReviewer)
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.FindKeyBySecret(ctx, secret)
	if err != nil || got.ID != k.ID || got.Tenant != "acme" || got.Role != hindsight.RoleReviewer {
		t.Fatalf("FindKeyBySecret = %+v, %v", got, err)
	}
	for _, bad := range []string{"", "nope", secret + "x", flipLast(secret), "hsk_" + k.ID + "_"} {
		if _, err := db.FindKeyBySecret(ctx, bad); hindsight.ErrorCode(err) != hindsight.EUNAUTHORIZED {
			t.Errorf("FindKeyBySecret(%q) err = %v, want unauthorized", bad, err)
		}
	}
	if _, _, err := db.CreateKey(ctx, "acme", "root"); hindsight.ErrorField(err) != "role" {
		t.Errorf("bad role: %v", err)
	}
}

func TestDraftsAndReviews(t *testing.T) {
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
	for i, final := range []string{"first", "second"} {
		r := &hindsight.Review{ID: "REV-" + final, DraftID: "DRF-1", Tenant: "acme", Reviewer: "k1", Final: final,
			Ratings: hindsight.Ratings{Accuracy: 4, Clarity: 5, Completeness: 3 + i}, CreatedAt: time.Now()}
		if err := db.CreateReview(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.CreateReview(ctx, &hindsight.Review{ID: "REV-x", DraftID: "DRF-1", Tenant: "globex", Final: "x",
		Ratings: hindsight.Ratings{Accuracy: 1, Clarity: 1, Completeness: 1}}); hindsight.ErrorCode(err) != hindsight.ENOTFOUND {
		t.Errorf("review of another tenant's draft: %v", err)
	}
	rs, err := db.FindReviews(ctx, "acme", "DRF-1")
	if err != nil || len(rs) != 2 || rs[0].Final != "first" || rs[1].Ratings.Completeness != 4 {
		t.Errorf("FindReviews = %+v, %v", rs, err)
	}
}

// TestDocumentCacheNeverStale reads documents through the decoded-document cache while this and
// another connection rewrite and delete them.
func TestDocumentCacheNeverStale(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "h.db")
	a, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	key := hindsight.DocKey{Kind: hindsight.KindNote, ID: "N1"}
	title := func(db *sqlite.DB) string {
		t.Helper()
		got, err := db.FindDocuments(ctx, []hindsight.DocKey{key})
		if err != nil {
			t.Fatal(err)
		}
		if d := got[key]; d != nil {
			return d.Title
		}
		return ""
	}
	write(t, a, &hindsight.Document{Kind: hindsight.KindNote, ID: "N1", Title: "first"})
	if title(a) != "first" || title(a) != "first" {
		t.Fatal("not found")
	}
	write(t, b, &hindsight.Document{Kind: hindsight.KindNote, ID: "N1", Title: "second"})
	if got := title(a); got != "second" {
		t.Errorf("after another connection's write: %q, want second", got)
	}
	// A search brings the index (and the cache) up to date change by change.
	a.SearchText(ctx, []string{"second"}, hindsight.Filter{Tenant: "x"}, 5)
	write(t, a, &hindsight.Document{Kind: hindsight.KindNote, ID: "N1", Title: "third"})
	a.SearchText(ctx, []string{"third"}, hindsight.Filter{Tenant: "x"}, 5)
	if got := title(a); got != "third" {
		t.Errorf("after own write: %q, want third", got)
	}
	if _, err := b.DeleteDocuments(ctx, []hindsight.DocKey{key}); err != nil {
		t.Fatal(err)
	}
	if got := title(a); got != "" {
		t.Errorf("after delete: %q, want nothing", got)
	}
}

// flipLast returns secret with its last character changed, so it is sure to differ.
func flipLast(secret string) string {
	last := byte('0')
	if secret[len(secret)-1] == '0' {
		last = '1'
	}
	return secret[:len(secret)-1] + string(last)
}
