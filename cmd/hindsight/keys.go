package main

import (
	"fmt"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/spf13/cobra"
)

func (m *Main) keysCommand() *cobra.Command {
	keys := &cobra.Command{Use: "keys", Short: "Manage API keys"}
	var tenant, role string
	create := &cobra.Command{
		Use:   "create --tenant T --role reader|reviewer|admin",
		Short: "Create an API key and print it (it is shown only once; only its hash is stored)",
		RunE: func(cmd *cobra.Command, args []string) error {
			if tenant == "" {
				return usagef("--tenant is required")
			}
			if !hindsight.Role(role).Valid() {
				return usagef("--role: want reader, reviewer or admin, got %q", role)
			}
			db, err := m.openDB(cmd.Context())
			if err != nil {
				return err
			}
			secret, _, err := db.CreateKey(cmd.Context(), tenant, hindsight.Role(role))
			if err != nil {
				return err
			}
			fmt.Fprintln(m.Stdout, secret)
			return nil
		},
	}
	create.Flags().StringVar(&tenant, "tenant", "", "tenant the key acts for; required")
	create.Flags().StringVar(&role, "role", "reader", "reader, reviewer or admin")
	var listTenant string
	list := &cobra.Command{
		Use:   "list [--tenant T]",
		Short: "List API keys (IDs, tenants and roles; never secrets)",
		RunE: func(cmd *cobra.Command, args []string) error {
			db, err := m.openDB(cmd.Context())
			if err != nil {
				return err
			}
			ks, err := db.FindKeys(cmd.Context(), listTenant)
			if err != nil {
				return err
			}
			for _, k := range ks {
				fmt.Fprintf(m.Stdout, "%s  %-12s %-8s %s\n", k.ID, k.Tenant, k.Role, k.CreatedAt.Format(time.RFC3339))
			}
			return nil
		},
	}
	list.Flags().StringVar(&listTenant, "tenant", "", "only this tenant's keys")
	keys.AddCommand(create, list)
	return keys
}
