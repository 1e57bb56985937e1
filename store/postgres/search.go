package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"
)

// How many chunks an approximate search first asks the HNSW index for, per document wanted, and
// at least: a document has several chunks, and only its best one counts, so the nearest chunks
// name fewer documents than chunks. When they name too few the search asks for more.
const (
	chunksPerDoc = 6
	minChunks    = 40
	maxChunks    = 20000 // beyond this an exact search is cheaper than widening again
)

// SearchVectors returns, for the n documents whose chunks are nearest to vec in the given space,
// each document's nearest chunk with its cosine similarity, best first. Only documents that pass
// the filter are considered; documents embedded in another space never are.
//
// It searches the space's HNSW index with the filter inside the query and pgvector's iterative
// index scan, which goes on through the graph until enough chunks pass the filter. When the index
// yields fewer chunks than asked for, the scan ended early (a filter that few chunks pass, or
// hnsw.max_scan_tuples reached) and the search is repeated exactly, without the index, so a
// selective filter still finds every match.
func (db *DB) SearchVectors(ctx context.Context, space hindsight.Space, vec []float32, f hindsight.Filter, n int) ([]hindsight.Candidate, error) {
	if len(vec) != space.Dim {
		return nil, hindsight.Invalid("vector", "has %d values, the space %s has %d", len(vec), space, space.Dim)
	}
	if n <= 0 {
		return nil, nil
	}
	indexed, ok, err := db.findSpace(ctx, space)
	if err != nil || !ok {
		return nil, err
	}
	if indexed {
		for m := max(minChunks, chunksPerDoc*n); m <= maxChunks; m *= 4 {
			cands, chunks, err := db.searchVectors(ctx, space, vec, f, n, m)
			if err != nil {
				return nil, err
			}
			if len(cands) >= n {
				return cands[:n], nil
			}
			if chunks < m {
				break
			}
		}
	}
	return db.searchVectorsExact(ctx, space, vec, f, n)
}

// findSpace reports whether chunks were ever written in the space, and whether it has an HNSW
// index (a space of more dimensions than HNSW takes has none).
func (db *DB) findSpace(ctx context.Context, space hindsight.Space) (indexed, ok bool, err error) {
	name := space.String()
	if v, ok := db.spaces.Load(name); ok {
		return v.(int) <= maxIndexDim, true, nil
	}
	var dim int
	err = db.pool.QueryRow(ctx, "SELECT dim FROM spaces WHERE space = $1", name).Scan(&dim)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, false, nil
	} else if err != nil {
		return false, false, fmt.Errorf("vector search: %w", err)
	}
	if dim != space.Dim {
		return false, false, nil
	}
	db.spaces.Store(name, dim)
	return dim <= maxIndexDim, true, nil
}

// searchVectors asks the space's index for the m chunks nearest to vec that pass the filter and
// returns the best chunk of each of the first n documents among them, with how many chunks the
// index gave.
func (db *DB) searchVectors(ctx context.Context, space hindsight.Space, vec []float32, f hindsight.Filter, n, m int) ([]hindsight.Candidate, int, error) {
	q, args := vectorQuery(space, vec, &f, n, m)
	var out []hindsight.Candidate
	chunks := 0
	err := db.inVectorSearch(ctx, n, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		out, err = scanCandidates(rows, similarity, &chunks)
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("vector search: %w", err)
	}
	return out, chunks, nil
}

// inVectorSearch runs fn in a read-only transaction with the index scan settings of a search for n
// documents. ef_search is how many candidates each step of the graph search keeps: on 100,000
// chunks of the built-in embedder, recall@10 against exact search rose from 0.94 at pgvector's
// default of 40 to 0.98 at 200, for about the same latency (BenchmarkSearch). relaxed_order lets
// the scan go on past the first ef_search candidates while the filter rejects chunks (results then
// come nearly in order, and the query sorts them again).
func (db *DB) inVectorSearch(ctx context.Context, n int, fn func(pgx.Tx) error) error {
	return pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT set_config('hnsw.ef_search', $1, true), set_config('hnsw.iterative_scan', 'relaxed_order', true)`,
			strconv.Itoa(min(1000, max(200, 2*n)))); err != nil {
			return err
		}
		return fn(tx)
	})
}

// vectorQuery is the statement of an approximate search: the m nearest chunks that pass the
// filter, by the space's index, then the best chunk of each of the first n documents among them,
// each row with the number of chunks found. The space is part of the statement's text, not a
// parameter, so that the planner can match the space's partial index whatever plan it caches, and
// the distance is the index's expression.
func vectorQuery(space hindsight.Space, vec []float32, f *hindsight.Filter, n, m int) (string, sqlArgs) {
	var args sqlArgs
	dist := fmt.Sprintf("(c.embedding::vector(%d) <=> %s::vector)", space.Dim, args.add(pgvector.NewVector(vec)))
	lit := quoteLiteral(space.String())
	q := `WITH nn AS MATERIALIZED (
		SELECT c.doc, c.seq, c.section, ` + dist + ` AS dist
		FROM chunks c JOIN documents d ON d.id = c.doc
		WHERE c.space = ` + lit + ` AND d.space = ` + lit + ` AND ` + filterSQL(f, &args) + `
		ORDER BY ` + dist + ` LIMIT ` + args.add(m) + `
	)
	SELECT d.tenant, d.kind, d.doc_id, b.section, b.dist, b.chunks
	FROM (SELECT DISTINCT ON (doc) doc, section, dist, count(*) OVER () AS chunks FROM nn ORDER BY doc, dist, seq) b
	JOIN documents d ON d.id = b.doc
	ORDER BY b.dist, b.doc LIMIT ` + args.add(n)
	return q, args
}

// searchVectorsExact compares vec with every chunk of the space that passes the filter. Without an
// ORDER BY distance LIMIT over the chunks the planner has no use for the HNSW index.
func (db *DB) searchVectorsExact(ctx context.Context, space hindsight.Space, vec []float32, f hindsight.Filter, n int) ([]hindsight.Candidate, error) {
	var args sqlArgs
	dist := fmt.Sprintf("(c.embedding::vector(%d) <=> %s::vector)", space.Dim, args.add(pgvector.NewVector(vec)))
	lit := quoteLiteral(space.String())
	q := `SELECT d.tenant, d.kind, d.doc_id, b.section, b.dist
	FROM (
		SELECT DISTINCT ON (c.doc) c.doc, c.section, ` + dist + ` AS dist
		FROM chunks c JOIN documents d ON d.id = c.doc
		WHERE c.space = ` + lit + ` AND d.space = ` + lit + ` AND ` + filterSQL(&f, &args) + `
		ORDER BY c.doc, dist, c.seq
	) b JOIN documents d ON d.id = b.doc
	ORDER BY b.dist, b.doc LIMIT ` + args.add(n)
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("vector search: %w", err)
	}
	out, err := scanCandidates(rows, similarity, nil)
	if err != nil {
		return nil, fmt.Errorf("vector search: %w", err)
	}
	return out, nil
}

// similarity turns pgvector's cosine distance into the cosine similarity the other backends
// return. A zero vector has no direction: pgvector gives NaN, the others 0.
func similarity(dist float64) float64 {
	if math.IsNaN(dist) {
		return 0
	}
	return 1 - dist
}

// scanCandidates reads rows of (tenant, kind, doc_id, section, score[, count]) into candidates,
// mapping each score; count, when wanted, receives the last column.
func scanCandidates(rows pgx.Rows, score func(float64) float64, count *int) ([]hindsight.Candidate, error) {
	defer rows.Close()
	var out []hindsight.Candidate
	for rows.Next() {
		var c hindsight.Candidate
		var s float64
		dest := []any{&c.Doc.Tenant, &c.Doc.Kind, &c.Doc.ID, &c.Section, &s}
		if count != nil {
			dest = append(dest, count)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		c.Score = score(s)
		out = append(out, c)
	}
	return out, rows.Err()
}

// SearchText returns, for the n documents whose chunks best match any of the terms, each
// document's best chunk with its score (higher is better, always above 0), best first. A term
// matches a chunk's term exactly, as the embedded store matches it; the score is PostgreSQL's
// ts_rank normalised by the chunk's length.
//
// Matching every chunk that has any of a long query's terms means ranking most of the store, since
// some terms (a tenant's name, "host", "password") are in a fifth of all chunks. Like the embedded
// store's BM25, which gives such terms almost no weight, the search uses the maxTerms rarest terms
// (by the statistics ANALYZE keeps of the terms column) and first leaves out the commonest of
// those, as long as the others find n documents; when they find fewer, it searches again with all
// of them, so that a search still finds every document that has any of them.
func (db *DB) SearchText(ctx context.Context, terms []string, f hindsight.Filter, n int) ([]hindsight.Candidate, error) {
	lexemes := queryLexemes(terms)
	if len(lexemes) == 0 || n <= 0 {
		return nil, nil
	}
	rare, all := db.pickLexemes(ctx, lexemes)
	if len(rare) < len(all) {
		out, err := db.searchText(ctx, rare, &f, n)
		if err != nil || len(out) >= n {
			return out, err
		}
	}
	return db.searchText(ctx, all, &f, n)
}

func (db *DB) searchText(ctx context.Context, lexemes []string, f *hindsight.Filter, n int) ([]hindsight.Candidate, error) {
	quoted := make([]string, len(lexemes))
	for i, l := range lexemes {
		// Quoted, a lexeme is taken as it is: nothing in it is an operator.
		quoted[i] = "'" + strings.ReplaceAll(strings.ReplaceAll(l, `\`, `\\`), "'", "''") + "'"
	}
	var args sqlArgs
	tsq := args.add(strings.Join(quoted, " | ")) + "::tsquery"
	q := `SELECT d.tenant, d.kind, d.doc_id, b.section, b.score
	FROM (
		SELECT DISTINCT ON (c.doc) c.doc, c.section, ts_rank(c.terms, ` + tsq + `, 1)::float8 AS score
		FROM chunks c JOIN documents d ON d.id = c.doc
		WHERE c.terms @@ ` + tsq + ` AND ` + filterSQL(f, &args) + `
		ORDER BY c.doc, score DESC, c.seq
	) b JOIN documents d ON d.id = b.doc
	ORDER BY b.score DESC, b.doc LIMIT ` + args.add(n)
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("text search: %w", err)
	}
	// Every chunk returned matched: a rank that rounds to 0 still means "found", and callers
	// take a score above 0 to mean that.
	out, err := scanCandidates(rows, func(s float64) float64 { return max(s, math.SmallestNonzeroFloat32) }, nil)
	if err != nil {
		return nil, fmt.Errorf("text search: %w", err)
	}
	return out, nil
}

// queryLexemes returns the distinct terms that can be lexemes of a stored chunk: cleaned as
// stored terms are (see termsVector), neither empty nor too long.
func queryLexemes(terms []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range terms {
		t = clean(t)
		if t != "" && len(t) <= maxLexeme && !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}

// Limits of a text query, as the embedded store's: at most maxTerms terms, the rarest, are used,
// and the first search leaves out the commonest of them until the shares of chunks the rest are
// found in add up to at most maxQueryShare. That bounds how much of the store it ranks.
const (
	maxTerms      = 32
	maxQueryShare = 0.1
)

// pickLexemes returns the lexemes a search uses (all: the maxTerms rarest) and those its first
// try uses (rare: the rarest of all, at least one). A lexeme the statistics do not list is rarer
// than every lexeme they list. Without statistics (a new or small store) both are every lexeme.
func (db *DB) pickLexemes(ctx context.Context, lexemes []string) (rare, all []string) {
	st := db.termStats(ctx)
	if st == nil {
		return lexemes, lexemes
	}
	share := func(l string) float64 {
		if f, ok := st.share[l]; ok {
			return f
		}
		return st.floor
	}
	all = slices.Clone(lexemes)
	slices.SortStableFunc(all, func(a, b string) int { return cmp.Compare(share(a), share(b)) })
	all = all[:min(len(all), maxTerms)]
	total := 0.0
	for i, l := range all {
		total += share(l)
		if total > maxQueryShare && i > 0 {
			return all[:i], all
		}
	}
	return all, all
}

// termStats are the shares of chunks that the commonest terms are found in, as ANALYZE estimated
// them (pg_stats.most_common_elems of chunks.terms); floor is below every listed share.
type termStats struct {
	share map[string]float64
	floor float64
}

// termStatsTTL is how long the statistics are used before they are read again: ANALYZE, by hand
// or by autovacuum, changes them seldom.
const termStatsTTL = time.Minute

// termStats returns the current term statistics, or nil when the table has none yet (a new or
// small store, where ranking every match is cheap anyway).
func (db *DB) termStats(ctx context.Context) *termStats {
	db.statsMu.Lock()
	defer db.statsMu.Unlock()
	if time.Since(db.statsAt) < termStatsTTL {
		return db.stats
	}
	var elems []string
	var freqs []float32
	err := db.pool.QueryRow(ctx, `SELECT s.most_common_elems::text::text[], s.most_common_elem_freqs
		FROM pg_stats s JOIN pg_class c ON c.relname = s.tablename JOIN pg_namespace ns ON ns.oid = c.relnamespace AND ns.nspname = s.schemaname
		WHERE c.oid = 'chunks'::regclass AND s.attname = 'terms'`).Scan(&elems, &freqs)
	var st *termStats
	switch {
	case errors.Is(err, pgx.ErrNoRows) || (err == nil && (len(elems) == 0 || len(freqs) < len(elems)+1)):
	case err != nil:
		// Without statistics the search is slower, not wrong: log and go on.
		db.logger.Warn("read term statistics", "error", err)
	default:
		// After the listed terms' frequencies come the least and the greatest of them.
		st = &termStats{share: make(map[string]float64, len(elems)), floor: float64(freqs[len(elems)]) / 2}
		for i, e := range elems {
			st.share[e] = float64(freqs[i])
		}
	}
	db.stats, db.statsAt = st, time.Now()
	return st
}

// sqlArgs collects a statement's arguments; add returns the placeholder of the one it adds.
type sqlArgs []any

func (a *sqlArgs) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// filterSQL renders a filter as a condition on documents aliased d and their chunks aliased c,
// tenant first: the tenant's documents and global knowledge or, with OtherTenants, every other
// tenant's and no global ones.
func filterSQL(f *hindsight.Filter, args *sqlArgs) string {
	in := "IN"
	if f.OtherTenants {
		in = "NOT IN"
	}
	conds := []string{"d.tenant " + in + " ('', " + args.add(f.Tenant) + ")"}
	if len(f.Kinds) > 0 {
		kinds := make([]string, len(f.Kinds))
		for i, k := range f.Kinds {
			kinds[i] = string(k)
		}
		conds = append(conds, "d.kind = ANY ("+args.add(kinds)+"::text[])")
	}
	if len(f.Techniques) > 0 {
		conds = append(conds, "d.techniques && "+args.add(f.Techniques)+"::text[]")
	}
	if !f.Since.IsZero() {
		conds = append(conds, "d.occurred_at >= "+args.add(f.Since))
	}
	if !f.Until.IsZero() {
		conds = append(conds, "d.occurred_at <= "+args.add(f.Until))
	}
	if r := f.MinSeverity.Rank(); r > 0 {
		conds = append(conds, "d.severity >= "+args.add(int16(r)))
	}
	if len(f.Sections) > 0 {
		conds = append(conds, "c.section = ANY ("+args.add(f.Sections)+"::text[])")
	}
	return strings.Join(conds, " AND ")
}
