package eval

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hindsightsec/hindsight"
)

func TestQuantileAndBootstrap(t *testing.T) {
	// NumPy: np.percentile([1, 2, 3, 4], 25) == 1.75, 97.5 → 3.925.
	if q := quantile([]float64{1, 2, 3, 4}, 0.25); q != 1.75 {
		t.Errorf("quantile 25%% = %v", q)
	}
	if q := quantile([]float64{1, 2, 3, 4}, 0.975); !within(q, 3.925, 1e-12) {
		t.Errorf("quantile 97.5%% = %v", q)
	}
	values := []float64{10, 12, 9, 30, 11, 14, math.NaN(), 8, 13, 10}
	a := BootstrapMean(values, 1000, 7)
	b := BootstrapMean(values, 1000, 7)
	c := BootstrapMean(values, 1000, 8)
	if a != b {
		t.Errorf("same seed, different intervals: %+v %+v", a, b)
	}
	if a == c {
		t.Errorf("another seed gave the same interval %+v", a)
	}
	if a.N != 9 || !within(a.Mean, 117.0/9, 1e-12) || !(a.Lo < a.Mean && a.Mean < a.Hi) || a.Lo < 8 || a.Hi > 30 {
		t.Errorf("interval %+v", a)
	}
	if s := BootstrapMean([]float64{3, 3, 3}, 200, 1); s.Lo != 3 || s.Hi != 3 {
		t.Errorf("constant values: %+v", s)
	}
	if s := BootstrapMean([]float64{1, 5}, 0, 1); s.Lo != 3 || s.Hi != 3 {
		t.Errorf("no resampling: %+v", s)
	}
}

func sampleInputs() []Input {
	at := time.Date(2024, 3, 5, 9, 0, 0, 0, time.UTC)
	r := &hindsight.Ratings{Accuracy: 4, Clarity: 3, Completeness: 5}
	return []Input{
		{ID: "D1", Kind: hindsight.DraftRemediation, Model: "extractive", PromptVersion: "v1", Tenant: "acme",
			Techniques: []string{"T1003.001"}, CreatedAt: at, Ratings: r,
			Draft: "- Consider isolating WS-1 [THR-1]\n- Reset the password of svc_backup [THR-1, NOTE-1]\n- Monitor the environment",
			Final: "- Isolate WS-1\n- Reset the password of svc_backup\n- Enable LSA protection"},
		{ID: "D2", Kind: hindsight.DraftRemediation, Model: "llama", PromptVersion: "v2", Tenant: "globex",
			Techniques: []string{"T1053.003"}, CreatedAt: at.AddDate(0, 1, 0), Ratings: r,
			Draft: "- Remove the cron job\n- Rotate SSH keys", Final: "- Remove the cron job\n- Rotate SSH keys"},
		{ID: "D3", ThreatID: "THR-7", Kind: hindsight.DraftHunting, Model: "extractive", PromptVersion: "v1", Tenant: "acme",
			CreatedAt: at.AddDate(0, 1, 2), Reference: ReferenceSent, Draft: "- Search for procdump.exe", Final: "- Search all hosts for procdump.exe",
			Recommendations: []hindsight.Recommendation{{Text: "Search for procdump.exe", Citations: []string{"THR-2"}, Supported: true}}},
	}
}

func TestScore(t *testing.T) {
	res, err := Score(context.Background(), sampleInputs(), Options{Embedder: fakeEmbedder{}})
	if err != nil {
		t.Fatal(err)
	}
	d1, d2, d3 := res[0], res[1], res[2]
	if d1.Reference != ReferenceReview || d3.Reference != ReferenceSent {
		t.Errorf("references %q %q", d1.Reference, d3.Reference)
	}
	draft := StripCitations(sampleInputs()[0].Draft)
	final := sampleInputs()[0].Final
	want := map[string]float64{
		MetricTER: TER(draft, final), MetricCharEdit: CharEditDistance(draft, final), MetricUnchanged: 0,
		MetricChrF: ChrF(draft, final), MetricChrFPP: ChrFPlusPlus(draft, final), MetricBLEU: BLEU(draft, final),
		MetricRougeL: RougeLF(draft, final), MetricPrecision: 2.0 / 3, MetricRecall: 2.0 / 3,
		MetricHedgeRemoved: 1, MetricHedgeAdded: 0, MetricCited: 2.0 / 3,
		MetricAccuracy: 4, MetricClarity: 3, MetricCompleteness: 5,
	}
	meaning, _ := Meaning(context.Background(), fakeEmbedder{}, draft, final)
	want[MetricMeaning] = round(meaning, 6)
	if diff := cmp.Diff(want, d1.Metrics); diff != "" {
		t.Errorf("D1 metrics (-want +got):\n%s", diff)
	}
	if d1.Recommendations.Kept != 2 || strings.Join(d1.Recommendations.Removed, "|") != "Monitor the environment" ||
		strings.Join(d1.Recommendations.Added, "|") != "Enable LSA protection" || len(d1.Recommendations.HedgeRemoved) != 1 {
		t.Errorf("D1 recommendations %+v", d1.Recommendations)
	}
	if diff := cmp.Diff([]string{"credential-access"}, d1.Tactics); diff != "" {
		t.Errorf("D1 tactics (-want +got):\n%s", diff)
	}
	if d2.Metrics[MetricUnchanged] != 1 || d2.Metrics[MetricTER] != 0 || d2.Metrics[MetricCited] != 0 {
		t.Errorf("D2 = %+v", d2.Metrics)
	}
	if _, ok := d2.Metrics[MetricSupported]; ok {
		t.Error("support of a text-only draft was scored")
	}
	if d3.Metrics[MetricSupported] != 1 || d3.Metrics[MetricCited] != 1 || d3.Key() != "THR-7/hunting" || d1.Key() != "D1" {
		t.Errorf("D3 = %+v, key %s", d3.Metrics, d3.Key())
	}
	for _, m := range []string{MetricAccuracy, MetricClarity, MetricCompleteness} {
		if _, ok := d3.Metrics[m]; ok {
			t.Errorf("D3 has %s without ratings", m)
		}
	}
	res, _ = Score(context.Background(), sampleInputs()[:1], Options{})
	if _, ok := res[0].Metrics[MetricMeaning]; ok {
		t.Error("meaning scored without an embedder")
	}
	if _, err := Score(context.Background(), sampleInputs(), Options{Embedder: fakeEmbedder{err: errBoom}}); err == nil {
		t.Error("embedder failure not reported")
	}
}

var errBoom = errorString("boom")

type errorString string

func (e errorString) Error() string { return string(e) }

// TestScoreMatchesFunctions holds the batch scorer, which reuses buffers
// and derives chrF from chrF++'s statistics, to the exported functions on
// generated drafts long enough to exercise every metric's paths.
func TestScoreMatchesFunctions(t *testing.T) {
	hyps, refs := newTextGen(11).pairs(40)
	inputs := make([]Input, len(hyps))
	for i := range hyps {
		inputs[i] = Input{ID: "D", Draft: hyps[i], Final: refs[i][0]}
	}
	res, err := Score(context.Background(), inputs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		h, f := hyps[i], refs[i][0]
		for name, want := range map[string]float64{MetricTER: TER(h, f), MetricCharEdit: CharEditDistance(h, f),
			MetricChrF: ChrF(h, f), MetricChrFPP: ChrFPlusPlus(h, f), MetricBLEU: BLEU(h, f), MetricRougeL: RougeLF(h, f)} {
			if got := r.Metrics[name]; got != want {
				t.Fatalf("pair %d: %s = %v from Score, %v from its function", i, name, got, want)
			}
		}
	}
}

func testReport(t *testing.T) *Report {
	t.Helper()
	res, err := Score(context.Background(), sampleInputs(), Options{Embedder: fakeEmbedder{}})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	return NewReport(res, ReportConfig{ID: "EVR-test", Source: "test", Seed: 3, Bootstrap: 200, Embedder: "fake@1/2",
		Now: func() time.Time { return at }})
}

func TestNewReport(t *testing.T) {
	r := testReport(t)
	if diff := cmp.Diff([]string{"acme", "globex"}, r.Tenants); diff != "" {
		t.Errorf("tenants (-want +got):\n%s", diff)
	}
	if r.Overall.N != 3 || r.Overall.Metrics[MetricUnchanged].Mean != 1.0/3 || r.Overall.Metrics[MetricSupported].N != 1 {
		t.Errorf("overall = %+v", r.Overall)
	}
	for _, tc := range []struct {
		dim, value string
		n          int
	}{{"drafter", "extractive v1", 2}, {"model", "llama", 1}, {"kind", "hunting", 1}, {"tenant", "acme", 2},
		{"tactic", "credential-access", 1}, {"tactic", "persistence", 1}, {"tactic", "(none)", 1}, {"month", "2024-04", 2}} {
		g := r.Slice(tc.dim, tc.value)
		if g == nil || g.N != tc.n {
			t.Errorf("slice %s=%s: %+v, want %d drafts", tc.dim, tc.value, g, tc.n)
		}
	}
	if got := r.TERLabel(); got != "TER/HTER" {
		t.Errorf("TER label %q", got)
	}
	again := testReport(t)
	if diff := cmp.Diff(r, again); diff != "" {
		t.Errorf("the same seed gave another report (-first +second):\n%s", diff)
	}
	acme := r.ForTenant("acme")
	if acme.ID != r.ID || len(acme.Drafts) != 2 || len(acme.Tenants) != 1 || acme.Slice("tenant", "globex") != nil || acme.Overall.N != 2 {
		t.Errorf("acme's report: %+v", acme)
	}
	if r.ForTenant("initech") != nil {
		t.Error("a report for a tenant without drafts")
	}
}

func TestParseGates(t *testing.T) {
	gs, err := ParseGates(" ter:+2, recall:-0.05,,chrf:1, char_edit:0.1, hter:-1 ")
	if err != nil {
		t.Fatal(err)
	}
	want := []Gate{{MetricTER, 2, "ter:+2"}, {MetricRecall, -0.05, "recall:-0.05"}, {MetricChrF, -1, "chrf:1"},
		{MetricCharEdit, 0.1, "char_edit:0.1"}, {MetricTER, -1, "hter:-1"}}
	if diff := cmp.Diff(want, gs); diff != "" {
		t.Errorf("gates (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"ter", "meteor:+1", "ter:lots", "ter:NaN", "recall:"} {
		if _, err := ParseGates(bad); err == nil {
			t.Errorf("ParseGates(%q) accepted", bad)
		}
	}
}

func TestGateCheck(t *testing.T) {
	group := func(metric string, change float64) DiffGroup {
		return DiffGroup{Metrics: map[string]DiffStat{metric: {N: 10, Diff: Stat{N: 10, Mean: change}}}}
	}
	for _, tc := range []struct {
		gate   string
		change float64
		pass   bool
	}{
		{"ter:+2", 1.9, true}, {"ter:+2", 2, true}, {"ter:+2", 2.1, false}, {"ter:+2", -5, true},
		{"ter:-1", -0.5, false}, {"ter:-1", -1.5, true},
		{"recall:-0.05", -0.04, true}, {"recall:-0.05", -0.06, false}, {"recall:0.05", -0.06, false},
		{"recall:+0.05", 0.01, false}, {"recall:+0.05", 0.06, true},
	} {
		gs, err := ParseGates(tc.gate)
		if err != nil {
			t.Fatal(err)
		}
		if r := gs[0].Check(group(gs[0].Metric, tc.change)); r.Passed != tc.pass || r.Change != tc.change || r.N != 10 {
			t.Errorf("gate %s at change %+v: %+v, want passed=%v", tc.gate, tc.change, r, tc.pass)
		}
	}
	gs, _ := ParseGates("accuracy:-1")
	if r := gs[0].Check(group(MetricTER, 0)); r.Passed || !strings.Contains(r.Reason, "no shared draft") {
		t.Errorf("gate without data: %+v", r)
	}
}

func TestCompare(t *testing.T) {
	mk := func(id string, drafts ...DraftResult) *Report {
		return NewReport(drafts, ReportConfig{ID: id, Bootstrap: -1})
	}
	d := func(id, threat, model string, ter, recall float64) DraftResult {
		return DraftResult{ID: id, ThreatID: threat, Kind: hindsight.DraftRemediation, Model: model, Tenant: "acme",
			Tactics: []string{"execution"}, Metrics: map[string]float64{MetricTER: ter, MetricRecall: recall}}
	}
	base := mk("B", d("x1", "T1", "extractive", 50, 0.5), d("x2", "T2", "extractive", 40, 0.6), d("x3", "T3", "extractive", 30, 0.7))
	cand := mk("C", d("y1", "T1", "llama", 53, 0.5), d("y2", "T2", "llama", 44, 0.5), d("y4", "T4", "llama", 10, 1))
	gates, _ := ParseGates("ter:+2,recall:-0.1")
	c, err := Compare(base, cand, CompareOptions{Seed: 1, Bootstrap: 500, Gates: gates})
	if err != nil {
		t.Fatal(err)
	}
	if c.Shared != 2 || c.OnlyBaseline != 1 || c.OnlyCandidate != 1 {
		t.Errorf("shared %d, only %d/%d", c.Shared, c.OnlyBaseline, c.OnlyCandidate)
	}
	ter := c.Overall.Metrics[MetricTER]
	if ter.N != 2 || ter.Baseline != 45 || ter.Candidate != 48.5 || ter.Diff.Mean != 3.5 || ter.Diff.Lo < 3 || ter.Diff.Hi > 4 {
		t.Errorf("TER change %+v", ter)
	}
	if !within(c.Overall.Metrics[MetricRecall].Diff.Mean, -0.05, 1e-12) {
		t.Errorf("recall change %+v", c.Overall.Metrics[MetricRecall])
	}
	if c.Passed() || c.Gates[0].Passed || !c.Gates[1].Passed {
		t.Errorf("gates %+v", c.Gates)
	}
	if g := c.Slices[0]; g.Dimension != "kind" || g.N != 2 {
		t.Errorf("first slice %+v", g)
	}
	again, _ := Compare(base, cand, CompareOptions{Seed: 1, Bootstrap: 500, Gates: gates})
	if diff := cmp.Diff(c, again); diff != "" {
		t.Errorf("comparison not deterministic (-first +second):\n%s", diff)
	}

	two := mk("R", d("a", "T1", "extractive", 1, 1), d("b", "T1", "llama", 2, 1))
	if _, err := Compare(two, cand, CompareOptions{}); err == nil || !strings.Contains(err.Error(), "--baseline-model") {
		t.Errorf("two drafts of one threat: %v", err)
	}
	one, err := two.FilterModel("llama")
	if err != nil || len(one.Drafts) != 1 || one.Drafts[0].ID != "b" {
		t.Errorf("FilterModel = %+v, %v", one, err)
	}
	if _, err := two.FilterModel("qwen"); err == nil {
		t.Error("FilterModel of an absent model")
	}
	var md bytes.Buffer
	if err := c.WriteMarkdown(&md); err != nil || !strings.Contains(md.String(), "❌ failed") || !strings.Contains(md.String(), "| `recall:-0.1`") {
		t.Errorf("compare markdown: %v\n%s", err, md.String())
	}
}

// external matches what would make a page fetch something: a source or link
// attribute, a CSS url() or @import, a script or a stylesheet link.
var external = regexp.MustCompile(`(?i)(\b(src|href|xlink:href)\s*=|url\(|@import|<script|<link|<iframe|<img)`)

func TestWriteFiles(t *testing.T) {
	r := testReport(t)
	dir := filepath.Join(t.TempDir(), "out")
	if err := r.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, ReportJSON))
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("report.json: %v", err)
	}
	if diff := cmp.Diff(r, &back); diff != "" {
		t.Errorf("report.json does not read back (-want +got):\n%s", diff)
	}
	md, _ := os.ReadFile(filepath.Join(dir, ReportMarkdown))
	for _, want := range []string{"## Hindsight eval run EVR-test", "| TER/HTER ↓ | 3 |", "### By drafter", "| extractive v1 | 2 |", "### By tactic", "### Notes"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}
	page, _ := os.ReadFile(filepath.Join(dir, ReportHTML))
	html := string(page)
	if !strings.HasPrefix(html, "<!DOCTYPE html>") || !strings.HasSuffix(strings.TrimSpace(html), "</html>") {
		t.Error("report.html is not a whole page")
	}
	if n, m := strings.Count(html, "<svg "), strings.Count(html, "</svg>"); n < 10 || n != m {
		t.Errorf("report.html has %d <svg> and %d </svg>", n, m)
	}
	for _, want := range []string{"<rect ", "<polyline ", "class=\"whisker\"", "Trend by month", "Distributions over drafts", "Monitor the environment"} {
		if !strings.Contains(html, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	if m := external.FindString(html); m != "" {
		t.Errorf("report.html refers to something outside itself: %q", m)
	}
	if strings.Contains(html, "http://") || strings.Contains(html, "https://") {
		t.Error("report.html holds a URL")
	}
	for _, name := range []string{ReportJSON, ReportMarkdown, ReportHTML} {
		if st, err := os.Stat(filepath.Join(dir, name)); err != nil || st.Mode().Perm() != 0o644 {
			t.Errorf("%s: %v %v", name, st, err)
		}
	}
}

// TestHTMLEscapes makes sure text from drafts cannot become markup.
func TestHTMLEscapes(t *testing.T) {
	in := sampleInputs()[:1]
	in[0].Draft = "- Remove <script>alert(1)</script> from the page\n- Reset"
	in[0].Final = "- Reset"
	res, _ := Score(context.Background(), in, Options{})
	var b bytes.Buffer
	if err := NewReport(res, ReportConfig{Bootstrap: -1}).WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "<script>") || !strings.Contains(b.String(), "&lt;script&gt;") {
		t.Error("draft text reached the page unescaped")
	}
}

func TestInputFromStored(t *testing.T) {
	at := time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)
	review := &hindsight.Review{ID: "R", Final: "- Isolate WS-1", Ratings: hindsight.Ratings{Accuracy: 5, Clarity: 5, Completeness: 5}}
	made := &hindsight.Draft{ID: "D", Tenant: "acme", Kind: hindsight.DraftRemediation, Model: "extractive", CreatedAt: at,
		Text:            "Remediation recommendations for X\n\n1. Isolate WS-1 [THR-1]\n",
		Threat:          hindsight.Document{ID: "THR-9", Techniques: []string{"T1003.001"}},
		Recommendations: []hindsight.Recommendation{{Text: "Isolate WS-1", Citations: []string{"THR-1"}, Supported: true}}}
	imported := &hindsight.Draft{ID: "P", Tenant: "acme", Kind: hindsight.DraftRemediation, Text: "- Isolate WS-1 [THR-1]\n- Reset",
		Recommendations: []hindsight.Recommendation{}}
	empty := &hindsight.Draft{ID: "E", Tenant: "acme", Kind: hindsight.DraftRemediation, Recommendations: []hindsight.Recommendation{},
		Text: "Remediation recommendations for X\n\nNo similar past case or knowledge note holds remediation guidance for this threat.\n"}
	var ins []Input
	for _, d := range []*hindsight.Draft{made, imported, empty} {
		ins = append(ins, InputFromStored(StoredPair{Draft: d, Review: review}))
	}
	if ins[0].ThreatID != "THR-9" || ins[0].Ratings.Accuracy != 5 || ins[0].Reference != ReferenceReview || len(ins[0].Recommendations) != 1 {
		t.Errorf("made draft: %+v", ins[0])
	}
	if ins[1].Recommendations != nil || ins[2].Recommendations == nil {
		t.Errorf("imported %v, empty %v", ins[1].Recommendations, ins[2].Recommendations)
	}
	res, _ := Score(context.Background(), ins, Options{})
	if res[0].Metrics[MetricPrecision] != 1 || res[0].Metrics[MetricSupported] != 1 {
		t.Errorf("made draft %+v", res[0].Metrics)
	}
	if res[1].Recommendations.Draft != 2 || res[1].Metrics[MetricCited] != 0.5 {
		t.Errorf("imported draft %+v %+v", res[1].Recommendations, res[1].Metrics)
	}
	if _, ok := res[2].Metrics[MetricPrecision]; ok || res[2].Recommendations.Draft != 0 || res[2].Metrics[MetricRecall] != 0 {
		t.Errorf("empty draft %+v %+v", res[2].Recommendations, res[2].Metrics)
	}
}
