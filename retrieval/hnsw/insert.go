package hnsw

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"
)

// builder holds the locks that let several goroutines insert into one index at once (the scheme
// of hnswlib). A goroutine holds at most one node lock at a time, and takes entry only before any
// node lock, so no lock order can deadlock.
type builder struct {
	// nodes guards neighbour lists, striped by slot: with two to a few dozen inserting
	// goroutines, collisions on 4096 stripes are rare, and the stripes cost 32 KiB instead of
	// a mutex per vector.
	nodes [4096]sync.Mutex
	// entry guards the index's entry point and top level. An insertion that will raise the top
	// level holds it throughout, so that no other sees a half-linked entry point.
	entry sync.Mutex
}

func (b *builder) lock(s uint32)   { b.nodes[s%uint32(len(b.nodes))].Lock() }
func (b *builder) unlock(s uint32) { b.nodes[s%uint32(len(b.nodes))].Unlock() }

// insertSlots links slots [lo, hi), already placed, into the graph with the given number of
// goroutines. The caller holds the write lock.
func (x *Index) insertSlots(lo, hi uint32, workers int, b *builder) {
	sc := x.searcher()
	defer x.searchers.Put(sc)
	if !x.hasEntry && lo < hi {
		// The first vector becomes the entry point; nothing to search yet.
		x.insert(lo, sc, nil)
		lo++
	}
	if workers <= 1 || b == nil || hi-lo < 2 {
		for s := lo; s < hi; s++ {
			x.insert(s, sc, nil)
		}
		return
	}
	next := atomic.Uint32{}
	next.Store(lo)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc := x.searcher()
			defer x.searchers.Put(sc)
			for {
				s := next.Add(1) - 1
				if s >= hi {
					return
				}
				x.insert(s, sc, b)
			}
		}()
	}
	wg.Wait()
}

// insert links slot s into the graph: algorithm 1 of the paper. b is nil when the caller is the
// only goroutine touching the graph.
func (x *Index) insert(s uint32, sc *searcher, b *builder) {
	sc.fit(len(x.ids))
	q := x.vec(s)
	level := int(x.levels[s])
	if b != nil {
		b.entry.Lock()
	}
	if !x.hasEntry {
		x.entry, x.top, x.hasEntry = s, level, true
		if b != nil {
			b.entry.Unlock()
		}
		return
	}
	ep, top := x.entry, x.top
	raises := level > top
	if b != nil && !raises {
		b.entry.Unlock()
	}

	cur, curScore := ep, dot(q, x.vec(ep))
	for l := top; l > level; l-- {
		cur, curScore = x.greedy(sc, q, cur, curScore, l, b)
	}
	sc.begin()
	sc.enter(cur, curScore, true)
	for l := min(level, top); l >= 0; l-- {
		x.searchLayer(sc, q, x.efConstruction, l, b, nil)
		cands := sc.sortedResults(s)
		sc.sel = x.selectNeighbours(cands, x.m, sc.sel[:0])
		x.setLinks(s, l, sc.sel, b)
		for _, c := range sc.sel {
			x.addLink(sc, c.slot, l, s, c.score, b)
		}
		// The whole beam, not just the nearest, seeds the layer below: their scores are
		// already known, so this costs no dot products and starts the search wider.
		sc.begin()
		for _, c := range cands {
			sc.enter(c.slot, c.score, true)
		}
	}
	if raises {
		x.entry, x.top = s, level
		if b != nil {
			b.entry.Unlock()
		}
	}
}

// greedy walks layer l from cur to a local maximum of the score: the descent through the upper
// layers, where a beam of one suffices.
func (x *Index) greedy(sc *searcher, q []float32, cur uint32, curScore float32, l int, b *builder) (uint32, float32) {
	for changed := true; changed; {
		changed = false
		for _, n := range x.neighbours(sc, cur, l, b) {
			if s := dot(q, x.vec(n)); s > curScore {
				cur, curScore, changed = n, s, true
			}
		}
	}
	return cur, curScore
}

// neighbours returns slot s's neighbours on layer l. While other goroutines insert, it copies
// them under the node's lock into the searcher's buffer, which the next call overwrites.
func (x *Index) neighbours(sc *searcher, s uint32, l int, b *builder) []uint32 {
	list := x.list(s, l)
	if b == nil {
		return list[1 : 1+list[0]]
	}
	b.lock(s)
	list = list[:1+list[0]]
	sc.nbuf = append(sc.nbuf[:0], list[1:]...)
	b.unlock(s)
	return sc.nbuf
}

// selectNeighbours picks up to m of cands, sorted best first with their scores to the base
// vector, by the heuristic of the paper (algorithm 4, as in hnswlib): a candidate is kept only if
// it is closer to the base than to every candidate already kept. Dropping candidates that a kept
// one already leads to spends the links on different directions, which keeps clusters connected
// to each other; plain nearest-M selection loses recall on clustered data.
func (x *Index) selectNeighbours(cands []item, m int, out []item) []item {
	for _, c := range cands {
		if len(out) >= m {
			break
		}
		vc := x.vec(c.slot)
		keep := true
		for _, r := range out {
			if dot(vc, x.vec(r.slot)) > c.score {
				keep = false
				break
			}
		}
		if keep {
			out = append(out, c)
		}
	}
	return out
}

// setLinks sets slot s's own list on layer l.
func (x *Index) setLinks(s uint32, l int, sel []item, b *builder) {
	if b != nil {
		b.lock(s)
		defer b.unlock(s)
	}
	setList(x.list(s, l), sel)
}

func setList(list []uint32, sel []item) {
	for i, c := range sel {
		list[1+i] = c.slot
	}
	list[0] = uint32(len(sel))
}

// addLink links n to s on layer l, where score is their dot product. When n's list is full the
// heuristic chooses among its neighbours and s, as it does for a new vector.
func (x *Index) addLink(sc *searcher, n uint32, l int, s uint32, score float32, b *builder) {
	if b != nil {
		b.lock(n)
		defer b.unlock(n)
	}
	list := x.list(n, l)
	cnt := int(list[0])
	if slices.Contains(list[1:1+cnt], s) {
		return
	}
	if cnt < len(list)-1 {
		list[1+cnt] = s
		list[0]++
		return
	}
	vn := x.vec(n)
	cands := append(sc.prune[:0], item{score, s})
	for _, e := range list[1 : 1+cnt] {
		cands = append(cands, item{dot(vn, x.vec(e)), e})
	}
	slices.SortFunc(cands, byScoreDesc)
	sc.prune = cands
	sel := x.selectNeighbours(cands, len(list)-1, sc.psel[:0])
	sc.psel = sel
	setList(list, sel)
}

func byScoreDesc(a, b item) int {
	switch {
	case a.score > b.score:
		return -1
	case a.score < b.score:
		return 1
	}
	return cmp.Compare(a.slot, b.slot)
}
