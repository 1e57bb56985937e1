package sqlite_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
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

func TestSearchTenantScopedAndFiltered(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	write(t, db,
		&hindsight.Document{Kind: hindsight.KindThreat, Tenant: "acme", ID: "T-A", Title: "Kerberoasting of svc_sql", Summary: "rubeus.exe requested TGS tickets", Techniques: []string{"T1558.003"}, Severity: hindsight.SeverityHigh, OccurredAt: t0},
		&hindsight.Document{Kind: hindsight.KindThreat, Tenant: "globex", ID: "T-G", Title: "Kerberoasting of svc_backup", Summary: "rubeus.exe requested TGS tickets", Techniques: []string{"T1558.003"}, Severity: hindsight.SeverityHigh, OccurredAt: t0},
		&hindsight.Document{Kind: hindsight.KindNote, ID: "N-K", Title: "Kerberoasting response", Body: "Rotate service account passwords; rubeus.exe", Techniques: []string{"T1558"}},
		&hindsight.Document{Kind: hindsight.KindThreat, Tenant: "acme", ID: "T-P", Title: "Phishing", Summary: "macro spawned powershell.exe", Techniques: []string{"T1566.001"}, Severity: hindsight.SeverityLow, OccurredAt: t0.AddDate(1, 0, 0)},
	)
	ids := func(cs []hindsight.Candidate) map[string]bool {
		m := map[string]bool{}
		for _, c := range cs {
			m[c.Doc.ID] = true
		}
		return m
	}
	for _, tc := range []struct {
		name string
		f    hindsight.Filter
		want []string
	}{
		{"tenant", hindsight.Filter{Tenant: "acme"}, []string{"T-A", "N-K", "T-P"}},
		{"kind", hindsight.Filter{Tenant: "acme", Kinds: []hindsight.Kind{hindsight.KindThreat}}, []string{"T-A", "T-P"}},
		{"parent technique", hindsight.Filter{Tenant: "acme", Techniques: []string{"T1558"}}, []string{"T-A", "N-K"}},
		{"severity", hindsight.Filter{Tenant: "acme", MinSeverity: hindsight.SeverityHigh}, []string{"T-A"}},
		{"since", hindsight.Filter{Tenant: "acme", Since: t0.AddDate(0, 6, 0)}, []string{"T-P"}},
		{"unknown tenant sees global only", hindsight.Filter{Tenant: "nobody"}, []string{"N-K"}},
	} {
		vec, err := db.SearchVectors(ctx, space, query("kerberoasting rubeus.exe powershell.exe macro"), tc.f, 10)
		if err != nil {
			t.Fatal(err)
		}
		txt, err := db.SearchText(ctx, retrieval.Tokenize("kerberoasting rubeus.exe powershell.exe macro phishing"), tc.f, 10)
		if err != nil {
			t.Fatal(err)
		}
		for name, got := range map[string]map[string]bool{"vector": ids(vec), "text": ids(txt)} {
			if len(got) != len(tc.want) {
				t.Errorf("%s %s: got %v, want %v", tc.name, name, got, tc.want)
			}
			for _, w := range tc.want {
				if !got[w] {
					t.Errorf("%s %s: got %v, want %v", tc.name, name, got, tc.want)
				}
			}
		}
	}
	txt, _ := db.SearchText(ctx, retrieval.Tokenize("rubeus.exe"), hindsight.Filter{Tenant: "acme"}, 1)
	if len(txt) != 1 || txt[0].Score <= 0 || txt[0].Section != "case" {
		t.Errorf("text search k=1: %+v", txt)
	}
}

func TestReplaceAndDelete(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	d := &hindsight.Document{Kind: hindsight.KindNote, ID: "N1", Title: "mimikatz cleanup"}
	write(t, db, d)
	f := hindsight.Filter{Tenant: "acme"}
	if got, _ := db.SearchText(ctx, []string{"mimikatz"}, f, 5); len(got) != 1 {
		t.Fatalf("before replace: %v", got)
	}
	write(t, db, &hindsight.Document{Kind: hindsight.KindNote, ID: "N1", Title: "certutil download"})
	if got, _ := db.SearchText(ctx, []string{"mimikatz"}, f, 5); len(got) != 0 {
		t.Errorf("old text still found after replace: %v", got)
	}
	if got, _ := db.SearchText(ctx, []string{"certutil"}, f, 5); len(got) != 1 {
		t.Errorf("new text not found after replace: %v", got)
	}
	if got, _ := db.SearchVectors(ctx, space, query("certutil"), f, 5); len(got) != 1 {
		t.Errorf("vector search after replace: %v", got)
	}
	n, err := db.DeleteDocuments(ctx, []hindsight.DocKey{d.Key(), {Kind: hindsight.KindNote, ID: "absent"}})
	if err != nil || n != 1 {
		t.Fatalf("delete = %d, %v", n, err)
	}
	if got, _ := db.SearchText(ctx, []string{"certutil"}, f, 5); len(got) != 0 {
		t.Errorf("found after delete: %v", got)
	}
	if got, _ := db.SearchVectors(ctx, space, query("certutil"), f, 5); len(got) != 0 {
		t.Errorf("vector found after delete: %v", got)
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

func TestConcurrentReadersDuringWrite(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	write(t, db, &hindsight.Document{Kind: hindsight.KindNote, ID: "N0", Title: "seed lsass dump"})
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				got, err := db.SearchText(ctx, []string{"lsass"}, hindsight.Filter{Tenant: "x"}, 100)
				if err != nil {
					errs <- err
					return
				}
				if len(got) == 0 {
					errs <- errors.New("reader saw no documents")
					return
				}
				if _, err := db.SearchVectors(ctx, space, query("lsass"), hindsight.Filter{Tenant: "x"}, 10); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := 1; i <= 30; i++ {
		write(t, db, &hindsight.Document{Kind: hindsight.KindNote, ID: "N" + string(rune('A'+i)), Title: "lsass dump variant"})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
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
	for _, bad := range []string{"", "nope", secret + "x", secret[:len(secret)-1] + "0", "hsk_" + k.ID + "_"} {
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
