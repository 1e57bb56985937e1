package main

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/hindsightsec/hindsight/api"
	"github.com/spf13/cobra"
)

func (m *Main) serveCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve [--addr HOST:PORT]",
		Short: "Serve the REST API",
		RunE: func(cmd *cobra.Command, args []string) error {
			return m.serve(cmd.Context(), nil)
		},
	}
	cmd.Flags().StringVar(&m.Config.Addr, "addr", env("HINDSIGHT_ADDR", "127.0.0.1:8080"), "address to listen on (env HINDSIGHT_ADDR)")
	return cmd
}

// serve listens on the configured address and serves until ctx is done. ready, if not nil, is
// called with the bound address once the server accepts connections.
func (m *Main) serve(ctx context.Context, ready func(addr string)) error {
	db, r, drafter, err := m.services(ctx)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", m.Config.Addr)
	if err != nil {
		return usagef("--addr: %v", err)
	}
	srv := api.New(db, r, drafter, m.Logger)
	m.Logger.Info("serving", "addr", ln.Addr().String(), "db", m.Config.DB)
	if ready != nil {
		ready(ln.Addr().String())
	}
	if err := srv.Serve(ctx, ln, 15*time.Second); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	m.Logger.Info("stopped")
	return nil
}
