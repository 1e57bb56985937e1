package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hindsightsec/hindsight/store/postgres"
	"github.com/jackc/pgx/v5"
)

// defaultURL is the database scripts/test-setup.sh prepares.
const defaultURL = "postgres://postgres@127.0.0.1:5432/hindsight_test?sslmode=disable"

func testURL() string {
	if u := os.Getenv("HINDSIGHT_TEST_POSTGRES"); u != "" {
		return u
	}
	return defaultURL
}

var (
	extOnce   sync.Once
	extSchema string
	extErr    error
)

// connect opens a plain connection to the test database, skipping the test when there is no
// database to reach, or failing it when CI says there must be one.
func connect(t testing.TB) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, testURL())
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL at HINDSIGHT_TEST_POSTGRES (or %s) cannot be reached: %v", defaultURL, err)
		}
		t.Skipf("PostgreSQL cannot be reached (run make setup, or set HINDSIGHT_TEST_POSTGRES): %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	// The extension is per database: created once, outside any test's schema, so that dropping a
	// test's schema never drops it.
	extOnce.Do(func() {
		if _, err := conn.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS vector SCHEMA public"); err != nil {
			extErr = err
		}
		// A concurrent CREATE (another package's tests) may have failed ours: what counts is that
		// the extension is there now.
		err := conn.QueryRow(ctx, "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'vector'").Scan(&extSchema)
		if err == nil {
			extErr = nil
		} else if extErr == nil {
			extErr = err
		}
	})
	if extErr != nil {
		t.Fatalf("pgvector is not available in the test database: %v", extErr)
	}
	return conn
}

// newSchema creates an empty schema for one test, dropped when the test ends, and returns a
// connection string whose search_path puts it first: tests run in parallel and never see each
// other's tables.
func newSchema(t testing.TB) string {
	t.Helper()
	conn := connect(t)
	b := make([]byte, 6)
	rand.Read(b)
	name := "hs_test_" + hex.EncodeToString(b)
	if _, err := conn.Exec(context.Background(), "CREATE SCHEMA "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c, err := pgx.Connect(ctx, testURL())
		if err != nil {
			t.Errorf("drop schema %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP SCHEMA "+name+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	return withParams(t, testURL(), map[string]string{"search_path": name + "," + extSchema})
}

// schemaOf returns the schema of a connection string made by newSchema.
func schemaOf(dsn string) string {
	_, rest, _ := strings.Cut(dsn, "hs_test_")
	return "hs_test_" + rest[:12]
}

// withParams adds run-time parameters to a connection string, URL or key=value.
func withParams(t testing.TB, dsn string, params map[string]string) string {
	t.Helper()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		for k, v := range params {
			q.Set(k, v)
		}
		u.RawQuery = q.Encode()
		return u.String()
	}
	for k, v := range params {
		dsn += " " + k + "='" + v + "'"
	}
	return dsn
}

// open returns a store in a new schema.
func open(t testing.TB) (*postgres.DB, string) {
	t.Helper()
	dsn := newSchema(t)
	db, err := postgres.Open(context.Background(), dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, dsn
}
