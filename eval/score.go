package eval

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hindsightsec/hindsight"
)

// What a draft is scored against (Input.Reference).
const (
	// ReferenceReview is a reviewer's edit of that very draft: its TER is
	// HTER, the human-targeted edit rate, and counts the work the reviewer
	// actually did.
	ReferenceReview = "review"
	// ReferenceSent is guidance that was sent for the threat but written
	// without this draft (eval replay scores against a past threat's
	// remediation): its TER is plain TER against an independent
	// reference, which counts differences of wording a reviewer might have
	// let pass.
	ReferenceSent = "sent"
)

// Input is one draft and the text it is scored against.
type Input struct {
	ID            string // the draft's ID
	ThreatID      string // the threat it was drafted for, when known (replay)
	Kind          hindsight.DraftKind
	Model         string
	PromptVersion string
	Tenant        string
	Techniques    []string
	// CreatedAt places the draft in time for the trend by month: when it
	// was made, or for replay when its threat occurred.
	CreatedAt time.Time
	Draft     string // the draft's text as the reviewer saw it
	Final     string // the text it is scored against
	Reference string // ReferenceReview or ReferenceSent; empty means ReferenceReview
	// Recommendations are the stored draft's recommendations with their
	// validated citations and support; nil means the draft is known only
	// as text, and its recommendations are split from Draft
	// (SplitRecommendations). Empty but not nil means a draft with none.
	Recommendations []hindsight.Recommendation
	// Ratings are the reviewer's marks; nil when there are none.
	Ratings *hindsight.Ratings
}

// InputFromPair turns an eval-pairs record into an Input. The pair's final
// is its reviewer's edit of the draft, so it is scored as HTER; ratings of
// zero (absent) are left out.
func InputFromPair(p hindsight.Pair) Input {
	in := Input{ID: p.ID, Kind: p.Kind, Model: p.Model, PromptVersion: p.PromptVersion, Tenant: p.Tenant,
		Techniques: p.Techniques, CreatedAt: p.CreatedAt, Draft: p.Draft, Final: p.Final, Reference: ReferenceReview}
	if p.Ratings != (hindsight.Ratings{}) {
		r := p.Ratings
		in.Ratings = &r
	}
	return in
}

// StoredPair is a stored draft with the review it is scored against.
type StoredPair struct {
	Draft  *hindsight.Draft
	Review *hindsight.Review
}

// PairFilter selects stored drafts for eval. The zero value selects every
// reviewed draft of every tenant.
type PairFilter struct {
	// Tenant keeps one tenant's drafts; empty keeps every tenant's.
	Tenant string
	// Kinds keeps drafts of these kinds; empty keeps all.
	Kinds []hindsight.DraftKind
	// Since and Until bound the draft's creation time: Since ≤ created_at
	// < Until. Zero means unbounded.
	Since, Until time.Time
}

// PairPage selects one page of reviewed drafts in order of draft ID, so that every reviewed draft
// of a store can be read a page at a time in bounded memory: pass the last draft ID of a page as
// After to get the next. The zero value selects the first 256 reviewed drafts of every tenant.
type PairPage struct {
	// Tenant keeps one tenant's drafts; empty keeps every tenant's.
	Tenant string
	// After keeps the drafts whose IDs sort after it; empty starts from the first.
	After string
	// DraftIDs, when not empty, keeps only these drafts.
	DraftIDs []string
	// Limit is the most drafts a page holds; 0 or less means 256.
	Limit int
}

// DefaultPageLimit is the size of a PairPage whose Limit is 0.
const DefaultPageLimit = 256

// InputFromStored turns a stored draft and its review into an Input scored
// as HTER, with the draft's validated recommendations for grounding. A
// stored draft without recommendations whose text is a list (a draft
// imported from an eval pair) is scored from its text.
func InputFromStored(sp StoredPair) Input {
	d, r := sp.Draft, sp.Review
	ratings := r.Ratings
	in := Input{ID: d.ID, ThreatID: d.Threat.ID, Kind: d.Kind, Model: d.Model, PromptVersion: d.PromptVersion,
		Tenant: d.Tenant, Techniques: d.Threat.Techniques, CreatedAt: d.CreatedAt, Draft: d.Text, Final: r.Final,
		Reference: ReferenceReview, Recommendations: d.Recommendations}
	// A draft imported from an eval pair is stored with its text only; one the drafter made
	// without any recommendation has no list in its text either ("No similar past case …").
	if len(d.Recommendations) == 0 {
		in.Recommendations = nil
		if !hasListItem(d.Text) {
			in.Recommendations = []hindsight.Recommendation{}
		}
	}
	if ratings != (hindsight.Ratings{}) {
		in.Ratings = &ratings
	}
	return in
}

// Metric names, the keys of DraftResult.Metrics and of every aggregate.
const (
	MetricTER          = "ter"
	MetricCharEdit     = "char_edit"
	MetricUnchanged    = "unchanged"
	MetricChrF         = "chrf"
	MetricChrFPP       = "chrf++"
	MetricBLEU         = "bleu"
	MetricRougeL       = "rouge-l"
	MetricMeaning      = "meaning"
	MetricPrecision    = "precision"
	MetricRecall       = "recall"
	MetricHedgeRemoved = "hedge_removed"
	MetricHedgeAdded   = "hedge_added"
	MetricCited        = "cited"
	MetricSupported    = "supported"
	MetricAccuracy     = "accuracy"
	MetricClarity      = "clarity"
	MetricCompleteness = "completeness"
)

// MetricInfo describes a metric for reports and gates.
type MetricInfo struct {
	Name  string `json:"name"`
	Label string `json:"label"`
	// Better is "lower" or "higher": the direction in which the metric
	// improves, which decides the sign of a gate.
	Better string `json:"better"`
	// Scale names the metric's range: "0-100", "share" (0–1), "count",
	// "cosine" (−1–1) or "1-5".
	Scale       string `json:"scale"`
	Description string `json:"description"`
}

// LowerIsBetter reports whether the metric improves as it falls.
func (m MetricInfo) LowerIsBetter() bool { return m.Better == "lower" }

var metricInfos = []MetricInfo{
	{MetricTER, "TER", "lower", "0-100", "translation edit rate of the draft against the final, sacrebleu defaults; HTER when the final is a review of that very draft"},
	{MetricCharEdit, "Char edit", "lower", "share", "Levenshtein distance in characters / the longer text's length"},
	{MetricUnchanged, "Unchanged", "higher", "share", "1 when the final equals the draft up to white space"},
	{MetricChrF, "chrF", "higher", "0-100", "sacrebleu sentence chrF2"},
	{MetricChrFPP, "chrF++", "higher", "0-100", "sacrebleu sentence chrF2++"},
	{MetricBLEU, "BLEU", "higher", "0-100", "sacrebleu sentence BLEU (13a, exp smoothing, effective order)"},
	{MetricRougeL, "ROUGE-L", "higher", "0-100", "rouge-score ROUGE-L F-measure × 100, no stemming"},
	{MetricMeaning, "Meaning", "higher", "cosine", "cosine similarity of the two texts under the embedder, to six decimals"},
	{MetricPrecision, "Precision", "higher", "share", "draft recommendations kept / draft recommendations"},
	{MetricRecall, "Recall", "higher", "share", "draft recommendations kept / final recommendations"},
	{MetricHedgeRemoved, "Hedges removed", "lower", "count", "hedged draft recommendations the reviewer made imperative"},
	{MetricHedgeAdded, "Hedges added", "lower", "count", "imperative draft recommendations the reviewer hedged"},
	{MetricCited, "Cited", "higher", "share", "share of draft recommendations with valid citations"},
	{MetricSupported, "Supported", "higher", "share", "share of draft recommendations supported by what they cite"},
	{MetricAccuracy, "Accuracy", "higher", "1-5", "reviewer's accuracy rating"},
	{MetricClarity, "Clarity", "higher", "1-5", "reviewer's clarity rating"},
	{MetricCompleteness, "Completeness", "higher", "1-5", "reviewer's completeness rating"},
}

// Metrics returns the description of every per-draft metric, in report
// order.
func Metrics() []MetricInfo { return append([]MetricInfo(nil), metricInfos...) }

// LookupMetric returns the description of the named metric. "hter" is
// accepted for "ter".
func LookupMetric(name string) (MetricInfo, bool) {
	name = strings.ToLower(strings.TrimSpace(name))
	if name == "hter" {
		name = MetricTER
	}
	for _, m := range metricInfos {
		if m.Name == name {
			return m, true
		}
	}
	return MetricInfo{}, false
}

// DraftResult is every metric of one draft against its final.
type DraftResult struct {
	ID            string              `json:"id"`
	ThreatID      string              `json:"threat_id,omitempty"`
	Kind          hindsight.DraftKind `json:"kind"`
	Model         string              `json:"model"`
	PromptVersion string              `json:"prompt_version"`
	Tenant        string              `json:"tenant"`
	Techniques    []string            `json:"techniques"`
	Tactics       []string            `json:"tactics"`
	CreatedAt     time.Time           `json:"created_at"`
	// Reference is ReferenceReview (the TER is HTER) or ReferenceSent.
	Reference string `json:"reference"`
	// Metrics holds each metric that applies, by name; a metric that does
	// not (no ratings, no recommendations, no embedder) is absent.
	Metrics         map[string]float64 `json:"metrics"`
	Recommendations RecommendationDiff `json:"recommendations"`
}

// Key identifies the draft across reports for a paired comparison: its
// threat and kind when the threat is known (replays of the same history by
// two drafters share it), otherwise the draft's ID.
func (r *DraftResult) Key() string {
	if r.ThreatID != "" {
		return r.ThreatID + "/" + string(r.Kind)
	}
	return r.ID
}

// RecommendationDiff is what the reviewer did to the draft's
// recommendations, as AlignRecommendations found it.
type RecommendationDiff struct {
	Draft     int       `json:"draft"` // recommendations in the draft
	Final     int       `json:"final"` // recommendations in the final
	Kept      int       `json:"kept"`  // aligned pairs
	Removed   []string  `json:"removed"`
	Added     []string  `json:"added"`
	Rewritten []Rewrite `json:"rewritten"` // kept, but reworded
	// HedgeRemoved are kept recommendations that were hedged in the draft
	// and imperative in the final; HedgeAdded the reverse.
	HedgeRemoved []Rewrite `json:"hedge_removed"`
	HedgeAdded   []Rewrite `json:"hedge_added"`
}

// Rewrite is a draft recommendation and what the reviewer made of it.
type Rewrite struct {
	Draft      string  `json:"draft"`
	Final      string  `json:"final"`
	Similarity float64 `json:"similarity"`
}

// Options configure Score.
type Options struct {
	// Embedder scores meaning; nil leaves the meaning metric out.
	Embedder hindsight.Embedder
	// Tactics maps techniques to tactics; nil means BuiltinTactics.
	Tactics Tactics
}

// embedBatch is how many texts one Embed call carries: large enough for a
// model server to batch, small enough to spread over the cores.
const embedBatch = 64

// Score computes every metric of each input, spreading the inputs over
// GOMAXPROCS goroutines; the results are in input order and do not depend
// on the spreading. Citations are stripped from both texts before the text
// metrics and the meaning metric (drafts carry them, finals rarely do);
// the draft's recommendations for alignment and grounding keep theirs.
func Score(ctx context.Context, inputs []Input, opt Options) ([]DraftResult, error) {
	if opt.Tactics == nil {
		opt.Tactics = BuiltinTactics()
	}
	drafts := make([]string, len(inputs))
	finals := make([]string, len(inputs))
	for i := range inputs {
		drafts[i] = StripCitations(inputs[i].Draft)
		finals[i] = StripCitations(inputs[i].Final)
	}
	var meaning []float64
	if opt.Embedder != nil {
		var err error
		if meaning, err = embedCosines(ctx, opt.Embedder, drafts, finals); err != nil {
			return nil, err
		}
	}
	out := make([]DraftResult, len(inputs))
	parallelSegments(len(inputs), func() func(i int) {
		var s pairScorer
		return func(i int) {
			if ctx.Err() != nil {
				return
			}
			out[i] = s.score(&inputs[i], drafts[i], finals[i], opt.Tactics)
			if meaning != nil {
				out[i].Metrics[MetricMeaning] = meaning[i]
			}
		}
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// embedCosines embeds drafts and finals in batches, several batches at
// once, and returns the cosine of each pair.
func embedCosines(ctx context.Context, emb hindsight.Embedder, drafts, finals []string) ([]float64, error) {
	n := len(drafts)
	out := make([]float64, n)
	type batch struct{ lo, hi int }
	work := make(chan batch)
	errc := make(chan error, 1)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), max(1, (n+embedBatch-1)/embedBatch)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				texts := append(append([]string(nil), drafts[b.lo:b.hi]...), finals[b.lo:b.hi]...)
				vs, err := emb.Embed(ctx, texts)
				if err == nil && len(vs) != len(texts) {
					err = fmt.Errorf("embedder returned %d vectors for %d texts", len(vs), len(texts))
				}
				if err != nil {
					select {
					case errc <- fmt.Errorf("embed for the meaning metric: %w", err):
					default:
					}
					cancel()
					continue
				}
				k := b.hi - b.lo
				for i := range k {
					// Vectors are float32, good to about seven digits, and an embedder may sum
					// their components in a varying order (the built-in one does, over a map):
					// six decimals keep reports of the same drafts equal from run to run.
					out[b.lo+i] = round(Cosine(vs[i], vs[k+i]), 6)
				}
			}
		}()
	}
feed:
	for lo := 0; lo < n; lo += embedBatch {
		select {
		case work <- batch{lo, min(n, lo+embedBatch)}:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errc:
		return nil, err
	default:
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// pairScorer holds the reusable buffers of every text metric for one
// goroutine, so that scoring thousands of drafts allocates little.
type pairScorer struct {
	ter       terAligner
	chrf      chrfWorker
	chrfStats []int
	bleu      bleuWorker
	bleuStats []int
	rouge     rougeLCS
	lev       levenshtein
	align     aligner
}

// The chrF++ statistics hold chrF's: the character orders come first, and
// with one reference the best-reference choice is the same.
var (
	chrfPPConfig = ChrFConfig{WordOrder: 2}.withDefaults()
	chrfConfig   = ChrFConfig{}.withDefaults()
	bleuConfig   = func() BLEUConfig {
		c, _ := BLEUConfig{EffectiveOrder: true}.withDefaults()
		return c
	}()
)

func (s *pairScorer) score(in *Input, draft, final string, tactics Tactics) DraftResult {
	ref := in.Reference
	if ref == "" {
		ref = ReferenceReview
	}
	r := DraftResult{ID: in.ID, ThreatID: in.ThreatID, Kind: in.Kind, Model: in.Model, PromptVersion: in.PromptVersion,
		Tenant: in.Tenant, Techniques: nonNil(in.Techniques), Tactics: nonNil(tactics.Of(in.Techniques)),
		CreatedAt: in.CreatedAt, Reference: ref, Metrics: make(map[string]float64, len(metricInfos))}
	m := r.Metrics
	s.text(draft, final, m)

	var draftRecs []string
	if in.Recommendations != nil {
		for _, rec := range in.Recommendations {
			draftRecs = append(draftRecs, rec.Text)
		}
	} else {
		draftRecs = SplitRecommendations(in.Draft)
	}
	al := s.align.align(draftRecs, SplitRecommendations(in.Final))
	if p, ok := al.Precision(); ok {
		m[MetricPrecision] = p
	}
	if rc, ok := al.Recall(); ok {
		m[MetricRecall] = rc
	}
	removed, added := Prescriptiveness(al)
	if len(al.Pairs) > 0 {
		m[MetricHedgeRemoved] = float64(len(removed))
		m[MetricHedgeAdded] = float64(len(added))
	}
	r.Recommendations = diff(al, removed, added)

	var g GroundingScore
	var ok bool
	if in.Recommendations != nil {
		g, ok = Grounding(in.Recommendations)
	} else {
		g, ok = GroundingOfText(draftRecs)
	}
	if ok {
		m[MetricCited] = g.Cited
		if g.HasSupport {
			m[MetricSupported] = g.Supported
		}
	}
	if in.Ratings != nil {
		m[MetricAccuracy] = float64(in.Ratings.Accuracy)
		m[MetricClarity] = float64(in.Ratings.Clarity)
		m[MetricCompleteness] = float64(in.Ratings.Completeness)
	}
	return r
}

// text computes the text metrics of one pair into m. Each equals its
// exported function (TER, ChrF, …); the workers only reuse buffers, and
// chrF comes from chrF++'s character statistics instead of a second pass.
func (s *pairScorer) text(draft, final string, m map[string]float64) {
	refs := []string{final}
	edits, refLen := s.ter.segment(TERConfig{}, draft, refs)
	m[MetricTER] = terScore(edits, refLen).Score
	m[MetricCharEdit] = s.lev.normalized(draft, final)
	m[MetricUnchanged] = 0
	if ShippedUnchanged(draft, final) {
		m[MetricUnchanged] = 1
	}

	s.chrf.cfg = chrfPPConfig
	order := chrfPPConfig.CharOrder + chrfPPConfig.WordOrder
	s.chrfStats = resizeIntsZero(s.chrfStats, 3*order)
	s.chrf.segment(s.chrfStats, draft, refs)
	m[MetricChrFPP] = chrfScore(s.chrfStats, chrfPPConfig)
	m[MetricChrF] = chrfScore(s.chrfStats[:3*chrfConfig.CharOrder], chrfConfig)

	s.bleu.cfg = bleuConfig
	o := bleuConfig.MaxNGramOrder
	s.bleuStats = resizeIntsZero(s.bleuStats, 2+2*o)
	s.bleu.segment(s.bleuStats, draft, refs)
	st := BLEUStats{SysLen: s.bleuStats[0], RefLen: s.bleuStats[1], Correct: s.bleuStats[2 : 2+o], Total: s.bleuStats[2+o : 2+2*o]}
	b, _ := BLEUFromStats(st, bleuConfig)
	m[MetricBLEU] = b.Score

	m[MetricRougeL] = 100 * s.rouge.score(draft, final, RougeConfig{}).FMeasure
}

func diff(al Alignment, hedgeRemoved, hedgeAdded []AlignedPair) RecommendationDiff {
	rw := func(ps []AlignedPair) []Rewrite {
		out := make([]Rewrite, 0, len(ps))
		for _, p := range ps {
			out = append(out, Rewrite{Draft: al.Draft[p.Draft], Final: al.Final[p.Final], Similarity: round(p.Similarity, 4)})
		}
		return out
	}
	d := RecommendationDiff{Draft: len(al.Draft), Final: len(al.Final), Kept: len(al.Pairs),
		Removed: []string{}, Added: []string{}, Rewritten: rw(al.Rewritten()),
		HedgeRemoved: rw(hedgeRemoved), HedgeAdded: rw(hedgeAdded)}
	for _, i := range al.Removed {
		d.Removed = append(d.Removed, al.Draft[i])
	}
	for _, j := range al.Added {
		d.Added = append(d.Added, al.Final[j])
	}
	return d
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// round rounds x to places decimals, to keep reports free of float noise.
func round(x float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(x*p) / p
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
