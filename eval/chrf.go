package eval

import "unicode/utf8"

// ChrFConfig selects the chrF variant, with sacrebleu's parameter names.
// The zero value is sacrebleu's default chrF2: character n-grams up to 6,
// no word n-grams, β = 2, case kept, whitespace ignored, and no epsilon
// smoothing (orders where either side has no n-grams are left out of the
// average, as sacrebleu 1.x did and 2.x does by default).
type ChrFConfig struct {
	// CharOrder is the largest character n-gram order; 0 means 6.
	CharOrder int
	// WordOrder is the largest word n-gram order; 0 gives chrF and 2 gives
	// chrF++.
	WordOrder int
	// Beta weighs recall Beta times as much as precision; 0 means 2.
	Beta int
	// Lowercase compares the texts lowercased.
	Lowercase bool
	// Whitespace keeps whitespace in character n-grams.
	Whitespace bool
	// EpsSmoothing averages F-scores over all orders, an order without
	// n-grams contributing a tiny epsilon, as chrF++.py, Moses and NLTK do.
	EpsSmoothing bool
}

func (c ChrFConfig) withDefaults() ChrFConfig {
	if c.CharOrder == 0 {
		c.CharOrder = 6
	}
	if c.Beta == 0 {
		c.Beta = 2
	}
	return c
}

// CorpusChrF computes sacrebleu's corpus-level chrF (or chrF++, with
// WordOrder 2) on the 0–100 scale. refs[i] holds the references of hyps[i];
// every segment needs at least one. Each segment contributes the n-gram
// statistics of its best reference, and the statistics are summed over the
// corpus before the F-score is computed.
func CorpusChrF(hyps []string, refs [][]string, cfg ChrFConfig) (float64, error) {
	if err := checkSegments(len(hyps), refs); err != nil {
		return 0, err
	}
	cfg = cfg.withDefaults()
	order := cfg.CharOrder + cfg.WordOrder
	stats := make([]int, len(hyps)*3*order)
	parallelSegments(len(hyps), func() func(i int) {
		w := &chrfWorker{cfg: cfg}
		return func(i int) {
			w.segment(stats[i*3*order:(i+1)*3*order], hyps[i], refs[i])
		}
	})
	total := make([]int, 3*order)
	for i := range hyps {
		for k := range total {
			total[k] += stats[i*3*order+k]
		}
	}
	return chrfScore(total, cfg), nil
}

// SentenceChrF computes the chrF of one hypothesis against its references.
func SentenceChrF(hyp string, refs []string, cfg ChrFConfig) (float64, error) {
	return CorpusChrF([]string{hyp}, [][]string{refs}, cfg)
}

// chrfScore is sacrebleu's CHRF._compute_f_score. stats holds a (hypothesis
// n-grams, reference n-grams, matches) triple per order, character orders
// first.
func chrfScore(stats []int, cfg ChrFConfig) float64 {
	const eps = 1e-16
	order := len(stats) / 3
	factor := float64(cfg.Beta * cfg.Beta)
	var score, avgPrec, avgRec float64
	effective := 0
	for i := range order {
		nHyp, nRef, nMatch := stats[3*i], stats[3*i+1], stats[3*i+2]
		prec, rec := eps, eps
		if nHyp > 0 {
			prec = float64(nMatch) / float64(nHyp)
		}
		if nRef > 0 {
			rec = float64(nMatch) / float64(nRef)
		}
		if denom := factor*prec + rec; denom > 0 {
			score += (1 + factor) * prec * rec / denom
		} else {
			score += eps
		}
		if nHyp > 0 && nRef > 0 {
			avgPrec += prec
			avgRec += rec
			effective++
		}
	}
	if cfg.EpsSmoothing {
		return 100 * score / float64(order)
	}
	if effective == 0 {
		return 0
	}
	avgPrec /= float64(effective)
	avgRec /= float64(effective)
	if avgPrec+avgRec == 0 {
		return 0
	}
	score = (1 + factor) * avgPrec * avgRec
	score /= factor*avgPrec + avgRec
	return 100 * score
}

// chrfWorker holds the reusable buffers of one goroutine.
type chrfWorker struct {
	cfg   ChrFConfig
	ids   ngramIDs
	vocab map[string]int32
	syms  [][]int32
	hyp   counts
	used  counts
	cand  []int // per-reference statistics, references one after another
}

// segment writes into out the statistics of the reference whose F-score is
// highest, the first one on ties, as sacrebleu's
// _compute_segment_statistics does.
func (w *chrfWorker) segment(out []int, hyp string, refs []string) {
	cfg := w.cfg
	order := cfg.CharOrder + cfg.WordOrder
	texts := make([]string, 0, 1+len(refs))
	texts = append(texts, hyp)
	texts = append(texts, refs...)
	if cfg.Lowercase {
		for i, t := range texts {
			texts[i] = pyLower(t)
		}
	}
	w.cand = resizeIntsZero(w.cand, len(refs)*3*order)

	// Character n-grams: symbols are the code points themselves.
	w.syms = w.syms[:0]
	for _, t := range texts {
		var s []int32
		for _, r := range t {
			if cfg.Whitespace || !isPySpace(r) {
				s = append(s, r)
			}
		}
		w.syms = append(w.syms, s)
	}
	w.ids.orders(w.syms, cfg.CharOrder, func(k int, ids [][]int32, numIDs int) {
		w.match(ids, numIDs, k-1, order)
	})

	if cfg.WordOrder > 0 {
		if w.vocab == nil {
			w.vocab = make(map[string]int32)
		}
		clear(w.vocab)
		w.syms = w.syms[:0]
		for _, t := range texts {
			var s []int32
			for _, tok := range chrfWords(t) {
				id, ok := w.vocab[tok]
				if !ok {
					id = int32(len(w.vocab))
					w.vocab[tok] = id
				}
				s = append(s, id)
			}
			w.syms = append(w.syms, s)
		}
		w.ids.orders(w.syms, cfg.WordOrder, func(k int, ids [][]int32, numIDs int) {
			w.match(ids, numIDs, cfg.CharOrder+k-1, order)
		})
	}

	best, bestF := 0, -1.0
	for r := range refs {
		if f := chrfScore(w.cand[r*3*order:(r+1)*3*order], cfg); f > bestF {
			best, bestF = r, f
		}
	}
	copy(out, w.cand[best*3*order:(best+1)*3*order])
}

// match records, for one order, the statistics of the hypothesis (ids[0])
// against each reference (ids[1:]) in slot o of its statistics.
func (w *chrfWorker) match(ids [][]int32, numIDs, o, order int) {
	w.hyp = w.hyp.sized(numIDs)
	w.used = w.used.sized(numIDs)
	for _, id := range ids[0] {
		w.hyp[id]++
	}
	for r, ref := range ids[1:] {
		nMatch := 0
		for _, id := range ref {
			if w.used[id] < w.hyp[id] {
				nMatch++
			}
			w.used[id]++
		}
		for _, id := range ref {
			w.used[id] = 0
		}
		st := w.cand[r*3*order+3*o:]
		// A hypothesis n-gram only counts when the reference has n-grams of
		// that order at all.
		if len(ref) > 0 {
			st[0] = len(ids[0])
		} else {
			st[0] = 0
		}
		st[1] = len(ref)
		st[2] = nMatch
	}
}

// chrfWords is sacrebleu's _remove_punctuation: whitespace-separated words
// with one punctuation character split off the end, or else the start.
// The punctuation is ASCII, so it can be recognised by its byte.
func chrfWords(s string) []string {
	fields := pyFields(s)
	out := make([]string, 0, len(fields)+len(fields)/4)
	for _, w := range fields {
		if _, size := utf8.DecodeRuneInString(w); size == len(w) {
			out = append(out, w)
			continue
		}
		switch last := w[len(w)-1]; {
		case isChrFPunct(rune(last)):
			out = append(out, w[:len(w)-1], w[len(w)-1:])
		case isChrFPunct(rune(w[0])):
			out = append(out, w[:1], w[1:])
		default:
			out = append(out, w)
		}
	}
	return out
}

// isChrFPunct reports membership of Python's string.punctuation: the
// printable ASCII characters that are neither letters, digits nor space.
func isChrFPunct(r rune) bool {
	return r > ' ' && r < 0x7f && !isASCIIAlnum(byte(r))
}

func isASCIIAlnum(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

func resizeIntsZero(s []int, n int) []int {
	if cap(s) < n {
		return make([]int, n)
	}
	s = s[:n]
	clear(s)
	return s
}
