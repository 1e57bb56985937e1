package eval

import (
	"context"
	"math"
	"testing"
)

func TestScoreRanking(t *testing.T) {
	rel := []Relevant{{ID: "a", Grade: 2}, {ID: "b", Grade: 1}, {ID: "c", Grade: 1}}
	// Ranking: x, a, y, b — a at rank 2, b at rank 4; c missing.
	recall, rr, ndcg := scoreRanking([]string{"x", "a", "y", "b"}, rel, 10)
	if math.Abs(recall-2.0/3) > 1e-12 || rr != 0.5 {
		t.Errorf("recall %v rr %v", recall, rr)
	}
	dcg := 3/math.Log2(3) + 1/math.Log2(5)
	idcg := 3/math.Log2(2) + 1/math.Log2(3) + 1/math.Log2(4)
	if math.Abs(ndcg-dcg/idcg) > 1e-12 {
		t.Errorf("ndcg %v, want %v", ndcg, dcg/idcg)
	}
	// Recall@k divides by min(relevant, k): two relevant in the top 2 of three is perfect.
	if r, _, _ := scoreRanking([]string{"a", "b", "c"}, rel, 2); r != 1 {
		t.Errorf("recall@2 = %v", r)
	}
	if r, rr, n := scoreRanking(nil, rel, 10); r != 0 || rr != 0 || n != 0 {
		t.Errorf("empty ranking scored %v %v %v", r, rr, n)
	}
}

func TestEvaluateRetrieval(t *testing.T) {
	js := []Judgment{{Query: "q1", Relevant: []Relevant{{ID: "a", Grade: 2}}}, {Query: "q2", Relevant: []Relevant{{ID: "b", Grade: 2}}}, {Query: "q3"}}
	s, err := EvaluateRetrieval(context.Background(), js, 10, func(ctx context.Context, j Judgment) ([]string, error) {
		if j.Query == "q1" {
			return []string{"a"}, nil
		}
		return []string{"x", "y", "z", "b"}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.Queries != 2 || s.RecallAtK != 1 || math.Abs(s.MRR-(1+0.25)/2) > 1e-12 {
		t.Errorf("scores = %+v", s)
	}
}
