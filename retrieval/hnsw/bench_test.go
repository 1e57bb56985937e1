package hnsw

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/hindsightsec/hindsight/retrieval/hnsw/hnswtest"
)

var (
	benchOnce   sync.Once
	benchCorpus *corpus
)

// benchIndex returns 100,000 clustered 384-dimensional vectors indexed with the default options
// and every processor, built once per run of the benchmarks (about half a minute on two cores).
func benchIndex(b *testing.B) *corpus {
	benchOnce.Do(func() {
		const n, dim = 100_000, 384
		vecs, queries := hnswtest.Clustered(n, 200, dim, n/1000, 1)
		x := New(dim, Options{})
		x.AddBatch(seq(n), vecs)
		benchCorpus = &corpus{x: x, dim: dim, vecs: vecs, queries: queries, truth: hnswtest.ExactAll(Dot, vecs, dim, queries, 10)}
	})
	return benchCorpus
}

var sinkResults []Result

// BenchmarkSearch measures one single-threaded query for the 10 nearest of 100,000 vectors, and
// reports the recall@10 at each beam width.
func BenchmarkSearch(b *testing.B) {
	c := benchIndex(b)
	for _, ef := range []int{32, 64, 128} {
		b.Run(fmt.Sprintf("ef=%d", ef), func(b *testing.B) {
			i := 0
			for b.Loop() {
				sinkResults = c.x.Search(c.query(i%c.nq()), 10, ef, nil)
				i++
			}
			b.ReportMetric(meanRecall(c, ef), "recall@10")
		})
	}
}

// BenchmarkSearchFiltered measures queries whose filter accepts a share of the ids, with and
// without the caller saying how many.
func BenchmarkSearchFiltered(b *testing.B) {
	c := benchIndex(b)
	for _, pct := range []uint32{1, 10, 50} {
		accept := func(id uint32) bool { return (id*2654435761)>>16%100 < pct }
		for _, hint := range []bool{false, true} {
			f := Filter{Accept: accept}
			if hint {
				f.Accepted = c.n() * int(pct) / 100
			}
			b.Run(fmt.Sprintf("accept=%d%%/count=%v", pct, hint), func(b *testing.B) {
				i := 0
				for b.Loop() {
					sinkResults = c.x.SearchFilter(c.query(i%c.nq()), 10, 64, f)
					i++
				}
			})
		}
	}
}

var sinkScore float32

func BenchmarkDot(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	x, y := make([]float32, 384), make([]float32, 384)
	for i := range x {
		x[i], y[i] = r.Float32(), r.Float32()
	}
	b.Run("kernel", func(b *testing.B) {
		for b.Loop() {
			sinkScore += dot(x, y)
		}
	})
	b.Run("generic", func(b *testing.B) {
		for b.Loop() {
			sinkScore += dotGeneric(x, y)
		}
	})
	c := make([]int8, len(y))
	Quantize(c, y)
	b.Run("int8/kernel", func(b *testing.B) {
		for b.Loop() {
			sinkScore += dotInt8(x, c)
		}
	})
	b.Run("int8/generic", func(b *testing.B) {
		for b.Loop() {
			sinkScore += dotInt8Generic(x, c)
		}
	})
}

// BenchmarkBuild measures inserting 10,000 clustered 384-dimensional vectors with every
// processor.
func BenchmarkBuild(b *testing.B) {
	const n, dim = 10_000, 384
	vecs, _ := hnswtest.Clustered(n, 1, dim, n/100, 1)
	for b.Loop() {
		New(dim, Options{}).AddBatch(seq(n), vecs)
	}
}

// BenchmarkReadFrom measures loading the 100,000-vector index from memory.
func BenchmarkReadFrom(b *testing.B) {
	data := save(b, benchIndex(b).x)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		var x Index
		if _, err := x.ReadFrom(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkQuantize(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 3))
	v := make([]float32, 384)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	c := make([]int8, len(v))
	for b.Loop() {
		Quantize(c, v)
	}
}
