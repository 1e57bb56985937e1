package eval

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/retrieval"
)

// The per-draft metrics compare one draft with one final text. Each takes
// the texts as given: the scorer (Score) strips citations from both first,
// because finals rarely keep them. Overlap metrics are on the 0–100 scale
// of their reference implementations, shares on 0–1.

// TER returns the translation edit rate of a draft against its final with
// sacrebleu's defaults, on the 0–100 scale: the edits (insertions,
// deletions, substitutions and shifts of words) that turn the draft into
// the final, per word of the final. When the final is a reviewer's edit of
// that very draft, this is HTER (human-targeted TER); see Reference.
func TER(draft, final string) float64 {
	var a terAligner
	edits, refLen := a.segment(TERConfig{}, draft, []string{final})
	return terScore(edits, refLen).Score
}

// ShippedUnchanged reports whether the reviewer shipped the draft as it
// was: the texts are equal once runs of white space are collapsed and the
// ends trimmed (NormalizeSpace). Case and punctuation count.
func ShippedUnchanged(draft, final string) bool {
	return NormalizeSpace(draft) == NormalizeSpace(final)
}

// ChrF returns sacrebleu's sentence chrF2 of a draft against its final
// (character 6-grams, β = 2), 0–100.
func ChrF(draft, final string) float64 {
	s, _ := SentenceChrF(draft, []string{final}, ChrFConfig{})
	return s
}

// ChrFPlusPlus returns sacrebleu's sentence chrF2++ of a draft against its
// final (character 6-grams and word bigrams), 0–100.
func ChrFPlusPlus(draft, final string) float64 {
	s, _ := SentenceChrF(draft, []string{final}, ChrFConfig{WordOrder: 2})
	return s
}

// BLEU returns sacrebleu's sentence_bleu of a draft against its final:
// 13a tokenization, exponential smoothing and effective order, 0–100.
func BLEU(draft, final string) float64 {
	s, _ := SentenceBLEU(draft, []string{final}, BLEUConfig{})
	return s.Score
}

// RougeLF returns rouge-score's ROUGE-L F-measure of a draft (the
// prediction) against its final (the target), without stemming, × 100.
func RougeLF(draft, final string) float64 {
	return 100 * RougeL(draft, final, RougeConfig{}).FMeasure
}

// Cosine returns the cosine similarity of two vectors, 0 when either is
// all zeros. Vectors of different lengths are an error of the caller and
// compare only their common prefix.
func Cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range min(len(a), len(b)) {
		x, y := float64(a[i]), float64(b[i])
		dot += x * y
		na += x * x
		nb += y * y
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}

// Meaning returns the cosine similarity of a draft and its final under an
// embedder: how close in meaning they are, whatever their wording. Its
// scale is the embedder's (about 0–1 for the built-in one); scores under
// different embedders are not comparable.
func Meaning(ctx context.Context, emb hindsight.Embedder, draft, final string) (float64, error) {
	vs, err := emb.Embed(ctx, []string{draft, final})
	if err != nil {
		return 0, fmt.Errorf("embed: %w", err)
	}
	if len(vs) != 2 {
		return 0, fmt.Errorf("embedder returned %d vectors for 2 texts", len(vs))
	}
	return Cosine(vs[0], vs[1]), nil
}

// AlignThreshold is the similarity from which a draft recommendation and a
// final recommendation are taken to be the same recommendation, kept
// (perhaps reworded) by the reviewer. See RecommendationSimilarity. It was
// set on the committed sample, whose generator knows which draft
// recommendations are reworded steps of the final and which are padding:
// at 0.3 the number aligned is right for 70 of its 81 pairs and never too
// high; at 0.4 for 54, at 0.5 for 42, because reviewers reword steps
// heavily ("Lock 'test' and reset its password" → "Reset the password of
// 'test'" is 0.35).
const AlignThreshold = 0.3

// RecommendationSimilarity is the Dice coefficient 2|A∩B| / (|A|+|B|) of
// the content-word sets of two recommendations, citations stripped. Words
// are rouge-score's tokens (lowercased runs of ASCII letters and digits,
// Porter-stemmed) less stop words and the vocabulary of hedging
// ("consider", "may", "want", "feasible", …), so that "Consider resetting
// the password" and "Reset the password" are the same recommendation. It
// is 0 when either has no content words.
func RecommendationSimilarity(a, b string) float64 {
	var al aligner
	x := al.content(nil, StripCitations(a))
	return dice(x, al.content(nil, StripCitations(b)))
}

// alignStop are words that say nothing about what a recommendation asks
// for: function words and the vocabulary of hedging, stemmed as
// aligner.content stems.
var alignStop = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a an the and or of to in on for with by from at as is are be been was were
		that this these those it its into than then there their your you we our us please all any each also
		not no so if via per once after before while when where which who will shall should must can may
		might could would consider considering want feasible possible possibly prudent recommend suggest
		ideally optionally perhaps wherever whenever ensure`) {
		for _, t := range rougeTokens(w, RougeConfig{UseStemmer: true}) {
			m[t] = true
		}
	}
	return m
}()

// aligner holds what one goroutine reuses between alignments: the content
// word id of every token seen, since stemming dominates the alignment's
// cost and drafts repeat their vocabulary.
type aligner struct {
	ids   map[string]int32 // lowercased token → content word id, −1 for a stop word
	stems map[string]int32 // stem → id
	sets  [][]int32
}

// maxAlignVocab bounds the token cache of a long-lived aligner.
const maxAlignVocab = 1 << 16

// content appends to dst the sorted, distinct content word ids of s, which
// must have no citations: s lowercased, split into runs of ASCII letters
// and digits (rouge-score's tokenizer), words longer than three letters
// Porter-stemmed, stop words left out.
func (a *aligner) content(dst []int32, s string) []int32 {
	if a.ids == nil {
		a.ids, a.stems = make(map[string]int32), make(map[string]int32)
	}
	start := len(dst)
	text := pyLower(s)
	from := -1
	for i := 0; i <= len(text); i++ {
		if i < len(text) && (text[i] >= 'a' && text[i] <= 'z' || text[i] >= '0' && text[i] <= '9') {
			if from < 0 {
				from = i
			}
			continue
		}
		if from < 0 {
			continue
		}
		tok := text[from:i]
		from = -1
		id, ok := a.ids[tok]
		if !ok {
			stem := tok
			if len(tok) > 3 {
				stem = porterStem(tok)
			}
			id = -1
			if !alignStop[stem] {
				if id, ok = a.stems[stem]; !ok {
					id = int32(len(a.stems))
					a.stems[stem] = id
				}
			}
			a.ids[strings.Clone(tok)] = id
		}
		if id >= 0 {
			dst = append(dst, id)
		}
	}
	set := dst[start:]
	slices.Sort(set)
	return dst[:start+len(slices.Compact(set))]
}

// dice is the Dice coefficient of two sorted sets of ids.
func dice(a, b []int32) float64 { return retrieval.SortedDice(a, b) }

// Alignment pairs a draft's recommendations with its final's.
type Alignment struct {
	// Draft and Final are the two lists of recommendations, citations
	// stripped, in their order.
	Draft, Final []string
	// Pairs are the aligned recommendations, in draft order.
	Pairs []AlignedPair
	// Removed holds the indexes in Draft of recommendations the reviewer
	// deleted; Added those in Final of recommendations the reviewer wrote.
	Removed, Added []int
}

// AlignedPair is a draft recommendation the reviewer kept, and what it
// became.
type AlignedPair struct {
	Draft, Final int     // indexes in Alignment.Draft and Alignment.Final
	Similarity   float64 // RecommendationSimilarity of the two
}

// AlignRecommendations aligns a draft's recommendations with its final's,
// greedily: of all pairs whose RecommendationSimilarity is at least
// AlignThreshold, the most similar pair is aligned first (ties: the earlier
// draft recommendation, then the earlier final one), both leave the pool,
// and so on until no pair is left. Each recommendation is aligned at most
// once. Citations are stripped from both lists first.
func AlignRecommendations(draftRecs, finalRecs []string) Alignment {
	var a aligner
	return a.align(draftRecs, finalRecs)
}

func (a *aligner) align(draftRecs, finalRecs []string) Alignment {
	if len(a.ids) > maxAlignVocab {
		clear(a.ids)
		clear(a.stems)
	}
	al := Alignment{Draft: make([]string, len(draftRecs)), Final: make([]string, len(finalRecs))}
	a.sets = a.sets[:0]
	for i, r := range draftRecs {
		al.Draft[i] = strings.TrimSpace(StripCitations(r))
		a.sets = append(a.sets, a.content(nil, al.Draft[i]))
	}
	for j, r := range finalRecs {
		al.Final[j] = strings.TrimSpace(StripCitations(r))
		a.sets = append(a.sets, a.content(nil, al.Final[j]))
	}
	dw, fw := a.sets[:len(draftRecs)], a.sets[len(draftRecs):]
	var cands []AlignedPair
	for i := range dw {
		for j := range fw {
			if s := dice(dw[i], fw[j]); s >= AlignThreshold {
				cands = append(cands, AlignedPair{Draft: i, Final: j, Similarity: s})
			}
		}
	}
	sort.SliceStable(cands, func(x, y int) bool {
		a, b := cands[x], cands[y]
		if a.Similarity != b.Similarity {
			return a.Similarity > b.Similarity
		}
		if a.Draft != b.Draft {
			return a.Draft < b.Draft
		}
		return a.Final < b.Final
	})
	dUsed := make([]bool, len(draftRecs))
	fUsed := make([]bool, len(finalRecs))
	for _, c := range cands {
		if !dUsed[c.Draft] && !fUsed[c.Final] {
			dUsed[c.Draft], fUsed[c.Final] = true, true
			al.Pairs = append(al.Pairs, c)
		}
	}
	sort.Slice(al.Pairs, func(x, y int) bool { return al.Pairs[x].Draft < al.Pairs[y].Draft })
	for i, u := range dUsed {
		if !u {
			al.Removed = append(al.Removed, i)
		}
	}
	for j, u := range fUsed {
		if !u {
			al.Added = append(al.Added, j)
		}
	}
	return al
}

// Precision is the share of the draft's recommendations the reviewer kept
// (kept / draft), and false when the draft has none.
func (al Alignment) Precision() (float64, bool) {
	if len(al.Draft) == 0 {
		return 0, false
	}
	return float64(len(al.Pairs)) / float64(len(al.Draft)), true
}

// Recall is the share of the final's recommendations that the draft
// already had (kept / final), and false when the final has none.
func (al Alignment) Recall() (float64, bool) {
	if len(al.Final) == 0 {
		return 0, false
	}
	return float64(len(al.Pairs)) / float64(len(al.Final)), true
}

// Rewritten returns the aligned pairs whose texts differ once white space
// is normalised and a final full stop or semicolon is ignored: kept, but
// reworded.
func (al Alignment) Rewritten() []AlignedPair {
	var out []AlignedPair
	for _, p := range al.Pairs {
		if sameRecommendation(al.Draft[p.Draft], al.Final[p.Final]) {
			continue
		}
		out = append(out, p)
	}
	return out
}

func sameRecommendation(a, b string) bool {
	trim := func(s string) string { return strings.TrimRight(NormalizeSpace(s), ".; ") }
	return trim(a) == trim(b)
}

// Prescriptiveness returns the aligned pairs whose draft recommendation
// was hedged (IsHedged) and whose final is imperative — the reviewer made
// a suggestion an instruction — and the reverse, imperative recommendations
// the reviewer softened.
func Prescriptiveness(al Alignment) (hedgeRemoved, hedgeAdded []AlignedPair) {
	for _, p := range al.Pairs {
		d, f := IsHedged(al.Draft[p.Draft]), IsHedged(al.Final[p.Final])
		switch {
		case d && !f:
			hedgeRemoved = append(hedgeRemoved, p)
		case !d && f:
			hedgeAdded = append(hedgeAdded, p)
		}
	}
	return hedgeRemoved, hedgeAdded
}

// GroundingScore is how well a draft's recommendations are grounded.
type GroundingScore struct {
	// Cited is the share of recommendations with valid citations: at least
	// one, and none that the drafter had to remove because it named no
	// source of the draft.
	Cited float64
	// Supported is the share of recommendations whose cited sources
	// support them (draft.Support at or above draft.SupportThreshold).
	// It is meaningful only when HasSupport is true.
	Supported  float64
	HasSupport bool
}

// Grounding scores a stored draft's recommendations, whose citations the
// drafter validated against its sources and whose support it measured. It
// returns false for a draft without recommendations.
func Grounding(recs []hindsight.Recommendation) (GroundingScore, bool) {
	if len(recs) == 0 {
		return GroundingScore{}, false
	}
	var cited, supported int
	for _, r := range recs {
		if len(r.Citations) > 0 && len(r.Removed) == 0 {
			cited++
		}
		if r.Supported {
			supported++
		}
	}
	n := float64(len(recs))
	return GroundingScore{Cited: float64(cited) / n, Supported: float64(supported) / n, HasSupport: true}, true
}

// GroundingOfText scores recommendations known only as text (an eval-pairs
// record): a recommendation counts as cited when it carries a bracketed
// list of source IDs (Citations). Whether those IDs were among the draft's
// sources, and whether they support it, cannot be told from the text, so
// HasSupport is false. It returns false when there are no
// recommendations.
func GroundingOfText(recs []string) (GroundingScore, bool) {
	if len(recs) == 0 {
		return GroundingScore{}, false
	}
	cited := 0
	for _, r := range recs {
		if len(Citations(r)) > 0 {
			cited++
		}
	}
	return GroundingScore{Cited: float64(cited) / float64(len(recs))}, true
}
