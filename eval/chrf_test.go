package eval

import (
	"encoding/json"
	"testing"
)

type chrfVector struct {
	ID      string `json:"id"`
	Level   string `json:"level"`
	Options struct {
		CharOrder    int  `json:"char_order"`
		WordOrder    int  `json:"word_order"`
		Beta         int  `json:"beta"`
		Lowercase    bool `json:"lowercase"`
		Whitespace   bool `json:"whitespace"`
		EpsSmoothing bool `json:"eps_smoothing"`
	} `json:"options"`
	Hypothesis json.RawMessage `json:"hypothesis"`
	References json.RawMessage `json:"references"`
	Expected   float64         `json:"expected"`
	Tolerance  float64         `json:"tolerance"`
	Observed   *float64        `json:"observed_sacrebleu_f615c72"`
	Source     string          `json:"source"`
}

// segments decodes a vector's texts: corpus vectors list hypotheses and
// per-hypothesis references, sentence vectors one hypothesis and its
// references.
func segments(t *testing.T, level string, hyp, refs json.RawMessage) ([]string, [][]string) {
	t.Helper()
	if level == "sentence" {
		var h string
		var r []string
		if err := json.Unmarshal(hyp, &h); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(refs, &r); err != nil {
			t.Fatal(err)
		}
		return []string{h}, [][]string{r}
	}
	var h []string
	var r [][]string
	if err := json.Unmarshal(hyp, &h); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(refs, &r); err != nil {
		t.Fatal(err)
	}
	return h, r
}

// TestChrFVectors checks every case of testdata/chrf.json: sacrebleu's
// test/test_chrf.py (corpus, effective-order, whitespace and sentence-level
// cases), the Hugging Face evaluate chrF docstring examples, the sacrebleu
// README example and one DERIVED chrF++ regression case.
func TestChrFVectors(t *testing.T) {
	for _, v := range loadVectors[chrfVector](t, "chrf.json") {
		t.Run(v.ID, func(t *testing.T) {
			t.Parallel()
			hyps, refs := segments(t, v.Level, v.Hypothesis, v.References)
			cfg := ChrFConfig{
				CharOrder:    v.Options.CharOrder,
				WordOrder:    v.Options.WordOrder,
				Beta:         v.Options.Beta,
				Lowercase:    v.Options.Lowercase,
				Whitespace:   v.Options.Whitespace,
				EpsSmoothing: v.Options.EpsSmoothing,
			}
			var got float64
			var err error
			if v.Level == "sentence" {
				got, err = SentenceChrF(hyps[0], refs[0], cfg)
			} else {
				got, err = CorpusChrF(hyps, refs, cfg)
			}
			if err != nil {
				t.Fatalf("chrF: %v (source: %s)", err, v.Source)
			}
			if !within(got, v.Expected, v.Tolerance) {
				t.Errorf("chrF = %v, want %v ± %v (source: %s)", got, v.Expected, v.Tolerance, v.Source)
			}
			if v.Observed != nil && !within(got, *v.Observed, observedTolerance) {
				t.Errorf("chrF = %v, sacrebleu printed %v (source: %s)", got, *v.Observed, v.Source)
			}
		})
	}
}
