package hnsw

import (
	"bytes"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/hindsightsec/hindsight/retrieval/hnsw/hnswtest"
)

func TestDot(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 1))
	for _, n := range append(seqInts(70), 383, 384, 385, 1536) {
		a, b := make([]float32, n), make([]float32, n+3)
		for i := range a {
			a[i] = r.Float32()*2 - 1
		}
		for i := range b {
			b[i] = r.Float32()*2 - 1
		}
		var want float64
		for i := range a {
			want += float64(a[i]) * float64(b[i])
		}
		for name, f := range map[string]func(a, b []float32) float32{"Dot": Dot, "dotGeneric": dotGeneric} {
			if got := f(a, b[:n]); abs(float64(got)-want) > 1e-4*float64(n+1) {
				t.Errorf("%s of %d values = %v, want %v", name, n, got, want)
			}
		}
		// A longer b is allowed: only its first len(a) values count.
		if got, want := Dot(a, b), Dot(a, b[:n]); got != want {
			t.Errorf("Dot with a longer b = %v, want %v", got, want)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("Dot with a shorter b did not panic")
		}
	}()
	Dot(make([]float32, 4), make([]float32, 3))
}

func seqInts(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

func TestRecall(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		corpus func(testing.TB) *corpus
		ef     int
		min    float64
	}{
		{"Clustered384", clusteredCorpus, 64, 0.95},
		{"Uniform32", uniformCorpus, 64, 0.95},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.corpus(t)
			checkGraph(t, c.x)
			if got := meanRecall(c, tc.ef); got < tc.min {
				t.Errorf("recall@10 at ef %d = %.3f, want at least %.2f", tc.ef, got, tc.min)
			}
			// A wider beam never finds less on average.
			if lo, hi := meanRecall(c, 16), meanRecall(c, 256); hi < lo {
				t.Errorf("recall@10 at ef 256 = %.3f, below ef 16's %.3f", hi, lo)
			}
		})
	}
}

func TestSearchResults(t *testing.T) {
	t.Parallel()
	c := clusteredCorpus(t)
	q := c.query(0)
	rs := c.x.Search(q, 10, 0, nil)
	if len(rs) != 10 {
		t.Fatalf("got %d results, want 10", len(rs))
	}
	for i, r := range rs {
		if want := Dot(q, c.vecs[int(r.ID)*c.dim:]); r.Score != want {
			t.Errorf("result %d (id %d) scores %v, want its dot product %v", i, r.ID, r.Score, want)
		}
		if i > 0 && r.Score > rs[i-1].Score {
			t.Errorf("result %d scores %v, above result %d's %v", i, r.Score, i-1, rs[i-1].Score)
		}
	}
	// A vector in the index finds itself first.
	if rs := c.x.Search(c.vecs[42*c.dim:43*c.dim], 1, 0, nil); len(rs) != 1 || rs[0].ID != 42 {
		t.Errorf("search for vector 42 found %v", rs)
	}
	if rs := c.x.Search(q, 0, 0, nil); rs != nil {
		t.Errorf("k = 0 found %v", rs)
	}
	// More than the index holds: all of it.
	small := New(4, Options{})
	small.Add(7, []float32{1, 0, 0, 0})
	small.Add(9, []float32{0, 1, 0, 0})
	if rs := small.Search([]float32{1, 0, 0, 0}, 5, 0, nil); len(rs) != 2 || rs[0].ID != 7 || rs[1].ID != 9 {
		t.Errorf("k above the size found %v", rs)
	}
	if rs := New(4, Options{}).Search([]float32{1, 0, 0, 0}, 5, 0, nil); rs != nil {
		t.Errorf("empty index found %v", rs)
	}
}

func TestFilteredSearch(t *testing.T) {
	t.Parallel()
	c := clusteredCorpus(t)
	for _, tc := range []struct {
		name    string
		percent uint32
	}{{"1%", 1}, {"10%", 10}, {"50%", 50}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// A hash spreads the accepted ids over every cluster, as a tenant or a time range
			// would.
			accept := func(id uint32) bool { return (id*2654435761)>>16%100 < tc.percent }
			acceptPos := func(i uint32) bool { return accept(i) }
			for _, how := range []struct {
				name     string
				strategy strategy
				f        Filter
				exact    bool // results must equal the exact answer
			}{
				{"Auto", auto, Filter{Accept: accept}, tc.percent <= 10},
				{"AutoWithCount", auto, Filter{Accept: accept, Accepted: c.n() * int(tc.percent) / 100}, tc.percent <= 10},
				{"Graph", graphOnly, Filter{Accept: accept}, false},
				{"Exact", exactOnly, Filter{Accept: accept}, true},
			} {
				t.Run(how.name, func(t *testing.T) {
					var recall float64
					for i := range c.nq() {
						q := c.query(i)
						want := hnswtest.Exact(Dot, c.vecs, c.dim, q, 10, acceptPos)
						got := c.x.search(q, 10, 64, how.f, how.strategy)
						if len(got) != 10 {
							t.Fatalf("query %d: got %d results, want 10", i, len(got))
						}
						for _, r := range got {
							if !accept(r.ID) {
								t.Fatalf("query %d: returned id %d, which the filter rejects", i, r.ID)
							}
						}
						if how.exact && !slices.Equal(idsOf(got), want) {
							t.Fatalf("query %d: got %v, want the exact %v", i, idsOf(got), want)
						}
						recall += hnswtest.Recall(idsOf(got), want)
					}
					if recall /= float64(c.nq()); recall < 0.95 {
						t.Errorf("recall@10 = %.3f, want at least 0.95", recall)
					}
				})
			}
		})
	}
	t.Run("FewerAcceptedThanK", func(t *testing.T) {
		t.Parallel()
		accept := func(id uint32) bool { return id == 3 || id == 5000%uint32(c.n()) }
		if got := c.x.Search(c.query(0), 10, 64, accept); len(got) != 2 {
			t.Errorf("got %v, want the 2 accepted ids", got)
		}
	})
}

func TestDelete(t *testing.T) {
	t.Parallel()
	const dim = 32
	n := testSize()
	vecs, queries := hnswtest.Clustered(n, 50, dim, 20, 5)
	x := New(dim, Options{Seed: 5, Workers: 2})
	x.AddBatch(seq(n), vecs)
	for id := uint32(0); id < uint32(n); id += 2 {
		if !x.Delete(id) {
			t.Fatalf("Delete(%d) = false for an id in the index", id)
		}
	}
	if x.Delete(0) {
		t.Error("deleting an id twice reported it present")
	}
	if x.Delete(uint32(n) + 100) {
		t.Error("deleting an unknown id reported it present")
	}
	if got, want := x.Len(), n/2; got != want {
		t.Errorf("Len = %d, want %d", got, want)
	}
	if got, want := x.Deleted(), n/2; got != want {
		t.Errorf("Deleted = %d, want %d", got, want)
	}
	if x.Contains(0) || !x.Contains(1) {
		t.Error("Contains disagrees with the deletions")
	}
	ids := x.IDs()
	if len(ids) != n/2 {
		t.Fatalf("IDs has %d ids, want %d", len(ids), n/2)
	}
	slices.Sort(ids)
	for i, id := range ids {
		if id != uint32(2*i+1) {
			t.Fatalf("IDs()[%d] = %d after sorting, want %d", i, id, 2*i+1)
		}
	}
	odd := func(i uint32) bool { return i%2 == 1 }
	var recall float64
	for i := range 50 {
		q := queries[i*dim : (i+1)*dim]
		got := x.Search(q, 10, 64, nil)
		for _, r := range got {
			if r.ID%2 == 0 {
				t.Fatalf("search returned deleted id %d", r.ID)
			}
		}
		recall += hnswtest.Recall(idsOf(got), hnswtest.Exact(Dot, vecs, dim, q, 10, odd))
	}
	if recall /= 50; recall < 0.95 {
		t.Errorf("recall@10 over the live vectors = %.3f, want at least 0.95", recall)
	}
	// The graph still routes through tombstones: their links are kept.
	checkGraph(t, x)
	for id := uint32(1); id < uint32(n); id += 2 {
		x.Delete(id)
	}
	if got := x.Search(queries[:dim], 10, 64, nil); len(got) != 0 {
		t.Errorf("search of an index whose every id is deleted found %v", got)
	}
	if x.Len() != 0 || x.Deleted() != n {
		t.Errorf("Len, Deleted = %d, %d, want 0, %d", x.Len(), x.Deleted(), n)
	}
	// An id deleted can be added again.
	x.Add(4, vecs[4*dim:5*dim])
	if got := x.Search(vecs[4*dim:5*dim], 10, 64, nil); len(got) != 1 || got[0].ID != 4 {
		t.Errorf("search after re-adding id 4 found %v", got)
	}
}

func TestReplace(t *testing.T) {
	t.Parallel()
	const dim = 32
	vecs := hnswtest.Uniform(501, dim, 9)
	x := New(dim, Options{Seed: 9})
	for i := range 500 {
		x.Add(uint32(i), vecs[i*dim:(i+1)*dim])
	}
	old, repl := vecs[7*dim:8*dim], vecs[500*dim:]
	x.Add(7, repl)
	if x.Len() != 500 || x.Deleted() != 1 {
		t.Errorf("Len, Deleted = %d, %d, want 500, 1", x.Len(), x.Deleted())
	}
	if got := x.Search(repl, 1, 0, nil); len(got) != 1 || got[0].ID != 7 || got[0].Score < 0.999 {
		t.Errorf("search for the new vector found %v, want id 7", got)
	}
	for _, r := range x.Search(old, 500, 500, nil) {
		if r.ID == 7 && r.Score > 0.999 {
			t.Error("the replaced vector is still found under id 7")
		}
	}
	if got := x.Search(old, 500, 500, nil); len(got) != 500 {
		t.Errorf("a search for everything found %d, want 500 (7 once)", len(got))
	}

	// Within one batch, the later of two vectors for an id wins.
	y := New(dim, Options{})
	y.AddBatch([]uint32{1, 2, 1}, slices.Concat(old, vecs[:dim], repl))
	if y.Len() != 2 || y.Deleted() != 1 {
		t.Errorf("batch with a repeated id: Len, Deleted = %d, %d, want 2, 1", y.Len(), y.Deleted())
	}
	if got := y.Search(repl, 1, 0, nil); len(got) != 1 || got[0].ID != 1 || got[0].Score < 0.999 {
		t.Errorf("search for the later vector found %v, want id 1", got)
	}
}

func TestSparseIDs(t *testing.T) {
	t.Parallel()
	x := New(2, Options{})
	ids := []uint32{0, 1 << 20, 1<<32 - 1, 4095, 4096}
	for i, id := range ids {
		x.Add(id, []float32{float32(i + 1), 1})
	}
	for _, id := range ids {
		if !x.Contains(id) {
			t.Errorf("Contains(%d) = false", id)
		}
	}
	if x.Contains(5) || x.Contains(1<<32-2) {
		t.Error("Contains reports an id never added")
	}
	got := idsOf(x.Search([]float32{1, 1}, 10, 0, nil))
	slices.Sort(got)
	want := slices.Sorted(slices.Values(ids))
	if !slices.Equal(got, want) {
		t.Errorf("found ids %v, want %v", got, want)
	}
}

func TestDeterminism(t *testing.T) {
	t.Parallel()
	const dim = 16
	vecs := hnswtest.Uniform(3000, dim, 4)
	build := func(seed uint64, oneByOne bool) []byte {
		x := New(dim, Options{Seed: seed, Workers: 1, EfConstruction: 50})
		if oneByOne {
			for i := range 3000 {
				x.Add(uint32(i), vecs[i*dim:(i+1)*dim])
			}
		} else {
			x.AddBatch(seq(3000), vecs)
		}
		x.Delete(17)
		return save(t, x)
	}
	a := build(11, false)
	if b := build(11, false); !bytes.Equal(a, b) {
		t.Error("two builds with the same seed differ")
	}
	if b := build(11, true); !bytes.Equal(a, b) {
		t.Error("Add one by one and AddBatch with one worker differ")
	}
	if b := build(12, false); bytes.Equal(a, b) {
		t.Error("builds with different seeds are identical")
	}
}

func TestParallelBuild(t *testing.T) {
	t.Parallel()
	const dim = 64
	n := testSize()
	vecs, queries := hnswtest.Clustered(n, 50, dim, n/100, 8)
	x := New(dim, Options{Workers: 4})
	// Batches of different sizes, so that chunks and the first insertion are all exercised.
	x.AddBatch(seq(1), vecs[:dim])
	x.AddBatch(seq(n)[1:n/3], vecs[dim:n/3*dim])
	x.AddBatch(seq(n)[n/3:], vecs[n/3*dim:])
	checkGraph(t, x)
	if x.Len() != n {
		t.Fatalf("Len = %d, want %d", x.Len(), n)
	}
	truth := hnswtest.ExactAll(Dot, vecs, dim, queries, 10)
	var recall float64
	for i := range 50 {
		recall += hnswtest.Recall(idsOf(x.Search(queries[i*dim:(i+1)*dim], 10, 64, nil)), truth[i])
	}
	if recall /= 50; recall < 0.95 {
		t.Errorf("recall@10 = %.3f, want at least 0.95", recall)
	}
}

// TestConcurrentSearch searches from several goroutines while one writes; run it with -race.
func TestConcurrentSearch(t *testing.T) {
	t.Parallel()
	const dim = 32
	n := testSize()
	vecs, queries := hnswtest.Clustered(n, 20, dim, 10, 3)
	x := New(dim, Options{Workers: 2})
	x.AddBatch(seq(n/4), vecs[:n/4*dim])
	done := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				q := queries[(i+g)%20*dim : ((i+g)%20+1)*dim]
				var rs []Result
				if i%2 == 0 {
					rs = x.Search(q, 10, 32, nil)
				} else {
					rs = x.Search(q, 10, 32, func(id uint32) bool { return id%3 == 0 })
				}
				if len(rs) > 10 {
					t.Errorf("got %d results", len(rs))
				}
				for j := 1; j < len(rs); j++ {
					if rs[j].Score > rs[j-1].Score {
						t.Errorf("results out of order: %v", rs)
					}
				}
			}
		}()
	}
	for i := n / 4; i < n/2; i++ {
		x.Add(uint32(i), vecs[i*dim:(i+1)*dim])
		if i%10 == 0 {
			x.Delete(uint32(i - 5))
		}
	}
	x.AddBatch(seq(n)[n/2:], vecs[n/2*dim:])
	var buf bytes.Buffer
	if _, err := x.WriteTo(&buf); err != nil {
		t.Error(err)
	}
	close(done)
	wg.Wait()
	checkGraph(t, x)
}

func TestPanics(t *testing.T) {
	t.Parallel()
	for name, f := range map[string]func(){
		"New dim 0":         func() { New(0, Options{}) },
		"New M 1":           func() { New(4, Options{M: 1}) },
		"New M 200":         func() { New(4, Options{M: 200}) },
		"New negative ef":   func() { New(4, Options{EfSearch: -1}) },
		"Add wrong dim":     func() { New(4, Options{}).Add(1, make([]float32, 3)) },
		"AddBatch wrong":    func() { New(4, Options{}).AddBatch([]uint32{1}, make([]float32, 5)) },
		"Search wrong dim":  func() { New(4, Options{}).Search(make([]float32, 5), 1, 0, nil) },
		"Search zero Index": func() { new(Index).Search(make([]float32, 5), 1, 0, nil) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s did not panic", name)
				}
			}()
			f()
		}()
	}
}

func TestScores(t *testing.T) {
	t.Parallel()
	const dim = 16
	vecs, queries := hnswtest.Clustered(200, 5, dim, 4, 1)
	x := New(dim, Options{Seed: 1})
	x.AddBatch(seq(200), vecs)
	x.Delete(7)
	q := queries[:dim]
	got := x.Scores(q, []uint32{3, 7, 150, 999}, nil)
	if len(got) != 4 {
		t.Fatalf("Scores returned %d values for 4 ids", len(got))
	}
	for i, id := range []uint32{3, 150} {
		want := dotGeneric(q, vecs[int(id)*dim:(int(id)+1)*dim])
		if g := got[[]int{0, 2}[i]]; math.Abs(float64(g-want)) > 1e-5 {
			t.Errorf("score of %d = %v, want %v", id, g, want)
		}
	}
	if !math.IsNaN(float64(got[1])) || !math.IsNaN(float64(got[3])) {
		t.Errorf("deleted and unknown ids scored %v and %v, want NaN", got[1], got[3])
	}
}
