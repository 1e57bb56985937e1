package ingest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/retrieval"
)

type itemKind int

const (
	itemDocs     itemKind = iota // a batch of documents: one transaction
	itemPairs                    // a batch of eval pairs
	itemInputEnd                 // an input has been read to its end
	itemBarrier                  // nothing to write: the writer closes written when it gets to it
)

// item is one unit of work through the pipeline, written in the order it was read.
type item struct {
	kind    itemKind
	input   int    // index of the input it was read from
	source  string // what the store records as the documents' source
	bytesAt int64  // bytes of input read when the item was sent, for progress
	recs    []Record
	written chan struct{} // itemBarrier: closed once every item before it is written

	// Set by the preparer.
	writes []hindsight.DocumentWrite
	recOf  []int  // recOf[i]: index in recs of writes[i]
	exists []bool // exists[i]: writes[i] replaces a stored document
	// unchanged counts the documents that need nothing: the reader's count of those it knew by
	// their line (not in recs), then the preparer's of those it found unchanged.
	unchanged int
	touch     []hindsight.LineState // unchanged documents read from a line written differently
	texts     []string              // the texts to embed, in order
	owner     []textRef             // owner[i]: where texts[i]'s vector goes
	pending   atomic.Int32
	ready     chan struct{} // closed when every text is embedded or given up on

	mu     sync.Mutex
	failed map[int]error // index in writes → why it could not be embedded
}

// textRef locates a chunk: writes[w].Chunks[c].
type textRef struct{ w, c int }

// job is one embed call's worth of an item's texts: texts[from:to].
type job struct {
	it       *item
	from, to int
}

// done records that one of the item's jobs is finished.
func (it *item) done() {
	if it.pending.Add(-1) == 0 {
		close(it.ready)
	}
}

// fail marks the document of texts[i] as not embeddable.
func (it *item) fail(i int, err error) {
	it.mu.Lock()
	defer it.mu.Unlock()
	if it.failed == nil {
		it.failed = map[int]error{}
	}
	if _, ok := it.failed[it.owner[i].w]; !ok {
		it.failed[it.owner[i].w] = err
	}
}

func (it *item) hasFailed(i int) bool {
	it.mu.Lock()
	defer it.mu.Unlock()
	_, ok := it.failed[it.owner[i].w]
	return ok
}

// prepareAll turns read batches into writes: it looks up what the store holds, hashes, chunks and
// queues the embed calls. Items go to the writer in read order before their jobs go to the
// embedders, so the writer always knows which item to wait for next.
func (r *runner) prepareAll(ctx context.Context, in <-chan *item, ordered chan<- *item, jobs chan<- job) error {
	for it := range in {
		if it.kind == itemDocs {
			if err := r.prepare(ctx, it); err != nil {
				return err
			}
		}
		n := (len(it.texts) + r.opts.EmbedBatch - 1) / r.opts.EmbedBatch
		it.ready = make(chan struct{})
		it.pending.Store(int32(n))
		if n == 0 {
			close(it.ready)
		}
		select {
		case ordered <- it:
		case <-ctx.Done():
			return ctx.Err()
		}
		for from := 0; from < len(it.texts); from += r.opts.EmbedBatch {
			select {
			case jobs <- job{it: it, from: from, to: min(from+r.opts.EmbedBatch, len(it.texts))}:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return ctx.Err()
}

// prepare decides what each document of a batch needs: unchanged documents nothing; documents
// whose embedded text and space are unchanged a rewrite of their record without embedding; the
// rest new chunks, embedded.
func (r *runner) prepare(ctx context.Context, it *item) error {
	if len(it.recs) == 0 {
		return nil
	}
	keys := make([]hindsight.DocKey, len(it.recs))
	for i, rec := range it.recs {
		keys[i] = rec.Doc.Key()
	}
	states, err := r.store.DocumentStates(ctx, keys)
	if err != nil {
		return fmt.Errorf("read stored state: %w", err)
	}
	for i, rec := range it.recs {
		d := rec.Doc
		// The record's hash alone tells an unchanged document, which is most of them in a nightly
		// run: its sections are not even cut.
		recordHash := recordHash(d)
		st, exists := states[d.Key()]
		if exists && st.RecordHash == recordHash && st.Space == r.space && st.Source == it.source {
			it.unchanged++
			if rec.lineHash != st.LineHash && rec.lineHash != "" {
				// The same record, written differently: remember this line so that the next run
				// knows it without decoding it.
				it.touch = append(it.touch, hindsight.LineState{Key: d.Key(), DocState: hindsight.DocState{RecordHash: recordHash, LineHash: rec.lineHash}})
			}
			continue
		}
		sections, contentHash := contentHash(d)
		w := hindsight.DocumentWrite{Document: d, Source: it.source, RecordHash: recordHash, ContentHash: contentHash, Space: r.space,
			LineHash: rec.lineHash}
		// A document stored in another space is embedded again even when its text is unchanged:
		// its vectors could not be compared with the new space's.
		if !exists || st.ContentHash != contentHash || st.Space != r.space {
			w.Chunks = make([]hindsight.Chunk, len(sections))
			for c, s := range sections {
				w.Chunks[c] = hindsight.Chunk{Seq: c, Section: s.Name, Text: s.Text, Terms: retrieval.Tokenize(s.Text)}
				it.texts = append(it.texts, s.Text)
				it.owner = append(it.owner, textRef{w: len(it.writes), c: c})
			}
		}
		it.writes = append(it.writes, w)
		it.recOf = append(it.recOf, i)
		it.exists = append(it.exists, exists)
	}
	return nil
}

// writeAll writes the items in order, each batch of documents in one transaction, waiting for
// each item's embeddings.
func (r *runner) writeAll(ctx context.Context, ordered <-chan *item) error {
	for it := range ordered {
		select {
		case <-it.ready:
		case <-ctx.Done():
			return ctx.Err()
		}
		// A cancelled run writes nothing more, even what is ready.
		if err := ctx.Err(); err != nil {
			return err
		}
		switch it.kind {
		case itemDocs:
			if err := r.writeDocs(ctx, it); err != nil {
				return err
			}
			if ls, ok := r.store.(LineStore); ok && len(it.touch) > 0 {
				if err := ls.SetDocumentLineHashes(ctx, it.touch); err != nil {
					return fmt.Errorf("record line hashes: %w", err)
				}
			}
			r.unchanged += it.unchanged
			r.progress.unchanged.Add(int64(it.unchanged))
		case itemPairs:
			if err := r.importPairs(ctx, it.recs); err != nil {
				return err
			}
		case itemInputEnd:
			r.progress.filesDone.Add(1)
		case itemBarrier:
			close(it.written)
		}
		r.progress.bytes.Store(it.bytesAt)
	}
	return ctx.Err()
}

// writeDocs stores an item's documents, less those the embedder failed on, which are rejected.
func (r *runner) writeDocs(ctx context.Context, it *item) error {
	var idx []int // indexes in it.writes of what is written
	for i := range it.writes {
		if err, failed := it.failed[i]; failed {
			r.reject(it.recs[it.recOf[i]], "not stored: embedding failed: "+err.Error())
			continue
		}
		idx = append(idx, i)
	}
	return r.writeSome(ctx, it, idx)
}

// writeSome writes the documents it.writes[idx...] in one transaction. When the store refuses the
// batch because of what is in it (see refused), the halves are written separately, down to the
// single document the store refuses, which is rejected: one bad document costs only itself. Any
// other failure (the store down, the connection lost) fails the run; what was committed stays,
// each document whole, and the next run writes the rest.
func (r *runner) writeSome(ctx context.Context, it *item, idx []int) error {
	if len(idx) == 0 {
		return nil
	}
	ws := make([]hindsight.DocumentWrite, len(idx))
	for i, w := range idx {
		ws[i] = it.writes[w]
	}
	err := r.store.WriteDocuments(ctx, ws)
	if err == nil {
		for _, w := range idx {
			if it.exists[w] {
				r.updated++
			} else {
				r.inserted++
			}
		}
		r.progress.stored.Add(int64(len(idx)))
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if !refused(err) {
		return fmt.Errorf("store documents: %w", err)
	}
	if len(idx) == 1 {
		r.logger.Warn("ingest: the store refused a document", "doc", ws[0].Document.Key().String(), "error", err)
		r.reject(it.recs[it.recOf[idx[0]]], "not stored: the store refused it: "+err.Error())
		return nil
	}
	half := len(idx) / 2
	if err := r.writeSome(ctx, it, idx[:half]); err != nil {
		return err
	}
	return r.writeSome(ctx, it, idx[half:])
}

// refused reports whether a write failed because of the data written rather than because of the
// store: an EINVALID or ETOOLARGE error, or a database's data exception or integrity violation
// (SQLSTATE classes 22 and 23, as PostgreSQL drivers report them). Everything else (unavailable,
// connection errors, errors of unknown cause) is taken as the store's failure: retrying the same
// documents one by one against a store that is failing would only hide that it is.
func refused(err error) bool {
	switch hindsight.ErrorCode(err) {
	case hindsight.EINVALID, hindsight.ETOOLARGE:
		return true
	}
	var s interface{ SQLState() string }
	if errors.As(err, &s) {
		state := s.SQLState()
		return strings.HasPrefix(state, "22") || strings.HasPrefix(state, "23")
	}
	return false
}

// reject records a document or pair the writer could not store.
func (r *runner) reject(rec Record, reason string) {
	r.wrote = append(r.wrote, hindsight.Rejection{File: rec.File, Line: rec.Line, Error: reason})
	r.progress.rejected.Add(1)
}

// importPairs imports eval pairs. A batch that conflicts with drafts made through the API is
// imported again one pair at a time, so that only the conflicting pairs are rejected.
func (r *runner) importPairs(ctx context.Context, recs []Record) error {
	pairs := make([]hindsight.Pair, len(recs))
	for i, rec := range recs {
		pairs[i] = *rec.Pair
	}
	ins, upd, same, err := r.store.ImportPairs(ctx, pairs)
	if hindsight.ErrorCode(err) == hindsight.ECONFLICT {
		ins, upd, same = 0, 0, 0
		for _, rec := range recs {
			i, u, s, err := r.store.ImportPairs(ctx, []hindsight.Pair{*rec.Pair})
			if hindsight.ErrorCode(err) == hindsight.ECONFLICT {
				r.wrote = append(r.wrote, hindsight.Rejection{File: rec.File, Line: rec.Line, Field: "id", Error: hindsight.ErrorMessage(err)})
				r.progress.rejected.Add(1)
				continue
			} else if err != nil {
				return fmt.Errorf("import pairs: %w", err)
			}
			ins, upd, same = ins+i, upd+u, same+s
		}
	} else if err != nil {
		return fmt.Errorf("import pairs: %w", err)
	}
	r.inserted += ins
	r.updated += upd
	r.unchanged += same
	r.progress.stored.Add(int64(ins + upd))
	r.progress.unchanged.Add(int64(same))
	return nil
}
