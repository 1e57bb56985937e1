package eval

import (
	"slices"
	"strings"
	"testing"
)

func TestMetricNames(t *testing.T) {
	want := []string{"ter", "chrf", "chrf++", "bleu", "rouge-l"}
	if got := MetricNames(); !slices.Equal(got, want) {
		t.Fatalf("MetricNames() = %v, want %v", got, want)
	}
	// Callers may modify the list they get.
	MetricNames()[0] = "x"
	if MetricNames()[0] != "ter" {
		t.Fatal("MetricNames shares its slice between calls")
	}
}

// TestCorpusScoreStreams checks that CorpusScore reads references as
// streams and scores each metric at its defaults, using vectors whose
// options are the defaults (sources in testdata/): sacrebleu's README
// corpus with two reference streams for chrF, chrF++ and BLEU, and
// test_ter.py's WMT example for TER.
func TestCorpusScoreStreams(t *testing.T) {
	hyps := []string{"The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."}
	refs := [][]string{
		{"The dog bit the man.", "It was not unexpected.", "The man bit him first."},
		{"The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."},
	}
	for _, c := range []struct {
		metric string
		want   float64
		tol    float64
		source string
	}{
		{"chrf", 59.72751782684763, observedTolerance, "chrf.json chrf-readme-01"},
		{"chrf++", 59.15310444399262, observedTolerance, "chrf.json chrf-derived-01"},
		{"bleu", 48.530827009929865, observedTolerance, "bleu.json bleu-corpus-01"},
		{"ter", 40, observedTolerance, "ter.json ter-derived-01"},
	} {
		got, err := CorpusScore(c.metric, hyps, refs)
		if err != nil {
			t.Fatalf("%s: %v", c.metric, err)
		}
		if !within(got, c.want, c.tol) {
			t.Errorf("CorpusScore(%q) = %v, want %v (%s)", c.metric, got, c.want, c.source)
		}
	}

	// ROUGE-L: the mean over segments of the best F-measure.
	got, err := CorpusScore("rouge-l", hyps, refs)
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for i, h := range hyps {
		sum += max(RougeL(h, refs[0][i], RougeConfig{}).FMeasure, RougeL(h, refs[1][i], RougeConfig{}).FMeasure)
	}
	if want := 100 * sum / 3; !within(got, want, 1e-12) {
		t.Errorf("CorpusScore(rouge-l) = %v, want %v", got, want)
	}
	// "The dog bit the man." matches its first reference exactly.
	if one, _ := CorpusScore("rouge-l", hyps[:1], [][]string{refs[0][:1], refs[1][:1]}); one != 100 {
		t.Errorf("identical text scores %v, want 100", one)
	}
}

func TestCorpusScoreErrors(t *testing.T) {
	hyps := []string{"a", "b", "c"}
	for _, c := range []struct {
		name   string
		metric string
		hyps   []string
		refs   [][]string
		want   string
	}{
		{"unknown metric", "meteor", hyps, [][]string{hyps}, `unknown metric "meteor"`},
		{"short stream", "ter", hyps, [][]string{hyps, hyps[:2]}, "reference 2 has 2 lines, hypotheses have 3"},
		{"long stream", "bleu", hyps, [][]string{append(hyps, "d")}, "reference 1 has 4 lines, hypotheses have 3"},
		{"no streams", "chrf", hyps, nil, "no reference streams"},
		{"no hypotheses", "chrf", nil, [][]string{{}}, "no hypotheses"},
		{"invalid hypothesis", "rouge-l", []string{"a", "\xff"}, [][]string{{"a", "b"}}, "hypothesis 2 is not valid UTF-8"},
		{"invalid reference", "chrf++", []string{"a", "b"}, [][]string{{"a", "b"}, {"a", "\xc3"}}, "reference 2, line 2 is not valid UTF-8"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := CorpusScore(c.metric, c.hyps, c.refs)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error = %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestMetricFunctionErrors(t *testing.T) {
	hyps := []string{"a", "b"}
	if _, err := CorpusTER(hyps, [][]string{{"a"}}, TERConfig{}); err == nil {
		t.Error("CorpusTER accepted references for fewer segments than hypotheses")
	}
	if _, err := CorpusChrF(hyps, [][]string{{"a"}, {}}, ChrFConfig{}); err == nil || !strings.Contains(err.Error(), "segment 2 has no reference") {
		t.Errorf("CorpusChrF error = %v, want segment 2 has no reference", err)
	}
	if _, err := CorpusBLEU(hyps, [][]string{{"a"}, {"b"}}, BLEUConfig{Tokenize: "zh"}); err == nil {
		t.Error("CorpusBLEU accepted an unsupported tokenizer")
	}
	if _, err := CorpusBLEU(hyps, [][]string{{"a"}, {"b"}}, BLEUConfig{Smooth: "linear"}); err == nil {
		t.Error("CorpusBLEU accepted an unknown smoothing method")
	}
	if _, err := BLEUFromStats(BLEUStats{Correct: []int{1}, Total: []int{1}}, BLEUConfig{}); err == nil {
		t.Error("BLEUFromStats accepted one order for a four-order configuration")
	}
	if _, err := RougeN("a", "a", 0, RougeConfig{}); err == nil {
		t.Error("RougeN accepted n = 0")
	}
	if _, err := CorpusRougeL(nil, nil, RougeConfig{}); err == nil {
		t.Error("CorpusRougeL accepted an empty corpus")
	}
}

// TestParallelMatchesSequential checks that spreading segments over
// goroutines changes no result: a corpus score equals the one computed
// from statistics gathered one segment at a time.
func TestParallelMatchesSequential(t *testing.T) {
	hyps, refs := newTextGen(4).pairs(60)
	for _, cfg := range []ChrFConfig{{}, {WordOrder: 2}} {
		got, err := CorpusChrF(hyps, refs, cfg)
		if err != nil {
			t.Fatal(err)
		}
		w := &chrfWorker{cfg: cfg.withDefaults()}
		order := w.cfg.CharOrder + w.cfg.WordOrder
		total := make([]int, 3*order)
		seg := make([]int, 3*order)
		for i := range hyps {
			w.segment(seg, hyps[i], refs[i])
			for k := range total {
				total[k] += seg[k]
			}
		}
		if want := chrfScore(total, w.cfg); got != want {
			t.Errorf("chrF %+v: parallel %v, sequential %v", cfg, got, want)
		}
	}
	st, err := CorpusBLEUStats(hyps, refs, BLEUConfig{})
	if err != nil {
		t.Fatal(err)
	}
	sys, ref := 0, 0
	for i := range hyps {
		s, err := CorpusBLEUStats(hyps[i:i+1], refs[i:i+1], BLEUConfig{})
		if err != nil {
			t.Fatal(err)
		}
		sys += s.SysLen
		ref += s.RefLen
	}
	if st.SysLen != sys || st.RefLen != ref {
		t.Errorf("BLEU lengths %d/%d, segments sum to %d/%d", st.SysLen, st.RefLen, sys, ref)
	}
}
