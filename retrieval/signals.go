package retrieval

import (
	"context"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hindsightsec/hindsight"
)

// techniqueFamily returns the techniques to filter candidates by for the ATT&CK signal: the
// query's techniques and their parents (a filter on a parent also matches its sub-techniques), kept
// within the caller's own technique filter when there is one.
func techniqueFamily(query, within []string) []string {
	var out []string
	for _, t := range query {
		p := hindsight.ParentTechnique(t)
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	if len(within) > 0 {
		return within
	}
	return out
}

// rankByTechnique reorders the technique signal's candidates by ATT&CK similarity to the query,
// keeping the backend's order (text or vector similarity) among equals. The candidate's Score
// becomes the similarity, as the explanation shows it.
func rankByTechnique(cands []hindsight.Candidate, query []string, docs map[hindsight.DocKey]*hindsight.Document, tactics map[string][]string) []hindsight.Candidate {
	out := make([]hindsight.Candidate, 0, len(cands))
	for _, c := range cands {
		d := docs[c.Doc]
		if d == nil {
			continue
		}
		if s := TechniqueSimilarity(query, d.Techniques, tactics); s > 0 {
			c.Score = s
			out = append(out, c)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Score > out[j].Score })
	return out
}

// tacticTag is the tag prefix under which technique documents from the ATT&CK bundle carry their
// tactics ("tactic:credential-access").
const tacticTag = "tactic:"

// tactics looks up the tactics of the query's and the candidates' techniques from the ATT&CK
// technique documents in the store. Without an ingested bundle the map is empty and the ATT&CK
// signal falls back to the ID structure alone.
func (r *Retriever) tactics(ctx context.Context, query []string, docs map[hindsight.DocKey]*hindsight.Document) map[string][]string {
	want := map[string]bool{}
	for _, t := range query {
		want[hindsight.ParentTechnique(t)] = true
	}
	for _, d := range docs {
		if d == nil {
			continue
		}
		for _, t := range d.Techniques {
			want[hindsight.ParentTechnique(t)] = true
		}
	}
	keys := make([]hindsight.DocKey, 0, len(want))
	for t := range want {
		keys = append(keys, hindsight.DocKey{Kind: hindsight.KindTechnique, ID: t})
	}
	found, err := r.index.FindDocuments(ctx, keys)
	if err != nil {
		return nil // tactics refine a ranking; without them the ID structure still ranks
	}
	out := map[string][]string{}
	for k, d := range found {
		for _, tag := range d.Tags {
			if tac, ok := strings.CutPrefix(tag, tacticTag); ok {
				out[k.ID] = append(out[k.ID], tac)
			}
		}
	}
	return out
}

// Priors, as multipliers of a hit's fused score. All but age are deliberately mild — a few per
// cent, the size of the gap between neighbouring ranks in reciprocal rank fusion — so that they
// order cases of similar relevance and never overrule relevance. Measured: disposition and
// severity priors of 10–30% cost 0.09 nDCG@10 on the generated corpus (BENCHMARKS.md).
var dispositionPrior = map[hindsight.Disposition]float64{
	hindsight.DispositionTruePositive:   1.0,
	hindsight.DispositionInconclusive:   0.985,
	hindsight.DispositionBenignPositive: 0.97,
	hindsight.DispositionFalsePositive:  0.96,
}

// A case's age prior falls from 1 toward ageFloor, halfway in ageHalfLife: guidance from years
// ago was written for other tools and another environment, and cases close in time to a threat
// are more often the same campaign. It is the strongest prior: at the default strength a case
// three years older than an equally similar one scores about 8% less, two or three places in
// reciprocal rank fusion. Measured on generated history, it is what lifts the full retriever above
// each single signal; a floor of 0.5 lifted it further on one corpus but let age overrule a case
// that was first on every signal (BENCHMARKS.md).
const (
	ageHalfLife = 365 * 24 * time.Hour
	ageFloor    = 0.7
)

// applyPriors scales each hit's score by what made such a case useful before: a true positive
// over a false positive, a severe case over a minor one, a recent case over an old one, firing
// analytics that usually convert, guidance a reviewer approved; guidance marked superseded sinks.
// strength 1 applies them fully; between 0 and 1 it blends them toward 1.
func (r *Retriever) applyPriors(ctx context.Context, hits []*hindsight.Hit, strength float64, at time.Time) {
	now := at
	switch {
	case !now.IsZero():
	case r.Now != nil:
		now = r.Now()
	default:
		now = time.Now()
	}
	// The firing analytics' conversion rates, loaded once for every hit.
	var keys []hindsight.DocKey
	for _, h := range hits {
		for _, a := range h.Document.Analytics {
			keys = append(keys, hindsight.DocKey{Kind: hindsight.KindAnalytic, ID: a})
		}
	}
	analytics := map[hindsight.DocKey]*hindsight.Document{}
	if len(keys) > 0 {
		if found, err := r.index.FindDocuments(ctx, keys); err == nil {
			analytics = found
		}
	}
	for i := range hits {
		p := prior(hits[i].Document, analytics, now)
		p = 1 + strength*(p-1)
		hits[i].Score *= p
		hits[i].Why.Signals["prior"] = math.Round(p*1000) / 1000
	}
}

// maxPrior is the largest prior a document can have: a critical true positive, new, whose firing
// analytics always convert, with approved guidance. The retriever leaves a candidate unloaded
// when even this prior could not lift it into the top k.
const maxPrior = 1.0 * 1.004 * 1.0 * 1.01 * 1.03

// prior is the product of a document's priors; it is never above maxPrior.
func prior(d *hindsight.Document, analytics map[hindsight.DocKey]*hindsight.Document, now time.Time) float64 {
	p := 1.0
	if v, ok := dispositionPrior[d.Disposition]; ok {
		p *= v
	}
	if s := d.Severity.Rank(); s > 0 {
		p *= 0.994 + 0.002*float64(s) // 0.996 informational … 1.004 critical
	}
	if !d.OccurredAt.IsZero() {
		age := now.Sub(d.OccurredAt).Abs()
		p *= ageFloor + (1-ageFloor)*math.Pow(0.5, float64(age)/float64(ageHalfLife))
	}
	rates := []float64{}
	if d.ConversionRate != nil {
		rates = append(rates, *d.ConversionRate)
	}
	for _, a := range d.Analytics {
		if ad := analytics[hindsight.DocKey{Kind: hindsight.KindAnalytic, ID: a}]; ad != nil && ad.ConversionRate != nil {
			rates = append(rates, *ad.ConversionRate)
		}
	}
	if len(rates) > 0 {
		var sum float64
		for _, r := range rates {
			sum += r
		}
		p *= 0.99 + 0.02*min(1, sum/float64(len(rates))) // analytics that usually convert point at real cases
	}
	switch status := metaString(d, "status"); {
	case metaString(d, "superseded_by") != "" || status == "superseded":
		p *= 0.5
	case status == "approved" || metaBool(d, "approved"):
		p *= 1.03
	}
	return p
}

func metaString(d *hindsight.Document, key string) string {
	v, ok := d.Metadata[key]
	if !ok || len(v) < 2 || v[0] != '"' {
		return ""
	}
	return strings.Trim(string(v), `"`)
}

func metaBool(d *hindsight.Document, key string) bool {
	return string(d.Metadata[key]) == "true"
}

// nearDuplicate is the term overlap (Dice) of two hits' case text above which the second is taken
// to repeat the first.
const nearDuplicate = 0.8

// diversify keeps the top k from being near-copies of one incident: a hit whose case text nearly
// repeats a better hit's is moved behind the hits that repeat nothing. strength scales how far
// (1: behind all of them). hits are sorted best first; dup is nearCopies of them.
func diversify(hits []*hindsight.Hit, dup []bool, strength float64) []*hindsight.Hit {
	var kept, repeats []*hindsight.Hit
	for i, d := range dup {
		if d {
			hits[i].Score *= 1 - strength*0.5
			hits[i].Why.Signals["near_duplicate"] = 1
			repeats = append(repeats, hits[i])
		} else {
			kept = append(kept, hits[i])
		}
	}
	out := append(kept, repeats...)
	out = append(out, hits[len(dup):]...)
	if strength < 1 {
		sort.SliceStable(out, func(i, j int) bool { return out[i].Score > out[j].Score })
	}
	return out
}

// nearCopies reports, for each of the first 3k hits, whether its case text nearly repeats a
// better hit's.
func nearCopies(hits []*hindsight.Hit, k int, set func(*hindsight.Hit) TermSet) []bool {
	dup := make([]bool, min(len(hits), 3*k))
	for i := range dup {
		a := set(hits[i])
		for j := 0; j < i && !dup[i]; j++ {
			b := set(hits[j])
			// Sets whose sizes alone keep their overlap below the threshold are not compared.
			if 2*float64(min(len(a), len(b))) >= nearDuplicate*float64(len(a)+len(b)) {
				dup[i] = Dice(a, b) >= nearDuplicate
			}
		}
	}
	return dup
}

// kthAfterDiversity returns the score the k-th hit would have after diversify with the same dup,
// without changing hits; 0 when there are fewer than k.
func kthAfterDiversity(hits []*hindsight.Hit, dup []bool, k int, strength float64) float64 {
	if len(hits) < k {
		return 0
	}
	scores := make([]float64, len(hits))
	for i, h := range hits {
		scores[i] = h.Score
		if i < len(dup) && dup[i] {
			scores[i] *= 1 - strength*0.5
		}
	}
	slices.Sort(scores)
	return scores[len(scores)-k]
}

func caseText(d *hindsight.Document) string {
	return d.Title + " " + d.Summary + " " + d.Description + " " + d.Body
}
