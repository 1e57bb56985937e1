// Package sqlite is Hindsight's embedded store: one SQLite file (pure-Go driver, no cgo) holding the
// catalog (documents, ingest runs, drafts, reviews, API keys) and the chunks with their search terms
// and vectors. It runs in WAL mode with one writer connection and a pool of readers, so searches go
// on while an ingest writes. Searches (BM25 and vectors) run over an in-memory index that each
// process keeps up to date from the store's change log, so writes by any process are seen at once.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/migrations"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// DB is an open embedded store. It is safe for concurrent use.
type DB struct {
	path   string
	w      *sql.DB // exactly one connection: SQLite has one writer at a time
	r      *sql.DB // readers
	logger *slog.Logger
	index  index
	cache  docCache

	stmtMu sync.Mutex
	stmts  map[string]*sql.Stmt // prepared reader statements, by query

	// Now returns the current time; tests replace it. Nil means time.Now.
	Now func() time.Time
}

// Open opens (creating if needed) the store at path and applies any pending migrations. A nil
// logger discards logs.
func Open(ctx context.Context, path string, logger *slog.Logger) (*DB, error) {
	if path == "" {
		return nil, hindsight.Invalid("db", "sqlite path is empty")
	}
	if strings.ContainsAny(path, "?#") {
		return nil, hindsight.Invalid("db", "sqlite path %q must not contain '?' or '#'", path)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	pragmas := "_pragma=busy_timeout(15000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"
	w, err := sql.Open("sqlite", "file:"+path+"?"+pragmas+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	r, err := sql.Open("sqlite", "file:"+path+"?"+pragmas+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	r.SetMaxOpenConns(max(4, runtime.GOMAXPROCS(0)))
	db := &DB{path: path, w: w, r: r, logger: logger}
	db.index.logger = logger
	if path != ":memory:" && !strings.HasPrefix(path, "file:") {
		db.index.file = path + annSuffix
	}
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Close closes the store. It first waits for the search index's vector graph to be saved, and
// saves it if it changed much since it was last saved or loaded.
func (db *DB) Close() error {
	db.index.close()
	db.stmtMu.Lock()
	var errs []error
	for _, s := range db.stmts {
		errs = append(errs, s.Close())
	}
	db.stmts = nil
	db.stmtMu.Unlock()
	return errors.Join(append(errs, db.r.Close(), db.w.Close())...)
}

// prepared returns query prepared on the readers, preparing it the first time. The queries that
// every search runs are prepared once: parsing and planning them cost more than running them.
func (db *DB) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	db.stmtMu.Lock()
	s := db.stmts[query]
	db.stmtMu.Unlock()
	if s != nil {
		return s, nil
	}
	// Prepared without the lock, which would hold up every other search while this one waits
	// for a connection; two first uses at once prepare twice and keep one.
	s, err := db.r.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	db.stmtMu.Lock()
	defer db.stmtMu.Unlock()
	if kept := db.stmts[query]; kept != nil {
		s.Close()
		return kept, nil
	}
	if db.stmts == nil {
		db.stmts = map[string]*sql.Stmt{}
	}
	db.stmts[query] = s
	return s, nil
}

// Path returns the file the store lives in.
func (db *DB) Path() string { return db.path }

// Ping checks that the store answers.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	if err := db.r.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return &hindsight.Error{Code: hindsight.EUNAVAILABLE, Message: "store does not answer", Err: err}
	}
	return nil
}

func (db *DB) now() time.Time {
	if db.Now != nil {
		return db.Now()
	}
	return time.Now()
}

// migrate applies pending migrations, each in its own immediate transaction so that two processes
// opening a new store at once apply each migration exactly once.
func (db *DB) migrate(ctx context.Context) error {
	if _, err := db.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	ms, err := migrations.List("sqlite")
	if err != nil {
		return err
	}
	for _, m := range ms {
		err := db.withTx(ctx, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations WHERE version = ?", m.Version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
				m.Version, m.Name, db.now().UnixNano())
			return err
		})
		if err != nil {
			return fmt.Errorf("apply migration %s: %w", m.Name, err)
		}
	}
	return nil
}

// withTx runs fn in a write transaction, committing if it returns nil.
func (db *DB) withTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// recordChanges appends the documents written or deleted to the change log, inside the write
// transaction, and prunes entries far behind, which readers that far behind no longer need.
func recordChanges(ctx context.Context, tx *sql.Tx, docs []int64) error {
	if len(docs) > 0 {
		ins, err := tx.PrepareContext(ctx, "INSERT INTO changes (doc) VALUES (?)")
		if err != nil {
			return fmt.Errorf("record change: %w", err)
		}
		defer ins.Close()
		for _, id := range docs {
			if _, err := ins.ExecContext(ctx, id); err != nil {
				return fmt.Errorf("record change: %w", err)
			}
		}
	}
	_, err := tx.ExecContext(ctx, "DELETE FROM changes WHERE seq < (SELECT max(seq) FROM changes) - ?", 2*maxChangesBehind)
	return err
}

func nanos(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixNano(), Valid: true}
}

func fromNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}
