package ingest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/ingest"
	"github.com/hindsightsec/hindsight/retrieval"
)

// startSync runs a ReviewSync until the test ends, and returns it with a function that stops it
// and waits for Run to return.
func startSync(t *testing.T, in *ingest.Ingester, opts ingest.Options) (*ingest.ReviewSync, func()) {
	t.Helper()
	s := ingest.NewReviewSync(in, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(ctx)
	}()
	stop := func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("ReviewSync.Run did not return after its context ended")
		}
	}
	t.Cleanup(stop)
	return s, stop
}

func waitSync(t *testing.T, s *ingest.ReviewSync) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Wait(ctx); err != nil {
		t.Fatalf("review sync not done: %v", err)
	}
}

func TestReviewSyncCoalescesTriggers(t *testing.T) {
	db, _ := newStore(t)
	logger, logs := newLog()
	in := ingest.New(db, retrieval.Builtin{}, logger)
	for _, tenant := range []string{"acme", "globex"} {
		reviewedDraft(t, db, "DRF-"+tenant, tenant, hindsight.DraftRemediation)
		review(t, db, "REV-"+tenant, "DRF-"+tenant, tenant, "- Isolate the host of "+tenant, reviewedAt, hindsight.Ratings{Accuracy: 4, Clarity: 4, Completeness: 4})
	}
	s, _ := startSync(t, in, ingest.Options{})
	if err := s.Wait(context.Background()); err != nil {
		t.Fatalf("Wait with nothing asked: %v", err)
	}
	// While another ingest writes, the syncs wait for it, and triggers pile up as one pending.
	unlock, err := db.LockWriter(context.Background(), "run RUN-NIGHTLY", false)
	if err != nil {
		t.Fatal(err)
	}
	for _, tenant := range []string{"acme", "acme", "globex", "acme", "globex", "acme"} {
		s.Trigger(tenant, "DRF-"+tenant)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	if err := s.Wait(ctx); err == nil {
		t.Fatal("Wait returned while the syncs could not take the writer lock")
	}
	cancel()
	unlock()
	waitSync(t, s)
	runs, err := db.FindRuns(context.Background(), -1)
	if err != nil {
		t.Fatal(err)
	}
	// The first trigger's sync may have begun before the others came (acme, then acme and
	// globex) or not (acme and globex): six triggers, at most three runs, each of one draft.
	if len(runs) < 2 || len(runs) > 3 {
		t.Errorf("%d runs for six triggers of two tenants, want 2 or 3", len(runs))
	}
	for _, run := range runs {
		if run.Status != hindsight.RunSucceeded || run.Tenant == "" || strings.Join(run.Paths, " ") != ingest.ReviewsSource || run.Read != 1 {
			t.Errorf("run %+v; want a succeeded reviews-only run of one tenant's draft", run)
		}
	}
	for _, tenant := range []string{"acme", "globex"} {
		if findDoc(t, db, tenant, "REVIEWED-DRF-"+tenant) == nil {
			t.Errorf("%s's reviewed final is not stored", tenant)
		}
	}
	if strings.Contains(logs.String(), "level=ERROR") || strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("log has errors or warnings:\n%s", logs.String())
	}
}

func TestReviewSyncLogsASkipOnce(t *testing.T) {
	db, _ := newStore(t)
	logger, logs := newLog()
	s, _ := startSync(t, ingest.New(db, retrieval.Builtin{}, logger), ingest.Options{Wait: 50 * time.Millisecond})
	unlock, err := db.LockWriter(context.Background(), "run RUN-NIGHTLY", false)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	s.Trigger("acme", "DRF-1")
	waitSync(t, s)
	if n := strings.Count(logs.String(), "review sync skipped"); n != 1 || !strings.Contains(logs.String(), "RUN-NIGHTLY") {
		t.Errorf("%d skips logged, want 1 naming the ingest that held the lock:\n%s", n, logs.String())
	}
}

func TestReviewSyncStopsWithItsContext(t *testing.T) {
	db, _ := newStore(t)
	reviewedDraft(t, db, "DRF-1", "acme", hindsight.DraftRemediation)
	review(t, db, "REV-1", "DRF-1", "acme", "- Isolate WS-17", reviewedAt, hindsight.Ratings{Accuracy: 4, Clarity: 4, Completeness: 4})
	// The embedder blocks until the sync is stopped: the run is under way when it is.
	started := make(chan struct{}, 1)
	emb := &fakeEmbedder{hook: func(ctx context.Context, _ int, _ []string) error {
		select {
		case started <- struct{}{}:
		default:
		}
		<-ctx.Done()
		return ctx.Err()
	}}
	s, stop := startSync(t, ingest.New(db, emb, nil), ingest.Options{})
	s.Trigger("acme", "DRF-1")
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the sync did not start embedding")
	}
	stop()
	runs, _ := db.FindRuns(context.Background(), -1)
	if len(runs) != 1 || runs[0].Status != hindsight.RunFailed || runs[0].Error != ingest.Interrupted {
		t.Errorf("runs = %+v; want one, interrupted", runs)
	}
}
