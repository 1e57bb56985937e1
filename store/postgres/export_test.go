package postgres

import (
	"context"
	"strings"

	"github.com/hindsightsec/hindsight"
	"github.com/jackc/pgx/v5"
)

// SearchVectorsExact is the exact search SearchVectors falls back to, for tests and benchmarks
// that measure the approximate search's recall against it.
func (db *DB) SearchVectorsExact(ctx context.Context, space hindsight.Space, vec []float32, f hindsight.Filter, n int) ([]hindsight.Candidate, error) {
	return db.searchVectorsExact(ctx, space, vec, f, n)
}

// ExplainVectorSearch returns PostgreSQL's plan for the first, approximate query of a SearchVectors
// call, with the settings that query runs with. With preferIndex the planner avoids sequential scans
// and sorts where it has another way, which on a small table shows whether the index can serve the
// query at all (on a small table, scanning and sorting is cheaper, and rightly chosen).
func (db *DB) ExplainVectorSearch(ctx context.Context, space hindsight.Space, vec []float32, f hindsight.Filter, n int, preferIndex bool) (string, error) {
	q, args := vectorQuery(space, vec, &f, n, max(minChunks, chunksPerDoc*n))
	var lines []string
	err := db.inVectorSearch(ctx, n, func(tx pgx.Tx) error {
		if preferIndex {
			if _, err := tx.Exec(ctx, "SET LOCAL enable_seqscan = off; SET LOCAL enable_sort = off"); err != nil {
				return err
			}
		}
		rows, err := tx.Query(ctx, "EXPLAIN "+q, args...)
		if err != nil {
			return err
		}
		lines, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	return strings.Join(lines, "\n"), err
}

// DropVectorIndex drops a space's index, so that a benchmark can load without it and build it
// afterwards with BuildVectorIndex.
func (db *DB) DropVectorIndex(ctx context.Context, space string) error {
	_, err := db.pool.Exec(ctx, "DROP INDEX IF EXISTS "+pgx.Identifier{indexName(space)}.Sanitize())
	return err
}

// BuildVectorIndex creates a space's index over the chunks it already has, with memory enough to
// build the graph in memory.
func (db *DB) BuildVectorIndex(ctx context.Context, space string, dim int) error {
	return db.withTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL maintenance_work_mem = '2GB'"); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, createIndexSQL(space, dim))
		return err
	})
}

// CreateSpace adds a space and its index as a space's first write does.
func (db *DB) CreateSpace(ctx context.Context, space string, dim int) error {
	return db.ensureSpace(ctx, space, dim)
}
