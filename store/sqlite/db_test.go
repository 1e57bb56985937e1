package sqlite_test

import (
	"context"
	"fmt"
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

// TestFindDocumentsBatches asks for more keys than one query names, in counts between the
// prepared batch sizes, with keys repeated and keys the store lacks.
func TestFindDocumentsBatches(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	var docs []*hindsight.Document
	for i := range 150 {
		docs = append(docs, &hindsight.Document{Kind: hindsight.KindThreat, Tenant: "acme", ID: fmt.Sprintf("T%03d", i), Title: fmt.Sprintf("case %d", i)})
	}
	write(t, db, docs...)
	for _, n := range []int{1, 3, 63, 64, 65, 129, 200} {
		var keys []hindsight.DocKey
		for i := range n {
			// Every third key is one the store lacks; every fifth repeats the one before.
			switch {
			case i%5 == 4:
				keys = append(keys, keys[i-1])
			case i%3 == 2:
				keys = append(keys, hindsight.DocKey{Kind: hindsight.KindThreat, Tenant: "other", ID: fmt.Sprintf("T%03d", i)})
			default:
				keys = append(keys, hindsight.DocKey{Kind: hindsight.KindThreat, Tenant: "acme", ID: fmt.Sprintf("T%03d", i%150)})
			}
		}
		got, err := db.FindDocuments(ctx, keys)
		if err != nil {
			t.Fatal(err)
		}
		want := map[hindsight.DocKey]bool{}
		for _, k := range keys {
			if k.Tenant == "acme" {
				want[k] = true
			}
		}
		if len(got) != len(want) {
			t.Errorf("%d keys: %d documents found, want %d", n, len(got), len(want))
		}
		for k := range want {
			var i int
			fmt.Sscanf(k.ID, "T%d", &i)
			if d := got[k]; d == nil || d.Title != fmt.Sprintf("case %d", i) {
				t.Errorf("%d keys: %v = %v, want case %d", n, k, d, i)
			}
		}
	}
}
