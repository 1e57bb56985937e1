package eval

import (
	"context"
	"math"
	"sort"
	"time"
)

// Judgment lists the documents truly relevant to one query, with graded relevance (2: the same
// underlying scenario, 1: related knowledge). It is the JSONL record of `hindsight gen`'s
// judgments.jsonl.
type Judgment struct {
	Query    string     `json:"query"` // the ID of the threat used as the query
	Tenant   string     `json:"tenant"`
	Relevant []Relevant `json:"relevant"`
}

// Relevant is one relevant document of a judgment.
type Relevant struct {
	ID    string `json:"id"`
	Kind  string `json:"kind"`
	Grade int    `json:"grade"`
}

// RetrievalScores are ranking metrics averaged over queries.
type RetrievalScores struct {
	Queries   int     `json:"queries"`
	K         int     `json:"k"`
	RecallAtK float64 `json:"recall_at_k"` // share of the relevant documents found in the top K
	MRR       float64 `json:"mrr"`         // mean reciprocal rank of the first relevant document
	NDCG10    float64 `json:"ndcg_at_10"`  // graded gain 2^grade - 1, log2 discount, ideal from the judgments
	P50Millis float64 `json:"p50_ms"`      // median time of one search
	P99Millis float64 `json:"p99_ms"`
}

// RankFunc runs one query and returns the ranked document IDs, best first.
type RankFunc func(ctx context.Context, j Judgment) ([]string, error)

// EvaluateRetrieval runs every judged query through rank and scores the rankings against the
// judgments: recall@k, MRR and nDCG@10.
func EvaluateRetrieval(ctx context.Context, judgments []Judgment, k int, rank RankFunc) (RetrievalScores, error) {
	s := RetrievalScores{K: k}
	var lat []float64
	for _, j := range judgments {
		if len(j.Relevant) == 0 {
			continue
		}
		start := time.Now()
		ids, err := rank(ctx, j)
		if err != nil {
			return s, err
		}
		lat = append(lat, float64(time.Since(start).Microseconds())/1000)
		r, rr, n := scoreRanking(ids, j.Relevant, k)
		s.RecallAtK += r
		s.MRR += rr
		s.NDCG10 += n
		s.Queries++
	}
	if s.Queries > 0 {
		q := float64(s.Queries)
		s.RecallAtK, s.MRR, s.NDCG10 = s.RecallAtK/q, s.MRR/q, s.NDCG10/q
		sort.Float64s(lat)
		s.P50Millis, s.P99Millis = percentile(lat, 0.50), percentile(lat, 0.99)
	}
	return s, nil
}

// scoreRanking returns recall@k, the reciprocal rank of the first relevant document and nDCG@10.
func scoreRanking(ids []string, relevant []Relevant, k int) (recall, rr, ndcg float64) {
	grade := make(map[string]int, len(relevant))
	for _, r := range relevant {
		grade[r.ID] = r.Grade
	}
	found := 0
	var dcg float64
	for i, id := range ids {
		g, ok := grade[id]
		if !ok {
			continue
		}
		if i < k {
			found++
		}
		if rr == 0 {
			rr = 1 / float64(i+1)
		}
		if i < 10 {
			dcg += (math.Pow(2, float64(g)) - 1) / math.Log2(float64(i+2))
		}
	}
	grades := make([]int, 0, len(relevant))
	for _, r := range relevant {
		grades = append(grades, r.Grade)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(grades)))
	var idcg float64
	for i, g := range grades {
		if i >= 10 {
			break
		}
		idcg += (math.Pow(2, float64(g)) - 1) / math.Log2(float64(i+2))
	}
	if idcg > 0 {
		ndcg = dcg / idcg
	}
	return float64(found) / float64(min(len(relevant), k)), rr, ndcg
}

func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
