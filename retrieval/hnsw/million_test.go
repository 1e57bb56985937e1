//go:build unix

package hnsw

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hindsightsec/hindsight/retrieval/hnsw/hnswtest"
)

// TestMillion is the benchmark of issue 5: a million 384-dimensional vectors, recall@10 against
// exact search, single-threaded query latency, build time, memory, and save and load times. It
// takes 10 to 25 minutes on two cores, most of it building, and several GB, so it runs only when
// asked:
//
//	HINDSIGHT_BENCH_1M=1 go test -run TestMillion -v -timeout 2h ./retrieval/hnsw
//
// HINDSIGHT_BENCH_N sets another number of vectors; HINDSIGHT_BENCH_DATA=uniform draws them
// uniformly from the sphere instead of from clusters. HINDSIGHT_BENCH_INDEX names a file to load
// the index from instead of building it, if the file exists (bench/ann's -save-index writes one
// for the same vectors), or to save the built index to.
func TestMillion(t *testing.T) {
	if os.Getenv("HINDSIGHT_BENCH_1M") != "1" {
		t.Skip("set HINDSIGHT_BENCH_1M=1 to run the million-vector benchmark")
	}
	n := 1_000_000
	if s := os.Getenv("HINDSIGHT_BENCH_N"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			t.Fatalf("HINDSIGHT_BENCH_N: %v", err)
		}
	}
	const dim, nq, k = 384, 1000, 10
	data := cmpOrString(os.Getenv("HINDSIGHT_BENCH_DATA"), "clustered")
	var vecs, queries []float32
	switch data {
	case "clustered":
		vecs, queries = hnswtest.Clustered(n, nq, dim, max(1, n/1000), 1)
	case "uniform":
		vecs, queries = hnswtest.Uniform(n, dim, 1), hnswtest.Uniform(nq, dim, 2)
	default:
		t.Fatalf("HINDSIGHT_BENCH_DATA %q: want clustered or uniform", data)
	}
	report := func(format string, args ...any) { t.Logf(format, args...) }
	report("%d %s vectors of %d dimensions, %d queries, k = %d, GOMAXPROCS %d, load average %s",
		n, data, dim, nq, k, runtime.GOMAXPROCS(0), loadAverage())

	start := time.Now()
	truth := hnswtest.ExactAll(Dot, vecs, dim, queries, k)
	report("exact answers: %v", time.Since(start).Round(time.Millisecond))

	heap0 := heapBytes()
	cached := os.Getenv("HINDSIGHT_BENCH_INDEX")
	var x *Index
	var build time.Duration
	if f, err := os.Open(cached); err == nil {
		start = time.Now()
		x = new(Index)
		_, err := x.ReadFrom(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		build = time.Since(start)
		if x.Len() != n || x.Dim() != dim || !slices.Equal(x.vec(uint32(n-1)), vecs[(n-1)*dim:]) {
			t.Fatalf("%s holds other vectors than these", cached)
		}
		report("loaded from %s in %v instead of building", cached, build.Round(time.Millisecond))
	} else {
		cpu0 := cpuTime()
		start = time.Now()
		x = New(dim, Options{})
		x.AddBatch(seq(n), vecs)
		build = time.Since(start)
		report("build: %v wall, %v CPU (M %d, EfConstruction %d, %d workers)", build.Round(time.Second), (cpuTime() - cpu0).Round(time.Second), x.m, x.efConstruction, runtime.GOMAXPROCS(0))
		if cached != "" {
			saveFile(t, x, cached)
		}
	}
	index := heapBytes() - heap0
	runtime.KeepAlive(vecs) // counted in heap0, so it must still be there to be subtracted
	raw := uint64(n) * dim * 4
	report("memory: %d MiB index heap for %d MiB of raw vectors: %.3f", index>>20, raw>>20, float64(index)/float64(raw))

	report("%-22s %9s %9s %9s", "search", "p50", "p99", "recall@10")
	for _, ef := range []int{16, 32, 64, 96, 128, 256} {
		lat := make([]time.Duration, nq)
		var recall float64
		for i := range nq {
			q := queries[i*dim : (i+1)*dim]
			t0 := time.Now()
			rs := x.Search(q, k, ef, nil)
			lat[i] = time.Since(t0)
			recall += hnswtest.Recall(idsOf(rs), truth[i])
		}
		p50, p99 := percentiles(lat)
		report("%-22s %9v %9v %9.4f", fmt.Sprintf("ef=%d", ef), p50, p99, recall/nq)
	}
	{
		lat := make([]time.Duration, 20)
		for i := range lat {
			t0 := time.Now()
			x.search(queries[i*dim:(i+1)*dim], k, 0, Filter{}, exactOnly)
			lat[i] = time.Since(t0)
		}
		p50, p99 := percentiles(lat)
		report("%-22s %9v %9v %9.4f", "exact scan", p50, p99, 1.0)
	}
	for _, pct := range []uint32{1, 10, 50} {
		accept := func(id uint32) bool { return (id*2654435761)>>16%100 < pct }
		for _, hint := range []bool{false, true} {
			f := Filter{Accept: accept}
			if hint {
				f.Accepted = n * int(pct) / 100
			}
			const fq = 100
			lat := make([]time.Duration, fq)
			var recall float64
			for i := range fq {
				q := queries[i*dim : (i+1)*dim]
				t0 := time.Now()
				rs := x.SearchFilter(q, k, 64, f)
				lat[i] = time.Since(t0)
				want := x.search(q, k, 0, f, exactOnly)
				recall += hnswtest.Recall(idsOf(rs), idsOf(want))
			}
			p50, p99 := percentiles(lat)
			report("%-22s %9v %9v %9.4f", fmt.Sprintf("accept %d%%, count %v", pct, hint), p50, p99, recall/fq)
		}
	}

	path := filepath.Join(t.TempDir(), "index")
	start = time.Now()
	size := saveFile(t, x, path)
	report("save: %d MiB in %v", size>>20, time.Since(start).Round(time.Millisecond))
	x, vecs = nil, nil
	runtime.GC()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	start = time.Now()
	var y Index
	if _, err := y.ReadFrom(f); err != nil {
		t.Fatal(err)
	}
	report("load: %v", time.Since(start).Round(time.Millisecond))
	var recall float64
	for i := range nq {
		recall += hnswtest.Recall(idsOf(y.Search(queries[i*dim:(i+1)*dim], k, 64, nil)), truth[i])
	}
	report("loaded index, ef=64: recall@10 %.4f", recall/nq)
}

// saveFile writes x to path, synced, and returns its size.
func saveFile(t *testing.T, x *Index, path string) int64 {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	size, err := x.WriteTo(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	return size
}

func cmpOrString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// heapBytes returns the live heap after full collections. Two, because a sync.Pool inside a
// dropped index keeps it reachable through the runtime's list of pools until the second.
func heapBytes() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// cpuTime returns the CPU time of the process so far: on a shared machine it tells the work
// done apart from the waiting.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

func percentiles(lat []time.Duration) (p50, p99 time.Duration) {
	s := slices.Clone(lat)
	slices.Sort(s)
	at := func(p float64) time.Duration { return s[min(len(s)-1, int(p*float64(len(s))))] }
	return at(0.50).Round(time.Microsecond), at(0.99).Round(time.Microsecond)
}
