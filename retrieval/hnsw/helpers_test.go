package hnsw

import (
	"bytes"
	"slices"
	"sync"
	"testing"

	"github.com/hindsightsec/hindsight/retrieval/hnsw/hnswtest"
)

// corpus is a built index with the vectors it was built from, queries that are not among them
// and their exact nearest neighbours. Tests share one per shape and must not modify its index.
type corpus struct {
	x       *Index
	dim     int
	vecs    []float32 // id i at [i*dim, (i+1)*dim)
	queries []float32
	truth   [][]uint32 // exact top 10 of each query
}

func (c *corpus) n() int                { return len(c.vecs) / c.dim }
func (c *corpus) query(i int) []float32 { return c.queries[i*c.dim : (i+1)*c.dim] }
func (c *corpus) nq() int               { return len(c.queries) / c.dim }

var (
	corporaMu sync.Mutex
	corpora   = map[string]*corpus{}
)

// testSize is the number of vectors of the shared corpora: 10,000, or 2,000 under the race
// detector.
func testSize() int {
	if raceEnabled {
		return 2000
	}
	return 10000
}

// clusteredCorpus returns the shared index of clustered 384-dimensional vectors, built with one
// worker so that every run sees the same graph.
func clusteredCorpus(t testing.TB) *corpus {
	return sharedCorpus(t, "clustered", func() (int, []float32, []float32) {
		n := testSize()
		v, q := hnswtest.Clustered(n, 100, 384, n/100, 1)
		return 384, v, q
	})
}

// uniformCorpus returns the shared index of vectors drawn uniformly from the 32-dimensional
// sphere. Uniform vectors in 384 dimensions have neighbours barely nearer than the rest, which
// no graph index handles well; that case is a benchmark figure, not a unit-test invariant.
func uniformCorpus(t testing.TB) *corpus {
	return sharedCorpus(t, "uniform", func() (int, []float32, []float32) {
		return 32, hnswtest.Uniform(testSize(), 32, 2), hnswtest.Uniform(100, 32, 3)
	})
}

func sharedCorpus(t testing.TB, name string, gen func() (int, []float32, []float32)) *corpus {
	t.Helper()
	corporaMu.Lock()
	defer corporaMu.Unlock()
	if c, ok := corpora[name]; ok {
		return c
	}
	dim, vecs, queries := gen()
	x := New(dim, Options{Seed: 1, Workers: 1})
	x.AddBatch(seq(len(vecs)/dim), vecs)
	c := &corpus{x: x, dim: dim, vecs: vecs, queries: queries, truth: hnswtest.ExactAll(Dot, vecs, dim, queries, 10)}
	corpora[name] = c
	return c
}

// seq returns the ids 0..n-1.
func seq(n int) []uint32 {
	ids := make([]uint32, n)
	for i := range ids {
		ids[i] = uint32(i)
	}
	return ids
}

func idsOf(rs []Result) []uint32 {
	out := make([]uint32, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

// meanRecall searches every query of c with ef and returns the mean recall@10.
func meanRecall(c *corpus, ef int) float64 {
	var sum float64
	for i := range c.nq() {
		sum += hnswtest.Recall(idsOf(c.x.Search(c.query(i), 10, ef, nil)), c.truth[i])
	}
	return sum / float64(c.nq())
}

// checkGraph fails t unless x's graph is well formed: every list within its bounds, naming
// other slots that reach its layer, and the entry point on the top layer.
func checkGraph(t *testing.T, x *Index) {
	t.Helper()
	x.mu.RLock()
	defer x.mu.RUnlock()
	if len(x.ids) > 0 && (!x.hasEntry || int(x.levels[x.entry]) != x.top) {
		t.Fatalf("entry point %d at level %d, top %d", x.entry, x.levels[x.entry], x.top)
	}
	for s := range uint32(len(x.ids)) {
		if int(x.levels[s]) > x.top {
			t.Fatalf("slot %d above the top level", s)
		}
		for l := 0; l <= int(x.levels[s]); l++ {
			list := x.list(s, l)
			if int(list[0]) > x.maxLinks(l) {
				t.Fatalf("slot %d has %d neighbours on layer %d", s, list[0], l)
			}
			if err := x.checkList(s, l, list); err != nil {
				t.Fatal(err)
			}
			if slices.Contains(list[1:1+list[0]], s) {
				t.Fatalf("slot %d links to itself", s)
			}
		}
	}
}

// save returns what WriteTo writes.
func save(t testing.TB, x *Index) []byte {
	t.Helper()
	var b bytes.Buffer
	n, err := x.WriteTo(&b)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(b.Len()) {
		t.Fatalf("WriteTo reported %d bytes, wrote %d", n, b.Len())
	}
	return b.Bytes()
}
