// Package hnswtest makes deterministic synthetic unit vectors, and exact nearest neighbours to
// check approximate ones against, for the tests and benchmarks of nearest-neighbour indexes.
//
// Real text embeddings are clustered and have a low intrinsic dimension; Clusters imitates that.
// Uniform vectors on the sphere are the hardest case for any graph index, and the least
// realistic; benchmarks report both.
package hnswtest

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
)

// Clusters is a mixture of clusters: each has a centre and a few directions of its own along
// which its vectors spread, plus a little noise in every direction.
type Clusters struct {
	dim, sub int
	centres  []float32 // cluster c at [c*dim, (c+1)*dim)
	bases    []float32 // direction j of cluster c at [(c*sub+j)*dim, ...)
}

// Spread of a cluster's vectors along its own directions and in every direction, relative to
// the centre's length; a vector's cosine to its centre is then about 0.7, and to a random
// vector of its own cluster about 0.5, in the range of sentence embeddings of related texts.
const (
	clusterSub    = 16
	clusterSpread = 1.0
	clusterNoise  = 0.3
)

// NewClusters returns k clusters of dim-dimensional vectors drawn from seed.
func NewClusters(dim, k int, seed uint64) *Clusters {
	r := rand.New(rand.NewPCG(seed, 1))
	c := &Clusters{dim: dim, sub: clusterSub, centres: make([]float32, k*dim), bases: make([]float32, k*clusterSub*dim)}
	for i := range k {
		gaussianUnit(r, c.centres[i*dim:(i+1)*dim])
		for j := range clusterSub {
			o := (i*clusterSub + j) * dim
			gaussianUnit(r, c.bases[o:o+dim])
		}
	}
	return c
}

// Sample returns n unit vectors, flat: vector i at [i*dim, (i+1)*dim). Each picks a cluster at
// random. The same seed gives the same vectors; different seeds give different vectors from
// the same clusters, such as queries for an index built from another sample.
func (c *Clusters) Sample(n int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 2))
	k := len(c.centres) / c.dim
	out := make([]float32, n*c.dim)
	z := make([]float64, c.sub)
	for i := range n {
		v := out[i*c.dim : (i+1)*c.dim]
		cl := r.IntN(k)
		copy(v, c.centres[cl*c.dim:(cl+1)*c.dim])
		for j := range z {
			z[j] = r.NormFloat64() * clusterSpread / math.Sqrt(float64(c.sub))
		}
		for j, zj := range z {
			o := (cl*c.sub + j) * c.dim
			for d, b := range c.bases[o : o+c.dim] {
				v[d] += float32(zj) * b
			}
		}
		noise := clusterNoise / math.Sqrt(float64(c.dim))
		for d := range v {
			v[d] += float32(r.NormFloat64() * noise)
		}
		normalise(v)
	}
	return out
}

// Clustered returns n unit vectors from k clusters, all drawn from seed, and q queries from the
// same clusters that are not among the vectors.
func Clustered(n, q, dim, k int, seed uint64) (vecs, queries []float32) {
	c := NewClusters(dim, k, seed)
	return c.Sample(n, seed+1), c.Sample(q, seed+2)
}

// Uniform returns n unit vectors drawn uniformly from the sphere.
func Uniform(n, dim int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 3))
	out := make([]float32, n*dim)
	for i := range n {
		gaussianUnit(r, out[i*dim:(i+1)*dim])
	}
	return out
}

func gaussianUnit(r *rand.Rand, v []float32) {
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	normalise(v)
}

func normalise(v []float32) {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	inv := float32(1 / math.Sqrt(s))
	for i := range v {
		v[i] *= inv
	}
}

// DotFunc computes a dot product. Tests pass the index's own kernel to make exact answers fast;
// nil means a portable loop.
type DotFunc func(a, b []float32) float32

func portableDot(a, b []float32) float32 {
	var s0, s1, s2, s3 float32
	b = b[:len(a)]
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// Exact returns the positions in vecs of the k vectors with the highest dot product with q,
// best first, among those accept accepts (nil accepts all). Ties go to the lower position.
func Exact(dot DotFunc, vecs []float32, dim int, q []float32, k int, accept func(i uint32) bool) []uint32 {
	if dot == nil {
		dot = portableDot
	}
	t := topK{k: k}
	for i := range uint32(len(vecs) / dim) {
		if accept == nil || accept(i) {
			t.offer(i, dot(q, vecs[int(i)*dim:int(i+1)*dim]))
		}
	}
	return t.positions()
}

// ExactAll returns Exact for each of the queries (flat, dim values each) with no filter, using
// every processor. Each goroutine takes the queries in batches and scores a batch in one pass
// over the vectors: a million vectors are 1.5 GB, and reading them once per query would make
// memory, not arithmetic, the limit.
func ExactAll(dot DotFunc, vecs []float32, dim int, queries []float32, k int) [][]uint32 {
	if dot == nil {
		dot = portableDot
	}
	const batch = 32
	nq, nv := len(queries)/dim, len(vecs)/dim
	out := make([][]uint32, nq)
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for lo := range next {
				hi := min(lo+batch, nq)
				tops := make([]topK, hi-lo)
				for j := range tops {
					tops[j].k = k
				}
				for i := range nv {
					v := vecs[i*dim : (i+1)*dim]
					for j := range tops {
						tops[j].offer(uint32(i), dot(queries[(lo+j)*dim:(lo+j+1)*dim], v))
					}
				}
				for j := range tops {
					out[lo+j] = tops[j].positions()
				}
			}
		}()
	}
	for lo := 0; lo < nq; lo += batch {
		next <- lo
	}
	close(next)
	wg.Wait()
	return out
}

// topK keeps the k best of the scores offered, best first.
type topK struct {
	k    int
	best []scored
}

type scored struct {
	i uint32
	s float32
}

func (t *topK) offer(i uint32, s float32) {
	if t.k <= 0 || len(t.best) == t.k && s <= t.best[t.k-1].s {
		return
	}
	// k is small: insertion into a sorted slice beats a heap.
	j := len(t.best)
	for j > 0 && t.best[j-1].s < s {
		j--
	}
	t.best = slices.Insert(t.best, j, scored{i, s})
	if len(t.best) > t.k {
		t.best = t.best[:t.k]
	}
}

func (t *topK) positions() []uint32 {
	out := make([]uint32, len(t.best))
	for i, h := range t.best {
		out[i] = h.i
	}
	return out
}

// Recall returns the share of want found in got.
func Recall(got, want []uint32) float64 {
	if len(want) == 0 {
		return 1
	}
	found := 0
	for _, w := range want {
		if slices.Contains(got, w) {
			found++
		}
	}
	return float64(found) / float64(len(want))
}
