package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/retrieval/hnsw"
)

// index is the in-memory search index of the store: every live chunk's terms (BM25 postings) and,
// for the chunks embedded in the index's space, its vector, with what filters need of each
// document. Every process keeps its own and brings it up to date from the changes table before
// each search, so writes by this or any other process are seen at once.
//
// Chunk slots are never reused: a replaced or deleted chunk is marked dead and skipped, and the
// index is rebuilt whole once dead chunks are a third of all, which keeps postings simple.
type index struct {
	mu       sync.RWMutex
	filterMu sync.Mutex // guards indexData.filters, which readers fill under mu's read lock
	indexData
}

// indexData is the index's content, replaced whole on a reload.
type indexData struct {
	loaded bool
	seq    int64  // last change applied
	space  string // the space whose vectors are held; chunks of other spaces have none
	dim    int

	docs   []idoc
	slotOf map[int64]int32 // documents.id → doc slot

	chunks  []ichunk
	slotOfC map[uint32]int32 // chunks.id → chunk slot
	ann     *hnsw.Index      // vectors of the chunks embedded in space, keyed by chunks.id
	vectors int              // live chunks with a vector

	termIDs  map[string]int32
	postings [][]posting // by term ID
	df       []int32     // live chunks that contain the term
	live     int         // live chunks
	liveLen  int64       // total terms in live chunks
	dead     int

	sections  []string
	sectionID map[string]uint8

	// filters memoises filter results for the index as it stands: the signals of one search, and
	// searches of one tenant, share them. Emptied whenever the index changes.
	filters map[string]*filterResult
}

// filterResult is a filter evaluated over the index: which documents pass, and how many live
// chunks with a vector they hold.
type filterResult struct {
	allowed  []bool
	accepted int
}

type idoc struct {
	vectors    int // live chunks with a vector
	key        hindsight.DocKey
	severity   int
	occurred   int64    // unix nanoseconds; 0 unknown
	techniques []string // with parents, sorted
	chunks     []int32
	alive      bool
}

type ichunk struct {
	id      uint32 // chunks.id
	doc     int32
	section uint8
	alive   bool
	hasVec  bool
	length  int32   // number of terms, for BM25's length normalisation
	terms   []int32 // distinct term IDs, to undo df when the chunk dies
}

type posting struct {
	chunk int32
	tf    uint16
}

// maxChangesBehind is how far behind the change log an index may be and still catch up change by
// change; further behind, it reloads whole.
const maxChangesBehind = 20000

// current returns the index brought up to date, holding vectors of space, read-locked: the caller
// must RUnlock it. An empty space keeps whatever space is loaded (text search needs no vectors).
//
// changed, when not nil, is told which documents changed between two change-log positions, so that
// caches of documents can drop just those.
func (ix *index) current(ctx context.Context, r *sql.DB, space string, changed func(from, to int64, keys []hindsight.DocKey)) (*index, error) {
	var seq int64
	if err := r.QueryRowContext(ctx, "SELECT coalesce(max(seq), 0) FROM changes").Scan(&seq); err != nil {
		return nil, &hindsight.Error{Code: hindsight.EUNAVAILABLE, Message: "store does not answer", Err: err}
	}
	fresh := func() bool { return ix.loaded && ix.seq >= seq && (space == "" || ix.space == space) }
	ix.mu.RLock()
	if fresh() {
		return ix, nil
	}
	ix.mu.RUnlock()
	ix.mu.Lock()
	if !fresh() {
		if space == "" {
			space = ix.space
		}
		if err := ix.refresh(ctx, r, space, changed); err != nil {
			ix.mu.Unlock()
			return nil, err
		}
	}
	ix.mu.Unlock()
	ix.mu.RLock()
	return ix, nil
}

// refresh applies the changes since the index was last brought up to date, or reloads it whole
// when it is not loaded, holds another space, fell too far behind, or carries too many dead chunks.
// It reads inside one read transaction: a consistent snapshot.
func (ix *index) refresh(ctx context.Context, r *sql.DB, space string, changed func(from, to int64, keys []hindsight.DocKey)) error {
	tx, err := r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var seq, oldest int64
	if err := tx.QueryRowContext(ctx, "SELECT coalesce(max(seq), 0), coalesce(min(seq), 0) FROM changes").Scan(&seq, &oldest); err != nil {
		return err
	}
	if !ix.loaded || ix.space != space || seq-ix.seq > maxChangesBehind || oldest > ix.seq+1 || ix.dead > ix.live/2+1000 {
		from := ix.seq
		if changed != nil {
			changed(from, seq, nil) // a reload: every cached document may be stale
		}
		return ix.reload(ctx, tx, space, seq)
	}
	rows, err := tx.QueryContext(ctx, "SELECT DISTINCT doc FROM changes WHERE seq > ?", ix.seq)
	if err != nil {
		return err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	rows.Close()
	var keys []hindsight.DocKey
	for _, id := range ids {
		if slot, ok := ix.slotOf[id]; ok {
			keys = append(keys, ix.docs[slot].key)
		}
		ix.removeDoc(id)
	}
	for i := 0; i < len(ids); i += 500 {
		if err := ix.loadDocs(ctx, tx, ids[i:min(i+500, len(ids))]); err != nil {
			return err
		}
	}
	if changed != nil {
		// New documents were in no cache; changed and deleted ones are in keys.
		changed(ix.seq, seq, keys)
	}
	ix.seq, ix.filters = seq, nil
	return nil
}

// reload rebuilds the index from every chunk.
func (ix *index) reload(ctx context.Context, tx *sql.Tx, space string, seq int64) error {
	ix.indexData = indexData{space: space, slotOf: map[int64]int32{}, slotOfC: map[uint32]int32{}, termIDs: map[string]int32{},
		sectionID: map[string]uint8{}}
	if err := ix.loadDocs(ctx, tx, nil); err != nil {
		return err
	}
	ix.loaded, ix.seq = true, seq
	return nil
}

// loadDocs adds documents (all of them when ids is nil) with their chunks.
func (ix *index) loadDocs(ctx context.Context, tx *sql.Tx, ids []int64) error {
	where, args := "", []any{}
	if ids != nil {
		where = " WHERE d.id IN (" + placeholders(len(ids)) + ")"
		for _, id := range ids {
			args = append(args, id)
		}
	}
	techs := map[int64][]string{}
	trows, err := tx.QueryContext(ctx, "SELECT t.doc, t.technique FROM doc_techniques t JOIN documents d ON d.id = t.doc"+where, args...)
	if err != nil {
		return fmt.Errorf("load techniques: %w", err)
	}
	for trows.Next() {
		var id int64
		var t string
		if err := trows.Scan(&id, &t); err != nil {
			trows.Close()
			return err
		}
		techs[id] = append(techs[id], t)
	}
	trows.Close()
	rows, err := tx.QueryContext(ctx, `SELECT d.id, d.tenant, d.kind, d.doc_id, d.severity, d.occurred_at, d.space, c.id, c.section, c.terms, c.vector
		FROM documents d JOIN chunks c ON c.doc = d.id`+where+` ORDER BY d.id, c.seq`, args...)
	if err != nil {
		return fmt.Errorf("load chunks: %w", err)
	}
	defer rows.Close()
	last := int64(-1)
	var slot int32
	var blob []byte
	var pendingIDs []uint32
	var pendingVecs []float32
	for rows.Next() {
		var id, sev, cid int64
		var tenant, kind, docID, space, section, terms string
		var occurred sql.NullInt64
		if err := rows.Scan(&id, &tenant, &kind, &docID, &sev, &occurred, &space, &cid, &section, &terms, &blob); err != nil {
			return err
		}
		if id != last {
			ts := techs[id]
			slices.Sort(ts)
			slot = int32(len(ix.docs))
			ix.docs = append(ix.docs, idoc{key: hindsight.DocKey{Tenant: tenant, Kind: hindsight.Kind(kind), ID: docID},
				severity: int(sev), occurred: occurred.Int64, techniques: ts, alive: true})
			ix.slotOf[id] = slot
			last = id
		}
		hasVec, err := ix.addChunk(slot, uint32(cid), section, terms, space, len(blob)/4)
		if err != nil {
			return err
		}
		if hasVec {
			pendingIDs = append(pendingIDs, uint32(cid))
			pendingVecs = decodeVector(pendingVecs, blob)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(pendingIDs) > 0 {
		if ix.ann == nil {
			ix.ann = hnsw.New(ix.dim, hnsw.Options{EfSearch: annEfSearch})
		}
		// AddBatch inserts with several goroutines; a reload of a large store is mostly this.
		ix.ann.AddBatch(pendingIDs, pendingVecs)
	}
	return nil
}

// annEfSearch is the HNSW beam width for searches; BENCHMARKS.md has the recall it buys.
const annEfSearch = 96

// addChunk adds a chunk's terms and reports whether it has a vector in the index's space (of
// dim values), which the caller adds to the vector index.
func (ix *index) addChunk(doc int32, id uint32, section, terms, space string, dim int) (bool, error) {
	sid, ok := ix.sectionID[section]
	if !ok {
		if len(ix.sections) == 255 {
			return false, fmt.Errorf("load chunks: more than 255 distinct section names")
		}
		sid = uint8(len(ix.sections))
		ix.sectionID[section] = sid
		ix.sections = append(ix.sections, section)
	}
	c := int32(len(ix.chunks))
	ch := ichunk{id: id, doc: doc, section: sid, alive: true}
	counts := map[int32]uint16{}
	for _, t := range strings.Fields(terms) {
		id, ok := ix.termIDs[t]
		if !ok {
			id = int32(len(ix.postings))
			ix.termIDs[t] = id
			ix.postings = append(ix.postings, nil)
			ix.df = append(ix.df, 0)
		}
		if counts[id] < math.MaxUint16 {
			counts[id]++
		}
		ch.length++
	}
	for id, tf := range counts {
		ix.postings[id] = append(ix.postings[id], posting{chunk: c, tf: tf})
		ix.df[id]++
		ch.terms = append(ch.terms, id)
	}
	if space == ix.space && dim > 0 {
		if ix.dim == 0 {
			ix.dim = dim
		}
		ch.hasVec = dim == ix.dim
	}
	ix.chunks = append(ix.chunks, ch)
	ix.slotOfC[id] = c
	ix.docs[doc].chunks = append(ix.docs[doc].chunks, c)
	ix.live++
	ix.liveLen += int64(ch.length)
	if ch.hasVec {
		ix.vectors++
		ix.docs[doc].vectors++
	}
	return ch.hasVec, nil
}

// removeDoc marks a document and its chunks dead.
func (ix *index) removeDoc(id int64) {
	slot, ok := ix.slotOf[id]
	if !ok {
		return
	}
	delete(ix.slotOf, id)
	d := &ix.docs[slot]
	d.alive = false
	for _, c := range d.chunks {
		ch := &ix.chunks[c]
		ch.alive = false
		for _, t := range ch.terms {
			ix.df[t]--
		}
		ix.live--
		ix.liveLen -= int64(ch.length)
		ix.dead++
		if ch.hasVec {
			ix.vectors--
			ix.ann.Delete(ch.id)
		}
		delete(ix.slotOfC, ch.id)
	}
}

func (d *idoc) matches(f *hindsight.Filter) bool {
	if !d.alive {
		return false
	}
	if f.OtherTenants {
		if d.key.Tenant == "" || d.key.Tenant == f.Tenant {
			return false
		}
	} else if d.key.Tenant != "" && d.key.Tenant != f.Tenant {
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

// filtered evaluates the filter once per document, or returns the memoised result.
func (ix *index) filtered(f *hindsight.Filter) *filterResult {
	key := fmt.Sprintf("%q|%t|%q|%q|%d|%d|%s", f.Tenant, f.OtherTenants, f.Kinds, f.Techniques,
		f.Since.UnixNano(), f.Until.UnixNano(), f.MinSeverity)
	ix.filterMu.Lock()
	r := ix.filters[key]
	ix.filterMu.Unlock()
	if r != nil {
		return r
	}
	r = &filterResult{allowed: make([]bool, len(ix.docs))}
	for i := range ix.docs {
		if ix.docs[i].matches(f) {
			r.allowed[i] = true
			r.accepted += ix.docs[i].vectors
		}
	}
	ix.filterMu.Lock()
	if ix.filters == nil || len(ix.filters) >= 64 {
		ix.filters = map[string]*filterResult{}
	}
	ix.filters[key] = r
	ix.filterMu.Unlock()
	return r
}

// BM25 parameters, as in FTS5 and most engines.
const (
	bm25K1 = 1.2
	bm25B  = 0.75
)

// Text queries leave out terms found in more than commonShare of all chunks, as long as the rarer
// terms find enough documents: such terms add almost nothing to BM25 (their IDF is near zero) but
// make the search score most of the index. At most maxTerms terms, the rarest, are used.
const (
	maxTerms    = 32
	commonShare = 0.2
)

type queryTerm struct {
	id int32
	df int32
}

// bm25 scores every allowed document's best chunk for the terms and returns the n best.
func (ix *index) bm25(terms []string, allowed []bool, n int) []scored {
	var qs []queryTerm
	seen := map[int32]bool{}
	for _, t := range terms {
		if id, ok := ix.termIDs[t]; ok && !seen[id] && ix.df[id] > 0 {
			seen[id] = true
			qs = append(qs, queryTerm{id, ix.df[id]})
		}
	}
	if len(qs) == 0 || ix.live == 0 {
		return nil
	}
	slices.SortFunc(qs, func(a, b queryTerm) int { return int(a.df - b.df) })
	if len(qs) > maxTerms {
		qs = qs[:maxTerms]
	}
	rare := len(qs)
	for rare > 1 && float64(qs[rare-1].df) > commonShare*float64(ix.live) {
		rare--
	}
	best := ix.scoreTerms(qs[:rare], allowed, n)
	if len(best) < n && rare < len(qs) {
		// Too few documents have the informative terms: the common ones decide the rest.
		best = ix.scoreTerms(qs, allowed, n)
	}
	return best
}

// scoreTerms accumulates BM25 over the terms' postings, keeps each document's best chunk and
// returns the n best documents; scored.id is the chunk.
func (ix *index) scoreTerms(qs []queryTerm, allowed []bool, n int) []scored {
	N := float64(ix.live)
	avg := float64(ix.liveLen) / N
	acc := map[int32]float32{}
	for _, q := range qs {
		df := float64(q.df)
		idf := math.Log(1 + (N-df+0.5)/(df+0.5))
		for _, p := range ix.postings[q.id] {
			ch := &ix.chunks[p.chunk]
			if !ch.alive || !allowed[ch.doc] {
				continue
			}
			tf := float64(p.tf)
			acc[p.chunk] += float32(idf * tf * (bm25K1 + 1) / (tf + bm25K1*(1-bm25B+bm25B*float64(ch.length)/avg)))
		}
	}
	bestOf := map[int32]scored{} // doc → best chunk
	for c, sc := range acc {
		d := ix.chunks[c].doc
		if b, ok := bestOf[d]; !ok || sc > b.score || (sc == b.score && c < b.id) {
			bestOf[d] = scored{id: c, score: sc}
		}
	}
	h := &topK{n: n}
	for _, b := range bestOf {
		h.offer(b.id, b.score)
	}
	return h.sorted()
}

// nearest returns each allowed document's nearest chunk (cosine) for the n nearest documents. The
// HNSW index searches chunks with the filter applied inside the search; documents have several
// chunks, so it asks for more chunks than documents and widens the request until n documents are
// found or every accepted chunk has been seen.
func (ix *index) nearest(ctx context.Context, vec []float32, fr *filterResult, n int) ([]scored, error) {
	if ix.ann == nil || ix.vectors == 0 {
		return nil, nil
	}
	allowed, accepted := fr.allowed, fr.accepted
	if accepted == 0 {
		return nil, nil
	}
	accept := func(id uint32) bool {
		c, ok := ix.slotOfC[id]
		if !ok {
			return false
		}
		ch := &ix.chunks[c]
		return ch.alive && ch.hasVec && allowed[ch.doc]
	}
	for k := 3 * n; ; k *= 2 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		res := ix.ann.SearchFilter(vec, min(k, accepted), max(annEfSearch, min(k, accepted)), hnsw.Filter{Accept: accept, Accepted: accepted})
		best := map[int32]scored{}
		for _, r := range res {
			c := ix.slotOfC[r.ID]
			d := ix.chunks[c].doc
			if b, ok := best[d]; !ok || r.Score > b.score {
				best[d] = scored{id: c, score: r.Score}
			}
		}
		if len(best) >= n || k >= accepted {
			h := &topK{n: n}
			for _, b := range best {
				h.offer(b.id, b.score)
			}
			return h.sorted(), nil
		}
	}
}

// candidate turns a scored chunk into the candidate of its document.
func (ix *index) candidate(s scored) hindsight.Candidate {
	ch := &ix.chunks[s.id]
	return hindsight.Candidate{Doc: ix.docs[ch.doc].key, Section: ix.sections[ch.section], Score: float64(s.score)}
}
