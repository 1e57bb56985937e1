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
	gen, err := m.generator()
	if err != nil {
		return err
	}
	cfg := api.Config{Store: db, Search: r, Drafter: drafter, Logger: m.Logger}
	if gen != nil {
		cfg.Ready = func(ctx context.Context) error { return gen.Ping(ctx) }
	}
	srv := api.New(cfg)
	m.Logger.Info("serving", "addr", ln.Addr().String(), "db", m.Config.DB, "llm", drafter.Model(), "embedder", m.Config.Embedder)
	if ready != nil {
		ready(ln.Addr().String())
	}
	if err := srv.Serve(ctx, ln, 15*time.Second); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	m.Logger.Info("stopped")
	return nil
}
