package eval

import (
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

type rougeVector struct {
	ID      string `json:"id"`
	Metric  string `json:"metric"`
	Options struct {
		UseStemmer bool `json:"use_stemmer"`
	} `json:"options"`
	Hypothesis string   `json:"hypothesis"`
	References []string `json:"references"`
	Expected   struct {
		Precision float64 `json:"precision"`
		Recall    float64 `json:"recall"`
		FMeasure  float64 `json:"fmeasure"`
	} `json:"expected"`
	ExpectedExact map[string]string `json:"expected_exact"`
	Tolerance     float64           `json:"tolerance"`
	Source        string            `json:"source"`
}

// TestRougeVectors checks every case of testdata/rouge.json, from
// google-research rouge/rouge_scorer_test.py: ROUGE-1, ROUGE-2, ROUGE-L
// and ROUGE-Lsum, with and without stemming, including the comparisons
// against the original ROUGE-1.5.5 Perl script.
func TestRougeVectors(t *testing.T) {
	for _, v := range loadVectors[rougeVector](t, "rouge.json") {
		t.Run(v.ID, func(t *testing.T) {
			t.Parallel()
			if len(v.References) != 1 {
				t.Fatalf("want one target, got %d (source: %s)", len(v.References), v.Source)
			}
			cfg := RougeConfig{UseStemmer: v.Options.UseStemmer}
			hyp, ref := v.Hypothesis, v.References[0]
			var got RougeScore
			var err error
			switch v.Metric {
			case "rougeL":
				got = RougeL(hyp, ref, cfg)
			case "rougeLsum":
				got = RougeLsum(hyp, ref, cfg)
			default:
				n, convErr := strconv.Atoi(v.Metric[len("rouge"):])
				if convErr != nil {
					t.Fatalf("unknown metric %q (source: %s)", v.Metric, v.Source)
				}
				got, err = RougeN(hyp, ref, n, cfg)
			}
			if err != nil {
				t.Fatalf("%s: %v (source: %s)", v.Metric, err, v.Source)
			}
			for _, c := range []struct {
				name      string
				got, want float64
			}{
				{"precision", got.Precision, v.Expected.Precision},
				{"recall", got.Recall, v.Expected.Recall},
				{"fmeasure", got.FMeasure, v.Expected.FMeasure},
			} {
				if !within(c.got, c.want, v.Tolerance) {
					t.Errorf("%s = %v, want %v ± %v (source: %s)", c.name, c.got, c.want, v.Tolerance, v.Source)
				}
				if exact, ok := v.ExpectedExact[c.name]; ok {
					r, ok := new(big.Rat).SetString(exact)
					if !ok {
						t.Fatalf("bad fraction %q", exact)
					}
					want, _ := r.Float64()
					if !within(c.got, want, 1e-12) {
						t.Errorf("%s = %v, want exactly %s (source: %s)", c.name, c.got, exact, v.Source)
					}
				}
			}
		})
	}
}

type rougeInternalVector struct {
	Metric    string          `json:"metric"`
	Input     json.RawMessage `json:"input"`
	Expected  json.RawMessage `json:"expected"`
	Tolerance json.RawMessage `json:"tolerance"`
	Source    string          `json:"source"`
}

// words turns the integer token lists of the internals vectors into the
// string tokens the implementation compares.
func words(ids []int) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = strconv.Itoa(id)
	}
	return out
}

func sentences(lists [][]int) [][]string {
	out := make([][]string, len(lists))
	for i, l := range lists {
		out[i] = words(l)
	}
	return out
}

// TestRougeInternalVectors checks testdata/rouge-internals.json, from
// google-research rouge/rouge_scorer_test.py: the LCS table and its
// backtrack (testLcsTable), the union LCS (testUnionLcs) and the
// summary-level LCS (testSummaryLevelLcs).
func TestRougeInternalVectors(t *testing.T) {
	for i, v := range loadVectors[rougeInternalVector](t, "rouge-internals.json") {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			switch {
			case v.Metric == "LCS table + backtrack (_lcs_table, _backtrack_norec)" || v.Metric == "LCS table + backtrack":
				var in struct{ Ref, Can []int }
				var want struct {
					Length  int   `json:"lcs_length"`
					Indices []int `json:"lcs_ref_indices"`
					Values  []int `json:"lcs_values"`
				}
				mustUnmarshal(t, v.Input, &in)
				mustUnmarshal(t, v.Expected, &want)
				ref, can := words(in.Ref), words(in.Can)
				tab := lcsTable(ref, can)
				if got := tab[len(ref)][len(can)]; got != want.Length {
					t.Errorf("LCS length = %d, want %d (source: %s)", got, want.Length, v.Source)
				}
				idx := lcsIndices(ref, can)
				if len(idx) != len(want.Indices) || (len(idx) > 0 && !slices.Equal(idx, want.Indices)) {
					t.Errorf("LCS indices = %v, want %v (source: %s)", idx, want.Indices, v.Source)
				}
				if want.Values != nil {
					var vals []string
					for _, i := range idx {
						vals = append(vals, ref[i])
					}
					if !slices.Equal(vals, words(want.Values)) {
						t.Errorf("LCS values = %v, want %v (source: %s)", vals, want.Values, v.Source)
					}
				}
				// The bit-parallel length used for ROUGE-L must agree.
				l := rougeLCS{vocab: map[string]int32{}}
				l.a, l.b = l.ids(nil, ref), l.ids(nil, can)
				if got := l.length(); got != want.Length {
					t.Errorf("bit-parallel LCS length = %d, want %d (source: %s)", got, want.Length, v.Source)
				}
			case v.Metric == "find_union / union LCS (_find_union, _union_lcs)":
				var in struct {
					Lists [][]int `json:"lcs_index_lists"`
					Ref   []int   `json:"ref"`
					Cands [][]int `json:"candidates"`
				}
				var want struct {
					Union  []int `json:"find_union"`
					Values []int `json:"union_lcs_values"`
				}
				mustUnmarshal(t, v.Input, &in)
				mustUnmarshal(t, v.Expected, &want)
				if got := findUnion(in.Lists); !slices.Equal(got, want.Union) {
					t.Errorf("find_union = %v, want %v (source: %s)", got, want.Union, v.Source)
				}
				if got := unionLCS(words(in.Ref), sentences(in.Cands)); !slices.Equal(got, words(want.Values)) {
					t.Errorf("union LCS = %v, want %v (source: %s)", got, want.Values, v.Source)
				}
			case v.Metric == "summary-level LCS (_summary_level_lcs)" || v.Metric == "summary-level LCS":
				refs, cands := summaryInput(t, v.Input)
				var want map[string]float64
				mustUnmarshal(t, v.Expected, &want)
				tol := map[string]float64{}
				if len(v.Tolerance) > 0 {
					mustUnmarshal(t, v.Tolerance, &tol)
				}
				got := rougeSummaryLevel(refs, cands)
				for name, g := range map[string]float64{"precision": got.Precision, "recall": got.Recall, "fmeasure": got.FMeasure} {
					if w, ok := want[name]; ok && !within(g, w, tol[name]) {
						t.Errorf("%s = %v, want %v ± %v (source: %s)", name, g, w, tol[name], v.Source)
					}
				}
			default:
				t.Fatalf("unknown vector kind %q (source: %s)", v.Metric, v.Source)
			}
		})
	}
}

// summaryInput decodes the summary-level inputs, whose tokens are integers
// in one case and strings in the other.
func summaryInput(t *testing.T, raw json.RawMessage) (refs, cands [][]string) {
	t.Helper()
	var in struct {
		Refs  [][]any `json:"refs"`
		Cands [][]any `json:"candidates"`
	}
	mustUnmarshal(t, raw, &in)
	conv := func(lists [][]any) [][]string {
		out := make([][]string, len(lists))
		for i, l := range lists {
			out[i] = []string{}
			for _, tok := range l {
				out[i] = append(out[i], fmt.Sprint(tok))
			}
		}
		return out
	}
	return conv(in.Refs), conv(in.Cands)
}

func mustUnmarshal(t *testing.T, raw json.RawMessage, v any) {
	t.Helper()
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("decode: %v", err)
	}
}

// TestPorterStemmer checks testdata/porter.json, a DERIVED regression
// fixture: words stemmed by NLTK's PorterStemmer in its default mode, the
// stemmer behind rouge-score's use_stemmer=True (the fixture's source field
// says which NLTK version).
func TestPorterStemmer(t *testing.T) {
	var fixture struct {
		Source string      `json:"source"`
		Stems  [][2]string `json:"stems"`
	}
	data, err := os.ReadFile(filepath.Join("testdata", "porter.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &fixture); err != nil {
		t.Fatal(err)
	}
	if len(fixture.Stems) < 100 {
		t.Fatalf("fixture has only %d words", len(fixture.Stems))
	}
	for _, p := range fixture.Stems {
		if got := porterStem(p[0]); got != p[1] {
			t.Errorf("porterStem(%q) = %q, want %q (source: %s)", p[0], got, p[1], fixture.Source)
		}
	}
}

// TestRougeTokens pins rouge-score's tokenizer: lowercase, runs of
// [a-z0-9] only, stemming only for words longer than three characters.
func TestRougeTokens(t *testing.T) {
	got := rougeTokens("The CVE-2021-44228 fix: Upgrading İt's configs.", RougeConfig{UseStemmer: true})
	want := []string{"the", "cve", "2021", "44228", "fix", "upgrad", "i", "t", "s", "config"}
	if !slices.Equal(got, want) {
		t.Errorf("rougeTokens = %q, want %q", got, want)
	}
}
