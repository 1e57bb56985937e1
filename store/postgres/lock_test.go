package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/store/postgres"
	"github.com/hindsightsec/hindsight/store/postgres/pgtest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// TestLockWriter checks the writer lock: a second writer fails at once naming the holder, or waits
// until the first lets go; stores in other schemas of the same database have locks of their own;
// and the lock dies with its session.
func TestLockWriter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, dsn := pgtest.Open(t)
	other, _ := pgtest.Open(t)

	unlock, err := db.LockWriter(ctx, "run RUN-A", false)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.LockWriter(ctx, "run RUN-B", false)
	if hindsight.ErrorCode(err) != hindsight.ECONFLICT || !strings.Contains(err.Error(), "run RUN-A") {
		t.Errorf("second writer: %v; want a conflict naming run RUN-A", err)
	}
	t.Logf("second writer: %v", err)
	// Another schema is another store.
	if u, err := other.LockWriter(ctx, "run RUN-C", false); err != nil {
		t.Errorf("a store in another schema is locked too: %v", err)
	} else {
		u()
	}

	// A waiting writer gives up when its context ends...
	wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err = db.LockWriter(wctx, "run RUN-B", true)
	cancel()
	if hindsight.ErrorCode(err) != hindsight.ECONFLICT || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiting past the deadline: %v; want a conflict wrapping the deadline", err)
	}
	// ...and gets the lock once the holder lets go.
	got := make(chan error, 1)
	go func() {
		u, err := db.LockWriter(ctx, "run RUN-B", true)
		if err == nil {
			u()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("the waiting writer returned (%v) while the lock was held", err)
	case <-time.After(200 * time.Millisecond):
	}
	unlock()
	unlock() // a second unlock does nothing
	select {
	case err := <-got:
		if err != nil {
			t.Errorf("the waiting writer: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting writer did not get the lock after it was released")
	}

	// The lock dies with its session: terminate the holder's connection as a failover or an
	// administrator would, and the next writer gets the lock.
	// The holder keeps its unlock function, as an ingest does: a lock nobody can release any more
	// would otherwise be released when the garbage collector closes its unreachable connection.
	unlockD, err := db.LockWriter(ctx, "run RUN-D", false)
	if err != nil {
		t.Fatal(err)
	}
	defer unlockD()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	// Under load the holder's session may take a moment to show in pg_stat_activity.
	var killed bool
	for start := time.Now(); !killed && time.Since(start) < 10*time.Second; time.Sleep(50 * time.Millisecond) {
		if err := admin.QueryRow(ctx, `SELECT coalesce(bool_or(pg_terminate_backend(pid)), false) FROM pg_stat_activity
			WHERE application_name = 'hindsight writer, run RUN-D'`).Scan(&killed); err != nil {
			t.Fatalf("terminate the holder: %v", err)
		}
	}
	if !killed {
		t.Fatal("terminate the holder: no session named for run RUN-D")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		u, err := db.LockWriter(ctx, "run RUN-E", false)
		if err == nil {
			u()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the lock outlived its terminated session: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestLockWriterStoreDown checks that a store that cannot be reached is unavailable, not locked.
func TestLockWriterStoreDown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, "postgres://postgres@127.0.0.1:1/none?connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := postgres.New(pool, nil).LockWriter(ctx, "run RUN-X", false); hindsight.ErrorCode(err) != hindsight.EUNAVAILABLE {
		t.Errorf("lock on a store that does not answer: %v; want unavailable", err)
	}
}
