package main

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/api"
	"github.com/hindsightsec/hindsight/ingest"
	"github.com/spf13/cobra"
)

// nightly is serve's scheduled ingest: the same run as hindsight ingest, on a cron schedule.
type nightly struct {
	schedule string   // cron expression; empty: no scheduled ingest
	paths    []string // what each run reads
	prune    bool
	// reviews makes reviewed finals grounding: each review is synced in the background, and each
	// scheduled run and upload syncs them too.
	reviews bool
}

// scheduledWait is how long a scheduled run waits for the store's writer lock before it is
// skipped: long enough for a background review sync, short of any real ingest.
const scheduledWait = time.Minute

func (m *Main) serveCommand() *cobra.Command {
	var n nightly
	var uploadLimit string
	cmd := &cobra.Command{
		Use:   "serve [--addr HOST:PORT] [--ingest-schedule CRON --ingest-path DIR... [--ingest-prune]] [--ingest-reviews=false]",
		Short: "Serve the REST API (and, on a schedule, ingest)",
		Long: `Serves the REST API. With --ingest-schedule, the server also runs hindsight ingest of the
--ingest-path folders or files on that schedule: a five-field cron expression ("0 2 * * *" is 02:00
every day, in the server's time zone; prefix "CRON_TZ=UTC " for another zone). Each run is
logged and recorded like any other (GET /v1/ingest/runs); a start that comes while an ingest is
still writing to the store (this server's or another process's) is skipped after a minute's wait.
Stopping the server interrupts a run under way, which is recorded as such; the next run finishes
its work.

Reviewed finals become grounding (unless --ingest-reviews=false): each review stored through the
API starts a background sync of its draft's final into the search index (a short ingest run;
reviews that come meanwhile are synced together by the next), and scheduled runs and uploads sync
every final of theirs too.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if (n.schedule == "") != (len(n.paths) == 0) {
				return usagef("--ingest-schedule and --ingest-path go together")
			}
			if n.prune && n.schedule == "" {
				return usagef("--ingest-prune needs --ingest-schedule")
			}
			limit, err := parseSize(uploadLimit)
			if err != nil {
				return usagef("--ingest-max-body: %v", err)
			}
			return m.serveWith(cmd.Context(), nil, n, limit)
		},
	}
	f := cmd.Flags()
	f.StringVar(&m.Config.Addr, "addr", env("HINDSIGHT_ADDR", "127.0.0.1:8080"), "address to listen on (env HINDSIGHT_ADDR)")
	f.StringVar(&n.schedule, "ingest-schedule", env("HINDSIGHT_INGEST_SCHEDULE", ""), `run ingest on this cron schedule, e.g. "0 2 * * *" (env HINDSIGHT_INGEST_SCHEDULE)`)
	f.StringArrayVar(&n.paths, "ingest-path", nil, "folder or file the scheduled ingest reads (repeat for several)")
	f.BoolVar(&n.prune, "ingest-prune", false, "the scheduled ingest deletes documents its files no longer contain")
	f.BoolVar(&n.reviews, "ingest-reviews", true, "reviewed finals become grounding: synced after each review, by scheduled runs and by uploads")
	f.StringVar(&uploadLimit, "ingest-max-body", "64MiB", "largest upload POST /v1/ingest accepts (e.g. 64MiB, 1GiB)")
	return cmd
}

// serve listens on the configured address and serves until ctx is done. ready, if not nil, is
// called with the bound address once the server accepts connections.
func (m *Main) serve(ctx context.Context, ready func(addr string)) error {
	return m.serveWith(ctx, ready, nightly{reviews: true}, 0)
}

// serveWith is serve with a scheduled ingest (none when n.schedule is empty) and the largest
// upload POST /v1/ingest accepts (0: the API's default).
func (m *Main) serveWith(ctx context.Context, ready func(addr string), n nightly, uploadLimit int64) error {
	var sched ingest.Schedule
	if n.schedule != "" {
		s, err := ingest.ParseSchedule(n.schedule)
		if err != nil {
			return usagef("--ingest-schedule: %v", err)
		}
		sched = s
	}
	db, r, drafter, err := m.services(ctx)
	if err != nil {
		return err
	}
	emb, err := m.embedder(ctx)
	if err != nil {
		return err
	}
	if w, ok := db.(interface {
		Warm(context.Context, hindsight.Space) error
	}); ok {
		// Build the search index before taking requests: on a large store the first search would
		// otherwise wait for it, past any sensible request timeout.
		start := time.Now()
		m.Logger.Info("loading search index")
		if err := w.Warm(ctx, emb.Space()); err != nil {
			return fmt.Errorf("load search index: %w", err)
		}
		m.Logger.Info("search index loaded", "seconds", time.Since(start).Seconds())
	}
	ln, err := net.Listen("tcp", m.Config.Addr)
	if err != nil {
		return usagef("--addr: %v", err)
	}
	gen, err := m.generator()
	if err != nil {
		return err
	}
	in := ingest.New(db, emb, m.Logger)
	cfg := api.Config{Store: db, Search: r, Drafter: drafter, Logger: m.Logger, Ingest: in, UploadLimit: uploadLimit}
	if n.reviews {
		cfg.Reviews = ingest.NewReviewSync(in, ingest.Options{})
	}
	if gen != nil {
		cfg.Ready = func(ctx context.Context) error { return gen.Ping(ctx) }
	}
	srv := api.New(cfg)
	m.Logger.Info("serving", "addr", ln.Addr().String(), "db", m.Config.DB, "llm", drafter.Model(), "embedder", m.Config.Embedder)
	var wg sync.WaitGroup
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	if sched != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in.RunScheduled(sctx, sched, n.paths, ingest.Options{Prune: n.prune, Reviews: n.reviews, Wait: scheduledWait})
		}()
	}
	if cfg.Reviews != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cfg.Reviews.Run(sctx)
		}()
	}
	if ready != nil {
		ready(ln.Addr().String())
	}
	err = srv.Serve(ctx, ln, 15*time.Second)
	// The scheduled run and the review sync, if one is going, stop with the server and record
	// themselves as interrupted before the store is closed.
	stop()
	wg.Wait()
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	m.Logger.Info("stopped")
	return nil
}

// parseSize parses a size in bytes with an optional binary unit: 512, 64KiB, 64MiB, 1GiB (KB, MB
// and GB are read as the binary units too: a body limit needs no decimal precision).
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(strings.ToUpper(t), strings.ToUpper(u.suffix)) {
			t, mult = strings.TrimSpace(t[:len(t)-len(u.suffix)]), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("want a size such as 64MiB, got %q", s)
	}
	return n * mult, nil
}
