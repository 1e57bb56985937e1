package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

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
