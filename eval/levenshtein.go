package eval

import "math/bits"

// CharEditDistance returns the normalised character edit distance between
// a draft and its final: the Levenshtein distance counted in code points
// (insertions, deletions and substitutions of one rune each cost 1),
// divided by the length in runes of the longer text. It is 0 for equal
// texts, 1 for texts with nothing in common, and 0 when both are empty.
// Invalid UTF-8 bytes count as one U+FFFD rune each.
func CharEditDistance(a, b string) float64 {
	var l levenshtein
	return l.normalized(a, b)
}

// levenshtein holds the reusable buffers of the edit distance of one
// goroutine.
type levenshtein struct {
	a, b   []rune
	ids    map[rune]int32
	peq    []uint64
	pv, mv []uint64
}

func (l *levenshtein) normalized(a, b string) float64 {
	l.a = appendRunes(l.a[:0], a)
	l.b = appendRunes(l.b[:0], b)
	longest := max(len(l.a), len(l.b))
	if longest == 0 {
		return 0
	}
	return float64(l.distance(l.a, l.b)) / float64(longest)
}

func appendRunes(dst []rune, s string) []rune {
	for _, r := range s {
		dst = append(dst, r)
	}
	return dst
}

// distance returns the Levenshtein distance of a and b with Myers'
// bit-parallel algorithm in Hyyrö's block form: the column of the edit
// matrix is held as vertical +1/−1 deltas in 64-row blocks, so a text of n
// runes against a pattern of m costs O(n·⌈m/64⌉) word operations instead
// of the O(n·m) cells of the table. Texts of a few thousand characters are
// what drafts are, and the table would dominate the whole metric set.
func (l *levenshtein) distance(a, b []rune) int {
	// The shared prefix and suffix cost nothing and are common in
	// lightly edited drafts.
	for len(a) > 0 && len(b) > 0 && a[0] == b[0] {
		a, b = a[1:], b[1:]
	}
	for len(a) > 0 && len(b) > 0 && a[len(a)-1] == b[len(b)-1] {
		a, b = a[:len(a)-1], b[:len(b)-1]
	}
	if len(a) > len(b) {
		a, b = b, a // the shorter text is the pattern: fewer blocks
	}
	m := len(a)
	if m == 0 {
		return len(b)
	}
	if l.ids == nil {
		l.ids = make(map[rune]int32)
	}
	clear(l.ids)
	for _, r := range a {
		if _, ok := l.ids[r]; !ok {
			l.ids[r] = int32(len(l.ids))
		}
	}
	blocks := (m + 63) / 64
	// Row 0 of peq belongs to runes absent from the pattern: all zero.
	size := (len(l.ids) + 1) * blocks
	if cap(l.peq) < size {
		l.peq = make([]uint64, size)
	}
	peq := l.peq[:size]
	clear(peq)
	for i, r := range a {
		peq[int(l.ids[r]+1)*blocks+i/64] |= 1 << (i % 64)
	}
	if cap(l.pv) < blocks {
		l.pv, l.mv = make([]uint64, blocks), make([]uint64, blocks)
	}
	pv, mv := l.pv[:blocks], l.mv[:blocks]
	for k := range pv {
		pv[k], mv[k] = ^uint64(0), 0
	}
	lastBit := uint64(1) << ((m - 1) % 64)
	score := m
	for _, r := range b {
		row := 0
		if id, ok := l.ids[r]; ok {
			row = int(id+1) * blocks
		}
		eqs := peq[row : row+blocks]
		// Row 0 of the table is 0, 1, 2, …: every column adds 1 at the top.
		hin := 1
		for k := range blocks {
			high := uint64(1) << 63
			if k == blocks-1 {
				high = lastBit
			}
			eq := eqs[k]
			p, mm := pv[k], mv[k]
			xv := eq | mm
			if hin < 0 {
				eq |= 1
			}
			sum, _ := bits.Add64(eq&p, p, 0)
			xh := (sum ^ p) | eq
			ph := mm | ^(xh | p)
			mh := p & xh
			hout := 0
			if ph&high != 0 {
				hout = 1
			} else if mh&high != 0 {
				hout = -1
			}
			ph <<= 1
			mh <<= 1
			if hin < 0 {
				mh |= 1
			} else if hin > 0 {
				ph |= 1
			}
			pv[k] = mh | ^(xv | ph)
			mv[k] = ph & xv
			hin = hout
		}
		score += hin
	}
	return score
}
