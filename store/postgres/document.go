package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/pgvector/pgvector-go"
)

// DocumentStates returns what the store knows of each of the keys that it holds; keys it does not
// hold are absent from the map.
func (db *DB) DocumentStates(ctx context.Context, keys []hindsight.DocKey) (map[hindsight.DocKey]hindsight.DocState, error) {
	out := make(map[hindsight.DocKey]hindsight.DocState, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	tenants, kinds, ids := keyColumns(keys)
	rows, err := db.pool.Query(ctx, `SELECT d.tenant, d.kind, d.doc_id, d.record_hash, d.content_hash, d.space, d.source,
			coalesce(d.line_hash, '')
		FROM unnest($1::text[], $2::text[], $3::text[]) AS k (tenant, kind, doc_id)
		JOIN documents d ON d.tenant = k.tenant AND d.kind = k.kind AND d.doc_id = k.doc_id`, tenants, kinds, ids)
	if err != nil {
		return nil, fmt.Errorf("document states: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k hindsight.DocKey
		var s hindsight.DocState
		if err := rows.Scan(&k.Tenant, &k.Kind, &k.ID, &s.RecordHash, &s.ContentHash, &s.Space, &s.Source, &s.LineHash); err != nil {
			return nil, fmt.Errorf("document states: %w", err)
		}
		out[k] = s
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("document states: %w", err)
	}
	return out, nil
}

// DocumentStatesByLine returns, for each of the line hashes that a stored document was last
// stored from, that document's key and state; other hashes are absent from the map, and so is a
// hash that two documents claim (the caller then decodes the line).
func (db *DB) DocumentStatesByLine(ctx context.Context, hashes []string) (map[string]hindsight.LineState, error) {
	out := make(map[string]hindsight.LineState, len(hashes))
	if len(hashes) == 0 {
		return out, nil
	}
	rows, err := db.pool.Query(ctx, `SELECT tenant, kind, doc_id, record_hash, content_hash, space, source, line_hash
		FROM documents WHERE line_hash = ANY($1::text[])`, hashes)
	if err != nil {
		return nil, fmt.Errorf("document states by line: %w", err)
	}
	defer rows.Close()
	claimed := map[string]bool{}
	for rows.Next() {
		var s hindsight.LineState
		if err := rows.Scan(&s.Key.Tenant, &s.Key.Kind, &s.Key.ID, &s.RecordHash, &s.ContentHash, &s.Space, &s.Source, &s.LineHash); err != nil {
			return nil, fmt.Errorf("document states by line: %w", err)
		}
		if claimed[s.LineHash] {
			delete(out, s.LineHash)
			continue
		}
		claimed[s.LineHash] = true
		out[s.LineHash] = s
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("document states by line: %w", err)
	}
	return out, nil
}

// SetDocumentLineHashes records, for documents whose record is unchanged, the line they were
// read from this time (the same record written differently): each state's line hash is set
// where the stored record hash is still the state's. It is not a change of the documents.
func (db *DB) SetDocumentLineHashes(ctx context.Context, states []hindsight.LineState) error {
	if len(states) == 0 {
		return nil
	}
	n := len(states)
	tenants, kinds, ids, recordHashes, lineHashes := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, s := range states {
		tenants[i], kinds[i], ids[i], recordHashes[i], lineHashes[i] = s.Key.Tenant, string(s.Key.Kind), s.Key.ID, s.RecordHash, s.LineHash
	}
	_, err := db.pool.Exec(ctx, `UPDATE documents d SET line_hash = nullif(u.line_hash, '')
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS u (tenant, kind, doc_id, record_hash, line_hash)
		WHERE d.tenant = u.tenant AND d.kind = u.kind AND d.doc_id = u.doc_id AND d.record_hash = u.record_hash`,
		tenants, kinds, ids, recordHashes, lineHashes)
	if err != nil {
		return fmt.Errorf("set line hashes: %w", err)
	}
	return nil
}

// upsertDocuments stores a batch of documents in one statement from column arrays, and removes
// the old chunks of those whose chunks are replaced. The DELETE, a data-modifying CTE, sees the
// chunks as they were before the statement, which are exactly the chunks to replace; a new
// document has none. It returns each document's id, in the order of the input.
const upsertDocuments = `WITH input AS (
	SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::smallint[],
		$7::timestamptz[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::bool[], $15::text[])
		WITH ORDINALITY AS u (tenant, kind, doc_id, title, source, severity, occurred_at, techniques,
			record_hash, content_hash, space, record, replace_chunks, line_hash, ord)
), up AS (
	INSERT INTO documents AS d (tenant, kind, doc_id, title, source, severity, occurred_at, techniques,
		record_hash, content_hash, space, record, line_hash, updated_at)
	SELECT tenant, kind, doc_id, title, source, severity, occurred_at,
		ARRAY(SELECT json_array_elements_text(techniques::json)), record_hash, content_hash, space, record::json,
		nullif(line_hash, ''), $14
	FROM input ORDER BY ord
	ON CONFLICT (tenant, kind, doc_id) DO UPDATE SET
		title = excluded.title, source = excluded.source, severity = excluded.severity,
		occurred_at = excluded.occurred_at, techniques = excluded.techniques,
		record_hash = excluded.record_hash, content_hash = excluded.content_hash, space = excluded.space,
		record = excluded.record, line_hash = excluded.line_hash, updated_at = excluded.updated_at
	RETURNING d.id, d.tenant, d.kind, d.doc_id
), keyed AS (
	SELECT up.id, i.ord, i.replace_chunks FROM up
	JOIN input i ON i.tenant = up.tenant AND i.kind = up.kind AND i.doc_id = up.doc_id
), gone AS (
	DELETE FROM chunks c USING keyed k WHERE c.doc = k.id AND k.replace_chunks
)
SELECT id, ord FROM keyed`

// WriteDocuments inserts or replaces documents, all in one transaction: after a crash or a lost
// connection either all of them are stored with all their chunks, or none is. The documents go in
// one multi-row statement and the chunks in one COPY, so a batch costs a handful of round trips
// whatever its size. A key written twice in one call ends as written last.
func (db *DB) WriteDocuments(ctx context.Context, ws []hindsight.DocumentWrite) error {
	if len(ws) == 0 {
		return nil
	}
	ws = lastWrites(ws)
	// Sorted by key, concurrent writers of overlapping batches lock their documents' rows in the
	// same order instead of deadlocking on them.
	slices.SortFunc(ws, func(a, b hindsight.DocumentWrite) int { return compareKeys(a.Document.Key(), b.Document.Key()) })

	spaces := map[string]int{}
	nchunks := 0
	for _, w := range ws {
		if len(w.Chunks) == 0 {
			continue
		}
		dim, err := chunkDim(w)
		if err != nil {
			return err
		}
		if prev, ok := spaces[w.Space]; ok && prev != dim {
			return hindsight.Invalid("space", "space %q has vectors of %d and of %d values", w.Space, prev, dim)
		}
		spaces[w.Space] = dim
		nchunks += len(w.Chunks)
	}
	for space, dim := range spaces {
		if err := db.ensureSpace(ctx, space, dim); err != nil {
			return err
		}
	}

	n := len(ws)
	var (
		tenants, kinds, ids, titles, sources    = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		severities                              = make([]int16, n)
		occurred                                = make([]pgtype.Timestamptz, n)
		techniques, recordHashes, contentHashes = make([]string, n), make([]string, n), make([]string, n)
		spaceNames, records, lineHashes         = make([]string, n), make([]string, n), make([]string, n)
		replace                                 = make([]bool, n)
	)
	for i, w := range ws {
		d := w.Document
		rec, err := json.Marshal(d)
		if err != nil {
			return fmt.Errorf("encode %s: %w", d.Key(), err)
		}
		ts, _ := json.Marshal(techniqueKeys(d.Techniques)) // a []string always encodes
		tenants[i], kinds[i], ids[i], titles[i], sources[i] = d.Tenant, string(d.Kind), d.ID, clean(d.Title), w.Source
		severities[i] = int16(d.Severity.Rank())
		occurred[i] = pgtype.Timestamptz{Time: d.OccurredAt, Valid: !d.OccurredAt.IsZero()}
		techniques[i], recordHashes[i], contentHashes[i] = string(ts), w.RecordHash, w.ContentHash
		spaceNames[i], records[i], replace[i], lineHashes[i] = w.Space, string(rec), w.Chunks != nil, w.LineHash
	}
	now := db.now()
	return db.withTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, upsertDocuments, tenants, kinds, ids, titles, sources, severities, occurred,
			techniques, recordHashes, contentHashes, spaceNames, records, replace, now, lineHashes)
		if err != nil {
			return fmt.Errorf("store documents: %w", err)
		}
		docIDs := make([]int64, n)
		for rows.Next() {
			var id, ord int64
			if err := rows.Scan(&id, &ord); err != nil {
				rows.Close()
				return fmt.Errorf("store documents: %w", err)
			}
			docIDs[ord-1] = id
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("store documents: %w", err)
		}
		if nchunks == 0 {
			return nil
		}
		copied, err := tx.CopyFrom(ctx, pgx.Identifier{"chunks"},
			[]string{"doc", "seq", "section", "text", "space", "embedding", "terms"}, &chunkRows{ws: ws, ids: docIDs, w: 0, c: -1})
		if err != nil {
			return fmt.Errorf("store chunks: %w", err)
		}
		if copied != int64(nchunks) {
			return fmt.Errorf("store chunks: copied %d of %d", copied, nchunks)
		}
		return nil
	})
}

// chunkRows feeds the chunks of a batch to COPY one row at a time, so a large batch is never
// held a second time as rows of values.
type chunkRows struct {
	ws   []hindsight.DocumentWrite
	ids  []int64
	w, c int // the current write and chunk
}

func (r *chunkRows) Next() bool {
	r.c++
	for r.w < len(r.ws) && r.c >= len(r.ws[r.w].Chunks) {
		r.w, r.c = r.w+1, 0
	}
	return r.w < len(r.ws)
}

func (r *chunkRows) Values() ([]any, error) {
	w := &r.ws[r.w]
	c := &w.Chunks[r.c]
	return []any{r.ids[r.w], int32(c.Seq), clean(c.Section), clean(c.Text), w.Space, pgvector.NewVector(c.Vector), termsVector(c.Terms)}, nil
}

func (r *chunkRows) Err() error { return nil }

// lastWrites folds writes of the same key into one, as if they had been applied in order: the
// last write's record, and the chunks of the last write that had chunks.
func lastWrites(ws []hindsight.DocumentWrite) []hindsight.DocumentWrite {
	at := make(map[hindsight.DocKey]int, len(ws))
	out := make([]hindsight.DocumentWrite, 0, len(ws))
	for _, w := range ws {
		k := w.Document.Key()
		i, seen := at[k]
		if !seen {
			at[k] = len(out)
			out = append(out, w)
			continue
		}
		chunks := out[i].Chunks
		out[i] = w
		if w.Chunks == nil {
			out[i].Chunks = chunks
		}
	}
	return out
}

func compareKeys(a, b hindsight.DocKey) int {
	if c := strings.Compare(a.Tenant, b.Tenant); c != 0 {
		return c
	}
	if c := strings.Compare(string(a.Kind), string(b.Kind)); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// chunkDim returns the dimension of a write's vectors: the one its space names (name@version/dim)
// if it names one, and the same for every chunk.
func chunkDim(w hindsight.DocumentWrite) (int, error) {
	dim := len(w.Chunks[0].Vector)
	if i := strings.LastIndexByte(w.Space, '/'); i >= 0 {
		if d, err := strconv.Atoi(w.Space[i+1:]); err == nil {
			dim = d
		}
	}
	if w.Space == "" || strings.IndexByte(w.Space, 0) >= 0 {
		return 0, hindsight.Invalid("space", "%s: the chunks' space %q is not a valid name", w.Document.Key(), w.Space)
	}
	if dim <= 0 {
		return 0, hindsight.Invalid("vector", "%s: chunks need vectors", w.Document.Key())
	}
	for _, c := range w.Chunks {
		if len(c.Vector) != dim {
			return 0, hindsight.Invalid("vector", "%s: chunk %d has %d values, the space %s has %d", w.Document.Key(), c.Seq, len(c.Vector), w.Space, dim)
		}
	}
	return dim, nil
}

// maxIndexDim is the largest dimension pgvector's HNSW index takes for the vector type. A space of
// more dimensions is stored and searched exactly, without an index.
const maxIndexDim = 2000

// ensureSpace makes sure the space has its row and, for a dimension HNSW takes, its index: a
// partial HNSW index over the space's chunks on the embedding cast to the space's dimension. It
// runs before, not inside, the writing transaction: CREATE INDEX takes a lock that conflicts with
// other writers, and holding it for a whole batch would stall them. The index is created while
// the space has no chunks, so it costs nothing; later writes maintain it.
func (db *DB) ensureSpace(ctx context.Context, space string, dim int) error {
	if v, ok := db.spaces.Load(space); ok {
		if v.(int) != dim {
			return hindsight.Invalid("vector", "the space %s has %d dimensions, got %d", space, v.(int), dim)
		}
		return nil
	}
	err := db.withTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", spaceLock); err != nil {
			return err
		}
		var stored int
		err := tx.QueryRow(ctx, "SELECT dim FROM spaces WHERE space = $1", space).Scan(&stored)
		if err == nil {
			if stored != dim {
				return hindsight.Invalid("vector", "the space %s has %d dimensions, got %d", space, stored, dim)
			}
			return nil
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		name := ""
		if dim <= maxIndexDim {
			name = indexName(space)
			if _, err := tx.Exec(ctx, createIndexSQL(space, dim)); err != nil {
				return fmt.Errorf("create index: %w", err)
			}
		}
		_, err = tx.Exec(ctx, "INSERT INTO spaces (space, dim, index_name) VALUES ($1, $2, $3)", space, dim, name)
		return err
	})
	if err != nil {
		return fmt.Errorf("add space %s: %w", space, err)
	}
	db.logger.Debug("embedding space ready", "space", space, "dim", dim)
	db.spaces.Store(space, dim)
	return nil
}

// createIndexSQL is the statement that creates a space's index. Its expression and predicate are
// the ones SearchVectors orders and filters by, so that the planner can use it.
func createIndexSQL(space string, dim int) string {
	return fmt.Sprintf("CREATE INDEX IF NOT EXISTS %s ON chunks USING hnsw ((embedding::vector(%d)) vector_cosine_ops) WHERE space = %s",
		pgx.Identifier{indexName(space)}.Sanitize(), dim, quoteLiteral(space))
}

// indexName names a space's index after a hash of the space, since a space's name may be longer
// than an identifier or hold characters one cannot.
func indexName(space string) string {
	h := sha256.Sum256([]byte(space))
	return "chunks_embedding_" + hex.EncodeToString(h[:8])
}

// Limits of a tsvector: a lexeme's length in bytes, a position, positions kept per lexeme, and the
// lexemes' total length.
const (
	maxLexeme    = 2047
	maxPosition  = 16383
	maxPositions = 256
	maxLexemes   = 1<<20 - 1
)

// termsVector turns a chunk's terms into a tsvector with each term verbatim, as the tokenizer
// produced it, at its position (from 1). Positions make phrase queries and cover-density ranking
// work; PostgreSQL's own parsers would split "c:\windows\system32" or "t1059.001" apart.
func termsVector(terms []string) pgtype.TSVector {
	positions := map[string][]pgtype.TSVectorPosition{}
	size := 0
	for i, t := range terms {
		t = clean(t)
		if t == "" || len(t) > maxLexeme {
			continue
		}
		p := uint16(min(i+1, maxPosition))
		ps, seen := positions[t]
		if !seen {
			if size+len(t) > maxLexemes {
				continue
			}
			size += len(t)
		}
		if len(ps) >= maxPositions || (len(ps) > 0 && ps[len(ps)-1].Position == p) {
			continue
		}
		positions[t] = append(ps, pgtype.TSVectorPosition{Position: p})
	}
	v := pgtype.TSVector{Lexemes: make([]pgtype.TSVectorLexeme, 0, len(positions)), Valid: true}
	for w, ps := range positions {
		v.Lexemes = append(v.Lexemes, pgtype.TSVectorLexeme{Word: w, Positions: ps})
	}
	// PostgreSQL keeps lexemes ordered bytewise, as Go compares strings.
	slices.SortFunc(v.Lexemes, func(a, b pgtype.TSVectorLexeme) int { return strings.Compare(a.Word, b.Word) })
	return v
}

// DeleteDocuments removes documents with their chunks; keys it does not hold are ignored. It
// returns how many it removed.
func (db *DB) DeleteDocuments(ctx context.Context, keys []hindsight.DocKey) (int, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	tenants, kinds, ids := keyColumns(keys)
	tag, err := db.pool.Exec(ctx, `DELETE FROM documents d USING unnest($1::text[], $2::text[], $3::text[]) AS k (tenant, kind, doc_id)
		WHERE d.tenant = k.tenant AND d.kind = k.kind AND d.doc_id = k.doc_id`, tenants, kinds, ids)
	if err != nil {
		return 0, fmt.Errorf("delete documents: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// FindDocuments returns the stored documents for the keys it holds.
func (db *DB) FindDocuments(ctx context.Context, keys []hindsight.DocKey) (map[hindsight.DocKey]*hindsight.Document, error) {
	out := make(map[hindsight.DocKey]*hindsight.Document, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	tenants, kinds, ids := keyColumns(keys)
	rows, err := db.pool.Query(ctx, `SELECT d.tenant, d.kind, d.doc_id, d.record::text
		FROM unnest($1::text[], $2::text[], $3::text[]) AS k (tenant, kind, doc_id)
		JOIN documents d ON d.tenant = k.tenant AND d.kind = k.kind AND d.doc_id = k.doc_id`, tenants, kinds, ids)
	if err != nil {
		return nil, fmt.Errorf("find documents: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k hindsight.DocKey
		var rec []byte
		if err := rows.Scan(&k.Tenant, &k.Kind, &k.ID, &rec); err != nil {
			return nil, fmt.Errorf("find documents: %w", err)
		}
		d, err := hindsight.DecodeDocument(rec)
		if err != nil {
			return nil, fmt.Errorf("decode %s: %w", k, err)
		}
		out[k] = d
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find documents: %w", err)
	}
	return out, nil
}

// CountDocuments returns how many documents the store holds for a tenant (with global knowledge), by
// kind.
func (db *DB) CountDocuments(ctx context.Context, tenant string) (map[hindsight.Kind]int, error) {
	rows, err := db.pool.Query(ctx, "SELECT kind, count(*) FROM documents WHERE tenant IN ('', $1) GROUP BY kind", tenant)
	if err != nil {
		return nil, fmt.Errorf("count documents: %w", err)
	}
	defer rows.Close()
	out := map[hindsight.Kind]int{}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return nil, err
		}
		out[hindsight.Kind(k)] = n
	}
	return out, rows.Err()
}

// DocumentsBySource returns the keys of the documents last read from source.
func (db *DB) DocumentsBySource(ctx context.Context, source string) ([]hindsight.DocKey, error) {
	rows, err := db.pool.Query(ctx, "SELECT tenant, kind, doc_id FROM documents WHERE source = $1", source)
	if err != nil {
		return nil, fmt.Errorf("documents by source: %w", err)
	}
	defer rows.Close()
	var out []hindsight.DocKey
	for rows.Next() {
		var k hindsight.DocKey
		if err := rows.Scan(&k.Tenant, &k.Kind, &k.ID); err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// techniqueKeys returns the techniques with each sub-technique's parent added, without duplicates,
// so that a filter on T1059 finds T1059.001. It never returns nil: the list is stored as an array.
func techniqueKeys(ts []string) []string {
	seen := make(map[string]bool, len(ts)*2)
	out := []string{}
	for _, t := range ts {
		for _, k := range []string{t, hindsight.ParentTechnique(t)} {
			if !seen[k] {
				seen[k] = true
				out = append(out, clean(k))
			}
		}
	}
	return out
}

// keyColumns splits keys into one array per column, for unnest.
func keyColumns(keys []hindsight.DocKey) (tenants, kinds, ids []string) {
	tenants, kinds, ids = make([]string, len(keys)), make([]string, len(keys)), make([]string, len(keys))
	for i, k := range keys {
		tenants[i], kinds[i], ids[i] = k.Tenant, string(k.Kind), k.ID
	}
	return tenants, kinds, ids
}

// timeOrZero converts a nullable timestamp to a UTC time, zero when NULL.
func timeOrZero(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}
