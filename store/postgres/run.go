package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/hindsightsec/hindsight"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// SaveRun inserts or updates an ingest run's record.
func (db *DB) SaveRun(ctx context.Context, run *hindsight.Run) error {
	b, err := json.Marshal(run)
	if err != nil {
		return err
	}
	_, err = db.pool.Exec(ctx, `INSERT INTO ingest_runs (id, started_at, finished_at, status, run) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (id) DO UPDATE SET finished_at = excluded.finished_at, status = excluded.status, run = excluded.run`,
		run.ID, run.StartedAt, pgtype.Timestamptz{Time: run.FinishedAt, Valid: !run.FinishedAt.IsZero()}, run.Status, string(b))
	if err != nil {
		return fmt.Errorf("save run %s: %w", run.ID, err)
	}
	return nil
}

// FindRunByID returns a run, or an ENOTFOUND error.
func (db *DB) FindRunByID(ctx context.Context, id string) (*hindsight.Run, error) {
	var b []byte
	err := db.pool.QueryRow(ctx, "SELECT run::text FROM ingest_runs WHERE id = $1", id).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, hindsight.Errorf(hindsight.ENOTFOUND, "no ingest run %q", id)
	} else if err != nil {
		return nil, fmt.Errorf("find run: %w", err)
	}
	var run hindsight.Run
	return &run, json.Unmarshal(b, &run)
}

// FindRuns returns up to limit runs, newest first; a negative limit means all of them.
func (db *DB) FindRuns(ctx context.Context, limit int) ([]*hindsight.Run, error) {
	// NULL is LIMIT ALL, which is what the embedded store's LIMIT -1 means.
	lim := pgtype.Int8{Int64: int64(limit), Valid: limit >= 0}
	rows, err := db.pool.Query(ctx, "SELECT run::text FROM ingest_runs ORDER BY started_at DESC LIMIT $1", lim)
	if err != nil {
		return nil, fmt.Errorf("find runs: %w", err)
	}
	defer rows.Close()
	var out []*hindsight.Run
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, err
		}
		var run hindsight.Run
		if err := json.Unmarshal(b, &run); err != nil {
			return nil, err
		}
		out = append(out, &run)
	}
	return out, rows.Err()
}
