package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/ingest"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func (m *Main) ingestCommand() *cobra.Command {
	var opts ingest.Options
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "ingest [flags] [PATH...]",
		Short: "Read records and knowledge into the store (incremental: unchanged records cost nothing)",
		Long: `Reads PATHs (files, or directories walked for the files of the format) into the store:

  jsonl    canonical JSONL records (*.jsonl, *.ndjson): threats, analytics, notes, profiles
  stix     the ATT&CK Enterprise STIX bundle (*.json): techniques, mitigations, groups
  sigma    Sigma rules (*.yml, *.yaml)
  elastic  Elastic detection rules (*.toml), with their remediation notes
  pairs    eval pairs (*.jsonl): reviewer-edited drafts, stored as drafts with reviews

--format auto (the default) picks the reader for each file from its name and first bytes and, in
a directory, skips the files it does not recognise.

Every run also syncs the reviewed finals (the text a reviewer approved and sent, the latest review
of each draft, API reviews and imported eval pairs alike) into the search index as grounding for
later drafts: each is a threat document REVIEWED-<draft ID> of the draft's tenant, marked approved.
With --tenant, only that tenant's; with no PATH, they alone; --reviews=false leaves them out. They
are recorded under their own source, hindsight:reviews, so --prune never deletes them.

Runs are incremental: content hashes decide what is new, changed or unchanged, and unchanged
records cost no embedding. Only one ingest writes to a store at a time: a second one fails at once
naming the first, or waits for it with --wait. On a terminal, progress is a bar on standard error;
otherwise a log line every few seconds.

Exit status 0: every record stored; 3: some records rejected (each reported as
file:line: field: reason), the rest stored; 1: the run failed (it is recorded as failed; run the
same command again to finish it).

See also: hindsight ingest runs (the recorded runs; to ingest a folder named runs, write ./runs).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && !opts.Reviews {
				return usagef("ingest: give at least one PATH (or leave --reviews on to sync reviewed finals alone)")
			}
			if !slices.Contains(ingest.Formats, opts.Format) {
				return usagef("--format: want one of %s, got %q", strings.Join(ingest.Formats, ", "), opts.Format)
			}
			if opts.Wait < 0 {
				return usagef("--wait: want a positive duration, got %s", opts.Wait)
			}
			if opts.BatchSize < 1 || opts.EmbedBatch < 1 || opts.EmbedConcurrency < 1 {
				return usagef("--batch-size, --embed-batch and --embed-concurrency: want at least 1")
			}
			ctx := cmd.Context()
			db, err := m.openDB(ctx)
			if err != nil {
				return err
			}
			emb, err := m.embedder(ctx)
			if err != nil {
				return err
			}
			logger := m.Logger
			if bar := m.progressBar(); bar != nil {
				opts.Progress, opts.ProgressEvery = bar.Update, 250*time.Millisecond
				// Log lines go above the bar rather than through it.
				logger = m.loggerTo(bar)
			}
			run, err := ingest.New(db, emb, logger).Run(ctx, args, opts)
			if run != nil {
				m.printRun(run, asJSON)
			}
			if hindsight.ErrorCode(err) == hindsight.ECONFLICT && run == nil && opts.Wait == 0 {
				return fmt.Errorf("%w (run with --wait to wait for it)", err)
			}
			if err != nil {
				return err
			}
			if run.Status == hindsight.RunPartial {
				return &exitError{code: exitPartial}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Format, "format", "auto", "input format: "+strings.Join(ingest.Formats, ", "))
	f.StringVar(&opts.Tenant, "tenant", "", "tenant for threat records that have none; records of other tenants are rejected")
	f.BoolVar(&opts.Prune, "prune", false, "delete documents that a read file no longer contains")
	f.BoolVar(&opts.Reviews, "reviews", true, "also sync reviewed finals into the search index as approved grounding (--reviews=false: files only)")
	f.BoolVar(&asJSON, "json", false, "print the run as one JSON object")
	f.DurationVar(&opts.Wait, "wait", 0, "when another ingest is writing to the store, wait for it (--wait: up to 1h; --wait=10m: up to 10 minutes) instead of failing at once")
	f.Lookup("wait").NoOptDefVal = "1h"
	f.IntVar(&opts.BatchSize, "batch-size", 256, "documents written per transaction")
	f.IntVar(&opts.EmbedBatch, "embed-batch", 64, "texts per embedding call")
	f.IntVar(&opts.EmbedConcurrency, "embed-concurrency", 2, "embedding calls under way at once (raise it for a remote embedder with spare capacity)")
	cmd.AddCommand(m.ingestRunsCommand())
	return cmd
}

// progressBar returns a bar on standard error when it is a terminal, else nil.
func (m *Main) progressBar() *ingest.Bar {
	f, ok := m.Stderr.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	width, _, err := term.GetSize(int(f.Fd()))
	if err != nil {
		width = 80
	}
	return ingest.NewBar(f, width)
}

// loggerTo returns a logger like m.Logger that writes to w.
func (m *Main) loggerTo(w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(m.Config.LogLevel)) // validated by setup
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

func (m *Main) printRun(run *hindsight.Run, asJSON bool) {
	if asJSON {
		out := struct {
			RunID     string                `json:"run_id"`
			Status    string                `json:"status"`
			Read      int                   `json:"read"`
			Inserted  int                   `json:"inserted"`
			Updated   int                   `json:"updated"`
			Unchanged int                   `json:"unchanged"`
			Deleted   int                   `json:"deleted"`
			Rejected  []hindsight.Rejection `json:"rejected"`
			Error     string                `json:"error,omitempty"`
		}{run.ID, run.Status, run.Read, run.Inserted, run.Updated, run.Unchanged, run.Deleted, run.Rejected, run.Error}
		enc := json.NewEncoder(m.Stdout)
		enc.SetIndent("", "  ")
		enc.Encode(out)
		return
	}
	for _, r := range run.Rejected {
		fmt.Fprintln(m.Stderr, r.String())
	}
	fmt.Fprintf(m.Stdout, "%s %s: read %d, inserted %d, updated %d, unchanged %d, deleted %d, rejected %d\n",
		run.ID, run.Status, run.Read, run.Inserted, run.Updated, run.Unchanged, run.Deleted, len(run.Rejected))
}

func (m *Main) ingestRunsCommand() *cobra.Command {
	var asJSON bool
	var limit int
	cmd := &cobra.Command{
		Use:   "runs [--json] [--limit N]",
		Short: "List the recent ingest runs, newest first",
		Long: `Lists the recent ingest runs, newest first: ID, status, start, duration and counts. A run that
is still recorded as running but whose process has died (killed, or its machine stopped) is shown,
and recorded from then on, as failed: interrupted. "hindsight ingest runs show ID" shows one run
with its rejected records.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 1 {
				return usagef("--limit: want at least 1, got %d", limit)
			}
			ctx := cmd.Context()
			in, err := m.runLister(ctx)
			if err != nil {
				return err
			}
			runs, err := in.Runs(ctx, ingest.RunFilter{AllTenants: true, Limit: limit})
			if err != nil {
				return err
			}
			now := time.Now()
			if asJSON {
				out := struct {
					Runs []ingest.RunSummary `json:"runs"`
				}{Runs: []ingest.RunSummary{}}
				for _, r := range runs {
					out.Runs = append(out.Runs, ingest.Summarize(r, now))
				}
				return writeJSON(m.Stdout, out)
			}
			if len(runs) == 0 {
				fmt.Fprintln(m.Stdout, "no ingest runs recorded")
				return nil
			}
			tw := tabwriter.NewWriter(m.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "RUN\tSTATUS\tSTARTED\tDURATION\tREAD\tINSERTED\tUPDATED\tUNCHANGED\tDELETED\tREJECTED\tNOTE")
			for _, r := range runs {
				dur := "-"
				if d, ok := ingest.Duration(r, now); ok {
					dur = d.Round(time.Second).String()
					if d < time.Second {
						dur = d.Round(time.Millisecond).String()
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", r.ID, r.Status, r.StartedAt.Local().Format("2006-01-02 15:04:05"),
					dur, r.Read, r.Inserted, r.Updated, r.Unchanged, r.Deleted, len(r.Rejected), note(r))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"runs": [...]} (each run without its rejections, with rejected_count)`)
	cmd.Flags().IntVar(&limit, "limit", 20, "the most runs listed")
	cmd.AddCommand(m.ingestRunShowCommand())
	return cmd
}

// note is the NOTE column: why a run failed, shortly, or its tenant.
func note(r *hindsight.Run) string {
	s := r.Error
	if s == "" && r.Tenant != "" {
		s = "tenant " + r.Tenant
	}
	if len(s) > 70 {
		s = s[:67] + "..."
	}
	return s
}

func (m *Main) ingestRunShowCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show ID [--json]",
		Short: "Show one ingest run with its rejected records",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			in, err := m.runLister(ctx)
			if err != nil {
				return err
			}
			run, err := in.RunByID(ctx, args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(m.Stdout, run)
			}
			w := m.Stdout
			fmt.Fprintf(w, "run       %s\nstatus    %s\n", run.ID, run.Status)
			if run.Error != "" {
				fmt.Fprintf(w, "error     %s\n", run.Error)
			}
			fmt.Fprintf(w, "started   %s\n", run.StartedAt.Local().Format(time.RFC3339))
			if !run.FinishedAt.IsZero() {
				fmt.Fprintf(w, "finished  %s (%s)\n", run.FinishedAt.Local().Format(time.RFC3339), run.FinishedAt.Sub(run.StartedAt).Round(time.Millisecond))
			}
			if run.Tenant != "" {
				fmt.Fprintf(w, "tenant    %s\n", run.Tenant)
			}
			fmt.Fprintf(w, "paths     %s\n", strings.Join(run.Paths, " "))
			fmt.Fprintf(w, "counts    read %d, inserted %d, updated %d, unchanged %d, deleted %d, rejected %d\n",
				run.Read, run.Inserted, run.Updated, run.Unchanged, run.Deleted, len(run.Rejected))
			for _, r := range run.Rejected {
				fmt.Fprintf(w, "rejected  %s\n", r)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the run's record as JSON, rejections included")
	return cmd
}

// runLister returns an Ingester over the store for listing runs: it embeds nothing, so it needs
// no embedder (and no model server).
func (m *Main) runLister(ctx context.Context) (*ingest.Ingester, error) {
	db, err := m.openDB(ctx)
	if err != nil {
		return nil, err
	}
	return ingest.New(db, nil, m.Logger), nil
}
