// Package pgtest gives tests and benchmarks their own empty schema of the PostgreSQL test database,
// with pgvector, dropped when they end, so that they run in parallel without seeing each other's
// tables. The database is the one HINDSIGHT_TEST_POSTGRES names, or DefaultURL, which
// scripts/test-setup.sh prepares.
package pgtest

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

// DefaultURL is the database scripts/test-setup.sh prepares.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/hindsight_test?sslmode=disable"

// schemaPrefix starts the name of every schema NewSchema creates.
const schemaPrefix = "hs_test_"

// URL returns the test database's connection string: HINDSIGHT_TEST_POSTGRES, or DefaultURL when
// it is unset.
func URL() string {
	if u := os.Getenv("HINDSIGHT_TEST_POSTGRES"); u != "" {
		return u
	}
	return DefaultURL
}

var (
	extOnce   sync.Once
	extSchema string
	extErr    error
)

// Connect opens a plain connection to the test database, closed when the test ends. It skips the
// test when there is no database to reach, or fails it when CI=true says there must be one, and
// fails it when pgvector cannot be had.
func Connect(tb testing.TB) *pgx.Conn {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, URL())
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("PostgreSQL at HINDSIGHT_TEST_POSTGRES (or %s) cannot be reached: %v", DefaultURL, err)
		}
		tb.Skipf("PostgreSQL cannot be reached (run make setup, or set HINDSIGHT_TEST_POSTGRES): %v", err)
	}
	tb.Cleanup(func() { conn.Close(context.Background()) })
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
		tb.Fatalf("pgvector is not available in the test database (run make setup): %v", extErr)
	}
	return conn
}

// NewSchema creates an empty schema for one test, dropped when the test ends, and returns a
// connection string whose search_path puts it first, then pgvector's schema.
func NewSchema(tb testing.TB) string {
	tb.Helper()
	conn := Connect(tb)
	b := make([]byte, 6)
	rand.Read(b)
	name := schemaPrefix + hex.EncodeToString(b)
	if _, err := conn.Exec(context.Background(), "CREATE SCHEMA "+name); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c, err := pgx.Connect(ctx, URL())
		if err != nil {
			tb.Errorf("drop schema %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP SCHEMA "+name+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", name, err)
		}
	})
	return WithParams(tb, URL(), map[string]string{"search_path": name + "," + extSchema})
}

// SchemaOf returns the schema of a connection string made by NewSchema.
func SchemaOf(dsn string) string {
	_, rest, _ := strings.Cut(dsn, schemaPrefix)
	return schemaPrefix + rest[:12]
}

// WithParams adds run-time parameters to a connection string, URL or key=value.
func WithParams(tb testing.TB, dsn string, params map[string]string) string {
	tb.Helper()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			tb.Fatal(err)
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

// Open returns a store in a new schema, closed when the test ends, and the schema's connection
// string.
func Open(tb testing.TB) (*postgres.DB, string) {
	tb.Helper()
	dsn := NewSchema(tb)
	db, err := postgres.Open(context.Background(), dsn, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db, dsn
}
