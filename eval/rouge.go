package eval

import (
	"fmt"
	"math/bits"
	"slices"
	"strings"
)

// RougeConfig selects the options of rouge-score's default tokenizer. The
// zero value is rouge-score's default: no stemming.
type RougeConfig struct {
	// UseStemmer stems words longer than three characters with NLTK's
	// Porter stemmer, as rouge-score's use_stemmer=True does.
	UseStemmer bool
}

// RougeScore is a ROUGE score on rouge-score's 0–1 scale. The zero value
// is what an empty hypothesis or reference scores.
type RougeScore struct {
	// Precision is the share of the hypothesis that the reference covers.
	Precision float64
	// Recall is the share of the reference that the hypothesis covers.
	Recall float64
	// FMeasure is the harmonic mean of Precision and Recall.
	FMeasure float64
}

// RougeN computes rouge-score's ROUGE-N of hyp (the prediction) against ref
// (the target): the overlap of word n-grams, clipped by their counts.
// n must be at least 1.
func RougeN(hyp, ref string, n int, cfg RougeConfig) (RougeScore, error) {
	if n < 1 {
		return RougeScore{}, fmt.Errorf("ROUGE-N needs a positive n, got %d", n)
	}
	target := rougeNGrams(rougeTokens(ref, cfg), n)
	pred := rougeNGrams(rougeTokens(hyp, cfg), n)
	inter, nTarget, nPred := 0, 0, 0
	for g, c := range target {
		inter += min(c, pred[g])
		nTarget += c
	}
	for _, c := range pred {
		nPred += c
	}
	p := float64(inter) / float64(max(nPred, 1))
	r := float64(inter) / float64(max(nTarget, 1))
	return RougeScore{Precision: p, Recall: r, FMeasure: rougeF(p, r)}, nil
}

// rougeNGrams counts the n-grams of toks, keyed by the tokens joined with
// spaces, which cannot occur inside a token.
func rougeNGrams(toks []string, n int) map[string]int {
	m := make(map[string]int)
	for i := 0; i+n <= len(toks); i++ {
		m[strings.Join(toks[i:i+n], " ")]++
	}
	return m
}

// RougeL computes rouge-score's ROUGE-L of hyp (the prediction) against ref
// (the target) from the length of their longest common subsequence of
// words. An empty side scores 0.
func RougeL(hyp, ref string, cfg RougeConfig) RougeScore {
	var l rougeLCS
	return l.score(hyp, ref, cfg)
}

// RougeLsum computes rouge-score's summary-level ROUGE-L: the texts are
// split into sentences at newlines, and each reference sentence is matched
// against the union of its longest common subsequences with all hypothesis
// sentences, without counting a word more often than both texts have it.
func RougeLsum(hyp, ref string, cfg RougeConfig) RougeScore {
	return rougeSummaryLevel(rougeSentences(ref, cfg), rougeSentences(hyp, cfg))
}

// CorpusRougeL returns 100 × the mean over segments of the ROUGE-L
// F-measure. refs[i] holds the references of hyps[i]; every segment needs
// at least one, and is scored against the one with the highest F-measure
// (the first on ties), as rouge-score's score_multi does.
func CorpusRougeL(hyps []string, refs [][]string, cfg RougeConfig) (float64, error) {
	if err := checkSegments(len(hyps), refs); err != nil {
		return 0, err
	}
	if len(hyps) == 0 {
		return 0, fmt.Errorf("no hypotheses to score")
	}
	f := make([]float64, len(hyps))
	parallelSegments(len(hyps), func() func(i int) {
		var l rougeLCS
		return func(i int) {
			best := -1.0
			for _, ref := range refs[i] {
				if s := l.score(hyps[i], ref, cfg); s.FMeasure > best {
					best = s.FMeasure
				}
			}
			f[i] = best
		}
	})
	sum := 0.0
	for _, v := range f {
		sum += v
	}
	return 100 * sum / float64(len(hyps)), nil
}

func rougeF(p, r float64) float64 {
	if p+r > 0 {
		return 2 * p * r / (p + r)
	}
	return 0
}

// rougeTokens is rouge-score's tokenize: lowercase, keep runs of [a-z0-9],
// and stem words longer than three characters when asked to.
func rougeTokens(text string, cfg RougeConfig) []string {
	text = pyLower(text)
	var toks []string
	start := -1
	for i := 0; i <= len(text); i++ {
		if i < len(text) && (text[i] >= 'a' && text[i] <= 'z' || text[i] >= '0' && text[i] <= '9') {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			t := text[start:i]
			if cfg.UseStemmer && len(t) > 3 {
				t = porterStem(t)
			}
			if t != "" {
				toks = append(toks, t)
			}
			start = -1
		}
	}
	return toks
}

// rougeSentences splits text at newlines, drops empty lines and tokenizes
// each sentence.
func rougeSentences(text string, cfg RougeConfig) [][]string {
	var out [][]string
	for _, s := range strings.Split(text, "\n") {
		if s != "" {
			out = append(out, rougeTokens(s, cfg))
		}
	}
	return out
}

// rougeLCS holds the reusable buffers of the bit-parallel LCS length.
type rougeLCS struct {
	vocab  map[string]int32
	a, b   []int32
	peq, v []uint64
}

func (l *rougeLCS) score(hyp, ref string, cfg RougeConfig) RougeScore {
	if l.vocab == nil {
		l.vocab = make(map[string]int32)
	}
	clear(l.vocab)
	l.a = l.ids(l.a[:0], rougeTokens(ref, cfg))
	l.b = l.ids(l.b[:0], rougeTokens(hyp, cfg))
	if len(l.a) == 0 || len(l.b) == 0 {
		return RougeScore{}
	}
	lcs := l.length()
	p := float64(lcs) / float64(len(l.b))
	r := float64(lcs) / float64(len(l.a))
	return RougeScore{Precision: p, Recall: r, FMeasure: rougeF(p, r)}
}

func (l *rougeLCS) ids(dst []int32, toks []string) []int32 {
	for _, t := range toks {
		id, ok := l.vocab[t]
		if !ok {
			id = int32(len(l.vocab))
			l.vocab[t] = id
		}
		dst = append(dst, id)
	}
	return dst
}

// length returns the length of the longest common subsequence of l.a and
// l.b with Hyyrö's bit-parallel algorithm: a bit vector over the positions
// of a is updated once per word of b, and its zero bits count the LCS. It
// gives the same length as rouge-score's table in O(|a|·|b|/64).
func (l *rougeLCS) length() int {
	m := len(l.a)
	words := (m + 63) / 64
	vocab := len(l.vocab)
	if cap(l.peq) < vocab*words {
		l.peq = make([]uint64, vocab*words)
	}
	peq := l.peq[:vocab*words]
	clear(peq)
	for i, id := range l.a {
		peq[int(id)*words+i/64] |= 1 << (i % 64)
	}
	if cap(l.v) < words {
		l.v = make([]uint64, words)
	}
	v := l.v[:words]
	for k := range v {
		v[k] = ^uint64(0)
	}
	for _, id := range l.b {
		eq := peq[int(id)*words : int(id)*words+words]
		var carry uint64
		for k := range v {
			u := v[k] & eq[k]
			sum, c := bits.Add64(v[k], u, carry)
			carry = c
			v[k] = sum | (v[k] &^ u)
		}
	}
	ones := 0
	for k := range v {
		w := v[k]
		if k == words-1 && m%64 != 0 {
			w &= 1<<(m%64) - 1
		}
		ones += bits.OnesCount64(w)
	}
	return m - ones
}

// lcsTable is rouge-score's _lcs_table: t[i][j] is the LCS length of
// ref[:i] and can[:j].
func lcsTable(ref, can []string) [][]int {
	t := make([][]int, len(ref)+1)
	for i := range t {
		t[i] = make([]int, len(can)+1)
	}
	for i := 1; i <= len(ref); i++ {
		for j := 1; j <= len(can); j++ {
			if ref[i-1] == can[j-1] {
				t[i][j] = t[i-1][j-1] + 1
			} else {
				t[i][j] = max(t[i-1][j], t[i][j-1])
			}
		}
	}
	return t
}

// lcsIndices is rouge-score's lcs_ind: the positions in ref of one longest
// common subsequence, the one _backtrack_norec reads out.
func lcsIndices(ref, can []string) []int {
	t := lcsTable(ref, can)
	var out []int
	for i, j := len(ref), len(can); i > 0 && j > 0; {
		switch {
		case ref[i-1] == can[j-1]:
			out = append(out, i-1)
			i--
			j--
		case t[i][j-1] > t[i-1][j]:
			j--
		default:
			i--
		}
	}
	slices.Reverse(out)
	return out
}

// findUnion is rouge-score's _find_union: the sorted union of index lists.
func findUnion(lists [][]int) []int {
	var all []int
	for _, l := range lists {
		all = append(all, l...)
	}
	slices.Sort(all)
	return slices.Compact(all)
}

// unionLCS is rouge-score's _union_lcs: the words of ref at the union of
// its LCS positions with every candidate sentence.
func unionLCS(ref []string, cands [][]string) []string {
	lists := make([][]int, len(cands))
	for i, c := range cands {
		lists[i] = lcsIndices(ref, c)
	}
	var out []string
	for _, i := range findUnion(lists) {
		out = append(out, ref[i])
	}
	return out
}

// rougeSummaryLevel is rouge-score's _summary_level_lcs.
func rougeSummaryLevel(refSents, canSents [][]string) RougeScore {
	if len(refSents) == 0 || len(canSents) == 0 {
		return RougeScore{}
	}
	m, n := 0, 0
	refCnt, canCnt := map[string]int{}, map[string]int{}
	for _, s := range refSents {
		m += len(s)
		for _, t := range s {
			refCnt[t]++
		}
	}
	for _, s := range canSents {
		n += len(s)
		for _, t := range s {
			canCnt[t]++
		}
	}
	if m == 0 || n == 0 {
		return RougeScore{}
	}
	hits := 0
	for _, r := range refSents {
		for _, t := range unionLCS(r, canSents) {
			if canCnt[t] > 0 && refCnt[t] > 0 {
				hits++
				canCnt[t]--
				refCnt[t]--
			}
		}
	}
	rec := float64(hits) / float64(m)
	prec := float64(hits) / float64(n)
	return RougeScore{Precision: prec, Recall: rec, FMeasure: rougeF(prec, rec)}
}
