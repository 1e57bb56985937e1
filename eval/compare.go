package eval

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// CompareDimensions are the slices of a comparison. They describe what a
// draft is about, taken from the baseline, because the candidate's model,
// prompt version and time are expected to differ from the baseline's.
var CompareDimensions = []string{"kind", "tenant", "tactic"}

// Comparison is a paired comparison of two reports on the drafts they
// share (DraftResult.Key).
type Comparison struct {
	Baseline      ReportRef `json:"baseline"`
	Candidate     ReportRef `json:"candidate"`
	Shared        int       `json:"shared"`         // drafts in both
	OnlyBaseline  int       `json:"only_baseline"`  // drafts left out: not in the candidate
	OnlyCandidate int       `json:"only_candidate"` // drafts left out: not in the baseline
	Seed          uint64    `json:"seed"`
	Bootstrap     int       `json:"bootstrap"`
	Confidence    float64   `json:"confidence"`
	// Notes say how to read the differences.
	Notes   []string     `json:"notes"`
	Metrics []MetricInfo `json:"metrics"`
	Overall DiffGroup    `json:"overall"`
	Slices  []DiffGroup  `json:"slices"`
	Gates   []GateResult `json:"gates"`
}

// ReportRef identifies a compared report.
type ReportRef struct {
	ID     string `json:"id"`
	Kind   string `json:"kind"`
	Source string `json:"source"`
	Drafts int    `json:"drafts"`
	// Models are the drafters of the report, "model prompt_version".
	Models []string `json:"models"`
}

// DiffGroup holds the paired differences of one slice of shared drafts.
type DiffGroup struct {
	Dimension string              `json:"dimension"`
	Value     string              `json:"value"`
	N         int                 `json:"n"`
	Metrics   map[string]DiffStat `json:"metrics"`
}

// DiffStat is a metric's paired difference over the shared drafts that
// have it in both reports.
type DiffStat struct {
	N         int     `json:"n"`
	Baseline  float64 `json:"baseline"`  // mean over those drafts
	Candidate float64 `json:"candidate"` // mean over those drafts
	// Diff is the mean of candidate − baseline, with its percentile
	// bootstrap interval over drafts.
	Diff Stat `json:"diff"`
}

// Passed reports whether every gate passed.
func (c *Comparison) Passed() bool {
	for _, g := range c.Gates {
		if !g.Passed {
			return false
		}
	}
	return true
}

// CompareOptions configure Compare.
type CompareOptions struct {
	Seed uint64
	// Bootstrap is the number of resamples per interval; 0 means
	// DefaultBootstrap, a negative number none.
	Bootstrap int
	Gates     []Gate
}

// Compare pairs the drafts of two reports by DraftResult.Key and, for
// every metric, reports the mean difference candidate − baseline over the
// pairs that have the metric on both sides, with a percentile bootstrap
// interval (pairs resampled together), overall and per slice of
// CompareDimensions; then it checks the gates against the overall
// differences. A report in which two drafts share a key (a replay with
// several drafters) must be narrowed to one drafter first (FilterModel).
func Compare(base, cand *Report, opt CompareOptions) (*Comparison, error) {
	switch {
	case opt.Bootstrap == 0:
		opt.Bootstrap = DefaultBootstrap
	case opt.Bootstrap < 0:
		opt.Bootstrap = 0
	}
	bi, err := index(base, "baseline")
	if err != nil {
		return nil, err
	}
	ci, err := index(cand, "candidate")
	if err != nil {
		return nil, err
	}
	c := &Comparison{Baseline: ref(base), Candidate: ref(cand), Seed: opt.Seed, Bootstrap: opt.Bootstrap,
		Confidence: Confidence, Metrics: Metrics(), Slices: []DiffGroup{}, Gates: []GateResult{}}
	var keys []string
	for k := range bi {
		if _, ok := ci[k]; ok {
			keys = append(keys, k)
		} else {
			c.OnlyBaseline++
		}
	}
	c.OnlyCandidate = len(ci) - len(keys)
	sort.Strings(keys)
	c.Shared = len(keys)

	metrics := metricInfos
	diffs := make([][]float64, len(keys))
	bases := make([][]float64, len(keys))
	cands := make([][]float64, len(keys))
	for i, k := range keys {
		b, x := bi[k], ci[k]
		diffs[i] = make([]float64, len(metrics))
		bases[i] = make([]float64, len(metrics))
		cands[i] = make([]float64, len(metrics))
		for m, info := range metrics {
			bv, bok := b.Metrics[info.Name]
			cv, cok := x.Metrics[info.Name]
			if bok && cok {
				diffs[i][m], bases[i][m], cands[i][m] = cv-bv, bv, cv
			} else {
				diffs[i][m], bases[i][m], cands[i][m] = math.NaN(), math.NaN(), math.NaN()
			}
		}
	}
	bs := bootstrapper{values: diffs, resample: opt.Bootstrap, seed: opt.Seed}
	plain := func(t [][]float64) bootstrapper { return bootstrapper{values: t} }
	group := func(dim, value string, rows []int) DiffGroup {
		d := bs.stats(rows, len(metrics), dim+"="+value)
		mb := plain(bases).stats(rows, len(metrics), "")
		mc := plain(cands).stats(rows, len(metrics), "")
		g := DiffGroup{Dimension: dim, Value: value, N: len(rows), Metrics: map[string]DiffStat{}}
		for m, info := range metrics {
			if d[m].N > 0 {
				g.Metrics[info.Name] = DiffStat{N: d[m].N, Baseline: mb[m].Mean, Candidate: mc[m].Mean, Diff: d[m]}
			}
		}
		return g
	}
	all := make([]int, len(keys))
	for i := range all {
		all[i] = i
	}
	c.Overall = group("all", "all", all)
	for _, dim := range CompareDimensions {
		members := map[string][]int{}
		for i, k := range keys {
			for _, v := range dimensionValues(bi[k], dim) {
				members[v] = append(members[v], i)
			}
		}
		for _, v := range sortedKeys(members) {
			c.Slices = append(c.Slices, group(dim, v, members[v]))
		}
	}
	for _, g := range opt.Gates {
		c.Gates = append(c.Gates, g.Check(c.Overall))
	}
	c.Notes = []string{
		"Differences are candidate − baseline over the drafts both reports hold (the same draft ID, or for replays the same threat and kind).",
		GateConvention,
	}
	if base.Embedder != "" && cand.Embedder != "" && base.Embedder != cand.Embedder {
		c.Notes = append(c.Notes, fmt.Sprintf("The meaning metric of the baseline is under %s and of the candidate under %s: its change compares different scales.", base.Embedder, cand.Embedder))
	}
	return c, nil
}

func index(r *Report, name string) (map[string]*DraftResult, error) {
	m := make(map[string]*DraftResult, len(r.Drafts))
	for i := range r.Drafts {
		d := &r.Drafts[i]
		k := d.Key()
		if prev, dup := m[k]; dup {
			return nil, fmt.Errorf("the %s report has two drafts for %s (%s and %s): choose one model with --%s-model",
				name, k, drafterName(prev.Model, prev.PromptVersion), drafterName(d.Model, d.PromptVersion), name)
		}
		m[k] = d
	}
	return m, nil
}

func ref(r *Report) ReportRef {
	rr := ReportRef{ID: r.ID, Kind: r.Kind, Source: r.Source, Drafts: len(r.Drafts), Models: []string{}}
	for i := range r.Drafts {
		if n := drafterName(r.Drafts[i].Model, r.Drafts[i].PromptVersion); !slices.Contains(rr.Models, n) {
			rr.Models = append(rr.Models, n)
		}
	}
	sort.Strings(rr.Models)
	return rr
}

// FilterModel returns a copy of the report's drafts narrowed to one model
// (matched against the model, or against "model prompt_version"), with the
// report's aggregates left as they were. It returns an error naming the
// report's models when none matches.
func (r *Report) FilterModel(model string) (*Report, error) {
	c := *r
	c.Drafts = nil
	for _, d := range r.Drafts {
		if d.Model == model || drafterName(d.Model, d.PromptVersion) == model {
			c.Drafts = append(c.Drafts, d)
		}
	}
	if len(c.Drafts) == 0 {
		return nil, fmt.Errorf("report %s has no drafts of model %q (it has %s)", r.ID, model, strings.Join(ref(r).Models, ", "))
	}
	return &c, nil
}

// GateConvention states how gates read, for help texts and reports.
const GateConvention = `A gate "metric:delta" bounds the change candidate − baseline of the metric's mean over shared drafts. delta is the worst acceptable change: with an explicit sign it is taken as written; without one it is a worsening of that size in the metric's bad direction (up for ter, char_edit, hedge_removed and hedge_added; down for every other metric). The gate fails when the change is beyond delta in the bad direction — for ter when the change > delta, for recall when the change < delta — and when no shared draft has the metric on both sides. So "ter:+2" fails when TER rose by more than 2 points, "recall:-0.05" when recall fell by more than 0.05, and "ter:-1" unless TER fell by at least 1.`

// Gate bounds how much worse a candidate may be than its baseline in one
// metric. See GateConvention.
type Gate struct {
	Metric string // a metric name (LookupMetric)
	// Threshold is the worst acceptable change candidate − baseline of the
	// mean, signed.
	Threshold float64
	// Spec is the gate as it was written.
	Spec string
}

// ParseGates parses a comma-separated list of gates "metric:delta" (see
// GateConvention), e.g. "ter:+2,recall:-0.05". Empty items are skipped.
func ParseGates(s string) ([]Gate, error) {
	var out []Gate
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, num, ok := strings.Cut(item, ":")
		if !ok {
			return nil, fmt.Errorf("gate %q: want metric:delta, as in ter:+2", item)
		}
		info, ok := LookupMetric(name)
		if !ok {
			var names []string
			for _, m := range metricInfos {
				names = append(names, m.Name)
			}
			return nil, fmt.Errorf("gate %q: unknown metric %q (known: %s)", item, strings.TrimSpace(name), strings.Join(names, ", "))
		}
		num = strings.TrimSpace(num)
		v, err := strconv.ParseFloat(num, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("gate %q: delta %q is not a number", item, num)
		}
		signed := strings.HasPrefix(num, "+") || strings.HasPrefix(num, "-")
		if !signed {
			v = math.Abs(v)
			if !info.LowerIsBetter() {
				v = -v
			}
		}
		out = append(out, Gate{Metric: info.Name, Threshold: v, Spec: item})
	}
	return out, nil
}

// GateResult is a gate checked against a comparison.
type GateResult struct {
	Gate      string  `json:"gate"`
	Metric    string  `json:"metric"`
	Threshold float64 `json:"threshold"`
	// Change is the mean change candidate − baseline over N shared drafts.
	Change float64 `json:"change"`
	N      int     `json:"n"`
	Passed bool    `json:"passed"`
	// Reason says why, in words.
	Reason string `json:"reason"`
}

// Check checks the gate against a group of differences.
func (g Gate) Check(d DiffGroup) GateResult {
	info, _ := LookupMetric(g.Metric)
	r := GateResult{Gate: g.Spec, Metric: g.Metric, Threshold: g.Threshold}
	st, ok := d.Metrics[g.Metric]
	if !ok || st.N == 0 {
		r.Reason = "no shared draft has " + g.Metric + " in both reports"
		return r
	}
	r.Change, r.N = st.Diff.Mean, st.N
	if info.LowerIsBetter() {
		r.Passed = r.Change <= g.Threshold
		r.Reason = fmt.Sprintf("%s changed by %+.4g (lower is better); the gate allows at most %+.4g", g.Metric, r.Change, g.Threshold)
	} else {
		r.Passed = r.Change >= g.Threshold
		r.Reason = fmt.Sprintf("%s changed by %+.4g (higher is better); the gate allows no less than %+.4g", g.Metric, r.Change, g.Threshold)
	}
	return r
}
