// Package sqlitebench builds the embedded store that benchmarks search and draft over: generated
// history of a given number of threats (sample.Generate, seed 1) with the built-in embedder.
//
// HINDSIGHT_BENCH_THREATS overrides the number of threats. HINDSIGHT_BENCH_DB names a database
// file to keep between runs: a file that already holds documents is used as it is (it must have
// been built with the same number of threats), so that a benchmark at 100,000 threats does not
// spend most of its time writing the same store again.
package sqlitebench

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/retrieval/retrievaltest"
	"github.com/hindsightsec/hindsight/sample"
	"github.com/hindsightsec/hindsight/store/sqlite"
)

// Queries is how many of the corpus's threats the benchmarks query with, in turn.
const Queries = 5000

// Open returns the store and the generated corpus it holds. The store is closed when b ends.
func Open(b testing.TB, threats int) (*sqlite.DB, *sample.Corpus) {
	b.Helper()
	if v, err := strconv.Atoi(os.Getenv("HINDSIGHT_BENCH_THREATS")); err == nil && v > 0 {
		threats = v
	}
	ctx := context.Background()
	c, err := sample.Generate(sample.Config{Threats: threats, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	path := os.Getenv("HINDSIGHT_BENCH_DB")
	if path == "" {
		path = filepath.Join(b.TempDir(), "bench.db")
	}
	db, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	docs := append(c.Threats, c.Knowledge...)
	counts, err := db.CountDocuments(ctx, "")
	if err != nil {
		b.Fatal(err)
	}
	stored := 0
	for _, n := range counts {
		stored += n
	}
	if stored > 0 {
		b.Logf("using %s as it is (%d global documents; built for HINDSIGHT_BENCH_THREATS=%d?)", path, stored, threats)
		return db, c
	}
	start := time.Now()
	for i := 0; i < len(docs); i += 512 {
		batch := make([]*hindsight.Document, 0, 512)
		for j := i; j < min(i+512, len(docs)); j++ {
			batch = append(batch, &docs[j])
		}
		retrievaltest.Write(b, db, "bench", batch...)
	}
	b.Logf("stored %d documents in %s", len(docs), time.Since(start).Round(time.Millisecond))
	return db, c
}

// Latencies records the time of each operation of a benchmark loop and reports their p50 and p99
// with the process's CPU time per operation. CPU time counts the work whatever else the machine
// runs, so on a shared, loaded machine it is the steadier figure; the load average is logged.
type Latencies struct {
	lat      []time.Duration
	cpuStart time.Duration
}

// Start begins the loop.
func (l *Latencies) Start() { l.cpuStart = cpuTime() }

// Time runs op and records how long it took.
func (l *Latencies) Time(op func()) {
	start := time.Now()
	op()
	l.lat = append(l.lat, time.Since(start))
}

// Report reports p50-ms, p99-ms and cpu-ms/op on b.
func (l *Latencies) Report(b *testing.B) {
	cpu := cpuTime() - l.cpuStart
	if len(l.lat) == 0 {
		return
	}
	slices.Sort(l.lat)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(l.lat[len(l.lat)/2]), "p50-ms")
	b.ReportMetric(ms(l.lat[min(len(l.lat)-1, len(l.lat)*99/100)]), "p99-ms")
	b.ReportMetric(ms(cpu/time.Duration(len(l.lat))), "cpu-ms/op")
	if load, err := os.ReadFile("/proc/loadavg"); err == nil {
		b.Logf("load average: %s", strings.TrimSpace(string(load)))
	}
}

// cpuTime is the user and system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
