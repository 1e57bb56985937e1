package ingest

import (
	"context"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/robfig/cron/v3"
)

// Schedule says when scheduled runs start: Next returns the first start after a moment.
type Schedule interface {
	Next(time.Time) time.Time
}

// ParseSchedule parses a standard five-field cron expression (minute, hour, day of month, month,
// day of week: "0 2 * * *" is 02:00 every day) in the process's local time zone, or in the zone a
// "CRON_TZ=Europe/Paris " prefix names, or a descriptor such as "@daily" or "@every 6h".
func ParseSchedule(spec string) (Schedule, error) {
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, hindsight.Invalid("schedule", "%v (want a cron expression such as \"0 2 * * *\")", err)
	}
	return s, nil
}

// RunScheduled runs an ingest of paths at every start sched gives until ctx is done, and logs each
// run's outcome. A start that comes while a run is still going is skipped, not queued: this
// scheduler's own run (it runs one at a time, and says how many starts it skipped), or another
// process's, which holds the store's writer lock, so the start fails (at once, or after waiting
// opts.Wait for the lock: a short wait lets a brief run such as a review sync end) and is logged
// as skipped. When ctx ends during a run, the run is interrupted and recorded as such before
// RunScheduled returns.
func (in *Ingester) RunScheduled(ctx context.Context, sched Schedule, paths []string, opts Options) {
	in.logger.Info("ingest scheduled", "paths", paths, "next", sched.Next(time.Now()).Format(time.RFC3339))
	for {
		next := sched.Next(time.Now())
		if next.IsZero() {
			in.logger.Warn("ingest schedule has no next start; no more scheduled runs")
			return
		}
		t := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		run, err := in.Run(ctx, paths, opts)
		switch {
		case hindsight.ErrorCode(err) == hindsight.ECONFLICT:
			in.logger.Warn("scheduled ingest skipped: another ingest is still writing", "reason", hindsight.ErrorMessage(err))
		case err != nil && run == nil:
			in.logger.Error("scheduled ingest could not start", "error", err)
		case err != nil:
			in.logger.Error("scheduled ingest failed", "run", run.ID, "error", err)
		default:
			in.logger.Info("scheduled ingest done", "run", run.ID, "status", run.Status)
		}
		// Starts that passed while the run went on are skipped; counting them tells whoever reads
		// the log that the schedule is tighter than the runs are long.
		skipped := 0
		for s := sched.Next(next); !s.IsZero() && !s.After(time.Now()) && skipped < 1000; s = sched.Next(s) {
			skipped++
		}
		if skipped > 0 {
			in.logger.Warn("scheduled ingest starts skipped while a run was going", "skipped", skipped)
		}
	}
}
