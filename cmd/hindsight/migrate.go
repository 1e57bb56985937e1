package main

import (
	"fmt"
	"strings"

	"github.com/hindsightsec/hindsight/store/postgres"
	"github.com/spf13/cobra"
)

func (m *Main) migrateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate [--db DSN]",
		Short: "Apply the store's pending schema migrations and print each one applied",
		Long: `Apply the store's pending schema migrations and print the name of each one applied, or that the
schema is up to date.

Every command applies pending migrations when it opens the store, so migrate is never required; it
lets a deployment change the schema once, at a time of its choosing, before new processes start.
On PostgreSQL each migration runs in its own transaction under an advisory lock: several processes
may migrate at once and each migration is applied exactly once. An embedded (sqlite:) store applies
its migrations whenever it is opened; migrate opens it and reports that it is current.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("migrate takes no arguments, got %q", strings.Join(args, " "))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if !strings.HasPrefix(m.Config.DB, "postgres://") && !strings.HasPrefix(m.Config.DB, "postgresql://") {
				if _, err := m.openDB(cmd.Context()); err != nil {
					return err
				}
				fmt.Fprintln(m.Stdout, "schema is up to date (an embedded store applies its migrations when it opens)")
				return nil
			}
			applied, err := postgres.Migrate(cmd.Context(), m.Config.DB, m.Logger)
			// What was applied before a failure stays applied: say so either way.
			for _, mg := range applied {
				fmt.Fprintf(m.Stdout, "applied %s\n", mg.Name)
			}
			if err != nil {
				return fmt.Errorf("migrate postgres store: %w", err)
			}
			if len(applied) == 0 {
				fmt.Fprintln(m.Stdout, "schema is up to date")
			}
			return nil
		},
	}
}
