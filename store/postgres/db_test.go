package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/migrations"
	"github.com/hindsightsec/hindsight/retrieval"
	"github.com/hindsightsec/hindsight/store/postgres"
	"github.com/hindsightsec/hindsight/store/postgres/pgtest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	pgxvec "github.com/pgvector/pgvector-go/pgx"
)

var space = retrieval.Builtin{}.Space()

// write stores documents with one chunk each, embedded with the built-in embedder.
func write(t testing.TB, db *postgres.DB, docs ...*hindsight.Document) {
	t.Helper()
	if err := db.WriteDocuments(context.Background(), writes(docs...)); err != nil {
		t.Fatal(err)
	}
}

func writes(docs ...*hindsight.Document) []hindsight.DocumentWrite {
	var ws []hindsight.DocumentWrite
	for _, d := range docs {
		text := d.Title + " " + d.Summary + " " + d.Body
		terms := retrieval.Tokenize(text)
		ws = append(ws, hindsight.DocumentWrite{
			Document: d, Source: "test.jsonl", RecordHash: text, ContentHash: text, Space: space.String(),
			Chunks: []hindsight.Chunk{{Seq: 0, Section: "case", Text: text, Terms: terms, Vector: retrieval.Builtin{}.EmbedTerms(terms)}},
		})
	}
	return ws
}

func query(text string) []float32 { return retrieval.Builtin{}.EmbedTerms(retrieval.Tokenize(text)) }

// countRows returns the number of rows of a table in the store's schema.
func countRows(t testing.TB, dsn, table string) int {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestReopenKeepsDataAndMigratesOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.NewSchema(t)
	db, err := postgres.Open(ctx, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	write(t, db, &hindsight.Document{Kind: hindsight.KindNote, ID: "N1", Title: "Reset passwords"})
	db.Close()
	db, err = postgres.Open(ctx, dsn, nil)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db.Close()
	got, err := db.FindDocuments(ctx, []hindsight.DocKey{{Kind: hindsight.KindNote, ID: "N1"}})
	if err != nil || len(got) != 1 {
		t.Fatalf("after reopen: %v, %v", got, err)
	}
	if cands, err := db.SearchVectors(ctx, space, query("reset passwords"), hindsight.Filter{Tenant: "x"}, 5); err != nil || len(cands) != 1 {
		t.Errorf("vector search after reopen: %v, %v", cands, err)
	}
	ms, _ := migrations.List("postgres")
	if n := countRows(t, dsn, "schema_migrations"); n != len(ms) {
		t.Errorf("schema_migrations has %d rows, want %d", n, len(ms))
	}
}

func TestOtherProcessWritesAreSeen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, dsn := pgtest.Open(t)
	b, err := postgres.Open(ctx, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	f := hindsight.Filter{Tenant: "acme"}
	if got, _ := a.SearchVectors(ctx, space, query("ntds.dit"), f, 5); len(got) != 0 {
		t.Fatalf("empty store: %v", got)
	}
	// a has looked the space up and found nothing; b's first write creates it.
	write(t, b, &hindsight.Document{Kind: hindsight.KindNote, ID: "N1", Title: "ntds.dit extraction"})
	if got, _ := a.SearchVectors(ctx, space, query("ntds.dit"), f, 5); len(got) != 1 {
		t.Errorf("write by another process not seen: %v", got)
	}
}

// TestConcurrentMigrations races two processes' migrations on an empty schema: each migration is
// applied once, by one of them, and both succeed.
func TestConcurrentMigrations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	all, err := migrations.List("postgres")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("Migrate", func(t *testing.T) {
		t.Parallel()
		dsn := pgtest.NewSchema(t)
		var wg sync.WaitGroup
		applied := make([][]migrations.Migration, 4)
		errs := make([]error, len(applied))
		for i := range applied {
			wg.Go(func() { applied[i], errs[i] = postgres.Migrate(ctx, dsn, nil) })
		}
		wg.Wait()
		seen := map[int]int{}
		for i := range applied {
			if errs[i] != nil {
				t.Errorf("migrator %d: %v", i, errs[i])
			}
			for _, m := range applied[i] {
				seen[m.Version]++
			}
		}
		for _, m := range all {
			if seen[m.Version] != 1 {
				t.Errorf("migration %s applied %d times, want once", m.Name, seen[m.Version])
			}
		}
		if n := countRows(t, dsn, "schema_migrations"); n != len(all) {
			t.Errorf("schema_migrations has %d rows, want %d", n, len(all))
		}
	})
	t.Run("Open", func(t *testing.T) {
		t.Parallel()
		dsn := pgtest.NewSchema(t)
		var wg sync.WaitGroup
		dbs := make([]*postgres.DB, 2)
		errs := make([]error, len(dbs))
		for i := range dbs {
			wg.Go(func() { dbs[i], errs[i] = postgres.Open(ctx, dsn, nil) })
		}
		wg.Wait()
		for i, db := range dbs {
			if errs[i] != nil {
				t.Fatalf("Open %d: %v", i, errs[i])
			}
			defer db.Close()
		}
		// Both work on the one schema: a write by one is read by the other.
		write(t, dbs[0], &hindsight.Document{Kind: hindsight.KindNote, ID: "N1", Title: "kerberoasting"})
		if got, err := dbs[1].SearchText(ctx, retrieval.Tokenize("kerberoasting"), hindsight.Filter{Tenant: "x"}, 5); err != nil || len(got) != 1 {
			t.Errorf("SearchText on the other store: %v, %v", got, err)
		}
		if n := countRows(t, dsn, "schema_migrations"); n != len(all) {
			t.Errorf("schema_migrations has %d rows, want %d", n, len(all))
		}
	})
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if _, err := postgres.Open(ctx, "postgres://u:secret@127.0.0.1:5432/db?sslmode=bogus", nil); hindsight.ErrorCode(err) != hindsight.EINVALID ||
		strings.Contains(err.Error(), "secret") {
		t.Errorf("bad URL: err = %v, want invalid, without the password", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// Port 1 on loopback: nothing listens there.
	if _, err := postgres.Open(ctx, "postgres://u:secret@127.0.0.1:1/db?connect_timeout=5", nil); hindsight.ErrorCode(err) != hindsight.EUNAVAILABLE ||
		strings.Contains(err.Error(), "secret") {
		t.Errorf("no server: err = %v, want unavailable, without the password", err)
	}
}

// TestNew checks a store over a pool that the caller owns: Close leaves the pool open.
func TestNew(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.NewSchema(t)
	if _, err := postgres.Migrate(ctx, dsn, nil); err != nil {
		t.Fatal(err)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.AfterConnect = pgxvec.RegisterTypes
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	db := postgres.New(pool, nil)
	write(t, db, &hindsight.Document{Kind: hindsight.KindNote, ID: "N1", Title: "golden ticket"})
	db.Close()
	if err := pool.Ping(ctx); err != nil {
		t.Errorf("Close closed the caller's pool: %v", err)
	}
}

func TestRuns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := pgtest.Open(t)
	t0 := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range 3 {
		run := &hindsight.Run{ID: fmt.Sprintf("RUN-%d", i), StartedAt: t0.Add(time.Duration(i) * time.Hour), Status: hindsight.RunSucceeded,
			Paths: []string{"a"}, Rejected: []hindsight.Rejection{}, Inserted: i}
		if err := db.SaveRun(ctx, run); err != nil {
			t.Fatal(err)
		}
	}
	got, err := db.FindRunByID(ctx, "RUN-1")
	if err != nil || got.Inserted != 1 || !got.StartedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("FindRunByID = %+v, %v", got, err)
	}
	if _, err := db.FindRunByID(ctx, "nope"); hindsight.ErrorCode(err) != hindsight.ENOTFOUND {
		t.Errorf("missing run: %v", err)
	}
	runs, err := db.FindRuns(ctx, 2)
	if err != nil || len(runs) != 2 || runs[0].ID != "RUN-2" || runs[1].ID != "RUN-1" {
		t.Errorf("FindRuns(2) = %v, %v; want RUN-2, RUN-1", runs, err)
	}
	if runs, err := db.FindRuns(ctx, -1); err != nil || len(runs) != 3 {
		t.Errorf("FindRuns(-1) = %d runs, %v; want all 3", len(runs), err)
	}
}

func TestCountDocuments(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := pgtest.Open(t)
	write(t, db,
		&hindsight.Document{Kind: hindsight.KindThreat, Tenant: "acme", ID: "T1", Title: "a"},
		&hindsight.Document{Kind: hindsight.KindThreat, Tenant: "globex", ID: "T1", Title: "b"},
		&hindsight.Document{Kind: hindsight.KindNote, ID: "N1", Title: "c"})
	got, err := db.CountDocuments(ctx, "acme")
	if err != nil || len(got) != 2 || got[hindsight.KindThreat] != 1 || got[hindsight.KindNote] != 1 {
		t.Errorf("CountDocuments(acme) = %v, %v", got, err)
	}
}

// TestWriteDocumentsIsAllOrNothing makes the last document of a batch fail inside the transaction
// (two chunks with one position): none of the batch is stored, not even the documents before it.
func TestWriteDocumentsIsAllOrNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, dsn := pgtest.Open(t)
	write(t, db, &hindsight.Document{Kind: hindsight.KindNote, ID: "OLD", Title: "rclone exfiltration"})
	ws := writes(
		&hindsight.Document{Kind: hindsight.KindNote, ID: "OLD", Title: "replaced text"},
		&hindsight.Document{Kind: hindsight.KindNote, ID: "NEW", Title: "new text"},
		&hindsight.Document{Kind: hindsight.KindNote, ID: "ZZZ", Title: "bad chunks"})
	ws[2].Chunks = append(ws[2].Chunks, ws[2].Chunks[0])
	if err := db.WriteDocuments(ctx, ws); err == nil {
		t.Fatal("a batch with a duplicate chunk position was stored")
	}
	got, err := db.FindDocuments(ctx, []hindsight.DocKey{ws[0].Document.Key(), ws[1].Document.Key()})
	if err != nil || len(got) != 1 || got[ws[0].Document.Key()].Title != "rclone exfiltration" {
		t.Errorf("after the failed batch: %v, %v; want only OLD, unchanged", got, err)
	}
	if n := countRows(t, dsn, "chunks"); n != 1 {
		t.Errorf("%d chunks stored, want OLD's one", n)
	}
	// A vector of the wrong size is refused before anything is written.
	ws = writes(&hindsight.Document{Kind: hindsight.KindNote, ID: "BAD", Title: "short vector"})
	ws[0].Chunks[0].Vector = ws[0].Chunks[0].Vector[:10]
	if err := db.WriteDocuments(ctx, ws); hindsight.ErrorCode(err) != hindsight.EINVALID {
		t.Errorf("short vector: err = %v, want invalid", err)
	}
}

// TestWriteSameKeyTwice: a key written twice in one batch ends as written last, as it would if the
// writes were applied one after the other.
func TestWriteSameKeyTwice(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := pgtest.Open(t)
	ws := writes(
		&hindsight.Document{Kind: hindsight.KindNote, ID: "N1", Title: "first kerberoast"},
		&hindsight.Document{Kind: hindsight.KindNote, ID: "N1", Title: "second asrep"})
	meta := ws[1]
	meta.Chunks = nil
	meta.Document = &hindsight.Document{Kind: hindsight.KindNote, ID: "N1", Title: "third"}
	if err := db.WriteDocuments(ctx, append(ws, meta)); err != nil {
		t.Fatal(err)
	}
	got, _ := db.FindDocuments(ctx, []hindsight.DocKey{meta.Document.Key()})
	if got[meta.Document.Key()].Title != "third" {
		t.Errorf("record = %+v, want the last write's", got[meta.Document.Key()])
	}
	f := hindsight.Filter{Tenant: "x"}
	if c, _ := db.SearchText(ctx, []string{"asrep"}, f, 5); len(c) != 1 {
		t.Errorf("the last chunks written are not the ones stored: %v", c)
	}
	if c, _ := db.SearchText(ctx, []string{"kerberoast"}, f, 5); len(c) != 0 {
		t.Errorf("the first write's chunks remain: %v", c)
	}
}

// TestTermsKeptWhole: the terms of security text (technique IDs, paths, addresses, flags) are
// indexed and found whole, and a query term matches a stored term exactly, as in the embedded
// store: no case folding, no splitting, no operators.
func TestTermsKeptWhole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := pgtest.Open(t)
	body := `Ran C:\Windows\System32\rundll32.exe comsvcs.dll from 203.0.113.7 as jesse.brown@acme.example; ` +
		`T1003.001 via allow-any-3389, $env:TEMP\x_y.ps1, 100% of ~/.ssh/id_rsa`
	write(t, db, &hindsight.Document{Kind: hindsight.KindNote, ID: "N1", Title: "terms", Body: body})
	f := hindsight.Filter{Tenant: "x"}
	for _, term := range []string{`c:\windows\system32\rundll32.exe`, "203.0.113.7", "jesse.brown@acme.example", "t1003.001", "t1003",
		"allow-any-3389", `$env:temp\x_y.ps1`, "/.ssh/id_rsa", "100%"} {
		if got, err := db.SearchText(ctx, []string{term}, f, 5); err != nil || len(got) != 1 || got[0].Score <= 0 {
			t.Errorf("SearchText(%q) = %v, %v; want N1 with a positive score", term, got, err)
		}
	}
	for _, term := range []string{"system32", "203.0.113", "acme", "RUNDLL32.EXE", "t1003.001 t1003", "t1003.001 | t1003", "!t1003", "t1003:*"} {
		if got, err := db.SearchText(ctx, []string{term}, f, 5); err != nil || len(got) != 0 {
			t.Errorf("SearchText(%q) = %v, %v; want nothing: a term matches a whole stored term", term, got, err)
		}
	}
}

// TestSearchErrors: a vector of the wrong size is invalid; an unknown space finds nothing.
func TestSearchErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := pgtest.Open(t)
	if _, err := db.SearchVectors(ctx, space, []float32{1, 2}, hindsight.Filter{Tenant: "x"}, 5); hindsight.ErrorCode(err) != hindsight.EINVALID {
		t.Errorf("short query vector: %v", err)
	}
	if _, err := db.SearchVectors(ctx, hindsight.Space{Name: "x'); DROP TABLE chunks; --", Version: `\`, Dim: 2}, []float32{1, 0},
		hindsight.Filter{Tenant: "x"}, 5); err != nil {
		t.Errorf("unknown space with quotes: %v", err)
	}
	var e *hindsight.Error
	if err := db.WriteDocuments(ctx, []hindsight.DocumentWrite{{Document: &hindsight.Document{Kind: hindsight.KindNote, ID: "N"}, Space: "",
		Chunks: []hindsight.Chunk{{Vector: []float32{1}}}}}); !errors.As(err, &e) || e.Code != hindsight.EINVALID {
		t.Errorf("chunks without a space: %v", err)
	}
}
