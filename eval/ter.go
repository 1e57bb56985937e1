package eval

import (
	"fmt"
	"math"
	"strings"
)

// TERConfig selects the options of sacrebleu's TERCOM tokenizer. The zero
// value is sacrebleu's default: text is lowercased, not normalised, keeps its
// punctuation and gets no special treatment of Asian scripts.
type TERConfig struct {
	// Normalized applies TERCOM's normalisation: it unescapes &quot;,
	// &amp;, &lt; and &gt;, splits off punctuation and possessive 's, and
	// collapses whitespace.
	Normalized bool
	// NoPunct removes the characters . , ? : ; ! " ( ) (and, with
	// AsianSupport, CJK and full-width punctuation).
	NoPunct bool
	// AsianSupport splits CJK ideographs and punctuation into separate
	// words; it only takes effect together with Normalized, as in TERCOM.
	AsianSupport bool
	// CaseSensitive keeps the original case instead of lowercasing.
	CaseSensitive bool
}

// TERScore is a translation edit rate with the statistics it came from.
type TERScore struct {
	// Score is 100 × Edits / RefLength: the percentage of reference words
	// that must be edited. It exceeds 100 when the hypothesis needs more
	// edits than the reference has words. With empty references it is 100
	// when there are edits and 0 when there are none.
	Score float64
	// Edits is the summed number of edits (insertions, deletions,
	// substitutions and block shifts), each segment contributing its
	// smallest count over its references.
	Edits int
	// RefLength is the summed reference length, each segment contributing
	// the average word count of its references.
	RefLength float64
}

// Limits of the shift search. The first three are TERCOM's; the candidate
// budget is sacrebleu's own, and it matters for exact agreement: once a
// segment has evaluated 1,000 shift candidates, sacrebleu stops searching
// and discards the shift found in that last round.
const (
	terMaxShiftSize       = 10
	terMaxShiftDist       = 50
	terBeamWidth          = 25
	terMaxShiftCandidates = 1000
	// terInf marks matrix cells outside the beam. Adding small costs to
	// it, or adding two of them, stays far from int32 overflow.
	terInf = int32(1) << 29
)

// Edit operations of the trace, as sacrebleu names them from the point of
// view of rewriting the hypothesis into the reference.
const (
	terOpNone byte = iota
	terOpMatch
	terOpSub
	terOpIns
	terOpDel
)

// Tokenize applies the TERCOM tokenizer and returns the words joined by
// single spaces, as they will be compared.
func (c TERConfig) Tokenize(s string) string {
	return strings.Join(pyFields(c.normalize(s)), " ")
}

// normalize reproduces sacrebleu's TercomTokenizer.__call__; the caller
// splits the result on whitespace.
func (c TERConfig) normalize(s string) string {
	if s == "" {
		return ""
	}
	if !c.CaseSensitive {
		s = pyLower(s)
	}
	if c.Normalized {
		s = terNormalizeWestern(s)
		if c.AsianSupport {
			s = terNormalizeAsian(s)
		}
		s = strings.Join(pyFields(s), " ")
	}
	if c.NoPunct {
		s = strings.Map(func(r rune) rune {
			switch r {
			case '.', ',', '?', ':', ';', '!', '"', '(', ')':
				return -1
			}
			if c.AsianSupport && (isAsianPunct(r) || isFullWidthPunct(r)) {
				return -1
			}
			return r
		}, s)
	}
	return s
}

// terNormalizeWestern is TERCOM's language-independent and Western
// normalisation, step by step as sacrebleu's regular expressions apply it.
func terNormalizeWestern(s string) string {
	s = strings.ReplaceAll(s, "\n-", "")
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, "&quot;", "\"")
	s = strings.ReplaceAll(s, "&amp;", "&")
	s = strings.ReplaceAll(s, "&lt;", "<")
	s = strings.ReplaceAll(s, "&gt;", ">")
	s = " " + s + " "
	s = spaceOutASCIIPunct(s)
	s = strings.ReplaceAll(s, "'s ", " 's ")
	// sacrebleu also rewrites a final "'s", but the string always ends in
	// the spaces added above, so that rule can never fire.
	return splitPeriodCommaDash(s)
}

// spaceOutASCIIPunct surrounds with spaces every character of the class
// [{-~[-` -&(-+:-@/] that mteval-v13a and TERCOM split off: ASCII
// punctuation other than ' , - . together with the space itself.
func spaceOutASCIIPunct(s string) string {
	var b strings.Builder
	b.Grow(len(s) * 2)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isV13aPunct(c) {
			b.WriteByte(' ')
			b.WriteByte(c)
			b.WriteByte(' ')
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isV13aPunct(c byte) bool {
	return (c >= '{' && c <= '~') || (c >= '[' && c <= '`') || (c >= ' ' && c <= '&') ||
		(c >= '(' && c <= '+') || (c >= ':' && c <= '@') || c == '/'
}

// splitPeriodCommaDash applies, in order, the three substitutions shared by
// mteval-v13a and TERCOM: ([^0-9])([.,]) → "\1 \2 ", ([.,])([^0-9]) →
// " \1 \2" and ([0-9])(-) → "\1 \2 ". Each is a left-to-right scan with
// non-overlapping matches, exactly as Python's re.sub performs it. Working
// on bytes gives the same result as on code points: the patterns' own
// characters are ASCII, and the bytes of other characters are only ever
// copied.
func splitPeriodCommaDash(s string) string {
	isDigit := func(c byte) bool { return c >= '0' && c <= '9' }
	isPC := func(c byte) bool { return c == '.' || c == ',' }
	in := []byte(s)
	out := make([]byte, 0, len(in)+len(in)/2)
	for i := 0; i < len(in); i++ {
		if i+1 < len(in) && !isDigit(in[i]) && isPC(in[i+1]) {
			out = append(out, in[i], ' ', in[i+1], ' ')
			i++
			continue
		}
		out = append(out, in[i])
	}
	in, out = out, make([]byte, 0, len(out)+len(out)/2)
	for i := 0; i < len(in); i++ {
		if i+1 < len(in) && isPC(in[i]) && !isDigit(in[i+1]) {
			out = append(out, ' ', in[i], ' ', in[i+1])
			i++
			continue
		}
		out = append(out, in[i])
	}
	in, out = out, in[:0]
	for i := 0; i < len(in); i++ {
		if i+1 < len(in) && isDigit(in[i]) && in[i+1] == '-' {
			out = append(out, in[i], ' ', '-', ' ')
			i++
			continue
		}
		out = append(out, in[i])
	}
	return string(out)
}

// terNormalizeAsian splits CJK ideographs, strokes, radicals, compatibility
// forms and punctuation into words of their own. sacrebleu's rules for runs
// of kana are anchored at the start of the string, which at this point is
// always a space, so they never apply and kana stay together.
func terNormalizeAsian(s string) string {
	var b strings.Builder
	b.Grow(len(s) * 2)
	for _, r := range s {
		if isCJKSplit(r) || isAsianPunct(r) || isFullWidthPunct(r) {
			b.WriteByte(' ')
			b.WriteRune(r)
			b.WriteByte(' ')
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func isCJKSplit(r rune) bool {
	return (r >= 0x4e00 && r <= 0x9fff) || (r >= 0x3400 && r <= 0x4dbf) ||
		(r >= 0x31c0 && r <= 0x31ef) || (r >= 0x2e80 && r <= 0x2eff) ||
		(r >= 0x3300 && r <= 0x33ff) || (r >= 0xf900 && r <= 0xfaff) ||
		(r >= 0xfe30 && r <= 0xfe4f) || (r >= 0x3200 && r <= 0x3f22)
}

func isAsianPunct(r rune) bool {
	return r == 0x3001 || r == 0x3002 || (r >= 0x3008 && r <= 0x3011) ||
		(r >= 0x3014 && r <= 0x301f) || (r >= 0xff61 && r <= 0xff65) || r == 0x30fb
}

func isFullWidthPunct(r rune) bool {
	switch r {
	case 0xff0e, 0xff0c, 0xff1f, 0xff1a, 0xff1b, 0xff01, 0xff02, 0xff08, 0xff09:
		return true
	}
	return false
}

// CorpusTER computes sacrebleu's corpus-level TER. refs[i] holds the
// references of hyps[i]; every segment needs at least one, and an empty
// string counts as an empty reference. The work is spread over the
// available CPUs; the result does not depend on how.
func CorpusTER(hyps []string, refs [][]string, cfg TERConfig) (TERScore, error) {
	if err := checkSegments(len(hyps), refs); err != nil {
		return TERScore{}, err
	}
	type segStat struct {
		edits  int
		refLen float64
	}
	stats := make([]segStat, len(hyps))
	parallelSegments(len(hyps), func() func(i int) {
		a := &terAligner{}
		return func(i int) {
			e, l := a.segment(cfg, hyps[i], refs[i])
			stats[i] = segStat{e, l}
		}
	})
	var edits int
	var refLen float64
	for _, s := range stats {
		edits += s.edits
		refLen += s.refLen
	}
	return terScore(edits, refLen), nil
}

// SentenceTER computes the TER of one hypothesis against its references.
func SentenceTER(hyp string, refs []string, cfg TERConfig) (TERScore, error) {
	return CorpusTER([]string{hyp}, [][]string{refs}, cfg)
}

func terScore(edits int, refLen float64) TERScore {
	var score float64
	switch {
	case refLen > 0:
		score = float64(edits) / refLen
	case edits > 0:
		score = 1
	}
	return TERScore{Score: 100 * score, Edits: edits, RefLength: refLen}
}

// terAligner holds the reusable buffers of the TER computation of one
// goroutine.
type terAligner struct {
	vocab map[string]int32

	hyp, ref []int32
	n, m     int

	// Row i of the edit-distance matrix (i hypothesis words consumed) is
	// only computed in its beam [lo[i], hi[i]), and stored over the wider
	// window [wlo[i], whi[i]) whose extra cells stay terInf, so that
	// neighbouring rows can read it without bounds checks. base[i] maps a
	// column j to its index, base[i]+j, in the flat slices below.
	lo, hi, wlo, whi, base []int

	fwd  []int32 // forward distances of the current hypothesis
	ops  []byte  // the operation chosen for each cell of fwd
	bwd  []int32 // distances from each cell to the end, current hypothesis
	cand []int32 // forward distances of a shifted candidate

	// fwdRows is how many leading rows of fwd (and ops) hold the current
	// hypothesis' values; bwdFrom is the first row from which bwd does.
	// A shift only changes a stretch of the hypothesis, so the rows before
	// it (forward) and after it (backward) stay valid.
	fwdRows, bwdFrom int

	// refPos lists, for each word id, its positions in the reference in
	// increasing order: refPos[refStart[id]:refStart[id+1]].
	refPos, refStart, refFill []int32

	trace            []byte
	hypErr, refErr   []bool
	align            []int
	shifted, bestHyp []int32
}

// segment returns the fewest edits over refs and their average length.
func (a *terAligner) segment(cfg TERConfig, hyp string, refs []string) (int, float64) {
	if a.vocab == nil {
		a.vocab = make(map[string]int32)
	}
	clear(a.vocab)
	a.hyp = a.words(a.hyp[:0], cfg.normalize(hyp))
	hypWords := a.hyp
	best := math.MaxInt
	refLens := 0
	for _, ref := range refs {
		a.ref = a.words(a.ref[:0], cfg.normalize(ref))
		edits := a.editRate(hypWords)
		refLens += len(a.ref)
		if edits < best {
			best = edits
		}
	}
	return best, float64(refLens) / float64(len(refs))
}

// words appends the vocabulary ids of the whitespace-separated words of s.
func (a *terAligner) words(dst []int32, s string) []int32 {
	for _, w := range pyFields(s) {
		id, ok := a.vocab[w]
		if !ok {
			id = int32(len(a.vocab))
			a.vocab[w] = id
		}
		dst = append(dst, id)
	}
	return dst
}

// editRate is sacrebleu's translation_edit_rate: greedy block shifts while
// they reduce the edit distance, then the edit distance itself.
func (a *terAligner) editRate(hyp []int32) int {
	if len(a.ref) == 0 {
		return len(hyp)
	}
	a.setup(len(hyp), len(a.ref))
	cur := append(a.bestHyp[:0], hyp...)
	a.bestHyp = cur
	shifts, checked := 0, 0
	var dist int
	for {
		var delta int
		var found bool
		dist, delta, found, checked = a.bestShift(cur, checked)
		if checked >= terMaxShiftCandidates || !found || delta <= 0 {
			break
		}
		// bestShift left the winning candidate in a.shifted.
		a.apply(cur, a.shifted)
		shifts++
	}
	return shifts + dist
}

// setup lays out the beam of an n×m problem and resets the matrices.
func (a *terAligner) setup(n, m int) {
	a.n, a.m = n, m
	ratio := 1.0
	if n > 0 {
		ratio = float64(m) / float64(n)
	}
	beam := terBeamWidth
	// Very unequal lengths would leave consecutive beams without overlap.
	if float64(terBeamWidth) < ratio/2 {
		beam = int(math.Ceil(ratio/2 + terBeamWidth))
	}
	a.lo = resizeInts(a.lo, n+1)
	a.hi = resizeInts(a.hi, n+1)
	a.wlo = resizeInts(a.wlo, n+1)
	a.whi = resizeInts(a.whi, n+1)
	a.base = resizeInts(a.base, n+1)
	a.lo[0], a.hi[0] = 0, m+1
	for i := 1; i <= n; i++ {
		diag := int(math.Floor(float64(i) * ratio))
		a.lo[i] = max(0, diag-beam)
		a.hi[i] = min(m+1, diag+beam)
		if i == n {
			a.hi[i] = m + 1
		}
	}
	total := 0
	for i := 0; i <= n; i++ {
		lo, hi := a.lo[i], a.hi[i]
		if i > 0 {
			lo = min(lo, a.lo[i-1])
		}
		if i < n {
			hi = max(hi, a.hi[i+1])
		}
		a.wlo[i] = max(0, lo-1)
		a.whi[i] = min(m+1, hi+1)
		a.base[i] = total - a.wlo[i]
		total += a.whi[i] - a.wlo[i]
	}
	a.fwd = fillInf(a.fwd, total)
	a.bwd = fillInf(a.bwd, total)
	a.cand = fillInf(a.cand, total)
	if cap(a.ops) < total {
		a.ops = make([]byte, total)
	}
	a.ops = a.ops[:total]
	// The first row is the cost of inserting the reference prefix.
	for j := 0; j <= m; j++ {
		a.fwd[a.base[0]+j] = int32(j)
		a.cand[a.base[0]+j] = int32(j)
		a.ops[a.base[0]+j] = terOpIns
	}
	a.shifted = resizeInt32s(a.shifted, n)
	a.fwdRows, a.bwdFrom = 1, n+1
	a.indexRef()
}

// indexRef builds the position lists of the reference words, so that the
// shift search visits only the reference positions that match.
func (a *terAligner) indexRef() {
	vocab := len(a.vocab)
	a.refStart = resizeInt32s(a.refStart, vocab+1)
	clear(a.refStart)
	for _, w := range a.ref {
		a.refStart[w+1]++
	}
	for i := 1; i <= vocab; i++ {
		a.refStart[i] += a.refStart[i-1]
	}
	a.refPos = resizeInt32s(a.refPos, len(a.ref))
	a.refFill = append(a.refFill[:0], a.refStart[:vocab]...)
	for j, w := range a.ref {
		a.refPos[a.refFill[w]] = int32(j)
		a.refFill[w]++
	}
}

// apply replaces cur by next and marks the matrix rows that the change
// invalidates.
func (a *terAligner) apply(cur, next []int32) {
	n := len(cur)
	p, q := 0, n
	for p < n && next[p] == cur[p] {
		p++
	}
	for q > p && next[q-1] == cur[q-1] {
		q--
	}
	copy(cur, next)
	a.fwdRows = min(a.fwdRows, p+1)
	a.bwdFrom = max(a.bwdFrom, q)
}

func resizeInts(s []int, n int) []int {
	if cap(s) < n {
		return make([]int, n)
	}
	return s[:n]
}

func resizeInt32s(s []int32, n int) []int32 {
	if cap(s) < n {
		return make([]int32, n)
	}
	return s[:n]
}

func fillInf(s []int32, n int) []int32 {
	if cap(s) < n {
		s = make([]int32, n)
	}
	s = s[:n]
	for i := range s {
		s[i] = terInf
	}
	return s
}

// forwardTrace fills rows from+1..to of fwd for the words hyp, recording
// in ops the operation chosen for each cell. It keeps sacrebleu's
// preference among equal costs (match or substitution, then deletion, then
// insertion), which decides the trace and through it which shifts are
// tried.
func (a *terAligner) forwardTrace(hyp []int32, from, to int) {
	ref, f, ops := a.ref, a.fwd, a.ops
	for i := from + 1; i <= to; i++ {
		pb, cb := a.base[i-1], a.base[i]
		w := hyp[i-1]
		lo, hi := a.lo[i], a.hi[i]
		j := lo
		if j == 0 {
			f[cb] = f[pb] + 1
			ops[cb] = terOpDel
			j = 1
		}
		if j >= hi {
			continue
		}
		pr := f[pb+j-1 : pb+hi]
		cr := f[cb+j-1 : cb+hi]
		oc := ops[cb+j : cb+hi]
		rf := ref[j-1 : hi-1]
		_ = pr[len(rf)]
		_ = cr[len(rf)]
		_ = oc[len(rf)-1]
		diag, left := pr[0], cr[0]
		for k, r := range rf {
			up := pr[k+1]
			d, op := diag, terOpMatch
			if w != r {
				d, op = d+1, terOpSub
			}
			v := min(d, up+1, left+1)
			// The first of the three in sacrebleu's order that reaches
			// the minimum wins.
			if v != d {
				if up+1 == v {
					op = terOpDel
				} else {
					op = terOpIns
				}
			}
			cr[k+1] = v
			oc[k] = op
			diag, left = up, v
		}
	}
}

// forwardCost fills rows from+1..to of cand with the distances of the
// words hyp, starting from row from of fwd. Only the values matter here,
// so ties need no care.
func (a *terAligner) forwardCost(hyp []int32, from, to int) {
	ref := a.ref
	prev, pb := a.fwd, a.base[from]
	for i := from + 1; i <= to; i++ {
		cb := a.base[i]
		w := hyp[i-1]
		lo, hi := a.lo[i], a.hi[i]
		j := lo
		if j == 0 {
			a.cand[cb] = prev[pb] + 1
			j = 1
		}
		if j < hi {
			pr := prev[pb+j-1 : pb+hi]
			cr := a.cand[cb+j-1 : cb+hi]
			rf := ref[j-1 : hi-1]
			_ = pr[len(rf)]
			_ = cr[len(rf)]
			// diag and left carry the neighbours in registers.
			diag, left := pr[0], cr[0]
			for k, r := range rf {
				up := pr[k+1]
				v := diag
				if w != r {
					v++
				}
				v = min(v, up+1, left+1)
				cr[k+1] = v
				diag, left = up, v
			}
		}
		prev, pb = a.cand, cb
	}
}

// backward fills bwd with the cost of finishing the alignment of hyp from
// each cell, over the same beam cells as forward uses. Joining it with the
// forward rows of a shifted hypothesis at the first row after the shift
// gives that hypothesis' edit distance without recomputing its unchanged
// suffix: every path crosses that row, and the suffix rows only depend on
// the words that follow it.
func (a *terAligner) backward(hyp []int32) {
	n, m, ref, b := a.n, a.m, a.ref, a.bwd
	if a.bwdFrom > n {
		nb := a.base[n]
		b[nb+m] = 0
		for j := m - 1; j >= a.lo[n]; j-- {
			b[nb+j] = b[nb+j+1] + 1
		}
	}
	for i := min(a.bwdFrom, n) - 1; i >= 1; i-- {
		cb, nb := a.base[i], a.base[i+1]
		w := hyp[i]
		lo, j := a.lo[i], a.hi[i]-1
		if j == m {
			// The last column can only delete.
			b[cb+m] = b[nb+m] + 1
			j--
		}
		if j < lo {
			continue
		}
		nr := b[nb+lo : nb+j+2]
		cr := b[cb+lo : cb+j+2]
		rf := ref[lo : j+1]
		right, diag := cr[len(rf)], nr[len(rf)]
		for k := len(rf) - 1; k >= 0; k-- {
			down := nr[k]
			c := diag
			if w != rf[k] {
				c++
			}
			v := min(down+1, c, right+1)
			cr[k] = v
			right, diag = v, down
		}
	}
	a.bwdFrom = 1
}

// bestShift is sacrebleu's _shift: it computes the edit distance of cur,
// then tries the block shifts TERCOM allows and leaves the best one in
// a.shifted. It returns cur's distance, the best gain, whether any
// candidate was evaluated and the updated candidate count.
func (a *terAligner) bestShift(cur []int32, checked int) (dist, gain int, found bool, _ int) {
	n, m := a.n, a.m
	a.forwardTrace(cur, a.fwdRows-1, n)
	a.fwdRows = n + 1
	dist = int(a.fwd[a.base[n]+m])
	if n == 0 {
		return dist, 0, false, checked
	}
	a.alignment()

	ref := a.ref
	var bestLen, bestStart, bestIdx int
	for sh := 0; sh < n; sh++ {
		// sacrebleu tries every reference position within the maximum
		// shift distance; only those holding the same word yield pairs,
		// and they are visited in the same increasing order.
		w := cur[sh]
		pos := a.refPos[a.refStart[w]:a.refStart[w+1]]
		for _, p := range pos {
			sr := int(p)
			if sr < sh-terMaxShiftDist {
				continue
			}
			if sr > sh+terMaxShiftDist {
				break
			}
			hypErrs, refErrs := 0, 0
			for length := 1; length <= terMaxShiftSize; length++ {
				if sh+length > n || sr+length > m || cur[sh+length-1] != ref[sr+length-1] {
					break
				}
				if a.hypErr[sh+length-1] {
					hypErrs++
				}
				if a.refErr[sr+length-1] {
					refErrs++
				}
				// Only shift words that are wrong where they are, to a place
				// where the reference is not matched yet, and not onto
				// themselves.
				if hypErrs == 0 || refErrs == 0 {
					continue
				}
				if al := a.align[sr]; sh <= al && al < sh+length {
					continue
				}
				prevIdx := -1
				for off := -1; off < length; off++ {
					idx := 0
					if sr+off >= 0 {
						idx = a.align[sr+off] + 1
					}
					if idx == prevIdx {
						continue
					}
					prevIdx = idx
					d := a.shiftedDistance(cur, sh, length, idx, dist)
					checked++
					g := dist - d
					// sacrebleu ranks candidates by gain, then length, then
					// earliest start, then earliest target; ties keep the
					// first one found.
					if !found || g > gain || (g == gain && (length > bestLen ||
						(length == bestLen && (sh < bestStart || (sh == bestStart && idx < bestIdx))))) {
						found, gain, bestLen, bestStart, bestIdx = true, g, length, sh, idx
					}
				}
				if checked >= terMaxShiftCandidates {
					return dist, gain, found, checked
				}
			}
		}
	}
	if found {
		performShift(a.shifted, cur, bestStart, bestLen, bestIdx)
	}
	return dist, gain, found, checked
}

// alignment backtracks the operations of the current hypothesis and
// derives, as sacrebleu's trace_to_alignment does, which hypothesis and
// reference words are in error and the hypothesis position aligned to each
// reference position.
func (a *terAligner) alignment() {
	n, m := a.n, a.m
	a.trace = a.trace[:0]
	for i, j := n, m; i > 0 || j > 0; {
		op := a.ops[a.base[i]+j]
		a.trace = append(a.trace, op)
		switch op {
		case terOpMatch, terOpSub:
			i--
			j--
		case terOpIns:
			j--
		case terOpDel:
			i--
		default:
			panic(fmt.Sprintf("ter: undefined operation at cell (%d, %d)", i, j))
		}
	}
	a.hypErr = a.hypErr[:0]
	a.refErr = a.refErr[:0]
	if cap(a.align) < m {
		a.align = make([]int, m)
	}
	a.align = a.align[:m]
	posHyp, posRef := -1, -1
	for k := len(a.trace) - 1; k >= 0; k-- {
		// The trace rewrites the hypothesis into the reference; sacrebleu
		// flips insertions and deletions to read it the other way round.
		switch a.trace[k] {
		case terOpMatch, terOpSub:
			posHyp++
			posRef++
			a.align[posRef] = posHyp
			bad := a.trace[k] == terOpSub
			a.hypErr = append(a.hypErr, bad)
			a.refErr = append(a.refErr, bad)
		case terOpDel:
			posHyp++
			a.hypErr = append(a.hypErr, true)
		case terOpIns:
			posRef++
			a.align[posRef] = posHyp
			a.refErr = append(a.refErr, true)
		}
	}
}

// shiftedDistance returns the edit distance of cur with the block
// [start, start+length) moved before position target, given cur's own
// distance dist. Rows before the first changed word are shared with cur;
// rows after the last changed word are joined through the backward matrix.
func (a *terAligner) shiftedDistance(cur []int32, start, length, target, dist int) int {
	s := a.shifted
	performShift(s, cur, start, length, target)
	n := a.n
	p, q := 0, n
	for p < n && s[p] == cur[p] {
		p++
	}
	if p == n {
		return dist
	}
	for q > p && s[q-1] == cur[q-1] {
		q--
	}
	a.forwardCost(s, p, q)
	if a.bwdFrom > 1 {
		a.backward(cur)
	}
	cb, bb := a.base[q], a.base[q]
	best := terInf
	for j := a.lo[q]; j < a.hi[q]; j++ {
		if c := a.cand[cb+j] + a.bwd[bb+j]; c < best {
			best = c
		}
	}
	return int(best)
}

// performShift writes into dst the words of src with the block
// [start, start+length) moved before position target, following
// sacrebleu's _perform_shift case by case, including how it clamps a
// target past the end.
func performShift(dst, src []int32, start, length, target int) {
	n := len(src)
	switch {
	case target < start:
		k := copy(dst, src[:target])
		k += copy(dst[k:], src[start:start+length])
		k += copy(dst[k:], src[target:start])
		copy(dst[k:], src[start+length:])
	case target > start+length:
		k := copy(dst, src[:start])
		k += copy(dst[k:], src[start+length:target])
		k += copy(dst[k:], src[start:start+length])
		copy(dst[k:], src[target:])
	default:
		end := min(n, length+target)
		k := copy(dst, src[:start])
		k += copy(dst[k:], src[start+length:end])
		k += copy(dst[k:], src[start:start+length])
		copy(dst[k:], src[end:])
	}
}
