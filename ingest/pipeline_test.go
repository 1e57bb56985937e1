package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/ingest"
	"github.com/hindsightsec/hindsight/retrieval"
	"github.com/hindsightsec/hindsight/store/sqlite"
)

// fakeEmbedder is the built-in embedder behind a hook that may delay or fail each call; it
// records the calls it got, their sizes and how many were under way at once.
type fakeEmbedder struct {
	retrieval.Builtin
	hook func(ctx context.Context, call int, texts []string) error

	calls       atomic.Int64
	inFlight    atomic.Int64
	maxInFlight atomic.Int64
	mu          sync.Mutex
	sizes       []int
}

func (f *fakeEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	n := f.calls.Add(1)
	cur := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for {
		m := f.maxInFlight.Load()
		if cur <= m || f.maxInFlight.CompareAndSwap(m, cur) {
			break
		}
	}
	f.mu.Lock()
	f.sizes = append(f.sizes, len(texts))
	f.mu.Unlock()
	if f.hook != nil {
		if err := f.hook(ctx, int(n), texts); err != nil {
			return nil, err
		}
	}
	return f.Builtin.Embed(ctx, texts)
}

// notes returns n note records, one line each, whose bodies say their number.
func notes(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"kind":"note","id":"NOTE-%04d","title":"Note %d","body":"Step %d of the runbook: reset credential %d"}`+"\n", i, i, i, i)
	}
	return b.String()
}

func newStore(t *testing.T) (*sqlite.DB, string) {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "h.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, dir
}

func countDocs(t *testing.T, db *sqlite.DB, ids ...string) int {
	t.Helper()
	var keys []hindsight.DocKey
	for _, id := range ids {
		keys = append(keys, hindsight.DocKey{Kind: hindsight.KindNote, ID: id})
	}
	got, err := db.FindDocuments(context.Background(), keys)
	if err != nil {
		t.Fatal(err)
	}
	return len(got)
}

func noteIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("NOTE-%04d", i)
	}
	return ids
}

// TestPipelineBatchesAndConcurrency checks that embed calls carry at most EmbedBatch texts, that
// EmbedConcurrency of them run at once and no more, and that everything read is stored.
func TestPipelineBatchesAndConcurrency(t *testing.T) {
	db, dir := newStore(t)
	emb := &fakeEmbedder{hook: func(ctx context.Context, _ int, _ []string) error {
		time.Sleep(20 * time.Millisecond)
		return nil
	}}
	file := writeFile(t, dir, "notes.jsonl", notes(500))
	run, err := ingest.New(db, emb, nil).Run(context.Background(), []string{file},
		ingest.Options{BatchSize: 100, EmbedBatch: 16, EmbedConcurrency: 3})
	if err != nil {
		t.Fatal(err)
	}
	if run.Inserted != 500 || run.Status != hindsight.RunSucceeded {
		t.Fatalf("run = %+v", run)
	}
	if got := emb.maxInFlight.Load(); got != 3 {
		t.Errorf("%d embed calls at once at most, want 3", got)
	}
	total := 0
	for _, n := range emb.sizes {
		if n > 16 {
			t.Errorf("an embed call of %d texts, want at most 16", n)
		}
		total += n
	}
	if total != 500 {
		t.Errorf("embedded %d texts, want 500", total)
	}
	if n := countDocs(t, db, noteIDs(500)...); n != 500 {
		t.Errorf("%d documents stored, want 500", n)
	}
}

// TestPipelineKeepsEmbedderBusy checks the point of the pipeline: with an embedder that takes a
// fixed time per call, reading, chunking and writing hide behind embedding, and a run takes little
// more than the embedder's own time for its calls.
func TestPipelineKeepsEmbedderBusy(t *testing.T) {
	// How close the pipeline comes to the embedder's own throughput is measured by
	// BenchmarkPipelineFixedTimeEmbedder; this checks what makes it possible: the embed calls
	// are full and two of them are under way at once while the rest of the run goes on.
	db, dir := newStore(t)
	var inFlight, most atomic.Int64
	emb := &fakeEmbedder{hook: func(ctx context.Context, _ int, _ []string) error {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(20 * time.Millisecond)
		return nil
	}}
	file := writeFile(t, dir, "notes.jsonl", notes(2048))
	run, err := ingest.New(db, emb, nil).Run(context.Background(), []string{file}, ingest.Options{})
	if err != nil || run.Inserted != 2048 {
		t.Fatalf("run = %+v, %v", run, err)
	}
	// 2048 texts are 32 calls of 64.
	if emb.calls.Load() != 32 {
		t.Errorf("%d embed calls, want 32 full ones", emb.calls.Load())
	}
	if most.Load() != 2 {
		t.Errorf("at most %d embed calls were under way at once, want the default concurrency, 2", most.Load())
	}
}

func unavailable(msg string) error {
	return &hindsight.Error{Code: hindsight.EUNAVAILABLE, Message: msg}
}

func TestEmbedRetriesTransientErrors(t *testing.T) {
	db, dir := newStore(t)
	emb := &fakeEmbedder{hook: func(ctx context.Context, call int, _ []string) error {
		if call <= 2 {
			return unavailable("Ollama at http://127.0.0.1:11434 failed for model m: overloaded")
		}
		return nil
	}}
	file := writeFile(t, dir, "notes.jsonl", notes(10))
	run, err := ingest.New(db, emb, nil).Run(context.Background(), []string{file}, ingest.Options{Backoff: time.Millisecond})
	if err != nil || run.Status != hindsight.RunSucceeded || run.Inserted != 10 {
		t.Fatalf("run = %+v, %v", run, err)
	}
	if emb.calls.Load() != 3 {
		t.Errorf("%d calls, want 2 failures and a success", emb.calls.Load())
	}
}

func TestEmbedModelMissingFailsAtOnce(t *testing.T) {
	db, dir := newStore(t)
	emb := &fakeEmbedder{hook: func(context.Context, int, []string) error {
		return unavailable("model nomic is not available on the Ollama server at http://x (pull it with: ollama pull nomic)")
	}}
	file := writeFile(t, dir, "notes.jsonl", notes(10))
	run, err := ingest.New(db, emb, nil).Run(context.Background(), []string{file}, ingest.Options{Backoff: time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "ollama pull") || run.Status != hindsight.RunFailed {
		t.Fatalf("run = %+v, %v; want failed saying to pull the model", run, err)
	}
	if emb.calls.Load() != 1 {
		t.Errorf("%d calls, want 1: a missing model is not retried", emb.calls.Load())
	}
}

func TestEmbedContextErrorsAreNotRetried(t *testing.T) {
	db, dir := newStore(t)
	emb := &fakeEmbedder{hook: func(_ context.Context, _ int, texts []string) error {
		if len(texts) > 1 || strings.Contains(texts[0], "credential 3") {
			return &hindsight.Error{Code: hindsight.EUNAVAILABLE, Message: "model did not answer in time", Err: context.DeadlineExceeded}
		}
		return nil
	}}
	file := writeFile(t, dir, "notes.jsonl", notes(4))
	run, err := ingest.New(db, emb, nil).Run(context.Background(), []string{file}, ingest.Options{Backoff: time.Millisecond, Retries: 3})
	if err != nil || run.Inserted != 3 || len(run.Rejected) != 1 {
		t.Fatalf("run = %+v, %v", run, err)
	}
	// The batch of 4 once, the probe, halves of 2 (each once: a deadline is not retried), then
	// single texts: no call is repeated.
	if got := emb.calls.Load(); got != 1+1+2+4 {
		t.Errorf("%d calls, want 8 (no retries of timed-out calls)", got)
	}
}

// TestEmbedFailureIsolatesTheDocument checks that a document the embedder keeps failing on is
// rejected with its file and line, and everything else is stored.
func TestEmbedFailureIsolatesTheDocument(t *testing.T) {
	db, dir := newStore(t)
	emb := &fakeEmbedder{hook: func(_ context.Context, _ int, texts []string) error {
		for _, s := range texts {
			if strings.Contains(s, "credential 37\n") || strings.HasSuffix(s, "credential 37") {
				return unavailable("Ollama failed: the runner crashed")
			}
		}
		return nil
	}}
	file := writeFile(t, dir, "notes.jsonl", notes(100))
	run, err := ingest.New(db, emb, nil).Run(context.Background(), []string{file}, ingest.Options{Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != hindsight.RunPartial || run.Inserted != 99 || len(run.Rejected) != 1 {
		t.Fatalf("run = %+v", run)
	}
	want := file + ":38: not stored: embedding failed: Ollama failed: the runner crashed"
	if got := run.Rejected[0].String(); got != want {
		t.Errorf("rejection = %q, want %q", got, want)
	}
	if n := countDocs(t, db, noteIDs(100)...); n != 99 {
		t.Errorf("%d stored, want 99", n)
	}
	// The next run tries the rejected document again, and only it.
	before := emb.calls.Load()
	run, err = ingest.New(db, emb, nil).Run(context.Background(), []string{file}, ingest.Options{Backoff: time.Millisecond, Retries: -1})
	if err != nil || run.Unchanged != 99 || len(run.Rejected) != 1 {
		t.Errorf("second run = %+v, %v", run, err)
	}
	if calls := emb.calls.Load() - before; calls != 2 {
		t.Errorf("second run made %d calls, want the failing one and the probe", calls)
	}
}

func TestEmbedderDownFailsTheRun(t *testing.T) {
	db, dir := newStore(t)
	emb := &fakeEmbedder{hook: func(context.Context, int, []string) error {
		return unavailable("cannot reach Ollama at http://127.0.0.1:11434 (is it running?)")
	}}
	file := writeFile(t, dir, "notes.jsonl", notes(50))
	run, err := ingest.New(db, emb, nil).Run(context.Background(), []string{file}, ingest.Options{Backoff: time.Millisecond, Retries: 2})
	if err == nil || run.Status != hindsight.RunFailed || !strings.Contains(run.Error, "cannot reach Ollama") {
		t.Fatalf("run = %+v, %v; want failed, saying why", run, err)
	}
	if len(run.Rejected) != 0 {
		t.Errorf("the documents were rejected one by one: %v", run.Rejected)
	}
	saved, _ := db.FindRunByID(context.Background(), run.ID)
	if saved.Status != hindsight.RunFailed {
		t.Errorf("saved run = %+v", saved)
	}
}

// flakyStore is a store whose writes fail as fail says.
type flakyStore struct {
	*sqlite.DB
	fail func(ws []hindsight.DocumentWrite) error
}

func (s *flakyStore) WriteDocuments(ctx context.Context, ws []hindsight.DocumentWrite) error {
	if err := s.fail(ws); err != nil {
		return err
	}
	return s.DB.WriteDocuments(ctx, ws)
}

func TestWriteRefusalIsolatesTheDocument(t *testing.T) {
	db, dir := newStore(t)
	var writes atomic.Int64
	store := &flakyStore{DB: db, fail: func(ws []hindsight.DocumentWrite) error {
		writes.Add(1)
		for _, w := range ws {
			if w.Document.ID == "NOTE-0042" {
				return hindsight.Invalid("body", "the store cannot hold this text")
			}
		}
		return nil
	}}
	file := writeFile(t, dir, "notes.jsonl", notes(64))
	run, err := ingest.New(store, retrieval.Builtin{}, nil).Run(context.Background(), []string{file}, ingest.Options{BatchSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	if run.Inserted != 63 || len(run.Rejected) != 1 || !strings.HasPrefix(run.Rejected[0].String(), file+":43: not stored: the store refused it: body: the store cannot hold") {
		t.Fatalf("run = %+v", run)
	}
	if n := countDocs(t, db, noteIDs(64)...); n != 63 {
		t.Errorf("%d stored, want 63", n)
	}
	// 1 + 2·log2(64) transactions find the one document.
	if writes.Load() != 13 {
		t.Errorf("%d writes, want 13", writes.Load())
	}
}

func TestStoreDownFailsTheRun(t *testing.T) {
	db, dir := newStore(t)
	var writes atomic.Int64
	store := &flakyStore{DB: db, fail: func(ws []hindsight.DocumentWrite) error {
		if writes.Add(1) > 2 {
			return &hindsight.Error{Code: hindsight.EUNAVAILABLE, Message: "store does not answer", Err: errors.New("connection refused")}
		}
		return nil
	}}
	file := writeFile(t, dir, "notes.jsonl", notes(100))
	run, err := ingest.New(store, retrieval.Builtin{}, nil).Run(context.Background(), []string{file}, ingest.Options{BatchSize: 10})
	if err == nil || run.Status != hindsight.RunFailed || len(run.Rejected) != 0 {
		t.Fatalf("run = %+v, %v; want failed with no document rejected", run, err)
	}
	if run.Inserted != 20 || writes.Load() != 3 {
		t.Errorf("inserted %d in %d writes; want the two batches before the failure, and no retry", run.Inserted, writes.Load())
	}
	if n := countDocs(t, db, noteIDs(100)...); n != 20 {
		t.Errorf("%d stored, want 20", n)
	}
}

func TestCancelStopsPromptlyAndRecordsInterrupted(t *testing.T) {
	db, dir := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	emb := &fakeEmbedder{hook: func(ctx context.Context, call int, _ []string) error {
		if call == 3 {
			cancel()
		}
		<-time.After(10 * time.Millisecond)
		return ctx.Err()
	}}
	file := writeFile(t, dir, "notes.jsonl", notes(1000))
	start := time.Now()
	run, err := ingest.New(db, emb, nil).Run(ctx, []string{file}, ingest.Options{BatchSize: 64})
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("the cancelled run took %s to stop", took)
	}
	if !errors.Is(err, context.Canceled) || run.Status != hindsight.RunFailed || run.Error != "interrupted" {
		t.Fatalf("run = %+v, %v; want failed, interrupted", run, err)
	}
	saved, _ := db.FindRunByID(context.Background(), run.ID)
	if saved.Status != hindsight.RunFailed || saved.Error != "interrupted" || saved.FinishedAt.IsZero() {
		t.Errorf("saved run = %+v", saved)
	}
	// Whatever was written is whole: the next run completes it.
	run, err = ingest.New(db, retrieval.Builtin{}, nil).Run(context.Background(), []string{file}, ingest.Options{})
	if err != nil || run.Inserted+run.Unchanged != 1000 || run.Updated != 0 {
		t.Errorf("second run = %+v, %v", run, err)
	}
}

func TestOneWriterAtATime(t *testing.T) {
	db, dir := newStore(t)
	file := writeFile(t, dir, "notes.jsonl", notes(20))
	release := make(chan struct{})
	started := make(chan struct{})
	var once sync.Once
	slow := &fakeEmbedder{hook: func(ctx context.Context, _ int, _ []string) error {
		once.Do(func() { close(started) })
		<-release
		return nil
	}}
	first := make(chan error, 1)
	go func() {
		_, err := ingest.New(db, slow, nil).Run(context.Background(), []string{file}, ingest.Options{})
		first <- err
	}()
	<-started
	runs, _ := db.FindRuns(context.Background(), 1)
	_, err := ingest.New(db, retrieval.Builtin{}, nil).Run(context.Background(), []string{file}, ingest.Options{})
	if hindsight.ErrorCode(err) != hindsight.ECONFLICT || !strings.Contains(err.Error(), runs[0].ID) ||
		!strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Errorf("second run while the first writes: %v; want a conflict naming the first run and its process", err)
	}
	// Waiting: the second run goes once the first is done.
	second := make(chan error, 1)
	go func() {
		run, err := ingest.New(db, retrieval.Builtin{}, nil).Run(context.Background(), []string{file}, ingest.Options{Wait: time.Minute})
		if err == nil && run.Unchanged != 20 {
			err = fmt.Errorf("second run = %+v", run)
		}
		second <- err
	}()
	time.Sleep(300 * time.Millisecond)
	select {
	case err := <-second:
		t.Fatalf("the waiting run ended while the first was writing: %v", err)
	default:
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-second; err != nil {
		t.Error(err)
	}
	// A wait that runs out is a conflict too.
	unlock, err := db.LockWriter(context.Background(), "run RUN-HOLD", false)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	_, err = ingest.New(db, retrieval.Builtin{}, nil).Run(context.Background(), []string{file}, ingest.Options{Wait: 300 * time.Millisecond})
	if hindsight.ErrorCode(err) != hindsight.ECONFLICT || !strings.Contains(err.Error(), "waited 300ms") || !strings.Contains(err.Error(), "RUN-HOLD") {
		t.Errorf("wait ran out: %v", err)
	}
}

func TestInterruptedRunsAreMarked(t *testing.T) {
	ctx := context.Background()
	db, dir := newStore(t)
	dead := &hindsight.Run{ID: "RUN-20240101-000000-dead00", StartedAt: time.Now().Add(-time.Hour).UTC(), Status: hindsight.RunRunning, Paths: []string{"x"}, Rejected: []hindsight.Rejection{}}
	if err := db.SaveRun(ctx, dead); err != nil {
		t.Fatal(err)
	}
	in := ingest.New(db, retrieval.Builtin{}, nil)
	// While a writer holds the lock, a listing cannot tell, and changes nothing.
	unlock, err := db.LockWriter(ctx, "run RUN-OTHER", false)
	if err != nil {
		t.Fatal(err)
	}
	runs, err := in.Runs(ctx, ingest.RunFilter{AllTenants: true})
	if err != nil || len(runs) != 1 || runs[0].Status != hindsight.RunRunning {
		t.Errorf("runs while locked = %+v, %v", runs, err)
	}
	unlock()
	runs, err = in.Runs(ctx, ingest.RunFilter{AllTenants: true})
	if err != nil || len(runs) != 1 || runs[0].Status != hindsight.RunFailed || !strings.HasPrefix(runs[0].Error, ingest.Interrupted+": ") {
		t.Fatalf("runs = %+v, %v; want the dead run failed, interrupted", runs, err)
	}
	saved, _ := db.FindRunByID(ctx, dead.ID)
	if saved.Status != hindsight.RunFailed {
		t.Errorf("the mark was not saved: %+v", saved)
	}
	// The next run marks them too.
	dead.ID = "RUN-20240101-000000-dead01"
	db.SaveRun(ctx, dead)
	if _, err := in.Run(ctx, []string{writeFile(t, dir, "n.jsonl", notes(1))}, ingest.Options{}); err != nil {
		t.Fatal(err)
	}
	saved, _ = db.FindRunByID(ctx, dead.ID)
	if saved.Status != hindsight.RunFailed || !strings.Contains(saved.Error, "found by run RUN-") {
		t.Errorf("after the next run: %+v", saved)
	}
}

func TestTenantOnly(t *testing.T) {
	in, _, _, dir := setup(t)
	file := writeFile(t, dir, "in.jsonl", good)
	if _, err := in.Run(context.Background(), []string{file}, ingest.Options{TenantOnly: true}); hindsight.ErrorField(err) != "tenant" {
		t.Errorf("TenantOnly without a tenant: %v", err)
	}
	run, err := in.Run(context.Background(), []string{file}, ingest.Options{Tenant: "acme", TenantOnly: true})
	if err != nil || run.Inserted != 1 || len(run.Rejected) != 2 || run.Rejected[0].Field != "kind" || run.Tenant != "acme" {
		t.Errorf("run = %+v, %v; want the threat stored and the analytic and note rejected", run, err)
	}
}

// TestPruneKeepsDocumentsThatMoved checks that prune, which runs after every batch is written,
// never deletes a document that moved from one input to another within the run.
func TestPruneKeepsDocumentsThatMoved(t *testing.T) {
	ctx := context.Background()
	db, dir := newStore(t)
	a := writeFile(t, dir, "a.jsonl", notes(3))
	b := writeFile(t, dir, "b.jsonl", "")
	in := ingest.New(db, retrieval.Builtin{}, nil)
	if _, err := in.Run(ctx, []string{a, b}, ingest.Options{}); err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(notes(3), "\n")
	writeFile(t, dir, "a.jsonl", lines[0])
	writeFile(t, dir, "b.jsonl", lines[1])
	run, err := in.Run(ctx, []string{a, b}, ingest.Options{Prune: true, BatchSize: 1})
	if err != nil || run.Deleted != 1 || run.Updated != 1 {
		t.Fatalf("run = %+v, %v; want NOTE-0001 moved to b and NOTE-0002 deleted", run, err)
	}
	if n := countDocs(t, db, "NOTE-0000", "NOTE-0001"); n != 2 {
		t.Errorf("%d of the two kept documents stored", n)
	}
}

// BenchmarkPipelineFixedTimeEmbedder measures how much of an embedder's own throughput a run
// reaches when each embed call takes a fixed 40ms (as a remote model's batch might), with the
// default batch size and concurrency: efficiency is the embedder's busy time (calls × 40ms / 2
// at once) over the run's time.
func BenchmarkPipelineFixedTimeEmbedder(b *testing.B) {
	const per = 40 * time.Millisecond
	const n = 8192
	dir := b.TempDir()
	file := filepath.Join(dir, "notes.jsonl")
	if err := os.WriteFile(file, []byte(notes(n)), 0o644); err != nil {
		b.Fatal(err)
	}
	var eff float64
	for i := range b.N {
		db, err := sqlite.Open(context.Background(), filepath.Join(dir, fmt.Sprintf("h%d.db", i)), nil)
		if err != nil {
			b.Fatal(err)
		}
		emb := &fakeEmbedder{hook: func(context.Context, int, []string) error { time.Sleep(per); return nil }}
		start := time.Now()
		run, err := ingest.New(db, emb, nil).Run(context.Background(), []string{file}, ingest.Options{})
		took := time.Since(start)
		db.Close()
		if err != nil || run.Inserted != n {
			b.Fatalf("run = %+v, %v", run, err)
		}
		eff += (time.Duration(emb.calls.Load()) * per / 2).Seconds() / took.Seconds()
	}
	b.ReportMetric(100*eff/float64(b.N), "efficiency_%")
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "docs/s")
}

// TestPruneWithAFileGivenTwice checks that a file read twice in one run (named, and in its folder)
// is not emptied by prune: its second reading is all duplicates.
func TestPruneWithAFileGivenTwice(t *testing.T) {
	db, dir := newStore(t)
	file := writeFile(t, dir, "notes.jsonl", notes(3))
	run, err := ingest.New(db, retrieval.Builtin{}, nil).Run(context.Background(), []string{file, dir}, ingest.Options{Prune: true})
	if err != nil || run.Inserted != 3 || run.Deleted != 0 || len(run.Rejected) != 3 {
		t.Fatalf("run = %+v, %v; want 3 stored, 3 duplicates rejected, nothing deleted", run, err)
	}
	if n := countDocs(t, db, noteIDs(3)...); n != 3 {
		t.Errorf("%d stored, want 3", n)
	}
}

func TestTenantRunRecordsNoInternals(t *testing.T) {
	db, dir := newStore(t)
	missing := filepath.Join(dir, "spooled-upload-4711.jsonl")
	for _, tc := range []struct {
		tenant string
		want   func(string) bool
	}{
		// A tenant's admin lists the run: only what the error says to users.
		{"acme", func(s string) bool { return strings.HasPrefix(s, "internal error") && !strings.Contains(s, dir) }},
		// An operator's run keeps the whole error.
		{"", func(s string) bool { return strings.Contains(s, "no such file") }},
	} {
		run, err := ingest.New(db, &fakeEmbedder{}, nil).RunInputs(context.Background(),
			[]ingest.Input{{Path: missing, Format: "jsonl", Name: "upload:acme/cases.jsonl"}}, ingest.Options{Tenant: tc.tenant})
		if err == nil || !strings.Contains(err.Error(), "no such file") {
			t.Errorf("tenant %q: the caller's error %v should say what failed", tc.tenant, err)
		}
		if run == nil || run.Status != hindsight.RunFailed || !tc.want(run.Error) {
			t.Errorf("tenant %q: recorded error %+v", tc.tenant, run)
		}
	}
}
