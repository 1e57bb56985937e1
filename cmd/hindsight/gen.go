package main

import (
	"fmt"

	"github.com/hindsightsec/hindsight/sample"
	"github.com/spf13/cobra"
)

func (m *Main) genCommand() *cobra.Command {
	var cfg sample.Config
	var out string
	cmd := &cobra.Command{
		Use:   "gen --threats N --seed S --out DIR",
		Short: "Write a deterministic synthetic history (JSONL) with its relevance judgments",
		Long: `Writes threats.jsonl, knowledge.jsonl (analytics, notes, profiles), pairs.jsonl (reviewer-edited
drafts) and judgments.jsonl (which past threats are truly related to which) into DIR. The same
--threats and --seed always give the same files.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usagef("--out is required")
			}
			c, err := sample.Generate(cfg)
			if err != nil {
				return usageError{err}
			}
			if err := c.WriteDir(out); err != nil {
				return err
			}
			fmt.Fprintf(m.Stdout, "wrote %d threats, %d knowledge documents, %d eval pairs and %d judgments to %s\n",
				len(c.Threats), len(c.Knowledge), len(c.Pairs), len(c.Judgments), out)
			return nil
		},
	}
	cmd.Flags().IntVar(&cfg.Threats, "threats", 240, "number of threats")
	cmd.Flags().Int64Var(&cfg.Seed, "seed", 1, "random seed")
	cmd.Flags().StringVar(&out, "out", "", "output folder; required")
	return cmd
}
