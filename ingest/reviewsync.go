package ingest

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/hindsightsec/hindsight"
)

// DefaultReviewSyncWait is how long a background review sync waits for another ingest to release
// the store's writer lock when NewReviewSync is given no Options.Wait.
const DefaultReviewSyncWait = time.Hour

// ReviewSync makes new reviewed finals searchable soon after they are made, without making
// whoever reviewed wait: Trigger asks for a sync of a draft's reviewed final, and Run makes the
// syncs in the background, one at a time. Each sync is an ingest run of one tenant's drafts, with
// Options.Reviews and ReviewDrafts and no input, so it costs what its drafts cost whatever the
// size of the store; it is recorded and listed like any other run, and whatever it did not finish
// (it was stopped, or the store failed) the next ingest run, which syncs every final, finishes.
// Triggers that come while a sync is going are coalesced: at most one sync is going and one more
// is pending, which covers every draft asked for meanwhile. It is safe for concurrent use.
type ReviewSync struct {
	in   *Ingester
	opts Options
	wake chan struct{} // holds a token while a sync is pending

	mu      sync.Mutex
	pending map[string]map[string]bool // tenant → drafts asked for since the last sync began
	idle    chan struct{}              // closed while nothing is pending or running
}

// NewReviewSync returns a ReviewSync that runs with in. opts configure each sync (batch and embed
// sizes, retries); its Tenant and Reviews are set per sync, and a zero Wait means
// DefaultReviewSyncWait: a sync waits for another ingest to finish rather than being skipped, so a
// review made during a long nightly run is synced when the run ends.
func NewReviewSync(in *Ingester, opts Options) *ReviewSync {
	if opts.Wait <= 0 {
		opts.Wait = DefaultReviewSyncWait
	}
	idle := make(chan struct{})
	close(idle)
	return &ReviewSync{in: in, opts: opts, wake: make(chan struct{}, 1), pending: map[string]map[string]bool{}, idle: idle}
}

// Trigger asks for a sync of the final of the tenant's draft and returns at once.
func (s *ReviewSync) Trigger(tenant, draftID string) {
	s.mu.Lock()
	if s.pending[tenant] == nil {
		s.pending[tenant] = map[string]bool{}
	}
	s.pending[tenant][draftID] = true
	s.busy()
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default: // a sync is pending already, and will see this draft
	}
}

// busy notes that a sync is pending or running. s.mu is held.
func (s *ReviewSync) busy() {
	select {
	case <-s.idle:
		s.idle = make(chan struct{})
	default:
	}
}

// done notes that nothing is pending or running. s.mu is held. A wake-up that found its
// tenants taken by the sync before it ends here too, so idle may be closed already.
func (s *ReviewSync) done() {
	select {
	case <-s.idle:
	default:
		close(s.idle)
	}
}

// Run makes the syncs that Trigger asks for until ctx is done. A sync under way when ctx ends is
// interrupted, and recorded as such, before Run returns. Each failure is logged once.
func (s *ReviewSync) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		}
		s.mu.Lock()
		pending := s.pending
		s.pending = map[string]map[string]bool{}
		s.mu.Unlock()
		for _, t := range slices.Sorted(maps.Keys(pending)) {
			if ctx.Err() != nil {
				break
			}
			s.sync(ctx, t, slices.Sorted(maps.Keys(pending[t])))
		}
		s.mu.Lock()
		if len(s.pending) == 0 {
			s.done()
		}
		s.mu.Unlock()
	}
}

// sync runs the sync of a tenant's drafts and logs how it went.
func (s *ReviewSync) sync(ctx context.Context, tenant string, drafts []string) {
	opts := s.opts
	opts.Tenant, opts.Reviews, opts.ReviewDrafts = tenant, true, drafts
	run, err := s.in.Run(ctx, nil, opts)
	log := s.in.logger
	switch {
	case err != nil && ctx.Err() != nil:
		log.Info("review sync stopped with the server; the next ingest finishes it", "tenant", tenant)
	case hindsight.ErrorCode(err) == hindsight.ECONFLICT:
		log.Warn("review sync skipped: another ingest kept the store busy; the next sync or ingest makes it", "tenant", tenant, "reason", hindsight.ErrorMessage(err))
	case err != nil && run == nil:
		log.Error("review sync could not start", "tenant", tenant, "error", err)
	case err != nil:
		log.Error("review sync failed", "tenant", tenant, "run", run.ID, "error", err)
	case len(run.Rejected) > 0:
		log.Warn("review sync left reviewed finals out", "tenant", tenant, "run", run.ID, "rejected", len(run.Rejected), "first", run.Rejected[0].String())
	}
}

// Wait blocks until no sync is pending or running, or ctx is done. Without a Run going, a
// pending sync never ends and Wait returns only with ctx.
func (s *ReviewSync) Wait(ctx context.Context) error {
	s.mu.Lock()
	idle := s.idle
	s.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
