package sqlite

import (
	"container/heap"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/hindsightsec/hindsight"
)

// SearchVectors returns, for the n documents whose chunks are nearest to vec in the given space,
// each document's nearest chunk with its cosine similarity, best first. Only documents that pass
// the filter are considered; documents embedded in another space never are.
func (db *DB) SearchVectors(ctx context.Context, space hindsight.Space, vec []float32, f hindsight.Filter, n int) ([]hindsight.Candidate, error) {
	if len(vec) != space.Dim {
		return nil, hindsight.Invalid("vector", "has %d values, the space %s has %d", len(vec), space, space.Dim)
	}
	ix, err := db.vec.current(ctx, db.r, space.String())
	if err != nil {
		return nil, err
	}
	defer ix.mu.RUnlock()
	if n <= 0 || len(ix.docs) == 0 {
		return nil, nil
	}
	allowed := make([]bool, len(ix.docs))
	for i := range ix.docs {
		allowed[i] = ix.docs[i].matches(&f)
	}
	best := make([]float32, len(ix.docs))
	bestChunk := make([]int32, len(ix.docs))
	for i := range bestChunk {
		bestChunk[i] = -1
	}
	dim := space.Dim
	for c, d := range ix.chunkDoc {
		if !allowed[d] {
			continue
		}
		if c%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		s := dot(vec, ix.vecs[c*dim:(c+1)*dim])
		if bestChunk[d] < 0 || s > best[d] {
			best[d], bestChunk[d] = s, int32(c)
		}
	}
	h := &topK{n: n}
	for d, c := range bestChunk {
		if c >= 0 {
			h.offer(int32(d), best[d])
		}
	}
	out := make([]hindsight.Candidate, h.Len())
	for i := len(out) - 1; i >= 0; i-- {
		e := heap.Pop(h).(scored)
		out[i] = hindsight.Candidate{Doc: ix.docs[e.id].key, Section: ix.sections[ix.chunkSection[bestChunk[e.id]]], Score: float64(e.score)}
	}
	return out, nil
}

// SearchText returns, for the n documents whose chunks best match any of the terms by BM25, each
// document's best chunk with its BM25 score (higher is better), best first.
func (db *DB) SearchText(ctx context.Context, terms []string, f hindsight.Filter, n int) ([]hindsight.Candidate, error) {
	match := ftsQuery(terms)
	if match == "" || n <= 0 {
		return nil, nil
	}
	where, args := filterSQL(&f)
	// The match is materialised first: bm25() is only allowed directly against the FTS table.
	q := `WITH m AS MATERIALIZED (SELECT rowid AS id, -bm25(chunk_fts) AS score FROM chunk_fts WHERE chunk_fts MATCH ?)
		SELECT d.tenant, d.kind, d.doc_id, c.section, max(m.score) AS s
		FROM m JOIN chunks c ON c.id = m.id JOIN documents d ON d.id = c.doc
		WHERE ` + where + `
		GROUP BY d.id ORDER BY s DESC LIMIT ?`
	rows, err := db.r.QueryContext(ctx, q, append(append([]any{match}, args...), n)...)
	if err != nil {
		return nil, fmt.Errorf("text search: %w", err)
	}
	defer rows.Close()
	var out []hindsight.Candidate
	for rows.Next() {
		var c hindsight.Candidate
		var kind string
		if err := rows.Scan(&c.Doc.Tenant, &kind, &c.Doc.ID, &c.Section, &c.Score); err != nil {
			return nil, err
		}
		c.Doc.Kind = hindsight.Kind(kind)
		out = append(out, c)
	}
	return out, rows.Err()
}

// ftsQuery turns terms into an FTS5 query matching any of them. Terms are quoted, so characters
// that FTS5 syntax gives a meaning to are taken literally.
func ftsQuery(terms []string) string {
	seen := map[string]bool{}
	var b strings.Builder
	for _, t := range terms {
		if t == "" || seen[t] {
			continue
		}
		seen[t] = true
		if b.Len() > 0 {
			b.WriteString(" OR ")
		}
		b.WriteString(`"` + strings.ReplaceAll(t, `"`, `""`) + `"`)
	}
	return b.String()
}

// filterSQL renders a filter as a condition on documents aliased d.
func filterSQL(f *hindsight.Filter) (string, []any) {
	conds := []string{"d.tenant IN ('', ?)"}
	args := []any{f.Tenant}
	if len(f.Kinds) > 0 {
		conds = append(conds, "d.kind IN ("+placeholders(len(f.Kinds))+")")
		for _, k := range f.Kinds {
			args = append(args, string(k))
		}
	}
	if len(f.Techniques) > 0 {
		conds = append(conds, "EXISTS (SELECT 1 FROM doc_techniques t WHERE t.doc = d.id AND t.technique IN ("+placeholders(len(f.Techniques))+"))")
		for _, t := range f.Techniques {
			args = append(args, t)
		}
	}
	if !f.Since.IsZero() {
		conds = append(conds, "d.occurred_at >= ?")
		args = append(args, f.Since.UnixNano())
	}
	if !f.Until.IsZero() {
		conds = append(conds, "d.occurred_at <= ?")
		args = append(args, f.Until.UnixNano())
	}
	if r := f.MinSeverity.Rank(); r > 0 {
		conds = append(conds, "d.severity >= ?")
		args = append(args, r)
	}
	return strings.Join(conds, " AND "), args
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// vectorIndex is an in-memory copy of one space's vectors, with what filters need of each document.
// It is reloaded whenever the store's generation moves, whoever wrote.
type vectorIndex struct {
	mu    sync.RWMutex
	gen   int64
	space string
	valid bool

	docs         []vdoc
	vecs         []float32 // chunk c at [c*dim, (c+1)*dim)
	chunkDoc     []int32   // index into docs
	chunkSection []uint8   // index into sections
	sections     []string
}

type vdoc struct {
	key        hindsight.DocKey
	severity   int
	occurred   int64    // unix nanoseconds; 0 unknown
	techniques []string // with parents, sorted
}

func (d *vdoc) matches(f *hindsight.Filter) bool {
	if d.key.Tenant != "" && d.key.Tenant != f.Tenant {
		return false
	}
	if len(f.Kinds) > 0 && !slices.Contains(f.Kinds, d.key.Kind) {
		return false
	}
	if len(f.Techniques) > 0 && !slices.ContainsFunc(f.Techniques, func(t string) bool {
		_, ok := slices.BinarySearch(d.techniques, t)
		return ok
	}) {
		return false
	}
	if !f.Since.IsZero() && (d.occurred == 0 || d.occurred < f.Since.UnixNano()) {
		return false
	}
	if !f.Until.IsZero() && (d.occurred == 0 || d.occurred > f.Until.UnixNano()) {
		return false
	}
	return f.MinSeverity.Rank() == 0 || d.severity >= f.MinSeverity.Rank()
}

// current returns the index for space, reloaded if the store changed, read-locked: the caller
// must RUnlock it.
func (ix *vectorIndex) current(ctx context.Context, r *sql.DB, space string) (*vectorIndex, error) {
	var gen int64
	if err := r.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = 'generation'").Scan(&gen); err != nil {
		return nil, &hindsight.Error{Code: hindsight.EUNAVAILABLE, Message: "store does not answer", Err: err}
	}
	ix.mu.RLock()
	if ix.valid && ix.gen >= gen && ix.space == space {
		return ix, nil
	}
	ix.mu.RUnlock()
	ix.mu.Lock()
	if !(ix.valid && ix.gen >= gen && ix.space == space) {
		if err := ix.load(ctx, r, space); err != nil {
			ix.mu.Unlock()
			return nil, err
		}
	}
	ix.mu.Unlock()
	ix.mu.RLock()
	return ix, nil
}

// load reads every vector of the space in one read transaction, a consistent snapshot.
func (ix *vectorIndex) load(ctx context.Context, r *sql.DB, space string) error {
	tx, err := r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var gen int64
	if err := tx.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = 'generation'").Scan(&gen); err != nil {
		return err
	}
	techs := map[int64][]string{}
	rows, err := tx.QueryContext(ctx, "SELECT doc, technique FROM doc_techniques")
	if err != nil {
		return fmt.Errorf("load techniques: %w", err)
	}
	for rows.Next() {
		var id int64
		var t string
		if err := rows.Scan(&id, &t); err != nil {
			rows.Close()
			return err
		}
		techs[id] = append(techs[id], t)
	}
	rows.Close()

	rows, err = tx.QueryContext(ctx, `SELECT d.id, d.tenant, d.kind, d.doc_id, d.severity, d.occurred_at, c.section, c.vector
		FROM chunks c JOIN documents d ON d.id = c.doc WHERE d.space = ? ORDER BY c.doc, c.seq`, space)
	if err != nil {
		return fmt.Errorf("load vectors: %w", err)
	}
	defer rows.Close()
	ix.docs, ix.vecs, ix.chunkDoc, ix.chunkSection, ix.sections = ix.docs[:0], ix.vecs[:0], ix.chunkDoc[:0], ix.chunkSection[:0], ix.sections[:0]
	sectionIDs := map[string]uint8{}
	lastDoc := int64(-1)
	var blob []byte
	for rows.Next() {
		var id, sev int64
		var tenant, kind, docID, section string
		var occurred sql.NullInt64
		if err := rows.Scan(&id, &tenant, &kind, &docID, &sev, &occurred, &section, &blob); err != nil {
			return err
		}
		if id != lastDoc {
			ts := techs[id]
			slices.Sort(ts)
			ix.docs = append(ix.docs, vdoc{
				key:      hindsight.DocKey{Tenant: tenant, Kind: hindsight.Kind(kind), ID: docID},
				severity: int(sev), occurred: occurred.Int64, techniques: ts,
			})
			lastDoc = id
		}
		sid, ok := sectionIDs[section]
		if !ok {
			if len(ix.sections) == 255 {
				return fmt.Errorf("load vectors: more than 255 distinct section names")
			}
			sid = uint8(len(ix.sections))
			sectionIDs[section] = sid
			ix.sections = append(ix.sections, section)
		}
		ix.vecs = decodeVector(ix.vecs, blob)
		ix.chunkDoc = append(ix.chunkDoc, int32(len(ix.docs)-1))
		ix.chunkSection = append(ix.chunkSection, sid)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	ix.gen, ix.space, ix.valid = gen, space, true
	return nil
}

func dot(a, b []float32) float32 {
	var s0, s1, s2, s3 float32
	n := len(a) &^ 3
	b = b[:len(a)]
	for i := 0; i < n; i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for i := n; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return s0 + s1 + s2 + s3
}

type scored struct {
	id    int32
	score float32
}

// topK is a min-heap that keeps the n best scores offered.
type topK struct {
	n     int
	items []scored
}

func (h *topK) Len() int           { return len(h.items) }
func (h *topK) Less(i, j int) bool { return h.items[i].score < h.items[j].score }
func (h *topK) Swap(i, j int)      { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *topK) Push(x any)         { h.items = append(h.items, x.(scored)) }
func (h *topK) Pop() any {
	old := h.items
	x := old[len(old)-1]
	h.items = old[:len(old)-1]
	return x
}

func (h *topK) offer(id int32, s float32) {
	if len(h.items) < h.n {
		heap.Push(h, scored{id, s})
	} else if s > h.items[0].score {
		h.items[0] = scored{id, s}
		heap.Fix(h, 0)
	}
}
