package ingest

import (
	"context"
	"fmt"
	"time"

	"github.com/hindsightsec/hindsight"
)

// Interrupted starts the error of a run that stopped before its end: cancelled ("interrupted"),
// or found still "running" after its process had died.
const Interrupted = "interrupted"

// staleScan is how many of the newest runs are looked at for dead ones. Every run start and every
// listing marks them, so dead runs are few and recent.
const staleScan = 100

// RunFilter selects the runs to list.
type RunFilter struct {
	// Tenant keeps only the runs whose tenant option was Tenant (an upload's tenant), unless
	// AllTenants. The zero value therefore lists only runs without a tenant option.
	Tenant     string
	AllTenants bool
	Limit      int // the most runs listed, newest first; 0 means 20
}

// Runs lists runs, newest first. Runs left "running" by a process that died are marked failed,
// interrupted, first (see markInterrupted).
func (in *Ingester) Runs(ctx context.Context, f RunFilter) ([]*hindsight.Run, error) {
	if f.Limit <= 0 {
		f.Limit = 20
	}
	// The stores list runs newest first without a tenant filter; runs are few (one a night, and
	// uploads), so a tenant's are picked out of a growing window of the newest.
	n := f.Limit
	if !f.AllTenants {
		n = max(4*f.Limit, staleScan)
	}
	var out []*hindsight.Run
	for {
		runs, err := in.store.FindRuns(ctx, n)
		if err != nil {
			return nil, fmt.Errorf("find runs: %w", err)
		}
		out = out[:0]
		for _, run := range runs {
			if f.AllTenants || run.Tenant == f.Tenant {
				out = append(out, run)
			}
		}
		if len(out) >= f.Limit || len(runs) < n {
			break
		}
		n *= 4
	}
	out = out[:min(len(out), f.Limit)]
	if err := in.settle(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// RunByID returns a run, or an ENOTFOUND error. A run left "running" by a process that died is
// marked failed, interrupted, first.
func (in *Ingester) RunByID(ctx context.Context, id string) (*hindsight.Run, error) {
	run, err := in.store.FindRunByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := in.settle(ctx, []*hindsight.Run{run}); err != nil {
		return nil, err
	}
	return run, nil
}

// settle marks the dead among runs that say they are running, in place.
func (in *Ingester) settle(ctx context.Context, runs []*hindsight.Run) error {
	running := false
	for _, run := range runs {
		running = running || run.Status == hindsight.RunRunning
	}
	if !running {
		return nil
	}
	marked, err := in.markInterrupted(ctx, "hindsight, checking for interrupted runs", false)
	if err != nil {
		return err
	}
	for _, run := range runs {
		if m := marked[run.ID]; m != nil {
			*run = *m
		}
	}
	return nil
}

// markInterrupted marks the runs still "running" as failed, interrupted, when no run is under way:
// when it can take the store's writer lock, or already holds it (locked), since every run holds
// that lock from before it records itself until it records its end, and the lock dies with its
// process. When someone else holds the lock, nothing is marked: a run under way marked the dead
// ones when it started, so the only run "running" is its own. holder says who marks them. It
// returns the runs it marked.
func (in *Ingester) markInterrupted(ctx context.Context, holder string, locked bool) (map[string]*hindsight.Run, error) {
	if !locked {
		unlock, err := in.store.LockWriter(ctx, holder, false)
		if hindsight.ErrorCode(err) == hindsight.ECONFLICT {
			return nil, nil
		} else if err != nil {
			return nil, err
		}
		defer unlock()
	}
	runs, err := in.store.FindRuns(ctx, staleScan)
	if err != nil {
		return nil, fmt.Errorf("find runs: %w", err)
	}
	marked := map[string]*hindsight.Run{}
	for _, run := range runs {
		if run.Status != hindsight.RunRunning {
			continue
		}
		run.Status = hindsight.RunFailed
		run.Error = fmt.Sprintf("%s: its process ended before the run did (killed, or its machine stopped); found by %s at %s",
			Interrupted, holder, time.Now().UTC().Format(time.RFC3339))
		if err := in.store.SaveRun(ctx, run); err != nil {
			return marked, fmt.Errorf("mark run %s interrupted: %w", run.ID, err)
		}
		in.logger.Warn("ingest run was interrupted: marked failed", "run", run.ID, "started", run.StartedAt)
		marked[run.ID] = run
	}
	return marked, nil
}

// RunSummary is a run as lists show it (hindsight ingest runs --json, GET /v1/ingest/runs): its
// record without the list of rejections, which can be long, but with their number and the run's
// duration.
type RunSummary struct {
	ID         string    `json:"run_id"`
	Status     string    `json:"status"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	// Seconds is how long the run took; for a run under way, how long it has been going; absent
	// for a run interrupted without an end.
	Seconds   *float64 `json:"seconds,omitempty"`
	Tenant    string   `json:"tenant,omitempty"`
	Paths     []string `json:"paths"`
	Read      int      `json:"read"`
	Inserted  int      `json:"inserted"`
	Updated   int      `json:"updated"`
	Unchanged int      `json:"unchanged"`
	Deleted   int      `json:"deleted"`
	Rejected  int      `json:"rejected_count"`
	Error     string   `json:"error,omitempty"`
}

// Summarize returns the summary of a run, its duration as of now.
func Summarize(run *hindsight.Run, now time.Time) RunSummary {
	s := RunSummary{ID: run.ID, Status: run.Status, StartedAt: run.StartedAt, FinishedAt: run.FinishedAt, Tenant: run.Tenant,
		Paths: run.Paths, Read: run.Read, Inserted: run.Inserted, Updated: run.Updated, Unchanged: run.Unchanged,
		Deleted: run.Deleted, Rejected: len(run.Rejected), Error: run.Error}
	if s.Paths == nil {
		s.Paths = []string{}
	}
	if d, ok := Duration(run, now); ok {
		sec := d.Seconds()
		s.Seconds = &sec
	}
	return s
}

// Duration returns how long a run took, or has been going as of now; false for a run that ended
// without recording its end.
func Duration(run *hindsight.Run, now time.Time) (time.Duration, bool) {
	switch {
	case !run.FinishedAt.IsZero():
		return run.FinishedAt.Sub(run.StartedAt), true
	case run.Status == hindsight.RunRunning:
		return now.Sub(run.StartedAt), true
	}
	return 0, false
}
