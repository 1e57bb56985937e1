package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/hindsightsec/hindsight"
)

// SaveRun inserts or updates an ingest run's record.
func (db *DB) SaveRun(ctx context.Context, run *hindsight.Run) error {
	b, err := json.Marshal(run)
	if err != nil {
		return err
	}
	return db.withTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO ingest_runs (id, started_at, finished_at, status, run) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET finished_at = excluded.finished_at, status = excluded.status, run = excluded.run`,
			run.ID, run.StartedAt.UnixNano(), nanos(run.FinishedAt), run.Status, string(b))
		if err != nil {
			return fmt.Errorf("save run %s: %w", run.ID, err)
		}
		return nil
	})
}

// FindRunByID returns a run, or an ENOTFOUND error.
func (db *DB) FindRunByID(ctx context.Context, id string) (*hindsight.Run, error) {
	var b string
	err := db.r.QueryRowContext(ctx, "SELECT run FROM ingest_runs WHERE id = ?", id).Scan(&b)
	if err == sql.ErrNoRows {
		return nil, hindsight.Errorf(hindsight.ENOTFOUND, "no ingest run %q", id)
	} else if err != nil {
		return nil, err
	}
	var run hindsight.Run
	return &run, json.Unmarshal([]byte(b), &run)
}

// FindRuns returns up to limit runs, newest first.
func (db *DB) FindRuns(ctx context.Context, limit int) ([]*hindsight.Run, error) {
	rows, err := db.r.QueryContext(ctx, "SELECT run FROM ingest_runs ORDER BY started_at DESC LIMIT ?", limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*hindsight.Run
	for rows.Next() {
		var b string
		if err := rows.Scan(&b); err != nil {
			return nil, err
		}
		var run hindsight.Run
		if err := json.Unmarshal([]byte(b), &run); err != nil {
			return nil, err
		}
		out = append(out, &run)
	}
	return out, rows.Err()
}
