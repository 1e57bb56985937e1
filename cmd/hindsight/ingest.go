package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/ingest"
	"github.com/spf13/cobra"
)

func (m *Main) ingestCommand() *cobra.Command {
	var opts ingest.Options
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "ingest [flags] PATH...",
		Short: "Read records into the store (incremental: unchanged records cost nothing)",
		Long: `Reads canonical JSONL records (files, or directories walked for *.jsonl and *.ndjson) into the
store. Exit status 0: every record stored; 3: some records rejected (each reported as
file:line: field: reason), the rest stored; 1: the run failed.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("ingest: give at least one PATH")
			}
			if !slices.Contains(ingest.Formats, opts.Format) {
				return usagef("--format: want one of %s, got %q", strings.Join(ingest.Formats, ", "), opts.Format)
			}
			db, err := m.openDB(cmd.Context())
			if err != nil {
				return err
			}
			emb, err := m.embedder(cmd.Context())
			if err != nil {
				return err
			}
			run, err := ingest.New(db, emb, m.Logger).Run(cmd.Context(), args, opts)
			if run != nil {
				m.printRun(run, asJSON)
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
	f.BoolVar(&asJSON, "json", false, "print the run as one JSON object")
	return cmd
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
