// Package postgres is Hindsight's store on PostgreSQL with pgvector, through pgx: the catalog
// (documents, ingest runs, drafts, reviews, API keys), the chunks with their vectors in HNSW
// indexes (one per embedding space), a tsvector full-text index and ATT&CK technique arrays, all
// filtered inside the database. It has the embedded store's (store/sqlite) methods with the same
// semantics, which the conformance suite in retrieval/retrievaltest holds both to; only the text
// scores differ, PostgreSQL's ts_rank where the embedded store computes BM25.
package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/migrations"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	pgxvec "github.com/pgvector/pgvector-go/pgx"
)

// DB is a store in a PostgreSQL database. It is safe for concurrent use.
type DB struct {
	pool   *pgxpool.Pool
	owned  bool // Open made the pool, so Close closes it
	logger *slog.Logger

	// spaces caches, by space name, the dimension of each embedding space known to have its row
	// in the spaces table and its index: a space is never removed, so a cached entry stays true.
	spaces sync.Map

	statsMu sync.Mutex
	stats   *termStats // nil: none yet; see termStats
	statsAt time.Time

	// Now returns the current time; tests replace it. Nil means time.Now.
	Now func() time.Time
}

// Open connects to the database named by dsn (a postgres:// or postgresql:// URL, or a key=value
// connection string), applies any pending migrations and returns a store over a new connection
// pool, which Close closes. Pool settings come from the URL (pool_max_conns and the like, as
// pgxpool reads them). A nil logger discards logs.
func Open(ctx context.Context, dsn string, logger *slog.Logger) (*DB, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors redact the password.
		return nil, &hindsight.Error{Code: hindsight.EINVALID, Field: "db", Message: "cannot parse the PostgreSQL connection string", Err: err}
	}
	// The vector type exists only once the first migration has created the extension, and the
	// pool's connections look it up as they connect: migrate first, on a connection of its own.
	if _, err := migrateConfig(ctx, cfg.ConnConfig.Copy(), logger); err != nil {
		return nil, err
	}
	cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		return pgxvec.RegisterTypes(ctx, conn)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, unavailable(err)
	}
	db := New(pool, logger)
	db.owned = true
	if err := db.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// New returns a store over a pool that the caller owns and closes (Close leaves it open). The
// pool's connections must have pgvector's types registered (pgxvec.RegisterTypes in the pool
// config's AfterConnect) and the schema must be migrated (Migrate, or an Open of the same
// database). A nil logger discards logs.
func New(pool *pgxpool.Pool, logger *slog.Logger) *DB {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &DB{pool: pool, logger: logger}
}

// Close closes the pool if Open made it.
func (db *DB) Close() error {
	if db.owned {
		db.pool.Close()
	}
	return nil
}

// Ping checks that the store answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return unavailable(err)
	}
	return nil
}

func (db *DB) now() time.Time {
	if db.Now != nil {
		return db.Now()
	}
	return time.Now()
}

func unavailable(err error) error {
	return &hindsight.Error{Code: hindsight.EUNAVAILABLE, Message: "store does not answer", Err: err}
}

// Advisory lock keys (pg_advisory_xact_lock), shared by every process on the database: one
// serialises migrations, the other the creation of a space's index.
const (
	migrationLock int64 = 0x68696e647369_01 // "hindsi" + 1
	spaceLock     int64 = 0x68696e647369_02
)

// Migrate applies the pending migrations to the database named by dsn and returns those it
// applied, in order; none when the schema is current. It is safe to run from several processes at
// once: each migration runs in its own transaction under an advisory lock and is applied once.
func Migrate(ctx context.Context, dsn string, logger *slog.Logger) ([]migrations.Migration, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, &hindsight.Error{Code: hindsight.EINVALID, Field: "db", Message: "cannot parse the PostgreSQL connection string", Err: err}
	}
	return migrateConfig(ctx, cfg, logger)
}

func migrateConfig(ctx context.Context, cfg *pgx.ConnConfig, logger *slog.Logger) ([]migrations.Migration, error) {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, unavailable(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return migrate(ctx, conn, logger)
}

// migrate applies the pending migrations on conn. Each runs in its own transaction that first
// takes the migration lock, then checks schema_migrations: a second process waits for the first
// to commit and then finds the migration recorded, so none is applied twice or half.
func migrate(ctx context.Context, conn *pgx.Conn, logger *slog.Logger) ([]migrations.Migration, error) {
	ms, err := migrations.List("postgres")
	if err != nil {
		return nil, err
	}
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLock); err != nil {
			return err
		}
		// Under the lock too: two concurrent CREATE TABLE IF NOT EXISTS can both try to create.
		_, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	var applied []migrations.Migration
	for _, m := range ms {
		did := false
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLock); err != nil {
				return err
			}
			var done bool
			if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)", m.Version).Scan(&done); err != nil {
				return err
			}
			if done {
				return nil
			}
			// No arguments: pgx sends it with the simple protocol, which runs several statements.
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.Version, m.Name); err != nil {
				return err
			}
			did = true
			return nil
		})
		if err != nil {
			return applied, fmt.Errorf("apply migration %s: %w", m.Name, err)
		}
		if did {
			logger.Info("applied migration", "migration", m.Name)
			applied = append(applied, m)
		}
	}
	return applied, nil
}

// withTx runs fn in a transaction, committing if it returns nil.
func (db *DB) withTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, db.pool, fn)
}

// quoteLiteral renders s as an SQL string literal, for the few places where a value must be part
// of the statement's text (DDL, and the space a partial index is matched on). The E'…' form reads
// the same whatever standard_conforming_strings says.
func quoteLiteral(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	return "E'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// clean makes free text storable: PostgreSQL text holds neither NUL nor invalid UTF-8, both of
// which a Go string may carry.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	return s
}
