package eval

import "math/bits"

// idTable interns 64-bit keys as dense ids 0, 1, 2, … It replaces the
// Counter dictionaries of the reference implementations: an n-gram of
// order k is keyed by the id of its (k-1)-gram prefix and its last symbol,
// so equal n-grams get equal ids without building strings, and counts live
// in plain slices indexed by id. The table is reset in O(1) between uses by
// bumping a generation stamp.
type idTable struct {
	slots []idSlot
	gen   uint32
	shift uint
	next  int32
}

type idSlot struct {
	key uint64
	id  int32
	gen uint32
}

// reset empties the table and sizes it for up to expected distinct keys.
func (t *idTable) reset(expected int) {
	size := 16
	for size < 2*expected {
		size <<= 1
	}
	if len(t.slots) < size {
		t.slots = make([]idSlot, size)
		t.gen = 0
	}
	t.gen++
	if t.gen == 0 {
		// The stamp wrapped around: old stamps could alias the new one.
		clear(t.slots)
		t.gen = 1
	}
	t.shift = uint(64 - bits.TrailingZeros(uint(len(t.slots))))
	t.next = 0
}

// id returns the id of key, assigning the next free one to a new key.
func (t *idTable) id(key uint64) int32 {
	mask := uint64(len(t.slots) - 1)
	h := (key * 0x9e3779b97f4a7c15) >> t.shift
	for {
		s := &t.slots[h]
		if s.gen != t.gen {
			*s = idSlot{key: key, id: t.next, gen: t.gen}
			t.next++
			return s.id
		}
		if s.key == key {
			return s.id
		}
		h = (h + 1) & mask
	}
}

// ngramKey is the table key of an n-gram whose prefix has id prefix (or
// -1 for a unigram) and whose last symbol is sym.
func ngramKey(prefix int32, sym int32) uint64 {
	return uint64(uint32(prefix))<<32 | uint64(uint32(sym))
}

// nextOrder computes the ids of the order-k n-grams of every sequence in
// syms, given the ids of their order-(k-1) n-grams in prev (ignored for
// k = 1). dst[s][i] is the id of syms[s][i:i+k]. It returns the number of
// distinct ids.
func (t *idTable) nextOrder(dst, prev, syms [][]int32, k int) int {
	total := 0
	for _, s := range syms {
		total += max(0, len(s)-k+1)
	}
	t.reset(total)
	for si, s := range syms {
		d := dst[si][:0]
		for i := 0; i+k <= len(s); i++ {
			p := int32(-1)
			if k > 1 {
				p = prev[si][i]
			}
			d = append(d, t.id(ngramKey(p, s[i+k-1])))
		}
		dst[si] = d
	}
	return int(t.next)
}

// ngramIDs holds per-sequence id buffers for two consecutive orders.
type ngramIDs struct {
	table     idTable
	cur, prev [][]int32
}

// orders calls visit with the n-gram ids of every order from 1 to maxOrder.
// ids[s] lists the ids of sequence s in position order; numIDs bounds them.
func (g *ngramIDs) orders(syms [][]int32, maxOrder int, visit func(k int, ids [][]int32, numIDs int)) {
	for len(g.cur) < len(syms) {
		g.cur = append(g.cur, nil)
		g.prev = append(g.prev, nil)
	}
	n := len(syms)
	for k := 1; k <= maxOrder; k++ {
		numIDs := g.table.nextOrder(g.cur[:n], g.prev[:n], syms, k)
		visit(k, g.cur[:n], numIDs)
		g.cur, g.prev = g.prev, g.cur
	}
}

// counts is a reusable slice of per-id counters.
type counts []int32

// sized returns c with at least n zeroed entries.
func (c counts) sized(n int) counts {
	if cap(c) < n {
		return make(counts, n)
	}
	c = c[:n]
	clear(c)
	return c
}
