package sqlite

import (
	"container/heap"
	"context"
	"sort"
	"strings"

	"github.com/hindsightsec/hindsight"
)

// SearchVectors returns, for the n documents whose chunks are nearest to vec in the given space,
// each document's nearest chunk with its cosine similarity, best first. Only documents that pass
// the filter are considered; documents embedded in another space never are.
func (db *DB) SearchVectors(ctx context.Context, space hindsight.Space, vec []float32, f hindsight.Filter, n int) ([]hindsight.Candidate, error) {
	if len(vec) != space.Dim {
		return nil, hindsight.Invalid("vector", "has %d values, the space %s has %d", len(vec), space, space.Dim)
	}
	ix, err := db.current(ctx, space.String())
	if err != nil {
		return nil, err
	}
	defer ix.mu.RUnlock()
	if n <= 0 || ix.dim != space.Dim {
		return nil, nil
	}
	fr := ix.filtered(&f)
	defer fr.release()
	best, err := ix.nearest(ctx, vec, fr, n)
	if err != nil {
		return nil, err
	}
	out := make([]hindsight.Candidate, len(best))
	for i, s := range best {
		out[i] = ix.candidate(s)
	}
	return out, nil
}

// SearchText returns, for the n documents whose chunks best match any of the terms by BM25, each
// document's best chunk with its BM25 score (higher is better), best first.
func (db *DB) SearchText(ctx context.Context, terms []string, f hindsight.Filter, n int) ([]hindsight.Candidate, error) {
	if n <= 0 || len(terms) == 0 {
		return nil, nil
	}
	ix, err := db.current(ctx, "")
	if err != nil {
		return nil, err
	}
	defer ix.mu.RUnlock()
	fr := ix.filtered(&f)
	defer fr.release()
	best := ix.bm25(terms, fr, n)
	out := make([]hindsight.Candidate, len(best))
	for i, s := range best {
		out[i] = ix.candidate(s)
	}
	return out, nil
}

// current returns the search index brought up to the change log's position, read-locked (see
// index.current).
func (db *DB) current(ctx context.Context, space string) (*index, error) {
	seq, err := db.lastChange(ctx)
	if err != nil {
		return nil, &hindsight.Error{Code: hindsight.EUNAVAILABLE, Message: "store does not answer", Err: err}
	}
	return db.index.current(ctx, db.r, seq, space, db.cacheChanged)
}

// Warm loads the in-memory search index for a space, so that the first search does not pay for
// it. On a large store this reads every chunk and builds the vector graph: a server calls it before
// it starts listening.
func (db *DB) Warm(ctx context.Context, space hindsight.Space) error {
	ix, err := db.current(ctx, space.String())
	if err != nil {
		return err
	}
	ix.mu.RUnlock()
	return nil
}

// cacheChanged keeps the document cache in step with the index refresh: a reload (nil keys with a
// jump) empties it, a catch-up drops just the documents that changed.
func (db *DB) cacheChanged(from, to int64, keys []hindsight.DocKey) {
	if keys == nil {
		db.cache.advance(-1, to, nil)
		return
	}
	db.cache.advance(from, to, keys)
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

type scored struct {
	id    int32
	score float32
}

// topK is a min-heap that keeps the n best scores offered; ties go to the lower id, so results
// are deterministic.
type topK struct {
	n     int
	items []scored
}

func (h *topK) Len() int { return len(h.items) }
func (h *topK) Less(i, j int) bool {
	a, b := h.items[i], h.items[j]
	return a.score < b.score || (a.score == b.score && a.id > b.id)
}
func (h *topK) Swap(i, j int) { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *topK) Push(x any)    { h.items = append(h.items, x.(scored)) }
func (h *topK) Pop() any {
	old := h.items
	x := old[len(old)-1]
	h.items = old[:len(old)-1]
	return x
}

func (h *topK) offer(id int32, s float32) {
	e := scored{id, s}
	if len(h.items) < h.n {
		heap.Push(h, e)
	} else if h.n > 0 && (s > h.items[0].score || (s == h.items[0].score && id < h.items[0].id)) {
		h.items[0] = e
		heap.Fix(h, 0)
	}
}

// sorted returns the kept scores, best first.
func (h *topK) sorted() []scored {
	out := append([]scored(nil), h.items...)
	sort.Slice(out, func(i, j int) bool {
		return out[i].score > out[j].score || (out[i].score == out[j].score && out[i].id < out[j].id)
	})
	return out
}
