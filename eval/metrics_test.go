package eval

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hindsightsec/hindsight"
)

func TestStripCitations(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Reset the password [THR-2022-0036, NOTE-0011].", "Reset the password."},
		{"Block it [AN-0248]\nIsolate [T1003.001; M1026]", "Block it\nIsolate"},
		{"Keep [optional] words and [v] brackets", "Keep [optional] words and [v] brackets"},
		{"Mixed [THR-1, later] stays", "Mixed [THR-1, later] stays"},
		{"no brackets", "no brackets"},
		{"Spaces only\t [THR-1 NOTE-2] between", "Spaces only between"},
		{"Nested [see [THR-1]] and open [THR-2", "Nested [see] and open [THR-2"},
		{"Not IDs [T-] [A1--B] [a1] [THR-1.] []", "Not IDs [T-] [A1--B] [a1] [THR-1.] []"},
	} {
		if got := StripCitations(tc.in); got != tc.want {
			t.Errorf("StripCitations(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if diff := cmp.Diff([]string{"THR-1", "NOTE-2", "AN-3"}, Citations("a [THR-1, NOTE-2] b [NOTE-2;AN-3] c [later]")); diff != "" {
		t.Errorf("Citations (-want +got):\n%s", diff)
	}
}

func TestSplitRecommendations(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"Remediation recommendations for LSASS dump\n\n1. Isolate the host [THR-1]\n2. Reset passwords\n", []string{"Isolate the host [THR-1]", "Reset passwords"}},
		{"- a\n- b\n  more b", []string{"a", "b more b"}},
		{"line one\nline two", []string{"line one", "line two"}},
		{"", nil},
	} {
		if diff := cmp.Diff(tc.want, SplitRecommendations(tc.in)); diff != "" {
			t.Errorf("SplitRecommendations(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
}

func TestIsHedged(t *testing.T) {
	for rec, want := range map[string]bool{
		"Consider resetting the password":                 true,
		"You may want to isolate WS-1":                    true,
		"If feasible, isolate WS-1":                       true,
		"Where possible, reset zoe's password [THR-1]":    true,
		"We recommend that you remove the service":        true,
		"It would be prudent to rotate the keys":          true,
		"Block the hash; the attacker could return":       true,
		"Reset the password":                              false,
		"Please revoke the sessions":                      false,
		"Reconsider nothing; isolate WS-1":                false, // "consider" only as a word
		"Remove the Mighty Tool from the host":            false,
		"Check whether the attacker might have persisted": true,
	} {
		if got := IsHedged(rec); got != want {
			t.Errorf("IsHedged(%q) = %v, want %v", rec, got, want)
		}
	}
}

// The expected values of the text metrics are computed by hand from their
// definitions; agreement with sacrebleu and rouge-score on their own test
// vectors is held by the corpus metrics' tests, which these functions share
// their code with.
func TestTextMetrics(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  float64
		want float64
	}{
		// One deletion over three reference words.
		{"TER deletion", TER("Isolate the host now", "Isolate the host"), 100.0 / 3},
		// One block shift over three words.
		{"TER shift", TER("the host isolate", "isolate the host"), 100.0 / 3},
		{"TER equal", TER("Isolate the host", "Isolate the host"), 0},
		// Characters a,b,c vs a,b,d: order 1 P = R = 2/3, order 2 1/2, order 3 0;
		// longer orders have no n-grams and are left out: (2/3 + 1/2 + 0) / 3.
		{"chrF", ChrF("abc", "abd"), 100 * (2.0/3 + 0.5) / 3},
		// chrF++ adds word unigrams (0 matches); no word bigrams: four orders.
		{"chrF++", ChrFPlusPlus("abc", "abd"), 100 * (2.0/3 + 0.5) / 4},
		// Precisions 3/4, 2/3, 1/2, and for 4-grams (none correct) exp
		// smoothing's 1/(2·1); equal lengths, no brevity penalty.
		{"BLEU", BLEU("a b c d", "a b c e"), 100 * math.Pow(0.75*(2.0/3)*0.5*0.5, 0.25)},
		{"BLEU equal", BLEU("Reset the password of svc_sql", "Reset the password of svc_sql"), 100},
		// LCS 3 of 3 draft words and 4 final words: F = 2·1·0.75 / 1.75.
		{"ROUGE-L", RougeLF("the cat sat", "the cat sat down"), 100 * 2 * 0.75 / 1.75},
		{"ROUGE-L empty", RougeLF("", "the cat"), 0},
	} {
		if !within(tc.got, tc.want, 1e-9) {
			t.Errorf("%s = %.10f, want %.10f", tc.name, tc.got, tc.want)
		}
	}
	if !ShippedUnchanged("- Isolate  the host\n- Reset\n", "- Isolate the host - Reset") || ShippedUnchanged("Isolate the host.", "Isolate the host") {
		t.Error("ShippedUnchanged must ignore white space only")
	}
}

// fakeEmbedder embeds a text as the counts of the letters a and b, enough
// to make cosines hand-computable.
type fakeEmbedder struct{ err error }

func (fakeEmbedder) Space() hindsight.Space {
	return hindsight.Space{Name: "fake", Version: "1", Dim: 2}
}
func (f fakeEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if f.err != nil {
		return nil, f.err
	}
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = []float32{float32(strings.Count(t, "a")), float32(strings.Count(t, "b"))}
	}
	return out, nil
}

func TestMeaning(t *testing.T) {
	got, err := Meaning(context.Background(), fakeEmbedder{}, "a", "ab")
	if err != nil || !within(got, 1/math.Sqrt2, 1e-9) {
		t.Errorf("Meaning = %v, %v; want 1/√2", got, err)
	}
	if c := Cosine([]float32{0, 0}, []float32{1, 0}); c != 0 {
		t.Errorf("cosine with a zero vector = %v", c)
	}
	if _, err := Meaning(context.Background(), fakeEmbedder{err: errors.New("down")}, "a", "b"); err == nil {
		t.Error("an embedder error was swallowed")
	}
}

func TestAlignRecommendations(t *testing.T) {
	draft := []string{"Consider isolating WS-1 [THR-1]", "Reset the password of svc_backup [THR-1, NOTE-1]", "Monitor the environment"}
	final := []string{"Isolate WS-1", "Enable LSA protection", "Reset the password of svc_backup now"}
	al := AlignRecommendations(draft, final)
	// {isol, ws, 1} on both sides; {reset, password, svc, backup} and the
	// same with "now": 2·4 / (4 + 5).
	want := []AlignedPair{{Draft: 0, Final: 0, Similarity: 1}, {Draft: 1, Final: 2, Similarity: 8.0 / 9}}
	if diff := cmp.Diff(want, al.Pairs); diff != "" {
		t.Errorf("pairs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{2}, al.Removed); diff != "" {
		t.Errorf("removed (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{1}, al.Added); diff != "" {
		t.Errorf("added (-want +got):\n%s", diff)
	}
	if p, ok := al.Precision(); !ok || p != 2.0/3 {
		t.Errorf("precision = %v %v", p, ok)
	}
	if r, ok := al.Recall(); !ok || r != 2.0/3 {
		t.Errorf("recall = %v %v", r, ok)
	}
	if al.Draft[1] != "Reset the password of svc_backup" {
		t.Errorf("citations kept in %q", al.Draft[1])
	}
	if got := len(al.Rewritten()); got != 2 {
		t.Errorf("rewritten = %d, want 2", got)
	}
	removed, added := Prescriptiveness(al)
	if len(removed) != 1 || removed[0].Draft != 0 || len(added) != 0 {
		t.Errorf("prescriptiveness = %+v, %+v", removed, added)
	}

	// The most similar pair goes first, whatever the order; ties go to the
	// earlier draft recommendation.
	al = AlignRecommendations([]string{"Reset passwords", "Reset all passwords of the domain admins"}, []string{"Reset all passwords of the domain admins"})
	if len(al.Pairs) != 1 || al.Pairs[0].Draft != 1 {
		t.Errorf("best pair = %+v", al.Pairs)
	}
	al = AlignRecommendations([]string{"Reset passwords", "Reset passwords."}, []string{"Reset passwords"})
	if len(al.Pairs) != 1 || al.Pairs[0].Draft != 0 || len(al.Rewritten()) != 0 {
		t.Errorf("tie = %+v; a final full stop is no rewrite", al.Pairs)
	}
	// Below the threshold nothing aligns: 2·1 / (3 + 4) < 0.3.
	if s := RecommendationSimilarity("Block 10.0.0.1 now", "Isolate WS-1 and image it"); s >= AlignThreshold {
		t.Errorf("unrelated similarity %v", s)
	}
	_, added = Prescriptiveness(AlignRecommendations([]string{"Reset the password"}, []string{"Consider resetting the password"}))
	if len(added) != 1 {
		t.Errorf("softened recommendation not found: %+v", added)
	}
	empty := AlignRecommendations(nil, nil)
	if _, ok := empty.Precision(); ok {
		t.Error("precision of no recommendations is defined")
	}
}

func TestGrounding(t *testing.T) {
	g, ok := Grounding([]hindsight.Recommendation{
		{Text: "a", Citations: []string{"THR-1"}, Supported: true},
		{Text: "b", Citations: []string{"THR-1"}, Removed: []string{"THR-9"}},
		{Text: "c"},
		{Text: "d", Citations: []string{"NOTE-1"}, Supported: true},
	})
	if !ok || g != (GroundingScore{Cited: 0.5, Supported: 0.5, HasSupport: true}) {
		t.Errorf("Grounding = %+v %v", g, ok)
	}
	g, ok = GroundingOfText([]string{"Isolate [THR-1]", "Reset", "Block [later]"})
	if !ok || !within(g.Cited, 1.0/3, 1e-12) || g.HasSupport {
		t.Errorf("GroundingOfText = %+v %v", g, ok)
	}
	if _, ok := Grounding(nil); ok {
		t.Error("grounding of no recommendations")
	}
}

func TestTactics(t *testing.T) {
	tac := BuiltinTactics()
	if diff := cmp.Diff([]string{"credential-access", "execution", "persistence", "privilege-escalation"},
		tac.Of([]string{"T1003.001", "T1053.003", "T1003.001"})); diff != "" {
		t.Errorf("Of (-want +got):\n%s", diff)
	}
	// T1003 is not listed itself: its listed sub-techniques stand in; an
	// unlisted sub-technique falls back to its parent.
	if diff := cmp.Diff([]string{"credential-access"}, tac.Of([]string{"T1003", "T1003.008"})); diff != "" {
		t.Errorf("parent fall-back (-want +got):\n%s", diff)
	}
	if got := tac.Of([]string{"T9999"}); len(got) != 0 {
		t.Errorf("unknown technique has tactics %v", got)
	}
	tac.AddDocuments([]*hindsight.Document{
		{Kind: hindsight.KindTechnique, ID: "T1003.001", Tags: []string{"tactic:credential-access", "tactic:defense-evasion", "windows"}},
		{Kind: hindsight.KindNote, ID: "T9999", Tags: []string{"tactic:impact"}},
	})
	if diff := cmp.Diff([]string{"credential-access", "defense-evasion"}, tac.Of([]string{"T1003.001"})); diff != "" {
		t.Errorf("from documents (-want +got):\n%s", diff)
	}
	if got := tac.Of([]string{"T9999"}); len(got) != 0 {
		t.Errorf("a note's tags became tactics: %v", got)
	}
	if got := BuiltinTactics().Of([]string{"T1003.001"}); len(got) != 1 {
		t.Errorf("AddDocuments changed the built-in table: %v", got)
	}
}
