package hnsw

import (
	"math"
	"slices"
)

// Filter restricts a search to some ids.
type Filter struct {
	// Accept reports whether an id may be returned. It is called from the searching goroutine
	// only, for ids the search comes across (every id, if the search falls back to an exact
	// scan; some twice, if it falls back midway), and must not call the index. Nil accepts
	// every id.
	Accept func(id uint32) bool
	// Accepted is how many ids in the index Accept accepts, if the caller knows or can
	// estimate it (a tenant's size, a SQL count). Zero means unknown: the search then
	// estimates the share from the ids it meets. A wrong value costs time, never results.
	Accepted int
}

// The cost model that chooses between the graph and an exact scan, in units of one vector
// scored by the scan. Measured with TestMillion: the scan scores a vector in about 0.2 µs
// (memory-bound) and tests one it skips in about 4 ns; the walk spends about 0.35 µs per vector
// visited at 100,000 vectors and 1 µs at 1,000,000, where nearly every visit misses the cache.
const (
	// costAccept is a call to Accept and the tombstone check, which the exact scan pays for
	// every vector in the index.
	costAccept = 0.02
	// costVisit is a vector visited by the walk: its dot product, a likely cache miss, the
	// visited set and the heaps.
	costVisit = 2
	// visitsPerEf is about how many vectors an unfiltered search visits on layer 0 per unit of
	// ef. Measured at M = 16 on 10,000 to 50,000 vectors: 15 at ef 16, 9 at ef 64 and 4 at ef
	// 256 on clustered data, 18 to 34 on uniform data. Being off by two only moves the point
	// where the exact scan takes over by a factor of two in selectivity.
	visitsPerEf = 10
	// minSample is how many vectors a filtered search tests before trusting its estimate of the
	// share Accept accepts.
	minSample = 256
)

// Search returns the k vectors nearest to q (highest dot product) that accept accepts, best
// first, found with a beam of width ef: larger is slower and finds more of the true nearest. An
// ef of zero or less means Options.EfSearch; ef below k is raised to k. accept nil accepts every
// id. Search returns fewer than k results only when the index holds fewer than k accepted ids.
// It panics if len(q) is not Dim().
//
// A filter is applied during the search, not after it: the beam only holds accepted vectors, so
// the graph is walked until ef of them are found, which widens the search in proportion to how
// selective the filter is. When the filter is so selective that walking the graph would cost
// more than scoring every accepted vector, Search scores them all instead, which is exact.
func (x *Index) Search(q []float32, k, ef int, accept func(id uint32) bool) []Result {
	return x.SearchFilter(q, k, ef, Filter{Accept: accept})
}

// SearchFilter is Search with a filter that may say how many ids it accepts, which lets a very
// selective filter go straight to the exact scan.
func (x *Index) SearchFilter(q []float32, k, ef int, f Filter) []Result {
	return x.search(q, k, ef, f, auto)
}

// strategy says how a search may proceed; tests force one or the other.
type strategy int

const (
	auto      strategy = iota // the cost model chooses
	graphOnly                 // walk the graph whatever it costs
	exactOnly                 // score every accepted vector
)

func (x *Index) search(q []float32, k, ef int, f Filter, how strategy) []Result {
	x.checkDim(len(q), "Search")
	if k <= 0 {
		return nil
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.live == 0 {
		return nil
	}
	if ef <= 0 {
		ef = x.efSearch
	}
	ef = max(ef, k)
	sc := x.searcher()
	defer x.searchers.Put(sc)
	sc.fit(len(x.ids))

	if how == exactOnly {
		return x.exact(sc, q, k, f.Accept)
	}
	var fl *filter
	if f.Accept != nil || x.live < len(x.ids) {
		fl = &sc.filt
		*fl = filter{accept: f.Accept, n: len(x.ids), ef: ef, check: minSample}
		if how == graphOnly {
			fl.check = math.MaxInt
		}
		if f.Accept == nil {
			fl.hint = x.live
		} else {
			fl.hint = min(f.Accepted, x.live)
		}
		if how == auto && fl.hint > 0 && fl.preferExact(float64(fl.hint)/float64(fl.n)) {
			return x.exact(sc, q, k, f.Accept)
		}
	}
	cur, curScore := x.entry, dot(q, x.vec(x.entry))
	for l := x.top; l > 0; l-- {
		cur, curScore = x.greedy(sc, q, cur, curScore, l, nil)
	}
	sc.begin()
	sc.enter(cur, curScore, fl == nil || fl.ok(x, cur))
	if !x.searchLayer(sc, q, ef, 0, nil, fl) || how == auto && len(sc.res) < min(k, x.live) {
		// Either the walk became dearer than a scan, or it ran out of reachable vectors: a
		// graph that deletions have left sparse can strand some.
		return x.exact(sc, q, k, f.Accept)
	}
	return sc.results(x, k)
}

// searchLayer is the beam search of the paper (algorithm 2) on layer l, from the entry points the
// searcher holds. It leaves the best ef vectors that pass f (all of them when f is nil) in
// sc.res. It reports false if f's budget stopped it first.
func (x *Index) searchLayer(sc *searcher, q []float32, ef, l int, b *builder, f *filter) bool {
	for len(sc.cand) > 0 {
		c := sc.cand.pop()
		if len(sc.res) >= ef && -c.score < sc.res[0].score {
			break
		}
		for _, n := range x.neighbours(sc, c.slot, l, b) {
			if !sc.seen.visit(n) {
				continue
			}
			sc.visits++
			s := dot(q, x.vec(n))
			if len(sc.res) < ef || s > sc.res[0].score {
				// Vectors the filter rejects still join the candidates: the walk routes
				// through them to reach accepted ones.
				sc.cand.push(item{-s, n})
				if f == nil || f.ok(x, n) {
					sc.res.push(item{s, n})
					if len(sc.res) > ef {
						sc.res.pop()
					}
				}
			}
		}
		if f != nil && sc.visits >= f.check && f.abort(sc.visits) {
			return false
		}
	}
	return true
}

// Scores returns the score (dot product with q) of each of ids, in out (grown when too short),
// NaN for an id the index does not hold. It is the exact search of a caller that already knows
// which few ids may match: scoring them costs one dot product each, where Search's exact scan
// asks its filter about every vector. It panics if len(q) is not Dim().
func (x *Index) Scores(q []float32, ids []uint32, out []float32) []float32 {
	x.checkDim(len(q), "Scores")
	out = slices.Grow(out[:0], len(ids))[:len(ids)]
	x.mu.RLock()
	defer x.mu.RUnlock()
	// Vectors are scored in the order they lie in memory, not in the order of ids: over a large
	// index, reading them in place order is about 1.6 times as fast as reading them at random.
	sc := x.searcher()
	defer x.searchers.Put(sc)
	order := sc.order[:0] // slot<<32 | index in ids
	defer func() { sc.order = order[:0] }()
	for i, id := range ids {
		if s, ok := x.slotOf(id); ok {
			order = append(order, uint64(s)<<32|uint64(i))
		} else {
			out[i] = float32(math.NaN())
		}
	}
	slices.Sort(order)
	for _, o := range order {
		out[uint32(o)] = dot(q, x.vec(uint32(o>>32)))
	}
	return out
}

// exact scores every live vector that accept accepts and returns the best k.
func (x *Index) exact(sc *searcher, q []float32, k int, accept func(uint32) bool) []Result {
	sc.res = sc.res[:0]
	for s := range uint32(len(x.ids)) {
		if x.dead[s] || accept != nil && !accept(x.ids[s]) {
			continue
		}
		score := dot(q, x.vec(s))
		if len(sc.res) < k {
			sc.res.push(item{score, s})
		} else if score > sc.res[0].score {
			sc.res.replaceTop(item{score, s})
		}
	}
	return sc.results(x, k)
}

// filter is the state of one filtered search: which vectors pass, and the running estimate of
// the share that do, from which it judges whether an exact scan would be cheaper.
type filter struct {
	accept         func(uint32) bool
	n              int // slots, tombstones included: what the exact scan goes through
	ef             int
	hint           int // accepted ids the caller announced; 0 unknown
	tested, passed int
	check          int // visit count at which to judge the cost again
}

func (f *filter) ok(x *Index, s uint32) bool {
	f.tested++
	if x.dead[s] || f.accept != nil && !f.accept(x.ids[s]) {
		return false
	}
	f.passed++
	return true
}

// exactCost is the cost of the exact scan if a share sel of the vectors is accepted.
func (f *filter) exactCost(sel float64) float64 {
	return float64(f.n) * (costAccept + sel)
}

// graphVisits predicts how many vectors the walk visits to fill a beam of ef accepted vectors
// if a share sel of them is accepted.
func (f *filter) graphVisits(sel float64) float64 {
	return visitsPerEf * float64(f.ef) / sel
}

// preferExact reports whether the exact scan is expected to be cheaper than the walk.
func (f *filter) preferExact(sel float64) bool {
	return f.graphVisits(sel)*costVisit > f.exactCost(sel)
}

// abort reports whether a walk that has visited that many vectors should give up for the exact
// scan: because it has already spent what the scan costs, or because what it still expects to
// spend does.
func (f *filter) abort(visits int) bool {
	f.check = visits + 64
	sel := float64(f.passed+1) / float64(f.tested+2)
	if f.hint > 0 {
		sel = float64(f.hint) / float64(f.n)
	}
	exact := f.exactCost(sel)
	spent := float64(visits) * costVisit
	if spent > exact {
		return true
	}
	return f.tested >= minSample && (f.graphVisits(sel)-float64(visits))*costVisit > exact
}

// item is a slot with its score against the vector searched for or inserted.
type item struct {
	score float32
	slot  uint32
}

// minHeap keeps the item with the lowest score on top. A hand-written heap, rather than
// container/heap, avoids an interface call and an allocation per push on the hottest path.
type minHeap []item

func (h *minHeap) push(it item) {
	a := append(*h, it)
	i := len(a) - 1
	for i > 0 {
		p := (i - 1) / 2
		if a[p].score <= it.score {
			break
		}
		a[i] = a[p]
		i = p
	}
	a[i] = it
	*h = a
}

func (h *minHeap) pop() item {
	a := *h
	top := a[0]
	n := len(a) - 1
	*h = a[:n]
	if n > 0 {
		a[:n].siftDown(a[n])
	}
	return top
}

// replaceTop replaces the top item with it.
func (h minHeap) replaceTop(it item) { h.siftDown(it) }

// siftDown places it at the root and restores the heap order.
func (h minHeap) siftDown(it item) {
	n := len(h)
	i := 0
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if c+1 < n && h[c+1].score < h[c].score {
			c++
		}
		if it.score <= h[c].score {
			break
		}
		h[i] = h[c]
		i = c
	}
	h[i] = it
}

// visited is a set of slots that is cleared in time proportional to what was added, not to the
// size of the index: a million-vector search visits a few thousand.
type visited struct {
	bits  []uint64
	dirty []uint32 // words of bits that are not zero
}

func (v *visited) fit(n int) {
	if w := (n + 63) / 64; len(v.bits) < w {
		v.bits = append(v.bits, make([]uint64, w-len(v.bits))...)
	}
}

// visit adds s and reports whether it was new.
func (v *visited) visit(s uint32) bool {
	w, m := s>>6, uint64(1)<<(s&63)
	old := v.bits[w]
	if old&m != 0 {
		return false
	}
	if old == 0 {
		v.dirty = append(v.dirty, w)
	}
	v.bits[w] = old | m
	return true
}

func (v *visited) clear() {
	for _, w := range v.dirty {
		v.bits[w] = 0
	}
	v.dirty = v.dirty[:0]
}

// searcher is the scratch space of one search or insertion, pooled so that a search allocates
// only its results.
type searcher struct {
	seen   visited
	cand   minHeap // scores negated, so the best candidate is on top
	res    minHeap // the worst result is on top
	visits int
	filt   filter

	nbuf                     []uint32
	sorted, sel, prune, psel []item
	order                    []uint64 // Scores's working memory
}

func (x *Index) searcher() *searcher {
	if sc, ok := x.searchers.Get().(*searcher); ok {
		return sc
	}
	return new(searcher)
}

func (sc *searcher) fit(n int) { sc.seen.fit(n) }

func (sc *searcher) begin() {
	sc.seen.clear()
	sc.cand, sc.res = sc.cand[:0], sc.res[:0]
	sc.visits = 0
}

// enter adds an entry point, and makes it a result too if result is true.
func (sc *searcher) enter(s uint32, score float32, result bool) {
	sc.seen.visit(s)
	sc.cand.push(item{-score, s})
	if result {
		sc.res.push(item{score, s})
	}
}

// sortedResults returns the results best first, without slot self.
func (sc *searcher) sortedResults(self uint32) []item {
	out := sc.sorted[:0]
	for _, it := range sc.res {
		if it.slot != self {
			out = append(out, it)
		}
	}
	slices.SortFunc(out, byScoreDesc)
	sc.sorted = out
	return out
}

// results returns the best k results, best first, with the caller's ids.
func (sc *searcher) results(x *Index, k int) []Result {
	for len(sc.res) > k {
		sc.res.pop()
	}
	out := make([]Result, len(sc.res))
	for i := len(out) - 1; i >= 0; i-- {
		it := sc.res.pop()
		out[i] = Result{ID: x.ids[it.slot], Score: it.score}
	}
	return out
}
