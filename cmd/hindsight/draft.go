package main

import (
	"fmt"
	"io"
	"os"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/draft"
	"github.com/hindsightsec/hindsight/retrieval"
	"github.com/spf13/cobra"
)

func (m *Main) draftCommand() *cobra.Command {
	var tenant, kind string
	var k int
	var asJSON, noSave bool
	cmd := &cobra.Command{
		Use:   "draft --tenant T --kind remediation|hunting|hardening [flags] FILE|-",
		Short: "Draft cited recommendations for a threat record",
		Long: `Reads a threat record (JSON, from FILE or standard input with -), retrieves the tenant's most similar
past cases and knowledge, and drafts recommendations that each cite their sources. The draft is
stored so that it can be reviewed.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if tenant == "" {
				return usagef("--tenant is required")
			}
			dk := hindsight.DraftKind(kind)
			if !dk.Valid() {
				return usagef("--kind: want remediation, hunting or hardening, got %q", kind)
			}
			if len(args) != 1 {
				return usagef("draft: give one FILE, or - for standard input")
			}
			if k < 1 || k > retrieval.MaxK {
				return usagef("--k: must be between 1 and %d, got %d", retrieval.MaxK, k)
			}
			var raw []byte
			var err error
			if args[0] == "-" {
				raw, err = io.ReadAll(m.Stdin)
			} else {
				raw, err = os.ReadFile(args[0])
			}
			if err != nil {
				return fmt.Errorf("read threat: %w", err)
			}
			threat, err := draft.ParseThreat(raw, args[0])
			if err != nil {
				return err
			}
			db, _, drafter, err := m.services(cmd.Context())
			if err != nil {
				return err
			}
			d, err := drafter.Draft(cmd.Context(), draft.Request{Tenant: tenant, Kind: dk, Threat: threat, K: k})
			if err != nil {
				return err
			}
			if !noSave {
				if err := db.CreateDraft(cmd.Context(), d); err != nil {
					return err
				}
			}
			if asJSON {
				return writeJSON(m.Stdout, d)
			}
			fmt.Fprint(m.Stdout, d.Text)
			fmt.Fprintf(m.Stdout, "\nSources:\n")
			for _, s := range d.Sources {
				fmt.Fprintf(m.Stdout, "  %-16s %-9s %.4f  %s\n", s.ID, s.Kind, s.Score, s.Title)
			}
			if !noSave {
				fmt.Fprintf(m.Stdout, "\nDraft %s stored.\n", d.ID)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&tenant, "tenant", "", "tenant the threat belongs to; required")
	f.StringVar(&kind, "kind", "", "remediation, hunting or hardening; required")
	f.IntVar(&k, "k", 8, "number of sources to retrieve")
	f.BoolVar(&asJSON, "json", false, "print the draft as JSON")
	f.BoolVar(&noSave, "no-save", false, "do not store the draft")
	return cmd
}
