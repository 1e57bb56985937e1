package hnswtest

import (
	"math"
	"slices"
	"testing"
)

func TestSamples(t *testing.T) {
	t.Parallel()
	const dim = 48
	v1, q1 := Clustered(500, 20, dim, 5, 1)
	v2, q2 := Clustered(500, 20, dim, 5, 1)
	if !slices.Equal(v1, v2) || !slices.Equal(q1, q2) {
		t.Error("the same seed gave different vectors")
	}
	if v3, _ := Clustered(500, 20, dim, 5, 2); slices.Equal(v1, v3) {
		t.Error("different seeds gave the same vectors")
	}
	for name, vecs := range map[string][]float32{"clustered": v1, "queries": q1, "uniform": Uniform(100, dim, 1)} {
		for i := range len(vecs) / dim {
			var n float64
			for _, x := range vecs[i*dim : (i+1)*dim] {
				n += float64(x) * float64(x)
			}
			if math.Abs(n-1) > 1e-5 {
				t.Fatalf("%s vector %d has squared norm %v", name, i, n)
			}
		}
	}
	// Clustered vectors are nearer their own kind than uniform ones are.
	if c, u := meanNearest(v1, dim), meanNearest(Uniform(500, dim, 3), dim); c < u+0.2 {
		t.Errorf("mean cosine to the nearest other vector: clustered %.2f, uniform %.2f", c, u)
	}
}

func meanNearest(vecs []float32, dim int) float64 {
	n := len(vecs) / dim
	var sum float64
	for i := range n {
		best := float32(-2)
		for j := range n {
			if j != i {
				best = max(best, portableDot(vecs[i*dim:(i+1)*dim], vecs[j*dim:(j+1)*dim]))
			}
		}
		sum += float64(best)
	}
	return sum / float64(n)
}

func TestExact(t *testing.T) {
	t.Parallel()
	const dim = 3
	vecs := []float32{1, 0, 0, 0, 1, 0, 0.6, 0.8, 0, 0.8, 0.6, 0, 0, 0, 1}
	q := []float32{1, 0, 0}
	if got, want := Exact(nil, vecs, dim, q, 3, nil), []uint32{0, 3, 2}; !slices.Equal(got, want) {
		t.Errorf("Exact = %v, want %v", got, want)
	}
	odd := func(i uint32) bool { return i%2 == 1 }
	if got, want := Exact(nil, vecs, dim, q, 5, odd), []uint32{3, 1}; !slices.Equal(got, want) {
		t.Errorf("Exact with a filter = %v, want %v", got, want)
	}
	if got := Exact(nil, vecs, dim, q, 0, nil); len(got) != 0 {
		t.Errorf("Exact with k 0 = %v", got)
	}
	big, queries := Clustered(3000, 70, 16, 10, 4)
	all := ExactAll(nil, big, 16, queries, 10)
	for i := range 70 {
		if want := Exact(nil, big, 16, queries[i*16:(i+1)*16], 10, nil); !slices.Equal(all[i], want) {
			t.Fatalf("ExactAll query %d = %v, Exact = %v", i, all[i], want)
		}
	}
}

func TestRecall(t *testing.T) {
	t.Parallel()
	if got := Recall([]uint32{1, 2, 3, 9}, []uint32{3, 4, 1, 2}); got != 0.75 {
		t.Errorf("Recall = %v, want 0.75", got)
	}
	if got := Recall(nil, nil); got != 1 {
		t.Errorf("Recall of nothing = %v, want 1", got)
	}
}
