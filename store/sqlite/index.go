package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/retrieval"
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

	// file is where the vector graph is saved and loaded from (annfile.go); empty for a store
	// that is not a file.
	file   string
	logger *slog.Logger
	saveMu sync.Mutex     // one save at a time
	saves  sync.WaitGroup // saves under way; Close waits for them

	noRuns bool // filters get no runs (filterResult.runs): tests compare searches with and without
	// regroupSlack is how many chunk slots past a quarter of the live ones may be written after
	// the last full load before the next refresh loads the index whole again; zero means
	// defaultRegroupSlack. Tests lower it.
	regroupSlack int
}

// defaultRegroupSlack: see index.regroupSlack.
const defaultRegroupSlack = 10000

// indexData is the index's content, replaced whole on a reload.
type indexData struct {
	loaded bool
	seq    int64  // last change applied
	space  string // the space whose vectors are held; chunks of other spaces have none
	dim    int

	docs []idoc
	// grouped counts the chunk slots the last full load placed, each tenant's together; slots
	// after them were written since, in written order.
	grouped int
	// docChunks holds each document's chunk slots, by doc slot: a document's chunks are loaded
	// together, so they hold consecutive slots (a slice per document would be one more object
	// for the collector). Dense, for the filtered vector scan, which reads it for thousands of
	// documents.
	docChunks   []chunkRange
	slotOf      map[int64]int32    // documents.id → doc slot
	byTechnique map[string][]int32 // technique (parents included) → doc slots, dead ones too

	chunks []ichunk
	// chunkDoc and chunkLen repeat each chunk's document and length densely, for the text
	// search's inner loop, which reads them for every posting it scores.
	chunkDoc []int32
	chunkLen []int32
	chunkSec []uint8 // and its section
	// chunkTerms holds every chunk's distinct term IDs end to end (ichunk.termsAt), in one
	// array rather than one per chunk, which the garbage collector would have to visit.
	chunkTerms []int32
	slotOfC    chunkSlots  // chunks.id → chunk slot
	ann        *hnsw.Index // vectors of the chunks embedded in space, keyed by chunks.id
	vectors    int         // live chunks with a vector
	storeID    string      // the store's identity, which a saved graph must carry
	unsaved    int         // vectors added to or deleted from ann since it was saved or loaded

	// termIDs maps a term's 64-bit hash (retrieval.TermHash) to its ID: a map of strings would hand the
	// garbage collector one object per term. Two terms share a hash once in 2⁶⁴ pairs, and would
	// then share postings.
	termIDs  map[uint64]int32
	postings [][]posting // by term ID
	df       []int32     // live chunks that contain the term
	live     int         // live chunks
	liveLen  int64       // total terms in live chunks
	dead     int

	sections  []string
	sectionID map[string]uint8
	names     map[string]string // intern's strings

	termScratch []int32 // addChunk's working memory

	// qvecs holds the vector of each chunk slot quantized to a byte per value (hnsw.Quantize),
	// dim bytes a slot, and qscale its scale: noVector for a chunk without a vector or a dead
	// one, NaN for one the graph lacks. Filtered scans read these (scoreAll).
	qvecs  []int8
	qscale []float32

	// filters memoises filter results for the index as it stands: the signals of one search, and
	// searches of one tenant, share them. Emptied whenever the index changes.
	filters map[string]*filterResult
}

// filterResult is a filter evaluated over the index: which documents pass, and how many live
// chunks with a vector they hold.
type filterResult struct {
	allowed []bool
	// sections flags, by section ID, the sections whose chunks pass; nil when all do.
	sections []bool
	// accepted counts the live chunks with a vector that pass; for a filter with techniques and
	// sections, the documents' chunks of any section, which nearest narrows as it lists them.
	accepted int
	// docs lists the allowed documents when the filter was evaluated from technique postings
	// (few documents); nil otherwise. Such a result is not memoised: its search releases it.
	docs []int32
	// runs lists, in order, ranges of chunk slots that together hold every chunk of the allowed
	// documents (and a few others, where two runs were close), so that the text search reads
	// only those stretches of each posting list; nil means all of them. A full load places each
	// tenant's documents, and within a tenant each kind's, in one stretch of slots (loadDocs),
	// so a tenant's filter is a few runs.
	runs []chunkRange
}

// chunkRange is the chunk slots first, first+1, … end-1.
type chunkRange struct{ first, end int32 }

// allChunks is the one run of a filter without runs.
var allChunks = []chunkRange{{0, math.MaxInt32}}

// Runs of allowed chunks closer than runGap slots are merged: reading a few postings that the
// filter then rejects is cheaper than another binary search in each list. A filter whose chunks
// scatter into more than maxRuns runs is left without runs.
const (
	runGap  = 64
	maxRuns = 256
)

// runsOf returns the runs of chunk slots of the allowed documents (filterResult.runs).
func (ix *index) runsOf(allowed []bool) []chunkRange {
	var runs []chunkRange
	for d := range ix.docs {
		cr := ix.docChunks[d]
		if !allowed[d] || cr.first == cr.end {
			continue
		}
		if n := len(runs); n > 0 && cr.first-runs[n-1].end <= runGap {
			runs[n-1].end = cr.end
			continue
		}
		if len(runs) == maxRuns {
			return nil
		}
		runs = append(runs, cr)
	}
	if runs == nil {
		runs = []chunkRange{} // no chunk at all, which is not "all of them"
	}
	return runs
}

// techniquePool holds released technique filter results, allowed all false, so that a search
// does not allocate a flag per document of the index.
var techniquePool sync.Pool

// release returns a technique filter's result to the pool; other results are memoised and kept.
func (r *filterResult) release() {
	if r.docs == nil {
		return
	}
	for _, d := range r.docs {
		r.allowed[d] = false
	}
	r.docs, r.accepted, r.sections, r.runs = r.docs[:0], 0, nil, nil
	techniquePool.Put(r)
}

type idoc struct {
	vectors  int // live chunks with a vector
	key      hindsight.DocKey
	severity int
	occurred int64 // unix nanoseconds; 0 unknown
	alive    bool
}

type ichunk struct {
	id      uint32 // chunks.id
	doc     int32
	section uint8
	alive   bool
	hasVec  bool
	length  int32  // number of terms, for BM25's length normalisation
	termsAt uint32 // its distinct term IDs, to undo df when the chunk dies, are
	nterms  int32  // chunkTerms[termsAt:termsAt+nterms]
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
func (ix *index) current(ctx context.Context, r *sql.DB, seq int64, space string, changed func(from, to int64, keys []hindsight.DocKey)) (*index, error) {
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
	// Documents written since the last full load are not grouped by tenant, so a text search
	// reads all their postings; once they are more than a quarter of the index (and the slack),
	// loading it whole groups them. Like a reload for dead chunks, it holds searches up while it
	// runs: seconds at 100,000 threats, and rare (at 300 threats a day, about once a quarter).
	regroupSlack := cmp.Or(ix.regroupSlack, defaultRegroupSlack)
	ungrouped := len(ix.chunks) - ix.grouped
	regroup := ix.loaded && ungrouped > ix.live/4+regroupSlack
	if regroup {
		ix.logger.Info("loading the search index whole, to group the documents written since by tenant",
			"written_since", ungrouped, "live_chunks", ix.live)
	}
	if !ix.loaded || ix.space != space || seq-ix.seq > maxChangesBehind || oldest > ix.seq+1 || ix.dead > ix.live/2+1000 || regroup {
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
	ix.save(max(5000, ix.vectors/10))
	return nil
}

// reload rebuilds the index from every chunk. The vector graph is loaded from the file it was
// saved to, when there is one of this store and space, and brought up to date; otherwise it is
// built from the chunks' vectors and then saved.
func (ix *index) reload(ctx context.Context, tx *sql.Tx, space string, seq int64) error {
	var storeID string
	if err := tx.QueryRowContext(ctx, "SELECT value FROM store_meta WHERE key = 'store_id'").Scan(&storeID); err != nil {
		return fmt.Errorf("read store identity: %w", err)
	}
	if space == "" {
		// A text search came first and needs no vectors; hold those of the space most documents
		// are embedded in, which the vector search that usually follows asks for, rather than
		// loading everything again for it.
		err := tx.QueryRowContext(ctx, "SELECT space FROM documents GROUP BY space ORDER BY count(*) DESC LIMIT 1").Scan(&space)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("read embedding spaces: %w", err)
		}
	}
	ix.indexData = emptyIndex(space, storeID)
	fromFile := ix.loadSaved(space, seq)
	if err := ix.loadDocs(ctx, tx, nil); err != nil {
		return err
	}
	ix.grouped = len(ix.chunks)
	ix.loaded, ix.seq = true, seq
	if fromFile {
		// Chunks deleted since the graph was saved are still in it.
		for _, id := range ix.ann.IDs() {
			if c, ok := ix.slotOfC.get(id); !ok || !ix.chunks[c].hasVec {
				ix.ann.Delete(id)
				ix.unsaved++
			}
		}
		if ix.ann.Deleted() > ix.ann.Len()/2+1000 {
			// Mostly tombstones: a graph built afresh is smaller and searches faster.
			ix.logger.Info("vector graph has too many deleted vectors; building it again", "file", ix.file,
				"vectors", ix.ann.Len(), "deleted", ix.ann.Deleted())
			ix.indexData = emptyIndex(space, storeID)
			if err := ix.loadDocs(ctx, tx, nil); err != nil {
				return err
			}
			ix.grouped = len(ix.chunks)
			ix.loaded, ix.seq, fromFile = true, seq, false
		}
	}
	if fromFile {
		ix.save(max(1000, ix.vectors/20))
	} else {
		ix.save(1)
	}
	return nil
}

// emptyIndex is an index of nothing yet, for the vectors of space.
func emptyIndex(space, storeID string) indexData {
	return indexData{space: space, storeID: storeID, slotOf: map[int64]int32{}, byTechnique: map[string][]int32{},
		termIDs: map[uint64]int32{}, sectionID: map[string]uint8{}}
}

// loadSaved loads the saved vector graph of space into ix.ann, if there is one of this store that
// is not ahead of seq, and reports whether it did.
func (ix *index) loadSaved(space string, seq int64) bool {
	if ix.file == "" {
		return false
	}
	start := time.Now()
	ann, err := loadANN(ix.file, annHeader{storeID: ix.storeID, space: space, seq: seq})
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false
	case err != nil:
		ix.logger.Warn("saved vector graph not used; building it from the store", "file", ix.file, "reason", err)
		return false
	}
	ix.ann, ix.dim = ann, ann.Dim()
	ix.logger.Info("vector graph loaded", "file", ix.file, "vectors", ann.Len(), "seconds", time.Since(start).Seconds())
	return true
}

// save writes the vector graph to its file in the background when at least min vectors changed
// since it was last saved or loaded, unless a save is already under way (the next call saves
// then). It is called with mu held, so the graph and the change-log position agree; the save
// itself holds only the graph's read lock.
func (ix *index) save(min int) {
	if ix.file == "" || ix.ann == nil || ix.unsaved < min || !ix.saveMu.TryLock() {
		return
	}
	h, ann := annHeader{storeID: ix.storeID, space: ix.space, seq: ix.seq}, ix.ann
	ix.unsaved = 0
	ix.saves.Add(1)
	go func() {
		defer ix.saves.Done()
		defer ix.saveMu.Unlock()
		start := time.Now()
		if err := saveANN(ix.file, h, ann); err != nil {
			ix.logger.Warn("vector graph not saved; the next start builds it again", "file", ix.file, "error", err)
			return
		}
		ix.logger.Info("vector graph saved", "file", ix.file, "vectors", ann.Len(), "seconds", time.Since(start).Seconds())
	}()
}

// close waits for a save under way, and saves the graph if it changed much since.
func (ix *index) close() {
	ix.saves.Wait()
	ix.mu.Lock()
	ix.save(max(1000, ix.vectors/100))
	ix.mu.Unlock()
	ix.saves.Wait()
}

// loadDocs adds documents (all of them when ids is nil) with their chunks.
func (ix *index) loadDocs(ctx context.Context, tx *sql.Tx, ids []int64) error {
	from := len(ix.chunks)
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
	// A graph loaded from its file already holds the vectors of most chunks: read only their
	// sizes, and the vectors of the chunks it lacks afterwards.
	sizesOnly := ids == nil && ix.ann != nil
	// A full load places each tenant's documents together, and each kind's within a tenant, so
	// that a filter's documents are few runs of chunk slots (filterResult.runs); the unique
	// index on (tenant, kind, doc_id) gives that order without sorting. Documents loaded later
	// come after, in the order they were written.
	order := " ORDER BY d.id, c.seq"
	if ids == nil {
		order = " ORDER BY d.tenant, d.kind, d.doc_id, c.seq"
	}
	vectorCol := "c.vector"
	if sizesOnly {
		vectorCol = "length(c.vector)"
	}
	rows, err := tx.QueryContext(ctx, `SELECT d.id, d.tenant, d.kind, d.doc_id, d.severity, d.occurred_at, d.space, c.id, c.section, c.terms, `+vectorCol+`
		FROM documents d JOIN chunks c ON c.doc = d.id`+where+order, args...)
	if err != nil {
		return fmt.Errorf("load chunks: %w", err)
	}
	defer rows.Close()
	last := int64(-1)
	var slot int32
	var blob []byte
	var size int64
	vector := any(&blob)
	if sizesOnly {
		vector = &size
	}
	var pendingIDs, missing []uint32
	var pendingVecs []float32
	for rows.Next() {
		var id, sev, cid int64
		var tenant, kind, docID, space, section, terms string
		var occurred sql.NullInt64
		if err := rows.Scan(&id, &tenant, &kind, &docID, &sev, &occurred, &space, &cid, &section, &terms, vector); err != nil {
			return err
		}
		if id != last {
			slot = int32(len(ix.docs))
			// Tenants and kinds are few: one string each, not one per document.
			ix.docs = append(ix.docs, idoc{key: hindsight.DocKey{Tenant: ix.intern(tenant), Kind: hindsight.Kind(ix.intern(kind)), ID: docID},
				severity: int(sev), occurred: occurred.Int64, alive: true})
			ix.docChunks = append(ix.docChunks, chunkRange{})
			ix.slotOf[id] = slot
			for _, t := range techs[id] {
				ix.byTechnique[t] = append(ix.byTechnique[t], slot)
			}
			last = id
		}
		if !sizesOnly {
			size = int64(len(blob))
		}
		hasVec, err := ix.addChunk(slot, uint32(cid), section, terms, space, int(size/4))
		if err != nil {
			return err
		}
		switch {
		case !hasVec || (ix.ann != nil && ix.ann.Contains(uint32(cid))):
		case sizesOnly:
			missing = append(missing, uint32(cid))
		default:
			pendingIDs = append(pendingIDs, uint32(cid))
			pendingVecs = decodeVector(pendingVecs, blob)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rows.Close()
	for i := 0; i < len(missing); i += 500 {
		batch := missing[i:min(i+500, len(missing))]
		args := make([]any, len(batch))
		for j, id := range batch {
			args[j] = id
		}
		vrows, err := tx.QueryContext(ctx, "SELECT id, vector FROM chunks WHERE id IN ("+placeholders(len(batch))+")", args...)
		if err != nil {
			return fmt.Errorf("load vectors: %w", err)
		}
		for vrows.Next() {
			var cid int64
			if err := vrows.Scan(&cid, &blob); err != nil {
				vrows.Close()
				return err
			}
			pendingIDs = append(pendingIDs, uint32(cid))
			pendingVecs = decodeVector(pendingVecs, blob)
		}
		vrows.Close()
		if err := vrows.Err(); err != nil {
			return err
		}
	}
	if len(pendingIDs) > 0 {
		if ix.ann == nil {
			ix.ann = hnsw.New(ix.dim, hnsw.Options{EfSearch: annEfSearch})
		}
		// AddBatch inserts with several goroutines; a reload of a large store is mostly this.
		ix.ann.AddBatch(pendingIDs, pendingVecs)
		ix.unsaved += len(pendingIDs)
	}
	ix.quantize(from)
	return nil
}

// noVector is the qscale of a chunk slot without a live vector; a quantized vector's scale is
// never negative.
const noVector = -1

// quantize quantizes the vectors of the chunk slots from from on into qvecs and qscale, on every
// processor when there are many.
func (ix *index) quantize(from int) {
	n := len(ix.chunks)
	for len(ix.qscale) < n {
		ix.qscale = append(ix.qscale, noVector)
	}
	if ix.ann == nil || ix.dim == 0 {
		return
	}
	dim := ix.dim
	ix.qvecs = slices.Grow(ix.qvecs, n*dim-len(ix.qvecs))[:n*dim]
	part := func(lo, hi int) {
		var v []float32
		for c := lo; c < hi; c++ {
			if !ix.chunks[c].hasVec {
				continue
			}
			var ok bool
			if v, ok = ix.ann.Vector(v[:0], ix.chunks[c].id); !ok {
				ix.qscale[c] = float32(math.NaN())
				continue
			}
			ix.qscale[c] = hnsw.Quantize(ix.qvecs[c*dim:(c+1)*dim], v)
		}
	}
	workers := min(runtime.GOMAXPROCS(0), (n-from)/4096+1)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := from+(n-from)*w/workers, from+(n-from)*(w+1)/workers
		wg.Go(func() { part(lo, hi) })
	}
	wg.Wait()
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
	ids := ix.termScratch[:0]
	for rest := terms; rest != ""; {
		var t string
		t, rest, _ = strings.Cut(rest, " ")
		if t == "" {
			continue
		}
		h := retrieval.TermHash(t)
		id, ok := ix.termIDs[h]
		if !ok {
			id = int32(len(ix.postings))
			ix.termIDs[h] = id
			ix.postings = append(ix.postings, nil)
			ix.df = append(ix.df, 0)
		}
		ids = append(ids, id)
	}
	ix.termScratch = ids
	ch.length = int32(len(ids))
	if len(ix.chunkTerms)+len(ids) > math.MaxUint32 {
		return false, fmt.Errorf("load chunks: more than %d term entries", uint32(math.MaxUint32))
	}
	ch.termsAt = uint32(len(ix.chunkTerms))
	slices.Sort(ids)
	for i := 0; i < len(ids); {
		j := i + 1
		for j < len(ids) && ids[j] == ids[i] {
			j++
		}
		ix.postings[ids[i]] = append(ix.postings[ids[i]], posting{chunk: c, tf: uint16(min(j-i, math.MaxUint16))})
		ix.df[ids[i]]++
		ix.chunkTerms = append(ix.chunkTerms, ids[i])
		ch.nterms++
		i = j
	}
	if space == ix.space && dim > 0 {
		if ix.dim == 0 {
			ix.dim = dim
		}
		ch.hasVec = dim == ix.dim
	}
	ix.chunks = append(ix.chunks, ch)
	ix.chunkDoc = append(ix.chunkDoc, doc)
	ix.chunkLen = append(ix.chunkLen, ch.length)
	ix.chunkSec = append(ix.chunkSec, ch.section)
	ix.slotOfC.set(id, c)
	if cr := &ix.docChunks[doc]; cr.first == cr.end {
		*cr = chunkRange{c, c + 1}
	} else if cr.end == c {
		cr.end++
	} else {
		return false, fmt.Errorf("load chunks: the chunks of %s are not loaded together", ix.docs[doc].key)
	}
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
	ix.docs[slot].alive = false
	for c := ix.docChunks[slot].first; c < ix.docChunks[slot].end; c++ {
		ch := &ix.chunks[c]
		ch.alive = false
		ix.qscale[c] = noVector
		for _, t := range ix.chunkTerms[ch.termsAt : ch.termsAt+uint32(ch.nterms)] {
			ix.df[t]--
		}
		ix.live--
		ix.liveLen -= int64(ch.length)
		ix.dead++
		if ch.hasVec {
			ix.vectors--
			ix.ann.Delete(ch.id)
			ix.unsaved++
		}
		ix.slotOfC.clear(ch.id)
	}
}

// matches applies every part of the filter but its techniques, which filtered applies from the
// per-technique postings.
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
	if !f.Since.IsZero() && (d.occurred == 0 || d.occurred < f.Since.UnixNano()) {
		return false
	}
	if !f.Until.IsZero() && (d.occurred == 0 || d.occurred > f.Until.UnixNano()) {
		return false
	}
	return f.MinSeverity.Rank() == 0 || d.severity >= f.MinSeverity.Rank()
}

// filtered evaluates the filter. A filter without techniques is evaluated once per document and
// memoised for the index as it stands: the signals of one search, and the searches of one tenant,
// share it. A filter with techniques is the same filter without them narrowed to the documents
// that have one of them, found from per-technique postings; it is cheap and rarely repeats, so it
// is not memoised (it would push the tenant's filter out of the memo).
func (ix *index) filtered(f *hindsight.Filter) *filterResult {
	if len(f.Techniques) > 0 {
		base := *f
		base.Techniques, base.Sections = nil, nil // sections narrow chunks, not documents
		br := ix.filtered(&base)
		allowed := br.allowed
		r, _ := techniquePool.Get().(*filterResult)
		if r == nil {
			r = &filterResult{docs: []int32{}}
		}
		r.runs = br.runs // the base filter's runs hold every chunk this one allows
		if len(r.allowed) < len(ix.docs) {
			r.allowed = make([]bool, len(ix.docs)+len(ix.docs)/8)
		}
		r.sections = ix.sectionMask(f.Sections)
		for _, t := range f.Techniques {
			for _, d := range ix.byTechnique[t] {
				if allowed[d] && !r.allowed[d] {
					r.allowed[d] = true
					r.accepted += ix.docs[d].vectors
					r.docs = append(r.docs, d)
				}
			}
		}
		return r
	}
	key := fmt.Sprintf("%q|%t|%q|%d|%d|%s|%q", f.Tenant, f.OtherTenants, f.Kinds,
		f.Since.UnixNano(), f.Until.UnixNano(), f.MinSeverity, f.Sections)
	ix.filterMu.Lock()
	r := ix.filters[key]
	ix.filterMu.Unlock()
	if r != nil {
		return r
	}
	r = &filterResult{allowed: make([]bool, len(ix.docs)), sections: ix.sectionMask(f.Sections)}
	for i := range ix.docs {
		if ix.docs[i].matches(f) {
			r.allowed[i] = true
			r.accepted += ix.vectorsIn(int32(i), r.sections)
		}
	}
	if !ix.noRuns {
		r.runs = ix.runsOf(r.allowed)
	}
	ix.filterMu.Lock()
	if ix.filters == nil || len(ix.filters) >= 64 {
		ix.filters = map[string]*filterResult{}
	}
	ix.filters[key] = r
	ix.filterMu.Unlock()
	return r
}

// intern returns the index's copy of s, for strings that most documents share.
func (ix *index) intern(s string) string {
	if v, ok := ix.names[s]; ok {
		return v
	}
	if ix.names == nil {
		ix.names = map[string]string{}
	}
	ix.names[s] = s
	return s
}

// sectionMask flags, by section ID, the named sections (unknown names flag nothing); nil for no
// names, which keeps every section.
func (ix *index) sectionMask(names []string) []bool {
	if len(names) == 0 {
		return nil
	}
	m := make([]bool, len(ix.sections))
	for _, name := range names {
		if id, ok := ix.sectionID[name]; ok {
			m[id] = true
		}
	}
	return m
}

// vectorsIn counts a document's live chunks with a vector in the flagged sections (nil: all).
func (ix *index) vectorsIn(d int32, sections []bool) int {
	if sections == nil {
		return ix.docs[d].vectors
	}
	n := 0
	for c := ix.docChunks[d].first; c < ix.docChunks[d].end; c++ {
		if ch := &ix.chunks[c]; ch.alive && ch.hasVec && sections[ch.section] {
			n++
		}
	}
	return n
}

// chunkSlots maps chunk row IDs to chunk slots. Row IDs are handed out in order and never reused,
// so a table indexed by them is dense; it holds slot+1, 0 for none.
type chunkSlots []int32

func (t chunkSlots) get(id uint32) (int32, bool) {
	if int(id) < len(t) && t[id] > 0 {
		return t[id] - 1, true
	}
	return 0, false
}

func (t *chunkSlots) set(id uint32, slot int32) {
	if int(id) >= len(*t) {
		*t = append(*t, make([]int32, max(int(id)+1-len(*t), len(*t)/2))...)
	}
	(*t)[id] = slot + 1
}

func (t chunkSlots) clear(id uint32) {
	if int(id) < len(t) {
		t[id] = 0
	}
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

// bm25 scores the best chunk of every document the filter allows for the terms and returns the n
// best.
func (ix *index) bm25(terms []string, fr *filterResult, n int) []scored {
	var qs []queryTerm
	seen := map[int32]bool{}
	for _, t := range terms {
		if id, ok := ix.termIDs[retrieval.TermHash(t)]; ok && !seen[id] && ix.df[id] > 0 {
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
	best := ix.scoreTerms(qs[:rare], fr, n)
	if len(best) < n && rare < len(qs) {
		// Too few documents have the informative terms: the common ones decide the rest.
		best = ix.scoreTerms(qs, fr, n)
	}
	return best
}

// scoreTerms accumulates BM25 over the terms' postings, keeps each document's best chunk and
// returns the n best documents; scored.id is the chunk.
func (ix *index) scoreTerms(qs []queryTerm, fr *filterResult, n int) []scored {
	allowed, sections := fr.allowed, fr.sections
	chunkDoc, chunkLen, chunkSec := ix.chunkDoc, ix.chunkLen, ix.chunkSec
	N := float64(ix.live)
	avg := float64(ix.liveLen) / N
	// A posting adds w·tf / (tf + k1·(1 − b + b·len/avg)), with the constants worked out once.
	lenA, lenB := float32(bm25K1*(1-bm25B)), float32(bm25K1*bm25B/avg)
	sc := ix.scratch()
	defer scratchPool.Put(sc)
	acc, touched := sc.acc, sc.touched
	runs := fr.runs
	if runs == nil {
		runs = allChunks
	}
	for _, q := range qs {
		df := float64(q.df)
		w := float32(math.Log(1+(N-df+0.5)/(df+0.5)) * (bm25K1 + 1))
		ps := ix.postings[q.id]
		for _, run := range runs {
			// Postings are in chunk order: the run's start is found by binary search.
			from := sort.Search(len(ps), func(i int) bool { return ps[i].chunk >= run.first })
			for _, p := range ps[from:] {
				c := p.chunk
				if c >= run.end {
					break
				}
				// A chunk dies only with its document, which no filter allows.
				if !allowed[chunkDoc[c]] || sections != nil && !sections[chunkSec[c]] {
					continue
				}
				tf := float32(p.tf)
				if acc[c] == 0 {
					touched = append(touched, c)
				}
				acc[c] += w * tf / (tf + lenA + lenB*float32(chunkLen[c]))
			}
		}
	}
	sc.touched = touched
	// Each document's best chunk, in sc.best by doc slot (chunk slot + 1; 0 none).
	docs := sc.docs[:0]
	defer func() { sc.docs = docs[:0] }()
	for _, c := range sc.touched {
		d := ix.chunkDoc[c]
		b := sc.best[d]
		switch {
		case b == 0:
			docs = append(docs, d)
			sc.best[d] = c + 1
		case sc.acc[c] > sc.acc[b-1] || (sc.acc[c] == sc.acc[b-1] && c < b-1):
			sc.best[d] = c + 1
		}
	}
	h := &topK{n: n}
	for _, d := range docs {
		c := sc.best[d] - 1
		h.offer(c, sc.acc[c])
		sc.best[d] = 0
	}
	for _, c := range sc.touched {
		sc.acc[c] = 0
	}
	sc.touched = sc.touched[:0]
	return h.sorted()
}

// scratch is the working memory of a text search, sized to the index and reused between searches
// so that a search allocates nothing in proportion to the index. Every entry is zero between uses.
type scratch struct {
	acc     []float32 // by chunk slot: the chunk's score so far
	touched []int32   // chunk slots with a score
	best    []int32   // by doc slot: its best chunk's slot + 1
	docs    []int32   // doc slots with a best chunk
}

var scratchPool sync.Pool

func (ix *index) scratch() *scratch {
	sc, _ := scratchPool.Get().(*scratch)
	if sc == nil {
		sc = &scratch{}
	}
	if len(sc.acc) < len(ix.chunks) {
		sc.acc = make([]float32, len(ix.chunks)+len(ix.chunks)/8)
	}
	if len(sc.best) < len(ix.docs) {
		sc.best = make([]int32, len(ix.docs)+len(ix.docs)/8)
	}
	return sc
}

// nearest returns each allowed document's nearest chunk (cosine) for the n nearest documents. The
// HNSW index searches chunks with the filter applied inside the search; documents have several
// chunks, so it asks for more chunks than documents and widens the request until n documents are
// found or every accepted chunk has been seen.
func (ix *index) nearest(ctx context.Context, vec []float32, fr *filterResult, n int) ([]scored, error) {
	if ix.ann == nil || ix.vectors == 0 {
		return nil, nil
	}
	allowed, sections, accepted := fr.allowed, fr.sections, fr.accepted
	if accepted == 0 {
		return nil, nil
	}
	if fr.docs != nil {
		// The filter knows its documents: list their vectors, then score them all or, when they
		// are too many, walk the graph knowing how many it accepts.
		sc, _ := scanPool.Get().(*scanScratch)
		if sc == nil {
			sc = &scanScratch{}
		}
		defer scanPool.Put(sc)
		sc.list(ix, fr.docs, sections)
		accepted = len(sc.slots)
		if accepted == 0 {
			return nil, nil
		}
		if float64(accepted)*float64(accepted) <= scoreAllFactor*float64(ix.vectors) {
			return ix.scoreAll(vec, sc, n), nil
		}
	}
	accept := func(id uint32) bool {
		c, ok := ix.slotOfC.get(id)
		if !ok {
			return false
		}
		ch := &ix.chunks[c]
		return ch.alive && ch.hasVec && allowed[ch.doc] && (sections == nil || sections[ch.section])
	}
	for k := 3 * n; ; k *= 2 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		res := ix.ann.SearchFilter(vec, min(k, accepted), max(annEfSearch, min(k, accepted)), hnsw.Filter{Accept: accept, Accepted: accepted})
		best := map[int32]scored{}
		for _, r := range res {
			c, _ := ix.slotOfC.get(r.ID)
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

// scoreAllFactor decides when a filtered search that knows its documents scores their A vectors
// one by one rather than walking the graph. A walk visits about 10·ef·N/A of the N vectors to fill
// its beam with accepted ones, each visit costing about two dot products (retrieval/hnsw's cost
// model); scoring costs A. Scoring is the cheaper while A² ≤ 20·ef·N: at 400,000 vectors, up to
// about 28,000 of them.
const scoreAllFactor = 20 * annEfSearch

// scoreAll scores the vectors sc lists (list: a document's chunks in a row) and returns each document's nearest
// chunk for the n nearest documents, exactly as scoring every float vector would. It scores the
// quantized vectors (qvecs) first, a quarter of the memory to read, each within a known bound of
// its exact score; the chunks whose bound still reaches the n-th document's least possible score
// are then scored exactly, usually a few dozen of thousands.
func (ix *index) scoreAll(vec []float32, sc *scanScratch, n int) []scored {
	dim := ix.dim
	f := hnsw.QuantBound(vec)
	upper := slices.Grow(sc.scores[:0], len(sc.slots))[:len(sc.slots)]
	lows := &topK{n: n} // by document: the least its best chunk can score
	for i := 0; i < len(sc.slots); {
		d := ix.chunkDoc[sc.slots[i]]
		lo, ok := float32(0), false
		for ; i < len(sc.slots) && ix.chunkDoc[sc.slots[i]] == d; i++ {
			c := sc.slots[i]
			if i+8 < len(sc.slots) { // the vectors lie far apart: fetch ahead
				nc := sc.slots[i+8]
				hnsw.Prefetch(ix.qvecs[int(nc)*dim : int(nc+1)*dim])
			}
			s := ix.qscale[c]
			if s != s { // not in the graph
				upper[i] = s
				continue
			}
			a, e := s*hnsw.DotInt8(vec, ix.qvecs[int(c)*dim:int(c+1)*dim]), s*f
			upper[i] = a + e
			if !ok || a-e > lo {
				lo, ok = a-e, true
			}
		}
		if ok {
			lows.offer(d, lo)
		}
	}
	// n documents score at least threshold, so a chunk that cannot reach it is no document's
	// best among the n nearest.
	threshold := float32(math.Inf(-1))
	if len(lows.items) == n {
		threshold = lows.items[0].score
	}
	ids, slots := sc.ids[:0], sc.slots[:0]
	for j, u := range upper {
		if u >= threshold { // false for NaN
			c := sc.slots[j]
			ids, slots = append(ids, ix.chunks[c].id), append(slots, c)
		}
	}
	sc.ids, sc.slots = ids, slots
	scores := ix.ann.Scores(vec, ids, upper)
	sc.scores = scores[:0]
	h := &topK{n: n}
	for i := 0; i < len(slots); {
		d := ix.chunkDoc[slots[i]]
		best, bestScore := int32(-1), float32(0)
		for ; i < len(slots) && ix.chunkDoc[slots[i]] == d; i++ {
			if s := scores[i]; s == s && (best < 0 || s > bestScore) { // NaN: not in the graph
				best, bestScore = slots[i], s
			}
		}
		if best >= 0 {
			h.offer(best, bestScore)
		}
	}
	return h.sorted()
}

// scanScratch is scoreAll's working memory, reused between searches.
type scanScratch struct {
	slots  []int32 // the listed chunks' slots, document by document
	ids    []uint32
	scores []float32
}

// list lists the live chunks with a vector of docs, in the flagged sections (nil: all). It reads
// only dense arrays (docChunks, qscale, chunkSec), a few bytes per document and chunk.
func (sc *scanScratch) list(ix *index, docs []int32, sections []bool) {
	sc.slots = sc.slots[:0]
	for _, d := range docs {
		for c := ix.docChunks[d].first; c < ix.docChunks[d].end; c++ {
			if ix.qscale[c] != noVector && (sections == nil || sections[ix.chunkSec[c]]) {
				sc.slots = append(sc.slots, c)
			}
		}
	}
}

var scanPool sync.Pool

// candidate turns a scored chunk into the candidate of its document.
func (ix *index) candidate(s scored) hindsight.Candidate {
	ch := &ix.chunks[s.id]
	return hindsight.Candidate{Doc: ix.docs[ch.doc].key, Section: ix.sections[ch.section], Score: float64(s.score)}
}
