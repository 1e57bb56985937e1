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

func TestParseSchedule(t *testing.T) {
	s, err := ingest.ParseSchedule("CRON_TZ=UTC 0 2 * * *")
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2024, 5, 1, 1, 30, 0, 0, time.UTC)
	if got := s.Next(from); !got.Equal(time.Date(2024, 5, 1, 2, 0, 0, 0, time.UTC)) {
		t.Errorf("next after %s = %s", from, got)
	}
	if got := s.Next(time.Date(2024, 5, 1, 2, 0, 0, 0, time.UTC)); !got.Equal(time.Date(2024, 5, 2, 2, 0, 0, 0, time.UTC)) {
		t.Errorf("next after 02:00 = %s", got)
	}
	for _, bad := range []string{"", "0 2 * *", "61 * * * *", "* * * * * *"} {
		if _, err := ingest.ParseSchedule(bad); hindsight.ErrorField(err) != "schedule" {
			t.Errorf("ParseSchedule(%q) = %v", bad, err)
		}
	}
}

// every is a schedule that starts a run every d.
type every time.Duration

func (e every) Next(t time.Time) time.Time { return t.Add(time.Duration(e)) }

func TestRunScheduled(t *testing.T) {
	db, dir := newStore(t)
	file := writeFile(t, dir, "notes.jsonl", notes(5))
	logger, logs := newLog()
	in := ingest.New(db, retrieval.Builtin{}, logger)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		in.RunScheduled(ctx, every(50*time.Millisecond), []string{file}, ingest.Options{})
		close(done)
	}()
	waitRuns := func(n int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			runs, _ := db.FindRuns(context.Background(), -1)
			if len(runs) >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d scheduled runs after 10s, want %d", len(runs), n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitRuns(2)
	// While another process writes, the starts are skipped, not queued.
	lctx, lcancel := context.WithTimeout(context.Background(), 10*time.Second)
	unlock, err := db.LockWriter(lctx, "run RUN-ELSEWHERE", true)
	lcancel()
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "scheduled ingest skipped") {
		if time.Now().After(deadline) {
			t.Fatal("no start skipped while the lock was held")
		}
		time.Sleep(20 * time.Millisecond)
	}
	before, _ := db.FindRuns(context.Background(), -1)
	unlock()
	waitRuns(len(before) + 1)
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("RunScheduled did not stop with its context")
	}
	runs, _ := db.FindRuns(context.Background(), -1)
	for _, r := range runs {
		if r.Status == hindsight.RunRunning {
			t.Errorf("run %s left running after the scheduler stopped", r.ID)
		}
	}
	if !strings.Contains(logs.String(), "RUN-ELSEWHERE") || !strings.Contains(logs.String(), "scheduled ingest done") {
		t.Errorf("log lacks the skip's reason or the runs:\n%s", logs.String())
	}
}

// TestRunScheduledStopsARunUnderWay checks that stopping the scheduler interrupts its run, which
// is recorded as interrupted.
func TestRunScheduledStopsARunUnderWay(t *testing.T) {
	db, dir := newStore(t)
	file := writeFile(t, dir, "notes.jsonl", notes(200))
	ctx, cancel := context.WithCancel(context.Background())
	emb := &fakeEmbedder{hook: func(ctx context.Context, _ int, _ []string) error {
		cancel()
		<-ctx.Done()
		return ctx.Err()
	}}
	done := make(chan struct{})
	go func() {
		ingest.New(db, emb, nil).RunScheduled(ctx, every(time.Millisecond), []string{file}, ingest.Options{})
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("RunScheduled did not stop")
	}
	runs, _ := db.FindRuns(context.Background(), -1)
	if len(runs) != 1 || runs[0].Status != hindsight.RunFailed || runs[0].Error != "interrupted" {
		t.Errorf("runs = %+v; want one, interrupted", runs)
	}
}
