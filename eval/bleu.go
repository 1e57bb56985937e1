package eval

import (
	"fmt"
	"math"
	"strings"
	"unicode"
)

// BLEUConfig selects sacrebleu's BLEU options. The zero value is sacrebleu's
// corpus_bleu default: 13a tokenization, case kept, exponential smoothing,
// n-grams up to 4, and no effective order.
type BLEUConfig struct {
	// Tokenize names the tokenizer: "13a" (the default when empty), "none",
	// "intl" or "char".
	Tokenize string
	// Lowercase compares the texts lowercased.
	Lowercase bool
	// Smooth names the smoothing method: "exp" (the default when empty),
	// "none", "floor" or "add-k".
	Smooth string
	// SmoothValue is the constant of "floor" and "add-k"; nil means
	// sacrebleu's defaults, 0.1 and 1. The other methods ignore it.
	SmoothValue *float64
	// MaxNGramOrder is the largest n-gram order; 0 means 4.
	MaxNGramOrder int
	// EffectiveOrder averages precisions only over the orders up to the
	// largest one the hypotheses have n-grams of, which keeps short
	// sentences from scoring 0. SentenceBLEU always uses it.
	EffectiveOrder bool
}

// BLEUStats are BLEU's sufficient statistics. Summing them over segments
// and computing the score once gives corpus BLEU. Correct and Total have
// one entry per n-gram order.
type BLEUStats struct {
	// SysLen is the number of hypothesis tokens.
	SysLen int
	// RefLen is the summed length of the reference closest in length to
	// each hypothesis (the shorter one on ties).
	RefLen int
	// Correct[n-1] counts hypothesis n-grams also found in a reference,
	// each n-gram at most as often as in the reference that has it most.
	Correct []int
	// Total[n-1] counts hypothesis n-grams.
	Total []int
}

// BLEUScore is a BLEU score with its components.
type BLEUScore struct {
	// Score is BLEU on the 0–100 scale.
	Score float64
	// Precisions[n-1] is the (smoothed) n-gram precision in percent.
	Precisions []float64
	// BP is the brevity penalty, 1 when the hypotheses are not shorter than
	// the references.
	BP float64
	// SysLen and RefLen are the hypothesis and reference lengths in tokens.
	SysLen, RefLen int
}

func (c BLEUConfig) withDefaults() (BLEUConfig, error) {
	switch c.Tokenize {
	case "":
		c.Tokenize = "13a"
	case "13a", "none", "intl", "char":
	default:
		return c, fmt.Errorf("unknown BLEU tokenizer %q (known: 13a, none, intl, char)", c.Tokenize)
	}
	switch c.Smooth {
	case "":
		c.Smooth = "exp"
	case "exp", "none", "floor", "add-k":
	default:
		return c, fmt.Errorf("unknown BLEU smoothing %q (known: exp, none, floor, add-k)", c.Smooth)
	}
	if c.MaxNGramOrder == 0 {
		c.MaxNGramOrder = 4
	}
	if c.MaxNGramOrder < 0 {
		return c, fmt.Errorf("BLEU n-gram order %d is negative", c.MaxNGramOrder)
	}
	return c, nil
}

// CorpusBLEU computes sacrebleu's corpus-level BLEU. refs[i] holds the
// references of hyps[i]; every segment needs at least one.
func CorpusBLEU(hyps []string, refs [][]string, cfg BLEUConfig) (BLEUScore, error) {
	st, err := CorpusBLEUStats(hyps, refs, cfg)
	if err != nil {
		return BLEUScore{}, err
	}
	return BLEUFromStats(st, cfg)
}

// SentenceBLEU computes BLEU for one hypothesis as sacrebleu's
// sentence_bleu does, that is with effective order whatever
// cfg.EffectiveOrder says. For sentence BLEU without it, call CorpusBLEU on
// one segment.
func SentenceBLEU(hyp string, refs []string, cfg BLEUConfig) (BLEUScore, error) {
	cfg.EffectiveOrder = true
	return CorpusBLEU([]string{hyp}, [][]string{refs}, cfg)
}

// CorpusBLEUStats returns BLEU's sufficient statistics summed over the
// corpus. refs[i] holds the references of hyps[i].
func CorpusBLEUStats(hyps []string, refs [][]string, cfg BLEUConfig) (BLEUStats, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return BLEUStats{}, err
	}
	if err := checkSegments(len(hyps), refs); err != nil {
		return BLEUStats{}, err
	}
	order := cfg.MaxNGramOrder
	width := 2 + 2*order
	seg := make([]int, len(hyps)*width)
	parallelSegments(len(hyps), func() func(i int) {
		w := &bleuWorker{cfg: cfg}
		return func(i int) {
			w.segment(seg[i*width:(i+1)*width], hyps[i], refs[i])
		}
	})
	st := BLEUStats{Correct: make([]int, order), Total: make([]int, order)}
	for i := range hyps {
		s := seg[i*width : (i+1)*width]
		st.SysLen += s[0]
		st.RefLen += s[1]
		for n := range order {
			st.Correct[n] += s[2+n]
			st.Total[n] += s[2+order+n]
		}
	}
	return st, nil
}

// BLEUFromStats computes BLEU from sufficient statistics, as sacrebleu's
// BLEU.compute_bleu does. Correct and Total must have MaxNGramOrder entries.
func BLEUFromStats(st BLEUStats, cfg BLEUConfig) (BLEUScore, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return BLEUScore{}, err
	}
	order := cfg.MaxNGramOrder
	if len(st.Correct) != order || len(st.Total) != order {
		return BLEUScore{}, fmt.Errorf("BLEU statistics have %d and %d orders, want %d", len(st.Correct), len(st.Total), order)
	}
	smooth := 0.0
	switch {
	case cfg.SmoothValue != nil:
		smooth = *cfg.SmoothValue
	case cfg.Smooth == "floor":
		smooth = 0.1
	case cfg.Smooth == "add-k":
		smooth = 1
	}
	sc := BLEUScore{BP: 1, Precisions: make([]float64, order), SysLen: st.SysLen, RefLen: st.RefLen}
	if st.SysLen < st.RefLen {
		sc.BP = 0
		if st.SysLen > 0 {
			sc.BP = math.Exp(1 - float64(st.RefLen)/float64(st.SysLen))
		}
	}
	anyCorrect := false
	for _, c := range st.Correct {
		anyCorrect = anyCorrect || c != 0
	}
	if !anyCorrect {
		return sc, nil
	}
	smoothMteval := 1.0
	effOrder := order
	for n := 1; n <= order; n++ {
		correct, total := float64(st.Correct[n-1]), float64(st.Total[n-1])
		if cfg.Smooth == "add-k" && n > 1 {
			correct += smooth
			total += smooth
		}
		if total == 0 {
			break
		}
		if cfg.EffectiveOrder {
			effOrder = n
		}
		switch {
		case correct != 0:
			sc.Precisions[n-1] = 100 * correct / total
		case cfg.Smooth == "exp":
			smoothMteval *= 2
			sc.Precisions[n-1] = 100 / (smoothMteval * total)
		case cfg.Smooth == "floor":
			sc.Precisions[n-1] = 100 * smooth / total
		}
	}
	sum := 0.0
	for _, p := range sc.Precisions[:effOrder] {
		sum += bleuLog(p)
	}
	sc.Score = sc.BP * math.Exp(sum/float64(effOrder))
	return sc, nil
}

// bleuLog is sacrebleu's my_log: a zero precision contributes a huge
// negative number instead of -Inf, which makes the score exactly 0.
func bleuLog(p float64) float64 {
	if p == 0 {
		return -9999999999
	}
	return math.Log(p)
}

// bleuWorker holds the reusable buffers of one goroutine.
type bleuWorker struct {
	cfg             BLEUConfig
	ids             ngramIDs
	vocab           map[string]int32
	syms            [][]int32
	cnt, maxRef, hc counts
}

// segment writes [hypLen, refLen, correct..., total...] for one segment.
func (w *bleuWorker) segment(out []int, hyp string, refs []string) {
	cfg := w.cfg
	order := cfg.MaxNGramOrder
	if w.vocab == nil {
		w.vocab = make(map[string]int32)
	}
	clear(w.vocab)
	w.syms = w.syms[:0]
	for _, t := range append([]string{hyp}, refs...) {
		var s []int32
		for _, tok := range bleuTokens(t, cfg) {
			id, ok := w.vocab[tok]
			if !ok {
				id = int32(len(w.vocab))
				w.vocab[tok] = id
			}
			s = append(s, id)
		}
		w.syms = append(w.syms, s)
	}
	hypLen := len(w.syms[0])
	// The reference closest in length, the shorter one on ties.
	closestDiff, closestLen := -1, -1
	for _, r := range w.syms[1:] {
		d := hypLen - len(r)
		if d < 0 {
			d = -d
		}
		if closestDiff == -1 || d < closestDiff || (d == closestDiff && len(r) < closestLen) {
			closestDiff, closestLen = d, len(r)
		}
	}
	out[0], out[1] = hypLen, closestLen
	for n := range order {
		out[2+n], out[2+order+n] = 0, 0
	}
	w.ids.orders(w.syms, order, func(k int, ids [][]int32, numIDs int) {
		w.cnt = w.cnt.sized(numIDs)
		w.maxRef = w.maxRef.sized(numIDs)
		w.hc = w.hc.sized(numIDs)
		for _, ref := range ids[1:] {
			for _, id := range ref {
				w.cnt[id]++
			}
			for _, id := range ref {
				w.maxRef[id] = max(w.maxRef[id], w.cnt[id])
			}
			for _, id := range ref {
				w.cnt[id] = 0
			}
		}
		correct := 0
		for _, id := range ids[0] {
			if w.hc[id] < w.maxRef[id] {
				correct++
			}
			w.hc[id]++
		}
		out[2+k-1] = correct
		out[2+order+k-1] = len(ids[0])
	})
}

// bleuTokens preprocesses and tokenizes one segment as sacrebleu's
// BLEU._preprocess_segment does, then splits it into tokens.
func bleuTokens(s string, cfg BLEUConfig) []string {
	if cfg.Lowercase {
		s = pyLower(s)
	}
	s = pyRStrip(s)
	switch cfg.Tokenize {
	case "none":
		return pyFields(s)
	case "intl":
		return pyFields(tokenizeIntl(s))
	case "char":
		var toks []string
		for _, r := range s {
			if !isPySpace(r) {
				toks = append(toks, string(r))
			}
		}
		return toks
	}
	return pyFields(tokenize13a(s))
}

// tokenize13a is mteval-v13a's tokenizer as sacrebleu implements it.
func tokenize13a(s string) string {
	s = strings.ReplaceAll(s, "<skipped>", "")
	s = strings.ReplaceAll(s, "-\n", "")
	s = strings.ReplaceAll(s, "\n", " ")
	if strings.Contains(s, "&") {
		s = strings.ReplaceAll(s, "&quot;", "\"")
		s = strings.ReplaceAll(s, "&amp;", "&")
		s = strings.ReplaceAll(s, "&lt;", "<")
		s = strings.ReplaceAll(s, "&gt;", ">")
	}
	return splitPeriodCommaDash(spaceOutASCIIPunct(" " + s + " "))
}

// tokenizeIntl is mteval-v14's international tokenizer as sacrebleu
// implements it: punctuation is split off unless it sits between digits,
// and symbols are always split off. Each step is a left-to-right scan with
// non-overlapping matches, as Python's regex.sub performs it.
func tokenizeIntl(s string) string {
	isN := func(r rune) bool { return unicode.Is(unicode.N, r) }
	isP := func(r rune) bool { return unicode.Is(unicode.P, r) }
	rs := []rune(s)
	out := make([]rune, 0, len(rs)*2)
	// (\P{N})(\p{P}) → "\1 \2 "
	for i := 0; i < len(rs); i++ {
		if i+1 < len(rs) && !isN(rs[i]) && isP(rs[i+1]) {
			out = append(out, rs[i], ' ', rs[i+1], ' ')
			i++
			continue
		}
		out = append(out, rs[i])
	}
	// (\p{P})(\P{N}) → " \1 \2"
	rs, out = out, make([]rune, 0, len(out)*2)
	for i := 0; i < len(rs); i++ {
		if i+1 < len(rs) && isP(rs[i]) && !isN(rs[i+1]) {
			out = append(out, ' ', rs[i], ' ', rs[i+1])
			i++
			continue
		}
		out = append(out, rs[i])
	}
	// (\p{S}) → " \1 "
	rs, out = out, make([]rune, 0, len(out)*2)
	for _, r := range rs {
		if unicode.Is(unicode.S, r) {
			out = append(out, ' ', r, ' ')
		} else {
			out = append(out, r)
		}
	}
	return string(out)
}
