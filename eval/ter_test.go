package eval

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

type terVector struct {
	ID      string `json:"id"`
	Options struct {
		Normalized    bool `json:"normalized"`
		NoPunct       bool `json:"no_punct"`
		AsianSupport  bool `json:"asian_support"`
		CaseSensitive bool `json:"case_sensitive"`
	} `json:"options"`
	Hypothesis []string   `json:"hypothesis"`
	References [][]string `json:"references"`
	Expected   float64    `json:"expected"`
	Tolerance  float64    `json:"tolerance"`
	Observed   *float64   `json:"observed_sacrebleu_f615c72"`
	NumEdits   *int       `json:"num_edits_observed"`
	RefLength  *float64   `json:"ref_length_observed"`
	ExpEdits   *int       `json:"expected_num_edits"`
	ExpRefLen  *float64   `json:"expected_ref_length"`
	Source     string     `json:"source"`
}

// TestTERVectors checks every case of testdata/ter.json, from sacrebleu's
// test/test_ter.py, the Hugging Face evaluate TER docstring examples and
// one DERIVED regression case (sacrebleu README inputs).
func TestTERVectors(t *testing.T) {
	for _, v := range loadVectors[terVector](t, "ter.json") {
		t.Run(v.ID, func(t *testing.T) {
			t.Parallel()
			cfg := TERConfig{
				Normalized:    v.Options.Normalized,
				NoPunct:       v.Options.NoPunct,
				AsianSupport:  v.Options.AsianSupport,
				CaseSensitive: v.Options.CaseSensitive,
			}
			got, err := CorpusTER(v.Hypothesis, v.References, cfg)
			if err != nil {
				t.Fatalf("CorpusTER: %v (source: %s)", err, v.Source)
			}
			if !within(got.Score, v.Expected, v.Tolerance) {
				t.Errorf("score = %v, want %v ± %v (source: %s)", got.Score, v.Expected, v.Tolerance, v.Source)
			}
			if v.Observed != nil && !within(got.Score, *v.Observed, observedTolerance) {
				t.Errorf("score = %v, sacrebleu printed %v (source: %s)", got.Score, *v.Observed, v.Source)
			}
			for _, e := range []*int{v.NumEdits, v.ExpEdits} {
				if e != nil && got.Edits != *e {
					t.Errorf("edits = %d, want %d (source: %s)", got.Edits, *e, v.Source)
				}
			}
			for _, l := range []*float64{v.RefLength, v.ExpRefLen} {
				if l != nil && got.RefLength != *l {
					t.Errorf("reference length = %v, want %v (source: %s)", got.RefLength, *l, v.Source)
				}
			}
		})
	}
}

type terTokVector struct {
	Options struct {
		Normalized    bool `json:"normalized"`
		NoPunct       bool `json:"no_punct"`
		AsianSupport  bool `json:"asian_support"`
		CaseSensitive bool `json:"case_sensitive"`
	} `json:"options"`
	Input    string `json:"input"`
	Expected string `json:"expected"`
	Source   string `json:"source"`
}

// TestTERTokenizerVectors checks testdata/ter-tokenizer.json, from
// sacrebleu's test/test_tokenizer_ter.py.
func TestTERTokenizerVectors(t *testing.T) {
	for i, v := range loadVectors[terTokVector](t, "ter-tokenizer.json") {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			cfg := TERConfig{
				Normalized:    v.Options.Normalized,
				NoPunct:       v.Options.NoPunct,
				AsianSupport:  v.Options.AsianSupport,
				CaseSensitive: v.Options.CaseSensitive,
			}
			if got := cfg.Tokenize(v.Input); got != v.Expected {
				t.Errorf("Tokenize(%q) = %q, want %q (source: %s)", v.Input, got, v.Expected, v.Source)
			}
		})
	}
}

// directEditRate is a plain transcription of sacrebleu's
// translation_edit_rate (metrics/lib_ter.py): the full beam edit distance
// is recomputed for every candidate, with no prefix cache, no backward
// matrix, no incremental rows and no position index. The optimised search
// must reach exactly the same number of edits.
func directEditRate(hyp, ref []string) int {
	if len(ref) == 0 {
		return len(hyp)
	}
	shifts, checked := 0, 0
	cur := hyp
	for {
		var delta int
		var next []string
		delta, next, checked = directShift(cur, ref, checked)
		if checked >= terMaxShiftCandidates || delta <= 0 {
			break
		}
		shifts++
		cur = next
	}
	d, _ := directDistance(cur, ref)
	return shifts + d
}

// directDistance is sacrebleu's BeamEditDistance._edit_distance, returning
// the distance and the trace (' ' match, 's', 'i', 'd').
func directDistance(h, r []string) (int, string) {
	n, m := len(h), len(r)
	const inf = 1 << 40
	type cell struct {
		v  int
		op byte
	}
	dist := make([][]cell, n+1)
	for i := range dist {
		dist[i] = make([]cell, m+1)
		for j := range dist[i] {
			dist[i][j] = cell{inf, 'x'}
		}
	}
	for j := 0; j <= m; j++ {
		dist[0][j] = cell{j, 'i'}
	}
	ratio := 1.0
	if n > 0 {
		ratio = float64(m) / float64(n)
	}
	beam := 25
	if 25 < ratio/2 {
		beam = int(math.Ceil(ratio/2 + 25))
	}
	for i := 1; i <= n; i++ {
		diag := int(math.Floor(float64(i) * ratio))
		minJ, maxJ := max(0, diag-beam), min(m+1, diag+beam)
		if i == n {
			maxJ = m + 1
		}
		for j := minJ; j < maxJ; j++ {
			if j == 0 {
				dist[i][j] = cell{dist[i-1][j].v + 1, 'd'}
				continue
			}
			cost, op := 1, byte('s')
			if h[i-1] == r[j-1] {
				cost, op = 0, ' '
			}
			for _, c := range []cell{{dist[i-1][j-1].v + cost, op}, {dist[i-1][j].v + 1, 'd'}, {dist[i][j-1].v + 1, 'i'}} {
				if dist[i][j].v > c.v {
					dist[i][j] = c
				}
			}
		}
	}
	var trace []byte
	for i, j := n, m; i > 0 || j > 0; {
		op := dist[i][j].op
		trace = append([]byte{op}, trace...)
		switch op {
		case ' ', 's':
			i--
			j--
		case 'i':
			j--
		case 'd':
			i--
		default:
			panic("undefined cell on the trace")
		}
	}
	return dist[n][m].v, string(trace)
}

// directShift is sacrebleu's _shift with _find_shifted_pairs,
// trace_to_alignment and _perform_shift inlined.
func directShift(h, r []string, checked int) (int, []string, int) {
	pre, inv := directDistance(h, r)
	// Flip the trace to read it as rewriting the reference into h.
	align := map[int]int{}
	var hypErr, refErr []int
	ph, pr := -1, -1
	for _, op := range []byte(inv) {
		switch op {
		case ' ', 's':
			ph++
			pr++
			align[pr] = ph
			e := 0
			if op == 's' {
				e = 1
			}
			hypErr, refErr = append(hypErr, e), append(refErr, e)
		case 'd':
			ph++
			hypErr = append(hypErr, 1)
		case 'i':
			pr++
			align[pr] = ph
			refErr = append(refErr, 1)
		}
	}
	sum := func(s []int) int {
		t := 0
		for _, v := range s {
			t += v
		}
		return t
	}
	var best *directCand
	var bestWords []string
	for sh := range h {
		for sr := range r {
			if sr-sh > terMaxShiftDist || sh-sr > terMaxShiftDist {
				continue
			}
			for length := 1; length <= terMaxShiftSize && sh+length <= len(h) && sr+length <= len(r) && h[sh+length-1] == r[sr+length-1]; length++ {
				if sum(hypErr[sh:sh+length]) == 0 || sum(refErr[sr:sr+length]) == 0 {
					continue
				}
				if a := align[sr]; sh <= a && a < sh+length {
					continue
				}
				prevIdx := -1
				for off := -1; off < length; off++ {
					idx := 0
					if sr+off != -1 {
						a, ok := align[sr+off]
						if !ok {
							break
						}
						idx = a + 1
					}
					if idx == prevIdx {
						continue
					}
					prevIdx = idx
					shifted := make([]int32, len(h))
					ids := make([]int32, len(h))
					for i := range h {
						ids[i] = int32(i)
					}
					performShift(shifted, ids, sh, length, idx)
					words := make([]string, len(h))
					for i, k := range shifted {
						words[i] = h[k]
					}
					d, _ := directDistance(words, r)
					c := directCand{pre - d, length, -sh, -idx}
					checked++
					if best == nil || c.gain > best.gain || (c.gain == best.gain && (c.length > best.length ||
						(c.length == best.length && (c.negStart > best.negStart || (c.negStart == best.negStart && c.negIdx > best.negIdx))))) {
						best, bestWords = &c, words
					}
				}
				if checked >= terMaxShiftCandidates {
					return directResult(best, bestWords, h, checked)
				}
			}
		}
	}
	return directResult(best, bestWords, h, checked)
}

// directCand is sacrebleu's ranking tuple of a shift candidate.
type directCand struct{ gain, length, negStart, negIdx int }

func directResult(best *directCand, words, h []string, checked int) (int, []string, int) {
	if best == nil {
		return 0, h, checked
	}
	return best.gain, words, checked
}

// terCases returns hypothesis-reference pairs that exercise the shift
// search: reviewer-style edits of generated prose, a four-word vocabulary
// that yields many candidate shifts and reaches the candidate budget, and
// very unequal lengths that widen the beam.
func terCases() [][2]string {
	var out [][2]string
	g := newTextGen(5)
	for range 25 {
		ref := g.reference(40, 160)
		out = append(out, [2]string{strings.Join(g.draft(ref), " "), strings.Join(ref, " ")})
	}
	rng := rand.New(rand.NewPCG(9, 9))
	words := func(vocab []string, n int) string {
		w := make([]string, n)
		for i := range w {
			w[i] = vocab[rng.IntN(len(vocab))]
		}
		return strings.Join(w, " ")
	}
	abcd := []string{"a", "b", "c", "d"}
	for range 40 {
		out = append(out, [2]string{words(abcd, 1+rng.IntN(90)), words(abcd, 1+rng.IntN(90))})
	}
	for _, nm := range [][2]int{{2, 150}, {150, 2}, {1, 120}, {70, 160}, {0, 5}, {5, 0}} {
		out = append(out, [2]string{words(g.vocab[:40], nm[0]), words(g.vocab[:40], nm[1])})
	}
	return out
}

// TestTERMatchesDirectTranscription holds the optimised shift search to
// the plain transcription of sacrebleu's algorithm on inputs far longer
// and more repetitive than the published vectors.
func TestTERMatchesDirectTranscription(t *testing.T) {
	for i, c := range terCases() {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			got, err := SentenceTER(c[0], []string{c[1]}, TERConfig{})
			if err != nil {
				t.Fatal(err)
			}
			cfg := TERConfig{}
			want := directEditRate(strings.Fields(cfg.Tokenize(c[0])), strings.Fields(cfg.Tokenize(c[1])))
			if got.Edits != want {
				t.Errorf("edits = %d, direct transcription gives %d\nhyp: %s\nref: %s", got.Edits, want, c[0], c[1])
			}
		})
	}
}

// FuzzTER compares the optimised search with the direct transcription on
// arbitrary texts.
func FuzzTER(f *testing.F) {
	for _, c := range terCases()[25:40] {
		f.Add(c[0], c[1])
	}
	f.Add("d e f g h a b c", "a b c d e f g h")
	f.Fuzz(func(t *testing.T, hyp, ref string) {
		cfg := TERConfig{}
		h, r := pyFields(cfg.normalize(hyp)), pyFields(cfg.normalize(ref))
		// The direct transcription is cubic; keep the inputs small.
		if len(h) > 60 || len(r) > 60 {
			t.Skip()
		}
		got, err := SentenceTER(hyp, []string{ref}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if want := directEditRate(h, r); got.Edits != want {
			t.Errorf("edits = %d, direct transcription gives %d", got.Edits, want)
		}
	})
}

// TestCorpusTERSumsSegments checks that the parallel corpus computation
// adds up the per-segment statistics exactly, in segment order.
func TestCorpusTERSumsSegments(t *testing.T) {
	hyps, refs := newTextGen(8).pairs(40)
	got, err := CorpusTER(hyps, refs, TERConfig{})
	if err != nil {
		t.Fatal(err)
	}
	edits, refLen := 0, 0.0
	for i := range hyps {
		s, err := SentenceTER(hyps[i], refs[i], TERConfig{})
		if err != nil {
			t.Fatal(err)
		}
		edits += s.Edits
		refLen += s.RefLength
	}
	if got.Edits != edits || got.RefLength != refLen {
		t.Errorf("corpus edits %d / length %v, segments sum to %d / %v", got.Edits, got.RefLength, edits, refLen)
	}
	if want := 100 * (float64(edits) / refLen); got.Score != want {
		t.Errorf("score = %v, want %v", got.Score, want)
	}
}
