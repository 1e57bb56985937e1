package eval

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
)

type bleuOptions struct {
	Tokenize       string   `json:"tokenize"`
	SmoothMethod   string   `json:"smooth_method"`
	SmoothValue    *float64 `json:"smooth_value"`
	EffectiveOrder bool     `json:"effective_order"`
	Lowercase      bool     `json:"lowercase"`
	MaxNGramOrder  int      `json:"max_ngram_order"`
}

func (o bleuOptions) config() BLEUConfig {
	return BLEUConfig{
		Tokenize:       o.Tokenize,
		Lowercase:      o.Lowercase,
		Smooth:         o.SmoothMethod,
		SmoothValue:    o.SmoothValue,
		MaxNGramOrder:  o.MaxNGramOrder,
		EffectiveOrder: o.EffectiveOrder,
	}
}

type bleuVector struct {
	ID         string          `json:"id"`
	Level      string          `json:"level"`
	Options    bleuOptions     `json:"options"`
	Hypothesis json.RawMessage `json:"hypothesis"`
	References json.RawMessage `json:"references"`
	Expected   float64         `json:"expected"`
	Tolerance  float64         `json:"tolerance"`
	Observed   *float64        `json:"observed_sacrebleu_f615c72"`
	Source     string          `json:"source"`
}

// TestBLEUVectors checks every case of testdata/bleu.json: sacrebleu's
// test/test_bleu.py (raw corpus BLEU, effective order, floor offsets,
// corpus cases, maximum n-gram orders), test/test_sentence_bleu.py and the
// README's variable-reference example.
func TestBLEUVectors(t *testing.T) {
	for _, v := range loadVectors[bleuVector](t, "bleu.json") {
		t.Run(v.ID, func(t *testing.T) {
			t.Parallel()
			hyps, refs := segments(t, v.Level, v.Hypothesis, v.References)
			var got BLEUScore
			var err error
			if v.Level == "sentence" {
				if !v.Options.EffectiveOrder {
					t.Fatalf("sentence vector without effective order: SentenceBLEU cannot express it (source: %s)", v.Source)
				}
				got, err = SentenceBLEU(hyps[0], refs[0], v.Options.config())
			} else {
				got, err = CorpusBLEU(hyps, refs, v.Options.config())
			}
			if err != nil {
				t.Fatalf("BLEU: %v (source: %s)", err, v.Source)
			}
			if !within(got.Score, v.Expected, v.Tolerance) {
				t.Errorf("BLEU = %v, want %v ± %v (source: %s)", got.Score, v.Expected, v.Tolerance, v.Source)
			}
			if v.Observed != nil && !within(got.Score, *v.Observed, observedTolerance) {
				t.Errorf("BLEU = %v, sacrebleu printed %v (source: %s)", got.Score, *v.Observed, v.Source)
			}
		})
	}
}

type bleuStatsVector struct {
	Metric     string      `json:"metric"`
	Options    bleuOptions `json:"options"`
	Hypothesis []string    `json:"hypothesis"`
	References [][]string  `json:"references"`
	Input      *struct {
		Correct []int `json:"correct"`
		Total   []int `json:"total"`
		SysLen  int   `json:"sys_len"`
		RefLen  int   `json:"ref_len"`
	} `json:"input"`
	Expected  json.RawMessage `json:"expected"`
	Tolerance float64         `json:"tolerance"`
	Source    string          `json:"source"`
}

// TestBLEUStatsVectors checks testdata/bleu-stats.json, from sacrebleu's
// test/test_bleu.py: the sufficient statistics of a segment
// (test_case_statistics) and scores computed from given statistics
// (test_case_scoring, test_case_degenerate_stats).
func TestBLEUStatsVectors(t *testing.T) {
	for i, v := range loadVectors[bleuStatsVector](t, "bleu-stats.json") {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			cfg := v.Options.config()
			switch v.Metric {
			case "BLEU sufficient statistics":
				var want struct {
					Matching []int `json:"matching_ngrams_1to4"`
					Total    []int `json:"total_hyp_ngrams_1to4"`
				}
				if err := json.Unmarshal(v.Expected, &want); err != nil {
					t.Fatal(err)
				}
				st, err := CorpusBLEUStats(v.Hypothesis, v.References, cfg)
				if err != nil {
					t.Fatalf("CorpusBLEUStats: %v (source: %s)", err, v.Source)
				}
				if !slices.Equal(st.Correct, want.Matching) || !slices.Equal(st.Total, want.Total) {
					t.Errorf("counts %v / totals %v, want %v / %v (source: %s)", st.Correct, st.Total, want.Matching, want.Total, v.Source)
				}
			case "BLEU from statistics":
				var want float64
				if err := json.Unmarshal(v.Expected, &want); err != nil {
					t.Fatal(err)
				}
				st := BLEUStats{SysLen: v.Input.SysLen, RefLen: v.Input.RefLen, Correct: v.Input.Correct, Total: v.Input.Total}
				got, err := BLEUFromStats(st, cfg)
				if err != nil {
					t.Fatalf("BLEUFromStats: %v (source: %s)", err, v.Source)
				}
				if !within(got.Score, want, v.Tolerance) {
					t.Errorf("BLEU = %v, want %v ± %v (source: %s)", got.Score, want, v.Tolerance, v.Source)
				}
			default:
				t.Fatalf("unknown vector kind %q (source: %s)", v.Metric, v.Source)
			}
		})
	}
}
