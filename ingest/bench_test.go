package ingest_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/hindsightsec/hindsight/ingest"
	"github.com/hindsightsec/hindsight/retrieval"
	"github.com/hindsightsec/hindsight/sample"
	"github.com/hindsightsec/hindsight/store/sqlite"
)

// benchThreats returns how many generated threats a benchmark ingests: def, or
// HINDSIGHT_BENCH_THREATS when it is set.
func benchThreats(b *testing.B, def int) int {
	b.Helper()
	s := os.Getenv("HINDSIGHT_BENCH_THREATS")
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 || n > sample.MaxThreats {
		b.Fatalf("HINDSIGHT_BENCH_THREATS=%q: want a number of threats from 1 to %d", s, sample.MaxThreats)
	}
	return n
}

// BenchmarkIngest ingests a generated corpus (10,000 threats and the knowledge they cite;
// HINDSIGHT_BENCH_THREATS sets another number of threats) into a new embedded store with the
// built-in embedder, then runs the same ingest three more times:
//
//   - first: the new store; docs/s is this run's documents per second;
//   - rerun: nothing changed, every line as it was;
//   - reformatted: every line written differently (a space after its opening brace), the same
//     records: every line is decoded and found unchanged by its record hash;
//   - rerun2: nothing changed again, after the reformatted run.
//
// For each run it reports wall seconds and the process's CPU seconds. rerun-speedup is first-s
// over rerun-s, both measured in the same iteration, so the machine's load skews the ratio less
// than the times; rerun-cpu-speedup is the same ratio of CPU seconds, which the load of a shared
// machine skews least.
func BenchmarkIngest(b *testing.B) {
	n := benchThreats(b, 10000)
	c, err := sample.Generate(sample.Config{Threats: n, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	gen := b.TempDir()
	if err := c.WriteDir(gen); err != nil {
		b.Fatal(err)
	}
	// The pairs and judgments are not documents: ingest the two files of canonical records.
	names := []string{sample.ThreatsFile, sample.KnowledgeFile}
	orig := make([][]byte, len(names))
	reformatted := make([][]byte, len(names))
	for i, name := range names {
		if orig[i], err = os.ReadFile(filepath.Join(gen, name)); err != nil {
			b.Fatal(err)
		}
		reformatted[i] = bytes.ReplaceAll(orig[i], []byte("\n{"), []byte("\n{ "))
		reformatted[i] = append([]byte("{ "), reformatted[i][1:]...)
	}
	dir := b.TempDir()
	files := make([]string, len(names))
	write := func(contents [][]byte) {
		for i, name := range names {
			files[i] = filepath.Join(dir, name)
			if err := os.WriteFile(files[i], contents[i], 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	docs := len(c.Threats) + len(c.Knowledge)
	type timing struct{ wall, cpu time.Duration }
	var first, rerun, refmt, rerun2 timing
	runs := 0
	for b.Loop() {
		db, err := sqlite.Open(context.Background(), filepath.Join(dir, "h"+strconv.Itoa(runs)+".db"), nil)
		if err != nil {
			b.Fatal(err)
		}
		runs++
		in := ingest.New(db, retrieval.Builtin{}, nil)
		ingestOnce := func(t *timing, what string, inserted, unchanged int) {
			start, cpu := time.Now(), cpuTime()
			run, err := in.Run(context.Background(), files, ingest.Options{})
			t.wall += time.Since(start)
			t.cpu += cpuTime() - cpu
			if err != nil || run.Inserted != inserted || run.Unchanged != unchanged || run.Updated != 0 || len(run.Rejected) != 0 {
				b.Fatalf("%s: %+v, %v; want %d inserted, %d unchanged", what, run, err, inserted, unchanged)
			}
		}
		write(orig)
		ingestOnce(&first, "first run", docs, 0)
		ingestOnce(&rerun, "re-run", 0, docs)
		write(reformatted)
		ingestOnce(&refmt, "reformatted", 0, docs)
		ingestOnce(&rerun2, "re-run after reformatting", 0, docs)
		db.Close()
	}
	per := func(d time.Duration) float64 { return d.Seconds() / float64(runs) }
	b.ReportMetric(float64(docs)/per(first.wall), "docs/s")
	for _, m := range []struct {
		name string
		t    timing
	}{{"first", first}, {"rerun", rerun}, {"reformatted", refmt}, {"rerun2", rerun2}} {
		b.ReportMetric(per(m.t.wall), m.name+"-s")
		b.ReportMetric(per(m.t.cpu), m.name+"-cpu-s")
	}
	b.ReportMetric(first.wall.Seconds()/rerun.wall.Seconds(), "rerun-speedup")
	if rerun.cpu > 0 {
		b.ReportMetric(first.cpu.Seconds()/rerun.cpu.Seconds(), "rerun-cpu-speedup")
	}
}
