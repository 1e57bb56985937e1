// Command ann compares nearest-neighbour search libraries on the same deterministic synthetic
// vectors: Hindsight's retrieval/hnsw, github.com/coder/hnsw (another pure-Go HNSW) and
// github.com/philippgille/chromem-go (an embedded vector database whose search is exact, a brute
// force scan). It lives in its own module so that Hindsight's go.mod never depends on them.
//
// From this directory:
//
//	go run .              # 100,000 vectors, about two minutes on two cores
//	go run . -1m          # 1,000,000 vectors: about twenty minutes and several GB of memory
//
// Every library builds with all processors it can use and answers queries one at a time with
// GOMAXPROCS set to 1, so latencies are single-threaded. Recall@10 is measured against an exact
// scan. Memory is the growth of the live heap while the library holds the vectors (each gets its
// own copy), divided by the size of the raw float32 vectors.
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	coder "github.com/coder/hnsw"
	"github.com/philippgille/chromem-go"

	"github.com/hindsightsec/hindsight/retrieval/hnsw"
	"github.com/hindsightsec/hindsight/retrieval/hnsw/hnswtest"
)

type config struct {
	n, dim, nq, k  int
	exactQueries   int
	data           string
	libs           []string
	efs            []int
	efConstruction int
	coderBudget    time.Duration
	saveIndex      string
}

func main() {
	var c config
	var million bool
	var libs, efs string
	flag.IntVar(&c.n, "n", 100_000, "number of vectors")
	flag.BoolVar(&million, "1m", false, "use 1,000,000 vectors (overrides -n)")
	flag.IntVar(&c.dim, "dim", 384, "dimensions")
	flag.IntVar(&c.nq, "queries", 1000, "number of queries, drawn apart from the vectors")
	flag.IntVar(&c.exactQueries, "exact-queries", 1000, "number of queries for the exact library, whose answers need no checking")
	flag.IntVar(&c.k, "k", 10, "neighbours per query")
	flag.StringVar(&c.data, "data", "clustered", "clustered or uniform")
	flag.StringVar(&libs, "libs", "hindsight,coder,chromem", "libraries to run, comma-separated")
	flag.StringVar(&efs, "ef", "32,64,128", "search widths of the HNSW libraries, comma-separated")
	flag.IntVar(&c.efConstruction, "efc", hnsw.DefaultEfConstruction, "construction width of the HNSW libraries")
	flag.DurationVar(&c.coderBudget, "coder-budget", 30*time.Minute, "stop coder/hnsw's build after this long and report how far it got")
	flag.StringVar(&c.saveIndex, "save-index", "", "save Hindsight's index to this file, for retrieval/hnsw's TestMillion to load (HINDSIGHT_BENCH_INDEX)")
	flag.Parse()
	if million {
		c.n = 1_000_000
	}
	c.libs = strings.Split(libs, ",")
	for _, s := range strings.Split(efs, ",") {
		ef, err := strconv.Atoi(s)
		if err != nil {
			fmt.Fprintf(os.Stderr, "ann: -ef: %v\n", err)
			os.Exit(2)
		}
		c.efs = append(c.efs, ef)
	}
	if err := run(context.Background(), c, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "ann: %v\n", err)
		os.Exit(1)
	}
}

// row is one line of the table.
type row struct {
	library, method string
	build           time.Duration
	built           int // vectors indexed, when a build was cut short
	p50, p99        time.Duration
	recall          float64
	memory          float64 // heap growth / raw vector bytes
}

func run(ctx context.Context, c config, out, progress io.Writer) error {
	logf := func(format string, args ...any) {
		fmt.Fprintf(progress, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
	}
	var vecs, queries []float32
	switch c.data {
	case "clustered":
		vecs, queries = hnswtest.Clustered(c.n, c.nq, c.dim, max(1, c.n/1000), 1)
	case "uniform":
		vecs, queries = hnswtest.Uniform(c.n, c.dim, 1), hnswtest.Uniform(c.nq, c.dim, 2)
	default:
		return fmt.Errorf("-data %q: want clustered or uniform", c.data)
	}
	logf("%d %s vectors of %d dimensions; computing exact answers for %d queries", c.n, c.data, c.dim, c.nq)
	truth := hnswtest.ExactAll(hnsw.Dot, vecs, c.dim, queries, c.k)
	b := bench{config: c, vecs: vecs, queries: queries, truth: truth, logf: logf}

	var rows []row
	for _, lib := range c.libs {
		var rs []row
		var err error
		switch lib {
		case "hindsight":
			rs, err = b.hindsight()
		case "coder":
			rs = b.coder()
		case "chromem":
			rs, err = b.chromem(ctx)
		default:
			err = fmt.Errorf("unknown library %q", lib)
		}
		if err != nil {
			return err
		}
		rows = append(rows, rs...)
	}

	fmt.Fprintf(out, "\n%d %s vectors, %d dimensions, %d queries, k = %d, %s/%s, %d CPUs, load average %s\n\n",
		c.n, c.data, c.dim, c.nq, c.k, runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), loadAverage())
	tw := tabwriter.NewWriter(out, 0, 0, 1, ' ', tabwriter.Debug)
	fmt.Fprintln(tw, "| library\t method\t build\t p50\t p99\t recall@10\t memory / raw vectors\t")
	fmt.Fprintln(tw, "|---\t---\t---\t---\t---\t---\t---\t")
	for _, r := range rows {
		build := r.build.Round(100 * time.Millisecond).String()
		if r.built < c.n {
			build = fmt.Sprintf("stopped after %s at %d vectors", build, r.built)
		}
		fmt.Fprintf(tw, "| %s\t %s\t %s\t %v\t %v\t %.4f\t %.2f\t\n", r.library, r.method, build, r.p50, r.p99, r.recall, r.memory)
	}
	return tw.Flush()
}

// bench holds the data every library is measured on.
type bench struct {
	config
	vecs, queries []float32
	truth         [][]uint32
	logf          func(string, ...any)
}

func (b *bench) vec(i int) []float32   { return b.vecs[i*b.dim : (i+1)*b.dim] }
func (b *bench) query(i int) []float32 { return b.queries[i*b.dim : (i+1)*b.dim] }

// measure runs search for the first n queries with one processor and returns the median and
// 99th percentile latencies and the mean recall@k.
func (b *bench) measure(n int, search func(q []float32) []uint32) (p50, p99 time.Duration, recall float64) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	lat := make([]time.Duration, min(n, len(b.truth)))
	for i := range lat {
		t0 := time.Now()
		got := search(b.query(i))
		lat[i] = time.Since(t0)
		recall += hnswtest.Recall(got, b.truth[i])
	}
	slices.Sort(lat)
	at := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	return at(0.5).Round(time.Microsecond), at(0.99).Round(time.Microsecond), recall / float64(len(lat))
}

func (b *bench) rawBytes() float64 { return float64(b.n) * float64(b.dim) * 4 }

func (b *bench) hindsight() ([]row, error) {
	b.logf("hindsight/retrieval/hnsw: building")
	heap0 := heapBytes()
	t0 := time.Now()
	x := hnsw.New(b.dim, hnsw.Options{EfConstruction: b.efConstruction})
	ids := make([]uint32, b.n)
	for i := range ids {
		ids[i] = uint32(i)
	}
	x.AddBatch(ids, b.vecs)
	build := time.Since(t0)
	mem := float64(heapBytes()-heap0) / b.rawBytes()
	b.logf("hindsight/retrieval/hnsw: built in %v; searching", build.Round(time.Second))
	if b.saveIndex != "" {
		if err := saveIndex(x, b.saveIndex); err != nil {
			return nil, err
		}
	}
	var rows []row
	for _, ef := range b.efs {
		p50, p99, recall := b.measure(len(b.truth), func(q []float32) []uint32 {
			rs := x.Search(q, b.k, ef, nil)
			out := make([]uint32, len(rs))
			for i, r := range rs {
				out[i] = r.ID
			}
			return out
		})
		rows = append(rows, row{library: "hindsight retrieval/hnsw", method: fmt.Sprintf("HNSW, M 16, efc %d, ef %d", b.efConstruction, ef),
			build: build, built: b.n, p50: p50, p99: p99, recall: recall, memory: mem})
	}
	runtime.KeepAlive(x)
	return rows, nil
}

func saveIndex(x *hnsw.Index, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := x.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (b *bench) coder() []row {
	b.logf("coder/hnsw: building (single goroutine: its graph does not take concurrent writes)")
	heap0 := heapBytes()
	t0 := time.Now()
	g := coder.NewGraph[uint32]()
	g.M = 16
	g.EfSearch = b.efConstruction // coder/hnsw uses one width for building and searching
	deadline := t0.Add(b.coderBudget)
	built := 0
	for i := range b.n {
		g.Add(coder.MakeNode(uint32(i), slices.Clone(b.vec(i))))
		built++
		if i%1000 == 999 && time.Now().After(deadline) {
			break
		}
		if i%100_000 == 99_999 {
			b.logf("coder/hnsw: %d vectors in %v", i+1, time.Since(t0).Round(time.Second))
		}
	}
	build := time.Since(t0)
	mem := float64(heapBytes()-heap0) / b.rawBytes() * float64(b.n) / float64(built)
	b.logf("coder/hnsw: built %d vectors in %v; searching", built, build.Round(time.Second))
	var rows []row
	for _, ef := range b.efs {
		g.EfSearch = ef
		p50, p99, recall := b.measure(len(b.truth), func(q []float32) []uint32 {
			ns := g.Search(q, b.k)
			out := make([]uint32, len(ns))
			for i, n := range ns {
				out[i] = n.Key
			}
			return out
		})
		rows = append(rows, row{library: "github.com/coder/hnsw v0.6.1", method: fmt.Sprintf("HNSW, M 16, efc %d, ef %d", b.efConstruction, ef),
			build: build, built: built, p50: p50, p99: p99, recall: recall, memory: mem})
		// Its search keeps only k results while walking and returns them unsorted, which
		// loses recall; asking for ef results and keeping the best k is the workaround.
		p50, p99, recall = b.measure(len(b.truth), func(q []float32) []uint32 {
			ns := g.Search(q, max(b.k, ef))
			slices.SortFunc(ns, func(a, c coder.Node[uint32]) int {
				return cmp.Compare(hnsw.Dot(c.Value, q), hnsw.Dot(a.Value, q))
			})
			out := make([]uint32, min(b.k, len(ns)))
			for i := range out {
				out[i] = ns[i].Key
			}
			return out
		})
		rows = append(rows, row{library: "github.com/coder/hnsw v0.6.1", method: fmt.Sprintf("as above, Search(q, %d), best %d kept", max(b.k, ef), b.k),
			build: build, built: built, p50: p50, p99: p99, recall: recall, memory: mem})
	}
	runtime.KeepAlive(g)
	return rows
}

func (b *bench) chromem(ctx context.Context) ([]row, error) {
	b.logf("chromem-go: adding documents")
	heap0 := heapBytes()
	t0 := time.Now()
	db := chromem.NewDB()
	col, err := db.CreateCollection("bench", nil, func(context.Context, string) ([]float32, error) {
		return nil, fmt.Errorf("no embedding model in a benchmark")
	})
	if err != nil {
		return nil, err
	}
	// AddDocuments starts a goroutine per document; batches keep a million of them from
	// existing at once.
	const batch = 10_000
	for lo := 0; lo < b.n; lo += batch {
		docs := make([]chromem.Document, 0, batch)
		for i := lo; i < min(lo+batch, b.n); i++ {
			docs = append(docs, chromem.Document{ID: strconv.Itoa(i), Embedding: slices.Clone(b.vec(i))})
		}
		if err := col.AddDocuments(ctx, docs, runtime.GOMAXPROCS(0)); err != nil {
			return nil, fmt.Errorf("chromem-go: %w", err)
		}
	}
	build := time.Since(t0)
	mem := float64(heapBytes()-heap0) / b.rawBytes()
	b.logf("chromem-go: added in %v; searching", build.Round(time.Second))
	var qerr error
	p50, p99, recall := b.measure(b.exactQueries, func(q []float32) []uint32 {
		rs, err := col.QueryEmbedding(ctx, q, b.k, nil, nil)
		if err != nil {
			qerr = err
		}
		out := make([]uint32, len(rs))
		for i, r := range rs {
			id, _ := strconv.Atoi(r.ID)
			out[i] = uint32(id)
		}
		return out
	})
	if qerr != nil {
		return nil, fmt.Errorf("chromem-go: %w", qerr)
	}
	runtime.KeepAlive(db)
	return []row{{library: "github.com/philippgille/chromem-go v0.7.0", method: fmt.Sprintf("exact (brute force), %d queries", min(b.exactQueries, len(b.truth))),
		build: build, built: b.n, p50: p50, p99: p99, recall: recall, memory: mem}}, nil
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

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}
