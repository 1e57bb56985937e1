package main

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/ingest"
	"github.com/hindsightsec/hindsight/retrieval"
	"github.com/hindsightsec/hindsight/sample"
)

// crashKills is how many times TestCrashSafety kills an ingest; crashSeed makes the moments the
// same on every run of the test (what the process has done by then still depends on the
// machine, which is the point: the kills land in different places).
const (
	crashKills = 20
	crashSeed  = 20240501
)

// TestCrashSafety builds the hindsight binary, runs hindsight ingest on a generated corpus and kills
// it with SIGKILL at random moments, again and again on the same store, checking after each kill
// that every stored document is whole; then it runs the ingest to its end and checks that the store
// is exactly what one clean run makes: the same documents with the same hashes, every document
// with all its chunks, no duplicates, drafts and reviews the same, searches finding the same. It
// also checks that a killed run is left "running" and is listed as failed, interrupted.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and ingests a corpus a dozen times")
	}
	dir := t.TempDir()
	began := time.Now()
	bin := buildBinary(t, dir)
	t.Logf("go build: %s", time.Since(began))
	corpus, err := sample.Generate(sample.Config{Threats: 2000, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "corpus")
	if err := corpus.WriteDir(data); err != nil {
		t.Fatal(err)
	}
	files := []string{filepath.Join(data, sample.KnowledgeFile), filepath.Join(data, sample.ThreatsFile), filepath.Join(data, sample.PairsFile)}
	ingestArgs := func(db string) []string {
		// Small batches make many transactions, so kills land between and inside them.
		return append([]string{"ingest", "--db", "sqlite:" + db, "--log-level", "error", "--json", "--batch-size", "64"}, files...)
	}

	clean := filepath.Join(dir, "clean.db")
	start := time.Now()
	if out, err := exec.Command(bin, ingestArgs(clean)...).CombinedOutput(); err != nil {
		t.Fatalf("clean run: %v\n%s", err, out)
	}
	t.Logf("clean run: %s", time.Since(start))

	crashed := filepath.Join(dir, "crashed.db")
	total := len(corpus.Threats) + len(corpus.Knowledge) + len(corpus.Pairs)
	rng := rand.New(rand.NewPCG(crashSeed, 1))
	// The kills land at random points of the work: each run resumes what the last one left and is
	// killed when the store holds its target count of documents and drafts, plus a random moment
	// more, which puts most kills inside a batch being embedded or written. The first two are
	// killed by time alone, early, while opening, migrating, locking or recording the run.
	targets := make([]int, crashKills)
	for i := range targets {
		targets[i] = rng.IntN(total)
	}
	slices.Sort(targets)
	killed, leftRunning := 0, 0
	checkedListing := false
	for i, target := range targets {
		cmd := exec.Command(bin, ingestArgs(crashed)...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		before := runIDs(t, crashed)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		finished := make(chan error, 1)
		go func() { finished <- cmd.Wait() }()
		if i < 2 {
			target = -1
		}
		extra := time.Duration(rng.Int64N(int64(40 * time.Millisecond)))
		if i < 2 {
			extra = time.Duration(rng.Int64N(int64(150 * time.Millisecond)))
		}
		if running, err := waitFor(t, finished, crashed, target, extra); !running {
			// The run ended before its kill: fine, if it ended well.
			if err != nil {
				t.Fatalf("kill %d: the run ended by itself and failed: %v\n%s", i, err, out.String())
			}
			continue
		}
		cmd.Process.Kill() // SIGKILL: no deferred function, no signal handler runs
		<-finished
		killed++
		checkLike(t, crashed, clean)
		after := runIDs(t, crashed)
		for id, status := range after {
			if _, old := before[id]; old {
				continue
			}
			// The killed run recorded its start and never its end.
			if status != hindsight.RunRunning && status != hindsight.RunSucceeded {
				t.Errorf("kill %d: the killed run %s is %s, want running", i, id, status)
			}
			if status != hindsight.RunRunning {
				continue
			}
			leftRunning++
			if checkedListing {
				continue
			}
			// No process holds the store now: the listing shows the run as interrupted, and
			// records it so.
			res, err := exec.Command(bin, "ingest", "runs", "--db", "sqlite:"+crashed, "--json").Output()
			if err != nil {
				t.Fatalf("ingest runs: %v", err)
			}
			var list struct{ Runs []ingest.RunSummary }
			if err := json.Unmarshal(res, &list); err != nil {
				t.Fatalf("ingest runs --json: %v: %s", err, res)
			}
			if len(list.Runs) == 0 || list.Runs[0].ID != id || list.Runs[0].Status != hindsight.RunFailed ||
				!strings.HasPrefix(list.Runs[0].Error, ingest.Interrupted+":") {
				t.Errorf("ingest runs after a kill: %s; want %s failed, interrupted", res, id)
			}
			if runIDs(t, crashed)[id] != hindsight.RunFailed {
				t.Errorf("the listing did not record %s as failed", id)
			}
			checkedListing = true
		}
	}
	t.Logf("%d kills, %d left a run recorded as running", killed, leftRunning)
	if killed < crashKills*3/4 || leftRunning == 0 {
		t.Errorf("only %d of %d runs were killed (%d of them running): the moments miss the runs", killed, crashKills, leftRunning)
	}

	out, err := exec.Command(bin, ingestArgs(crashed)...).Output()
	if err != nil {
		t.Fatalf("the run after the kills: %v\n%s", err, out)
	}
	var last struct {
		Status   string
		Rejected []hindsight.Rejection
	}
	if err := json.Unmarshal(out, &last); err != nil || last.Status != hindsight.RunSucceeded || len(last.Rejected) != 0 {
		t.Errorf("the run after the kills: %s, %v", out, err)
	}
	for id, status := range runIDs(t, crashed) {
		if status == hindsight.RunRunning {
			t.Errorf("run %s is still recorded as running after the last run", id)
		}
	}

	checkWhole(t, clean)
	checkWhole(t, crashed)
	want, got := storeDigest(t, clean), storeDigest(t, crashed)
	for _, table := range []string{"documents", "chunks", "drafts", "reviews"} {
		if want[table] != got[table] {
			t.Errorf("%s differ from a clean run's: %s", table, got[table])
		} else {
			t.Logf("%s: %s", table, got[table])
		}
	}
	sameVectors(t, clean, crashed)
	sameSearches(t, bin, clean, crashed, corpus.Threats)
}

// waitFor waits until the store at path holds at least target documents and drafts (a negative
// target: at once), then extra more. It reports whether the process ran until then; if it ended
// first, it also returns how it ended.
func waitFor(t *testing.T, finished <-chan error, path string, target int, extra time.Duration) (bool, error) {
	t.Helper()
	var db *sql.DB
	defer func() {
		if db != nil {
			db.Close()
		}
	}()
	for target >= 0 {
		if db == nil {
			if _, err := os.Stat(path); err == nil {
				db, _ = sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
			}
		}
		var n int
		// Until the first migration commits there are no tables, and no progress to read.
		if db != nil && db.QueryRow("SELECT (SELECT count(*) FROM documents) + (SELECT count(*) FROM drafts)").Scan(&n) == nil && n >= target {
			break
		}
		select {
		case err := <-finished:
			return false, err
		case <-time.After(2 * time.Millisecond):
		}
	}
	select {
	case err := <-finished:
		return false, err
	case <-time.After(extra):
		return true, nil
	}
}

// buildBinary builds the command into dir.
func buildBinary(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "hindsight")
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		goTool = "go"
	}
	if out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// openRaw opens a store file for plain SQL, read-only.
func openRaw(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// runIDs returns the status of every run recorded in a store; none when there is no store yet.
func runIDs(t *testing.T, path string) map[string]string {
	t.Helper()
	out := map[string]string{}
	if _, err := os.Stat(path); err != nil {
		return out
	}
	db := openRaw(t, path)
	rows, err := db.Query("SELECT id, status FROM ingest_runs")
	if err != nil {
		if strings.Contains(err.Error(), "no such table") {
			return out // killed before its first migration committed
		}
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, status string
		if err := rows.Scan(&id, &status); err != nil {
			t.Fatal(err)
		}
		out[id] = status
	}
	return out
}

// checkWhole checks that every stored document has exactly the chunks its record makes, in
// order, and that no document or chunk is there twice.
func checkWhole(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		return
	}
	db := openRaw(t, path)
	rows, err := db.Query(`SELECT d.tenant, d.kind, d.doc_id, d.record, d.space, group_concat(c.seq, ','), group_concat(c.text, char(30))
		FROM documents d LEFT JOIN (SELECT * FROM chunks ORDER BY doc, seq) c ON c.doc = d.id GROUP BY d.id`)
	if err != nil {
		if strings.Contains(err.Error(), "no such table") {
			return
		}
		t.Fatal(err)
	}
	defer rows.Close()
	seen := map[hindsight.DocKey]bool{}
	for rows.Next() {
		var k hindsight.DocKey
		var kind, rec, space string
		var seqs, texts sql.NullString
		if err := rows.Scan(&k.Tenant, &kind, &k.ID, &rec, &space, &seqs, &texts); err != nil {
			t.Fatal(err)
		}
		k.Kind = hindsight.Kind(kind)
		if seen[k] {
			t.Errorf("%s is stored twice", k)
		}
		seen[k] = true
		var d hindsight.Document
		if err := json.Unmarshal([]byte(rec), &d); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		sections := ingest.Sections(&d)
		var wantSeqs, wantTexts []string
		for i, s := range sections {
			wantSeqs = append(wantSeqs, fmt.Sprint(i))
			wantTexts = append(wantTexts, s.Text)
		}
		if seqs.String != strings.Join(wantSeqs, ",") || texts.String != strings.Join(wantTexts, "\x1e") {
			t.Errorf("%s has chunks %q, want %d: %q", k, seqs.String, len(sections), strings.Join(wantSeqs, ","))
		}
		if space != (retrieval.Builtin{}).Space().String() {
			t.Errorf("%s is in space %q", k, space)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

// sameVectors checks that every chunk has the same vector in both stores, to within float32
// rounding: the embedder may add up a text's features in another order from one process to the
// next, which moves the last bits and nothing a search could see.
func sameVectors(t *testing.T, wantPath, gotPath string) {
	t.Helper()
	load := func(path string) map[string][]float32 {
		rows, err := openRaw(t, path).Query("SELECT d.tenant || '/' || d.kind || '/' || d.doc_id || '#' || c.seq, c.vector FROM chunks c JOIN documents d ON d.id = c.doc")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string][]float32{}
		for rows.Next() {
			var k string
			var b []byte
			if err := rows.Scan(&k, &b); err != nil {
				t.Fatal(err)
			}
			v := make([]float32, len(b)/4)
			for i := range v {
				v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
			}
			out[k] = v
		}
		return out
	}
	want, got := load(wantPath), load(gotPath)
	if len(want) != len(got) {
		t.Errorf("%d vectors, want %d", len(got), len(want))
	}
	worst := 0.0
	for k, w := range want {
		g, ok := got[k]
		if !ok || len(g) != len(w) {
			t.Errorf("chunk %s has no vector, or one of another size", k)
			continue
		}
		for i := range w {
			worst = max(worst, math.Abs(float64(w[i]-g[i])))
		}
	}
	if worst > 1e-5 {
		t.Errorf("vectors differ from a clean run's by up to %g", worst)
	}
}

// checkLike checks, after a kill, that every document stored in the store at path is whole: it
// has the record and exactly the chunks (count, order, text) that a clean run stored for it in the
// store at cleanPath, which checkWhole checks against the records themselves.
func checkLike(t *testing.T, path, cleanPath string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		return
	}
	db := openRaw(t, path)
	db.SetMaxOpenConns(1) // ATTACH is per connection
	if _, err := db.Exec("ATTACH DATABASE ? AS clean", cleanPath); err != nil {
		t.Fatal(err)
	}
	defer db.Exec("DETACH DATABASE clean")
	rows, err := db.Query(`SELECT d.tenant || '/' || d.kind || '/' || d.doc_id, cd.id IS NULL, coalesce(d.record_hash = cd.record_hash, 0),
			(SELECT count(*) FROM main.chunks c WHERE c.doc = d.id), (SELECT count(*) FROM clean.chunks c WHERE c.doc = cd.id),
			(SELECT count(*) FROM main.chunks c JOIN clean.chunks cc ON cc.doc = cd.id AND cc.seq = c.seq AND cc.text = c.text WHERE c.doc = d.id)
		FROM main.documents d LEFT JOIN clean.documents cd ON cd.tenant = d.tenant AND cd.kind = d.kind AND cd.doc_id = d.doc_id`)
	if err != nil {
		if strings.Contains(err.Error(), "no such table") {
			return // killed before its first migration committed
		}
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var key string
		var unknown, sameRecord bool
		var n, want, same int
		if err := rows.Scan(&key, &unknown, &sameRecord, &n, &want, &same); err != nil {
			t.Fatal(err)
		}
		switch {
		case unknown:
			t.Errorf("%s is stored, but a clean run does not store it", key)
		case !sameRecord:
			t.Errorf("%s is stored with another record than a clean run's", key)
		case n != want || same != want:
			t.Errorf("%s has %d chunks (%d as a clean run's), want %d", key, n, same, want)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

// storeDigest returns, per table, the number of rows and a hash of their content, in a stable
// order and without the columns that differ between any two runs (row IDs, times).
func storeDigest(t *testing.T, path string) map[string]string {
	t.Helper()
	db := openRaw(t, path)
	queries := map[string]string{
		"documents": "SELECT tenant, kind, doc_id, title, source, record_hash, content_hash, space, record FROM documents ORDER BY tenant, kind, doc_id",
		// Vectors are compared apart, with a tolerance (sameVectors).
		"chunks": `SELECT d.tenant, d.kind, d.doc_id, c.seq, c.section, c.text, c.terms FROM chunks c JOIN documents d ON d.id = c.doc
			ORDER BY d.tenant, d.kind, d.doc_id, c.seq`,
		"drafts":  "SELECT id, tenant, kind, model, prompt_version, created_at, draft FROM drafts ORDER BY id",
		"reviews": "SELECT id, draft_id, tenant, reviewer, final, accuracy, clarity, completeness, comment FROM reviews ORDER BY id",
	}
	out := map[string]string{}
	for table, q := range queries {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		h := sha256.New()
		n := 0
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(h, "%v\x00", vals)
			n++
		}
		rows.Close()
		out[table] = fmt.Sprintf("%d rows, sha256 %s", n, hex.EncodeToString(h.Sum(nil))[:16])
	}
	return out
}

// sameSearches checks that searches over the two stores find the same documents, and that a
// threat's own title and summary find it. It searches with the binary: the index a search loads
// is the same, and loading it in this test process would take long under the race detector.
func sameSearches(t *testing.T, bin, cleanPath, crashedPath string, threats []hindsight.Document) {
	t.Helper()
	search := func(path string, d hindsight.Document) []string {
		args := []string{"search", "--db", "sqlite:" + path, "--tenant", d.Tenant, "--k", "10", "--json"}
		for _, tech := range d.Techniques {
			args = append(args, "--technique", tech)
		}
		out, err := exec.Command(bin, append(args, d.Title+" "+d.Summary)...).Output()
		if err != nil {
			t.Fatalf("search: %v", err)
		}
		var res struct{ Hits []struct{ ID string } }
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("search --json: %v: %s", err, out)
		}
		var ids []string
		for _, h := range res.Hits {
			ids = append(ids, h.ID)
		}
		return ids
	}
	// Two searches a store: each process loads the store's whole index, which takes seconds, and
	// the digests above already show the stores hold the same.
	for _, d := range []hindsight.Document{threats[0], threats[len(threats)*2/3]} {
		want, got := search(cleanPath, d), search(crashedPath, d)
		if !slices.Equal(want, got) {
			t.Errorf("search for %s: the crashed store found %v, a clean store %v", d.ID, got, want)
		}
		if !slices.Contains(got, d.ID) {
			t.Errorf("search for %s's own title and summary did not find it: %v", d.ID, got)
		}
	}
}
