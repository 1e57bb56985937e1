package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/ingest"
	"github.com/hindsightsec/hindsight/retrieval"
	"github.com/hindsightsec/hindsight/sample"
	"github.com/hindsightsec/hindsight/store/postgres"
	"github.com/hindsightsec/hindsight/store/postgres/pgtest"
	"github.com/jackc/pgx/v5"
)

// TestIngestSurvivesTerminatedConnections is the acceptance test of issue 4: PostgreSQL
// terminates the ingest's connection in the middle of writing a batch (pg_terminate_backend from
// another connection, as an administrator or a failover would). The run fails cleanly and is
// recorded as failed; every document stored has all its chunks; a second run completes, and the
// store then holds exactly what an uninterrupted run stores.
func TestIngestSurvivesTerminatedConnections(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	corpus, err := sample.Generate(sample.Config{Threats: 800, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := corpus.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	paths := []string{filepath.Join(dir, sample.KnowledgeFile), filepath.Join(dir, sample.ThreatsFile)}
	emb := retrieval.Builtin{}
	// Small batches: many transactions in a corpus that loads in seconds.
	opts := ingest.Options{BatchSize: 64}

	// An uninterrupted run, in a schema of its own, is what the interrupted store must end up as.
	want, wantDSN := pgtest.Open(t)
	wantRun, err := ingest.New(want, emb, nil).Run(ctx, paths, opts)
	if err != nil {
		t.Fatalf("clean run: %v", err)
	}

	b := make([]byte, 6)
	rand.Read(b)
	app := "hindsight-test-ingest-" + hex.EncodeToString(b)
	dsn := pgtest.NewSchema(t)
	db, err := postgres.Open(ctx, pgtest.WithParams(t, dsn, map[string]string{"application_name": app}), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)

	type result struct {
		run *hindsight.Run
		err error
	}
	done := make(chan result, 1)
	go func() {
		run, err := ingest.New(db, emb, nil).Run(ctx, paths, opts)
		done <- result{run, err}
	}()
	// Let a few batches commit, then catch the ingest inside a COPY of chunks: its transaction
	// has stored a batch of documents and is storing their chunks.
	killed := false
	deadline := time.Now().Add(2 * time.Minute)
	for !killed && time.Now().Before(deadline) {
		select {
		case r := <-done:
			t.Fatalf("the ingest finished (%v) before its connection could be terminated; give it more to do", r.err)
		default:
		}
		var stored int
		if err := admin.QueryRow(ctx, "SELECT count(*) FROM documents").Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if stored < 300 {
			time.Sleep(5 * time.Millisecond)
			continue
		}
		err := admin.QueryRow(ctx, `SELECT coalesce(bool_or(pg_terminate_backend(pid)), false) FROM pg_stat_activity
			WHERE application_name = $1 AND state = 'active' AND query ILIKE 'copy%'`, app).Scan(&killed)
		if err != nil {
			t.Fatal(err)
		}
	}
	if !killed {
		t.Fatal("never caught the ingest in a COPY")
	}
	r := <-done
	if r.err == nil {
		t.Fatalf("the run whose connection was terminated succeeded: %+v", r.run)
	}
	t.Logf("interrupted run: %v", r.err)
	saved, err := db.FindRunByID(ctx, r.run.ID)
	if err != nil || saved.Status != hindsight.RunFailed || saved.Error == "" {
		t.Errorf("the interrupted run is recorded as %+v, %v; want failed, with its error", saved, err)
	}
	checkComplete(t, dsn)

	second, err := ingest.New(db, emb, nil).Run(ctx, paths, opts)
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	if second.Status != hindsight.RunSucceeded || second.Inserted == 0 || second.Unchanged == 0 ||
		second.Inserted+second.Unchanged != wantRun.Inserted {
		t.Errorf("second run = %+v; want it to insert what the first did not store and keep the rest (%d in all)", second, wantRun.Inserted)
	}
	checkComplete(t, dsn)
	for _, table := range []string{"documents", "chunks"} {
		if got, want := countRows(t, dsn, table), countRows(t, wantDSN, table); got != want {
			t.Errorf("%s: %d rows after the interrupted and the second run, %d after one clean run", table, got, want)
		}
	}
	for _, tenant := range []string{"acme", "globex"} {
		got, err1 := db.CountDocuments(ctx, tenant)
		exp, err2 := want.CountDocuments(ctx, tenant)
		if err1 != nil || err2 != nil || len(got) != len(exp) {
			t.Fatalf("CountDocuments(%s) = %v, %v; want %v, %v", tenant, got, err1, exp, err2)
		}
		for k, n := range exp {
			if got[k] != n {
				t.Errorf("CountDocuments(%s)[%s] = %d, want %d", tenant, k, got[k], n)
			}
		}
		f := hindsight.Filter{Tenant: tenant}
		q := retrieval.Tokenize("revoke sessions reset password mailbox forwarding rule")
		a, _ := db.SearchText(ctx, q, f, 20)
		e, _ := want.SearchText(ctx, q, f, 20)
		if !slices.Equal(candidateIDs(a), candidateIDs(e)) {
			t.Errorf("text search for %s differs from the clean store's:\n got  %v\n want %v", tenant, candidateIDs(a), candidateIDs(e))
		}
	}
}

// checkComplete checks that every stored document has exactly the chunks its record makes, and
// that their text and space are the document's.
func checkComplete(t *testing.T, dsn string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT d.record::text, d.space, coalesce(array_agg(c.text ORDER BY c.seq) FILTER (WHERE c.doc IS NOT NULL), '{}'),
		count(c.doc) FILTER (WHERE c.space <> d.space)
		FROM documents d LEFT JOIN chunks c ON c.doc = d.id GROUP BY d.id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	docs := 0
	for rows.Next() {
		var rec []byte
		var space string
		var texts []string
		var otherSpace int
		if err := rows.Scan(&rec, &space, &texts, &otherSpace); err != nil {
			t.Fatal(err)
		}
		var d hindsight.Document
		if err := json.Unmarshal(rec, &d); err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, s := range ingest.Sections(&d) {
			want = append(want, s.Text)
		}
		if !slices.Equal(texts, want) || otherSpace != 0 {
			t.Errorf("%s has %d chunks (%d in another space), want %d", d.Key(), len(texts), otherSpace, len(want))
		}
		docs++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if docs == 0 {
		t.Error("no documents stored")
	}
}

func candidateIDs(cs []hindsight.Candidate) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Doc.String())
	}
	return out
}
