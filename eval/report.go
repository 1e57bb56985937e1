package eval

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Report kinds.
const (
	ReportRun    = "run"    // eval run: stored drafts or an eval-pairs file against reviewers' finals
	ReportReplay = "replay" // eval replay: drafts of later threats against what was sent
)

// Dimensions a report slices its drafts by, in report order. A draft with
// several tactics counts in each of their slices; "drafter" is the model
// with its prompt version, since a prompt version means nothing across
// models; "month" (the draft's CreatedAt, UTC) is the trend over time.
var Dimensions = []string{"drafter", "model", "prompt_version", "kind", "tenant", "tactic", "month"}

// Report is the result of an eval run or replay: every draft's metrics,
// and their means with confidence intervals over all drafts and per slice.
type Report struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"` // ReportRun or ReportReplay
	CreatedAt time.Time `json:"created_at"`
	// Source says where the drafts came from: "store", "pairs:FILE", or
	// the replayed history.
	Source string `json:"source"`
	// Tenants are the tenants whose drafts the report holds, sorted.
	Tenants    []string `json:"tenants"`
	Seed       uint64   `json:"seed"`
	Bootstrap  int      `json:"bootstrap"` // resamples per interval
	Confidence float64  `json:"confidence"`
	// Embedder is the vector space of the meaning metric; empty when it
	// was not scored.
	Embedder string `json:"embedder,omitempty"`
	// Notes say how the numbers were made, for readers of the report.
	Notes   []string     `json:"notes"`
	Metrics []MetricInfo `json:"metrics"`
	Overall Group        `json:"overall"`
	Slices  []Group      `json:"slices"`
	// Replay describes the replay that produced the drafts; nil for a run.
	Replay *ReplayInfo   `json:"replay,omitempty"`
	Drafts []DraftResult `json:"drafts"`
}

// Group is the aggregate of the drafts of one slice.
type Group struct {
	Dimension string `json:"dimension"` // "all" for the overall group, else one of Dimensions
	Value     string `json:"value"`
	N         int    `json:"n"` // drafts in the slice
	// Metrics holds each metric's mean and interval over the drafts that
	// have it.
	Metrics map[string]Stat `json:"metrics"`
}

// ReplayInfo describes an eval replay.
type ReplayInfo struct {
	Before   time.Time `json:"before"`
	History  []string  `json:"history"`
	Indexed  int       `json:"indexed"`  // documents indexed: knowledge and threats before Before
	Threats  int       `json:"threats"`  // later threats replayed
	Drafted  int       `json:"drafted"`  // drafts made and scored
	Failed   int       `json:"failed"`   // drafts that failed
	Skipped  int       `json:"skipped"`  // records not read (not canonical records, or threats without a time)
	Kinds    []string  `json:"kinds"`    // draft kinds replayed
	Drafters []string  `json:"drafters"` // models that drafted
	K        int       `json:"k"`        // sources retrieved per draft
}

// ReportConfig says how to aggregate a report.
type ReportConfig struct {
	Kind   string // ReportRun (the default) or ReportReplay
	Source string
	// Seed seeds the bootstrap; the same seed and drafts give the same
	// intervals.
	Seed uint64
	// Bootstrap is the number of resamples per interval; 0 means
	// DefaultBootstrap, a negative number none (the intervals collapse
	// onto the means).
	Bootstrap int
	Embedder  string
	// Now stamps the report; nil means time.Now.
	Now func() time.Time
	// ID names the report; empty means a new random ID.
	ID string
}

// NewReport aggregates scored drafts into a report: the mean of every
// metric with its percentile-bootstrap interval, over all drafts and per
// slice of each of Dimensions.
func NewReport(results []DraftResult, cfg ReportConfig) *Report {
	if cfg.Kind == "" {
		cfg.Kind = ReportRun
	}
	switch {
	case cfg.Bootstrap == 0:
		cfg.Bootstrap = DefaultBootstrap
	case cfg.Bootstrap < 0:
		cfg.Bootstrap = 0
	}
	now := time.Now
	if cfg.Now != nil {
		now = cfg.Now
	}
	if cfg.ID == "" {
		cfg.ID = NewReportID()
	}
	r := &Report{ID: cfg.ID, Kind: cfg.Kind, CreatedAt: now().UTC(), Source: cfg.Source, Seed: cfg.Seed,
		Bootstrap: cfg.Bootstrap, Confidence: Confidence, Embedder: cfg.Embedder, Metrics: Metrics(),
		Drafts: results, Tenants: []string{}, Slices: []Group{}}
	if r.Drafts == nil {
		r.Drafts = []DraftResult{}
	}
	seen := map[string]bool{}
	for i := range results {
		if t := results[i].Tenant; !seen[t] {
			seen[t] = true
			r.Tenants = append(r.Tenants, t)
		}
	}
	sort.Strings(r.Tenants)
	r.Notes = notes(results, cfg.Kind)
	r.Overall, r.Slices = aggregate(results, cfg.Seed, cfg.Bootstrap)
	return r
}

// NewReportID returns a new report ID.
func NewReportID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return "EVR-" + hex.EncodeToString(b)
}

// ForTenant returns a report of only the tenant's drafts, aggregated
// afresh with the same ID, seed and resamples: what that tenant may see of
// a report over several tenants. It is nil when the report has no draft of
// the tenant.
func (r *Report) ForTenant(tenant string) *Report {
	var keep []DraftResult
	for _, d := range r.Drafts {
		if d.Tenant == tenant {
			keep = append(keep, d)
		}
	}
	if len(keep) == 0 {
		return nil
	}
	resample := r.Bootstrap
	if resample == 0 {
		resample = -1
	}
	t := NewReport(keep, ReportConfig{Kind: r.Kind, Source: r.Source, Seed: r.Seed, Bootstrap: resample,
		Embedder: r.Embedder, ID: r.ID, Now: func() time.Time { return r.CreatedAt }})
	t.Replay = r.Replay
	return t
}

// Slice returns the group of a dimension's value, or nil.
func (r *Report) Slice(dimension, value string) *Group {
	for i := range r.Slices {
		if r.Slices[i].Dimension == dimension && r.Slices[i].Value == value {
			return &r.Slices[i]
		}
	}
	return nil
}

// TERLabel is how the report names its TER: "HTER" when every draft is
// scored against a review of that very draft, "TER" when none is, and
// "TER/HTER" for a mix.
func (r *Report) TERLabel() string {
	return terLabel(r.Drafts)
}

func terLabel(results []DraftResult) string {
	review, other := 0, 0
	for i := range results {
		if results[i].Reference == ReferenceReview {
			review++
		} else {
			other++
		}
	}
	switch {
	case review > 0 && other == 0:
		return "HTER"
	case review > 0:
		return "TER/HTER"
	}
	return "TER"
}

func notes(results []DraftResult, kind string) []string {
	n := []string{
		"Citations in brackets ([THR-2022-0036, NOTE-0011]) are stripped from drafts and finals before the text metrics and the meaning metric; drafts carry them and finals rarely do.",
		"Text metrics are sentence-level over each whole text: TER, chrF, chrF++ and BLEU as sacrebleu 2.x computes them with its defaults (0-100), ROUGE-L as rouge-score's F-measure × 100.",
		fmt.Sprintf("Recommendations are aligned greedily, most similar pair first, on the Dice coefficient of their stemmed content words (hedging words ignored), from %.2f; precision = kept / draft, recall = kept / final.", AlignThreshold),
		fmt.Sprintf("Intervals are %.0f%% percentile bootstrap intervals of the mean over drafts.", 100*Confidence),
	}
	switch terLabel(results) {
	case "HTER":
		n = append(n, "Every final is a reviewer's edit of that very draft, so TER is HTER (human-targeted TER).")
	case "TER/HTER":
		n = append(n, "TER is HTER for drafts whose reference is \"review\" (a reviewer's edit of that very draft) and plain TER for the others.")
	default:
		if kind == ReportReplay {
			n = append(n, "Finals are the guidance that was actually sent for each threat, written without these drafts: TER is plain TER against an independent reference, not HTER.")
		}
	}
	return n
}

// aggregate computes the overall group and every slice of results.
func aggregate(results []DraftResult, seed uint64, resample int) (Group, []Group) {
	metrics := metricInfos
	table := make([][]float64, len(results))
	for i := range results {
		row := make([]float64, len(metrics))
		for m, info := range metrics {
			v, ok := results[i].Metrics[info.Name]
			if !ok {
				v = math.NaN()
			}
			row[m] = v
		}
		table[i] = row
	}
	type job struct {
		dim, value string
		rows       []int
	}
	all := make([]int, len(results))
	for i := range all {
		all[i] = i
	}
	jobs := []job{{"all", "all", all}}
	for _, dim := range Dimensions {
		members := map[string][]int{}
		for i := range results {
			for _, v := range dimensionValues(&results[i], dim) {
				members[v] = append(members[v], i)
			}
		}
		for _, v := range sortedKeys(members) {
			jobs = append(jobs, job{dim, v, members[v]})
		}
	}
	b := bootstrapper{values: table, resample: resample, seed: seed}
	groups := make([]Group, len(jobs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for gi, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			stats := b.stats(j.rows, len(metrics), j.dim+"="+j.value)
			g := Group{Dimension: j.dim, Value: j.value, N: len(j.rows), Metrics: map[string]Stat{}}
			for m, info := range metrics {
				if stats[m].N > 0 {
					g.Metrics[info.Name] = stats[m]
				}
			}
			groups[gi] = g
		}()
	}
	wg.Wait()
	return groups[0], groups[1:]
}

// dimensionValues returns the slices of a dimension a draft belongs to.
func dimensionValues(d *DraftResult, dim string) []string {
	switch dim {
	case "drafter":
		return []string{drafterName(d.Model, d.PromptVersion)}
	case "model":
		return []string{orNone(d.Model)}
	case "prompt_version":
		return []string{orNone(d.PromptVersion)}
	case "kind":
		return []string{orNone(string(d.Kind))}
	case "tenant":
		return []string{orNone(d.Tenant)}
	case "tactic":
		if len(d.Tactics) == 0 {
			return []string{"(none)"}
		}
		return slices.Clone(d.Tactics)
	case "month":
		if d.CreatedAt.IsZero() {
			return nil
		}
		return []string{d.CreatedAt.UTC().Format("2006-01")}
	}
	return nil
}

func drafterName(model, version string) string {
	if version == "" {
		return orNone(model)
	}
	if model != "" && strings.HasPrefix(version, model) {
		return version // "extractive-1" rather than "extractive extractive-1"
	}
	return orNone(model) + " " + version
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
