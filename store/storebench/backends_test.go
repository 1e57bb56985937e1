package storebench_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/retrieval/retrievaltest"
	"github.com/hindsightsec/hindsight/store/postgres/pgtest"
	"github.com/hindsightsec/hindsight/store/qdrant"
	"github.com/hindsightsec/hindsight/store/qdrant/qdranttest"
	"github.com/hindsightsec/hindsight/store/sqlite"
	"github.com/hindsightsec/hindsight/store/storebench"
	qc "github.com/qdrant/go-client/qdrant"
)

// The searches each backend answers: storebench.QueryCount new threats, each asked once untimed
// (for recall, and to warm caches) and then benchRounds times timed.
const (
	benchRounds = 5
	benchK      = 10
)

// backend is one store under benchmark.
type backend struct {
	name string
	what string // what the figures are of, for the table
	// open returns an empty store, closed and removed when the benchmark ends, and what to do
	// after the load and before the first search, outside the load's time (nil: nothing): what
	// the store does, or a server does for it, before it serves searches. prepare returns the time
	// to report as the building of a search index, or 0 when it builds none.
	open func(b *testing.B, space hindsight.Space) (s retrievaltest.Backend, prepare func() time.Duration)
}

// result is one backend's figures, for the table.
type result struct {
	backend
	chunks   int
	load     time.Duration
	build    time.Duration
	p50, p99 time.Duration
	acc      storebench.Accuracy
}

// BenchmarkBackends loads the same generated history into every backend in one run, embedding
// excluded, and asks each the same k=10 vector searches through the retriever's index interface,
// scoped to the new threat's tenant as a real query is. It reports, per backend, the bulk load's
// chunks per second (ingest's batches of 256 documents, indexes kept current as an ingest keeps
// them), the searches' p50 and p99 latency, and recall@10 against an exact search (brute-force
// cosine over the same vectors with the same filter), then prints a table of all of them.
//
// Backends: the embedded SQLite store (its in-memory index is built on first search; that build
// is reported apart, as index-build-s); PostgreSQL with pgvector in a schema of the test database;
// Qdrant's in-process fake (qdranttest, exact search in Go) paired with a SQLite catalog; and,
// when HINDSIGHT_TEST_QDRANT names one, a real Qdrant with a SQLite catalog.
//
//	go test ./store/storebench -run '^$' -bench Backends -benchtime 1x
//	HINDSIGHT_BENCH_CHUNKS=100000 go test ./store/storebench -run '^$' -bench Backends -benchtime 1x -timeout 2h
func BenchmarkBackends(b *testing.B) {
	ctx := context.Background()
	chunks, err := storebench.ChunksFromEnv()
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	data, err := storebench.Generate(ctx, chunks)
	if err != nil {
		b.Fatal(err)
	}
	// The right answers, once for every backend.
	exact := make([][]hindsight.Candidate, len(data.Queries))
	for i, q := range data.Queries {
		exact[i] = data.Exact(q.Vector, filter(q), benchK)
	}
	// Printed rather than logged: a benchmark with sub-benchmarks does not show its own log.
	fmt.Printf("generated and embedded %d documents (%d chunks) and %d queries, with their exact answers, in %v\n",
		len(data.Writes), data.Chunks, len(data.Queries), time.Since(start).Round(time.Millisecond))

	backends := []backend{
		{name: "sqlite", what: "the embedded store (SQLite file, in-memory BM25 and HNSW index)", open: openSQLite},
		{name: "postgres", what: "PostgreSQL with pgvector (HNSW index), a schema of the test database", open: openPostgres},
		{name: "qdrant-fake", what: "the in-process fake of Qdrant (qdranttest: exact search in Go, not Qdrant) with a SQLite catalog", open: openQdrantFake},
	}
	if target := os.Getenv("HINDSIGHT_TEST_QDRANT"); target != "" {
		backends = append(backends, backend{name: "qdrant", what: "the real Qdrant at HINDSIGHT_TEST_QDRANT with a SQLite catalog",
			open: func(b *testing.B, _ hindsight.Space) (retrievaltest.Backend, func() time.Duration) {
				return openRealQdrant(b, target), nil
			}})
	}
	var results []result
	for _, be := range backends {
		var r result
		if !b.Run(be.name, func(b *testing.B) { r = measure(b, be, data, exact) }) {
			continue
		}
		results = append(results, r)
	}
	fmt.Print(table(results))
}

func filter(q storebench.Query) hindsight.Filter { return hindsight.Filter{Tenant: q.Threat.Tenant} }

// measure loads the data into a new store of the backend b.N times and searches each.
func measure(b *testing.B, be backend, data *storebench.Data, exact [][]hindsight.Candidate) result {
	ctx := context.Background()
	r := result{backend: be}
	lat := make([]time.Duration, 0, b.N*benchRounds*len(data.Queries))
	for range b.N {
		s, prepare := be.open(b, data.Space)
		start := time.Now()
		if err := data.Load(ctx, s); err != nil {
			b.Fatalf("%s: load: %v", be.name, err)
		}
		r.load += time.Since(start)
		r.chunks += data.Chunks
		if prepare != nil {
			r.build += prepare()
		}
		for i, q := range data.Queries {
			got, err := s.SearchVectors(ctx, data.Space, q.Vector, filter(q), benchK)
			if err != nil {
				b.Fatalf("%s: SearchVectors: %v", be.name, err)
			}
			if err := r.acc.Add(data, q.Vector, filter(q), got, exact[i]); err != nil {
				b.Fatalf("%s: query %d (%s): %v", be.name, i, q.Threat.Key(), err)
			}
		}
		for range benchRounds {
			for _, q := range data.Queries {
				start := time.Now()
				got, err := s.SearchVectors(ctx, data.Space, q.Vector, filter(q), benchK)
				lat = append(lat, time.Since(start))
				if err != nil || len(got) == 0 {
					b.Fatalf("%s: SearchVectors: %d results, %v", be.name, len(got), err)
				}
			}
		}
	}
	r.p50, r.p99 = storebench.Percentile(lat, 0.50), storebench.Percentile(lat, 0.99)
	storebench.ReportLatency(b, lat)
	b.ReportMetric(float64(r.chunks)/r.load.Seconds(), "chunks/s")
	b.ReportMetric(r.load.Seconds()/float64(b.N), "load-s")
	if r.build > 0 {
		b.ReportMetric(r.build.Seconds()/float64(b.N), "index-build-s")
	}
	b.ReportMetric(r.acc.Recall(), "recall@10")
	b.ReportMetric(r.acc.AsNearShare(), "as-near@10")
	r.load /= time.Duration(b.N)
	r.build /= time.Duration(b.N)
	r.chunks /= b.N
	return r
}

func table(results []result) string {
	var sb strings.Builder
	w := tabwriter.NewWriter(&sb, 0, 0, 1, ' ', tabwriter.AlignRight|tabwriter.Debug)
	fmt.Fprintf(w, "backend\tchunks\tload\tchunks/s\tindex build\tp50\tp99\trecall@10\tas-near@10\t\n")
	for _, r := range results {
		build := "–"
		if r.build > 0 {
			build = r.build.Round(10 * time.Millisecond).String()
		}
		fmt.Fprintf(w, "%s\t%d\t%v\t%.0f\t%s\t%v\t%v\t%.3f\t%.3f\t\n", r.name, r.chunks, r.load.Round(10*time.Millisecond),
			float64(r.chunks)/r.load.Seconds(), build, r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond),
			r.acc.Recall(), r.acc.AsNearShare())
	}
	w.Flush()
	sb.WriteString("\n")
	for _, r := range results {
		fmt.Fprintf(&sb, "%s: %s\n", r.name, r.what)
	}
	return sb.String()
}

// openSQLite opens an embedded store in a temporary directory. Its preparation builds the
// in-memory search index, which the first search would otherwise build, and reports the time.
func openSQLite(b *testing.B, space hindsight.Space) (retrievaltest.Backend, func() time.Duration) {
	db, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db, func() time.Duration {
		start := time.Now()
		if err := db.Warm(context.Background(), space); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
}

// openPostgres opens a store in a new schema of the test database. Its preparation analyses the
// loaded tables, as autovacuum does after a load, so that the planner sees their real size.
func openPostgres(b *testing.B, _ hindsight.Space) (retrievaltest.Backend, func() time.Duration) {
	db, dsn := pgtest.Open(b)
	return db, func() time.Duration {
		schema := pgtest.SchemaOf(dsn)
		start := time.Now()
		if _, err := pgtest.Connect(b).Exec(context.Background(), "ANALYZE "+schema+".documents, "+schema+".chunks"); err != nil {
			b.Fatal(err)
		}
		b.Logf("ANALYZE took %v", time.Since(start).Round(time.Millisecond))
		return 0
	}
}

// openQdrantFake opens an index on a new in-process fake of Qdrant, with a SQLite catalog.
func openQdrantFake(b *testing.B, _ hindsight.Space) (retrievaltest.Backend, func() time.Duration) {
	f := qdranttest.Start(b)
	return openQdrant(b, qdrant.Options{Host: f.Host(), Port: f.Port()}), nil
}

// openRealQdrant opens an index on the Qdrant that HINDSIGHT_TEST_QDRANT names (host:port of its
// gRPC port, or a qdrant:// URL), with the API key in HINDSIGHT_QDRANT_API_KEY if it needs one and
// a SQLite catalog, in collections of a prefix of its own that are deleted at the end.
func openRealQdrant(b *testing.B, target string) retrievaltest.Backend {
	var opts qdrant.Options
	if strings.HasPrefix(target, "qdrant://") {
		var err error
		if opts, err = qdrant.ParseURL(target); err != nil {
			b.Fatalf("HINDSIGHT_TEST_QDRANT: %v", err)
		}
	} else {
		host, port, err := net.SplitHostPort(target)
		if err != nil {
			b.Fatalf("HINDSIGHT_TEST_QDRANT=%q: want host:port or a qdrant:// URL: %v", target, err)
		}
		opts.Host = host
		if opts.Port, err = strconv.Atoi(port); err != nil {
			b.Fatalf("HINDSIGHT_TEST_QDRANT=%q: port: %v", target, err)
		}
	}
	opts.APIKey = os.Getenv("HINDSIGHT_QDRANT_API_KEY")
	rnd := make([]byte, 6)
	rand.Read(rnd)
	opts.CollectionPrefix = "hindsight_bench_" + hex.EncodeToString(rnd)
	if opts.Port == 0 {
		opts.Port = qdrant.DefaultPort
	}
	client, err := qc.NewClient(&qc.Config{Host: opts.Host, Port: opts.Port, APIKey: opts.APIKey, UseTLS: opts.TLS, SkipCompatibilityCheck: true})
	if err != nil {
		b.Fatalf("qdrant client for %s: %v", target, err)
	}
	b.Cleanup(func() {
		defer client.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		names, err := client.ListCollections(ctx)
		if err != nil {
			b.Errorf("list collections to clean up: %v", err)
			return
		}
		for _, name := range names {
			if strings.HasPrefix(name, opts.CollectionPrefix+"_") {
				if err := client.DeleteCollection(ctx, name); err != nil {
					b.Errorf("delete collection %s: %v", name, err)
				}
			}
		}
	})
	return openQdrant(b, opts)
}

// openQdrant opens an index with a new SQLite catalog in a temporary directory, closed before the
// cleanups registered earlier run.
func openQdrant(b *testing.B, opts qdrant.Options) retrievaltest.Backend {
	ctx := context.Background()
	cat, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "catalog.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	ix, err := qdrant.Open(ctx, cat, opts, nil)
	if err != nil {
		cat.Close()
		b.Fatalf("qdrant.Open: %v", err)
	}
	b.Cleanup(func() { ix.Close() })
	return ix
}
