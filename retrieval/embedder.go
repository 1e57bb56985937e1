package retrieval

import (
	"context"
	"hash/fnv"
	"math"
	"strings"

	"github.com/hindsightsec/hindsight"
)

// BuiltinDim is the dimension of the built-in embedder's vectors.
const BuiltinDim = 384

// Builtin is the built-in embedder: deterministic, in-process, no model to download. It hashes
// features of the security-aware tokens of Tokenize (each term, adjacent term pairs, and character
// trigrams of words, so that variants of a name still meet) into BuiltinDim signed buckets, weights
// them sublinearly by frequency and L2-normalises the result. Its vectors are only comparable with
// its own. The zero value is ready to use.
type Builtin struct{}

var _ hindsight.Embedder = Builtin{}

// Space implements hindsight.Embedder.
func (Builtin) Space() hindsight.Space {
	return hindsight.Space{Name: "builtin", Version: "1", Dim: BuiltinDim}
}

// Embed implements hindsight.Embedder.
func (b Builtin) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		if i%64 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		out[i] = b.EmbedTerms(Tokenize(t))
	}
	return out, nil
}

// Feature weights, relative to a whole term. Pairs carry phrase information; trigrams let
// "mimikatz" meet "mimikatz64" without dominating exact matches.
const (
	pairWeight    = 0.5
	trigramWeight = 0.25
)

// EmbedTerms embeds an already tokenized text. Features are summed in the order they first
// appear, never in map order, so the same text always gives the same bits.
func (Builtin) EmbedTerms(terms []string) []float32 {
	counts := make(map[string]float64, len(terms)*3)
	order := make([]string, 0, len(terms)*3)
	add := func(f string, w float64) {
		if _, ok := counts[f]; !ok {
			order = append(order, f)
		}
		counts[f] += w
	}
	for i, t := range terms {
		add(t, 1)
		if i > 0 {
			add(terms[i-1]+" "+t, pairWeight)
		}
		if len(t) > 4 && isWordTerm(t) {
			padded := "^" + t + "$"
			for j := 0; j+3 <= len(padded); j++ {
				add("#"+padded[j:j+3], trigramWeight)
			}
		}
	}
	v := make([]float32, BuiltinDim)
	for _, f := range order {
		c := counts[f]
		h := fnv.New64a()
		h.Write([]byte(f))
		sum := h.Sum64()
		w := 1 + math.Log(1+c)
		if c < 1 {
			w = c * (1 + math.Log(2)) // a fractional (pair or trigram) feature scales down
		}
		if sum>>63 == 1 {
			w = -w
		}
		v[sum%BuiltinDim] += float32(w)
	}
	Normalize(v)
	return v
}

func isWordTerm(t string) bool {
	return !strings.ContainsAny(t, TermChars) && strings.IndexFunc(t, func(r rune) bool { return r >= '0' && r <= '9' }) < 0
}

// Normalize scales v to unit length in place; a zero vector stays zero.
func Normalize(v []float32) {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if s == 0 {
		return
	}
	inv := float32(1 / math.Sqrt(s))
	for i := range v {
		v[i] *= inv
	}
}

// Dot returns the dot product of two vectors of equal length: their cosine similarity when both are
// normalised.
func Dot(a, b []float32) float32 {
	var s0, s1, s2, s3 float32
	n := len(a) &^ 3
	b = b[:len(a)]
	for i := 0; i < n; i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for i := n; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return s0 + s1 + s2 + s3
}
