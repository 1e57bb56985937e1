package retrieval

import (
	"cmp"
	"slices"
	"sort"
)

// TermSet is the distinct terms of a text (Tokenize) as sorted 64-bit hashes: compact, holding
// nothing the garbage collector has to visit, and compared by merging. Two different terms share
// a hash once in 2⁶⁴ pairs.
type TermSet []uint64

// NewTermSet returns the term set of text.
func NewTermSet(text string) TermSet {
	terms := Tokenize(text)
	out := make(TermSet, len(terms))
	for i, t := range terms {
		out[i] = TermHash(t)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TermHash is the 64-bit hash a TermSet holds for a term (FNV-1a); indexes key terms by it too.
func TermHash(t string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(t); i++ {
		h = (h ^ uint64(t[i])) * 1099511628211
	}
	return h
}

// Has reports whether the set holds the term whose hash is h (an element of another TermSet).
func (s TermSet) Has(h uint64) bool {
	i := sort.Search(len(s), func(i int) bool { return s[i] >= h })
	return i < len(s) && s[i] == h
}

// Dice is the Dice coefficient of two term sets: 2|A∩B| / (|A|+|B|).
func Dice(a, b TermSet) float64 { return SortedDice(a, b) }

// SortedDice is the Dice coefficient of two sorted sets without repeats, found by merging them.
func SortedDice[T cmp.Ordered](a, b []T) float64 {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	n := 0
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case a[i] < b[j]:
			i++
		case a[i] > b[j]:
			j++
		default:
			n++
			i++
			j++
		}
	}
	return 2 * float64(n) / float64(len(a)+len(b))
}
