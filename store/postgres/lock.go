package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/jackc/pgx/v5"
)

// writerLockClass is the first key of the writer lock, "hind" in ASCII. The lock takes the
// two-key form of the advisory lock functions, whose keys never meet the one-key locks of db.go
// (PostgreSQL tells the two forms apart), with the hash of the store's schema as the second key:
// several stores can live in one database, one schema each, and each has its own writer.
const writerLockClass int32 = 0x68696e64

// writerLockKey is the SQL of the second key: the hash of the schema holding the store's tables,
// as the connection's search_path finds them.
const writerLockKey = `hashtext((SELECT relnamespace::regnamespace::text FROM pg_class WHERE oid = 'ingest_runs'::regclass))`

// LockWriter takes the store's writer lock, so that one ingest at a time writes to it: a
// session-level advisory lock on a connection of its own, outside the pool, held until unlock
// is called. PostgreSQL releases the lock when that connection ends, so an ingest that dies (or
// whose connection is terminated) never leaves the store locked. The connection's
// application_name carries the holder, so that a second writer, and pg_stat_activity, can say
// who is in the way.
//
// Without wait, a lock held elsewhere is an ECONFLICT error naming the holder, at once. With wait,
// LockWriter blocks in pg_advisory_lock until it has the lock or ctx is done; then the error is
// ECONFLICT too, wrapping ctx's error. Two LockWriter calls exclude each other even within one
// process, each having its own connection.
func (db *DB) LockWriter(ctx context.Context, holder string, wait bool) (unlock func(), err error) {
	cfg := db.pool.Config().ConnConfig.Copy()
	// PostgreSQL keeps 63 bytes of an application_name: enough for "hindsight writer" and a run ID.
	cfg.RuntimeParams["application_name"] = truncateName("hindsight writer, "+holder, 63)
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, unavailable(err)
	}
	fail := func(err error) (func(), error) {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		conn.Close(cctx)
		return nil, err
	}
	if wait {
		if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1, "+writerLockKey+")", writerLockClass); err != nil {
			if ctx.Err() != nil {
				return fail(&hindsight.Error{Code: hindsight.ECONFLICT, Err: ctx.Err(),
					Message: "gave up waiting for the store's writer lock, still held by " + db.lockHolder(context.WithoutCancel(ctx))})
			}
			return fail(fmt.Errorf("take writer lock: %w", err))
		}
	} else {
		var ok bool
		if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1, "+writerLockKey+")", writerLockClass).Scan(&ok); err != nil {
			return fail(fmt.Errorf("take writer lock: %w", err))
		}
		if !ok {
			return fail(&hindsight.Error{Code: hindsight.ECONFLICT,
				Message: "another ingest is writing to this store: " + db.lockHolder(ctx) + " holds its writer lock"})
		}
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			// Closing the session releases its locks; the explicit unlock only makes it prompt
			// when the close cannot reach the server.
			cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			conn.Exec(cctx, "SELECT pg_advisory_unlock($1, "+writerLockKey+")", writerLockClass)
			conn.Close(cctx)
		})
	}, nil
}

// lockHolder describes the session that holds the writer lock, from pg_locks and
// pg_stat_activity; "another session" when it cannot tell.
func (db *DB) lockHolder(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var app, client string
	var pid int32
	var since time.Time
	err := db.pool.QueryRow(ctx, `SELECT a.application_name, a.pid, coalesce(host(a.client_addr), 'a local socket'), a.backend_start
		FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
			AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
			AND l.classid::bigint = $1 AND l.objid::bigint = `+writerLockKey+`::bigint & 4294967295`,
		int64(uint32(writerLockClass))).Scan(&app, &pid, &client, &since)
	if errors.Is(err, pgx.ErrNoRows) || err != nil {
		return "another session"
	}
	return fmt.Sprintf("%q (server pid %d, from %s, since %s)", app, pid, client, since.UTC().Format(time.RFC3339))
}

// truncateName cuts s to at most n bytes without splitting a character.
func truncateName(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 { // not inside a UTF-8 sequence
		n--
	}
	return s[:n]
}
