package eval

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// The vectors in testdata/ are copies of the shared reference vectors,
// collected from the test suites of mjpost/sacrebleu (test/test_ter.py,
// test/test_tokenizer_ter.py, test/test_chrf.py, test/test_bleu.py,
// test/test_sentence_bleu.py), google-research rouge/rouge_scorer_test.py
// and the Hugging Face evaluate docstrings. Every case carries its exact
// origin in its source field, which failures print.

func loadVectors[T any](t *testing.T, name string) []T {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read vectors: %v", err)
	}
	var out []T
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	if len(out) == 0 {
		t.Fatalf("%s has no vectors", name)
	}
	return out
}

// within reports whether got is within tol of want. A zero tolerance asks
// for exact equality.
func within(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol
}

// observedTolerance bounds the distance to the value sacrebleu itself
// printed for a vector. The computations follow sacrebleu's operation
// order, so anything beyond rounding noise is a real difference.
const observedTolerance = 1e-9
