package eval

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// naiveLevenshtein is the textbook dynamic programme over runes, the
// definition the bit-parallel distance is held to.
func naiveLevenshtein(a, b string) int {
	x, y := []rune(a), []rune(b)
	prev := make([]int, len(y)+1)
	cur := make([]int, len(y)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(x); i++ {
		cur[0] = i
		for j := 1; j <= len(y); j++ {
			c := prev[j-1]
			if x[i-1] != y[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(y)]
}

func TestCharEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want float64
	}{
		{"", "", 0},
		{"abc", "abc", 0},
		{"", "abcd", 1},
		{"kitten", "sitting", 3.0 / 7}, // k→s, e→i, +g
		{"flaw", "lawn", 2.0 / 4},      // −f, +n
		{"Isolate the host", "Isolate host", 4.0 / 16},
		{"naïve café", "naive cafe", 2.0 / 10}, // runes, not bytes
		{"abc", "xyz", 1},
	} {
		if got := CharEditDistance(tc.a, tc.b); !within(got, tc.want, 1e-12) {
			t.Errorf("CharEditDistance(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

// TestLevenshteinMatchesTable checks the block algorithm against the table
// on random texts long enough to need several 64-row blocks, over small
// alphabets (many matches) and large ones (few).
func TestLevenshteinMatchesTable(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	var l levenshtein
	for i := range 400 {
		alpha := []rune("ab")
		if i%3 == 1 {
			alpha = []rune("abcdefghij é")
		} else if i%3 == 2 {
			alpha = []rune("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 ,.")
		}
		gen := func() string {
			var b strings.Builder
			for range rng.IntN(300) {
				b.WriteRune(alpha[rng.IntN(len(alpha))])
			}
			return b.String()
		}
		a, b := gen(), gen()
		if i%4 == 0 && len(a) > 10 { // a lightly edited copy
			r := []rune(a)
			r[rng.IntN(len(r))] = 'Z'
			b = string(r[:len(r)-rng.IntN(5)]) + "tail"
		}
		want := naiveLevenshtein(a, b)
		if got := l.distance([]rune(a), []rune(b)); got != want {
			t.Fatalf("distance(%q, %q) = %d, want %d", a, b, got, want)
		}
	}
}
