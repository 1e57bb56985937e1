package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hindsightsec/hindsight/store/postgres/pgtest"
)

// postgresURL returns the URL of an empty schema of the test database, dropped when the test
// ends. It skips the test when the database cannot be reached, and fails it when CI=true.
func postgresURL(t *testing.T) string {
	t.Helper()
	dsn := pgtest.NewSchema(t)
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		t.Fatalf("HINDSIGHT_TEST_POSTGRES must be a postgres:// URL here, as --db takes one")
	}
	return dsn
}

func TestMigratePostgres(t *testing.T) {
	db := postgresURL(t)
	code, out, errs := run(t, "", "migrate", "--db", db)
	if code != exitOK || !strings.HasPrefix(out, "applied 0001_init.sql\n") {
		t.Fatalf("first migrate: exit %d, stdout %q, stderr %q; want the migrations applied", code, out, errs)
	}
	if code, out, errs := run(t, "", "migrate", "--db", db); code != exitOK || out != "schema is up to date\n" {
		t.Errorf("second migrate: exit %d, stdout %q, stderr %q; want nothing applied", code, out, errs)
	}
	if code, _, errs := run(t, "", "migrate", "--db", db, "extra"); code != exitUsage {
		t.Errorf("migrate with an argument: exit %d, %s", code, errs)
	}
}

// TestPostgresStore runs the commands on a PostgreSQL store: ingest, keys, search.
func TestPostgresStore(t *testing.T) {
	db := postgresURL(t)
	dir := t.TempDir()
	if code, _, errs := run(t, "", "ingest", "--db", db, write(t, dir, "in.jsonl", records)); code != exitOK {
		t.Fatalf("ingest: exit %d, %s", code, errs)
	}
	code, out, errs := run(t, "", "ingest", "--db", db, "--json", filepath.Join(dir, "in.jsonl"))
	var again struct{ Inserted, Updated, Unchanged int }
	if err := json.Unmarshal([]byte(out), &again); err != nil || code != exitOK || again.Unchanged != 3 || again.Inserted+again.Updated != 0 {
		t.Errorf("second ingest: exit %d, %s %s; want everything unchanged", code, out, errs)
	}
	if code, out, _ := run(t, "", "keys", "create", "--db", db, "--tenant", "acme", "--role", "reader"); code != exitOK || !strings.HasPrefix(out, "hsk_") {
		t.Errorf("keys create: exit %d, %q", code, out)
	}
	code, out, errs = run(t, "", "search", "--db", db, "--tenant", "acme", "--json", "procdump lsass")
	var res struct{ Hits []struct{ ID, Tenant string } }
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != exitOK || len(res.Hits) != 2 {
		t.Fatalf("search: exit %d, %q, %s, %v", code, out, errs, err)
	}
	for _, h := range res.Hits {
		if h.Tenant == "globex" {
			t.Errorf("search for acme returned globex's %s", h.ID)
		}
	}
	// A URL with a password never appears in an error.
	code, _, errs = run(t, "", "search", "--db", "postgres://u:hunter2@127.0.0.1:1/x?connect_timeout=2", "--tenant", "acme", "x")
	if code != exitFailed || strings.Contains(errs, "hunter2") {
		t.Errorf("unreachable store: exit %d, stderr %q", code, errs)
	}
}

func TestMigrateSQLite(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "h.db")
	if code, out, errs := run(t, "", "migrate", "--db", db); code != exitOK || !strings.Contains(out, "up to date") {
		t.Errorf("migrate: exit %d, stdout %q, stderr %q", code, out, errs)
	}
}
