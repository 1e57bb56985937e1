package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/ingest"
	"github.com/hindsightsec/hindsight/sample"
	"github.com/spf13/cobra"
)

func (m *Main) demoCommand() *cobra.Command {
	var dataDir string
	cmd := &cobra.Command{
		Use:   "demo [--data DIR] [--addr HOST:PORT]",
		Short: "Load the built-in sample history and serve the API, with a key and examples to try",
		Long: `Creates a data folder (default ./hindsight-data), ingests the built-in sample history into an embedded
store there, creates an API key for the sample tenant, and serves the API. Running it again reuses
the folder, the data and the key.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if !cmd.Flags().Changed("db") && os.Getenv("HINDSIGHT_DB") == "" {
				m.Config.DB = "sqlite:" + filepath.Join(dataDir, "hindsight.db")
			}
			if err := os.MkdirAll(dataDir, 0o755); err != nil {
				return fmt.Errorf("create data folder: %w", err)
			}
			sampleDir := filepath.Join(dataDir, "sample")
			if err := writeSample(sampleDir); err != nil {
				return err
			}
			db, err := m.openDB(ctx)
			if err != nil {
				return err
			}
			emb, err := m.embedder(ctx)
			if err != nil {
				return err
			}
			run, err := ingest.New(db, emb, m.Logger).Run(ctx, []string{sampleDir}, ingest.Options{Prune: true, Reviews: true})
			if err != nil {
				return fmt.Errorf("ingest the sample: %w", err)
			}
			m.Logger.Info("sample loaded", "inserted", run.Inserted, "updated", run.Updated, "unchanged", run.Unchanged)
			threat, err := exampleThreat(sampleDir)
			if err != nil {
				return err
			}
			key, err := m.demoKey(ctx, filepath.Join(dataDir, "demo.key"), threat.Tenant)
			if err != nil {
				return err
			}
			body, _ := json.MarshalIndent(map[string]any{"kind": "remediation", "threat": threat, "k": 8}, "", "  ")
			example := filepath.Join(dataDir, "example-draft.json")
			if err := os.WriteFile(example, append(body, '\n'), 0o644); err != nil {
				return err
			}
			return m.serve(ctx, func(addr string) {
				search, _ := json.Marshal(map[string]any{"text": threat.Summary, "techniques": threat.Techniques, "k": 5})
				fmt.Fprintf(m.Stdout, `
Hindsight demo: %d documents of sample history for tenant %q, served at http://%s
Data folder: %s (run the demo again to reuse it)

Try:
  export HINDSIGHT_KEY=%s

  # the past cases most similar to a new threat, with why each matched
  curl -s http://%s/v1/search -H "Authorization: Bearer $HINDSIGHT_KEY" -d '%s'

  # a cited remediation draft for a new threat
  curl -s http://%s/v1/drafts -H "Authorization: Bearer $HINDSIGHT_KEY" -d @%s

  # or from the command line, against the same store
  hindsight search --db sqlite:%s --tenant %s "%s"

  # or in the review console, with the key above: draft, read the sources, edit, rate
  http://%s/console

Stop with Ctrl-C.
`, run.Read-len(run.Rejected), threat.Tenant, addr, dataDir, key, addr, strings.ReplaceAll(string(search), "'", `'\''`),
					addr, example, filepath.Join(dataDir, "hindsight.db"), threat.Tenant, shortText(threat.Title), addr)
			})
		},
	}
	cmd.Flags().StringVar(&dataDir, "data", "hindsight-data", "data folder for the demo's store, sample and key")
	cmd.Flags().StringVar(&m.Config.Addr, "addr", env("HINDSIGHT_ADDR", "127.0.0.1:8080"), "address to listen on (env HINDSIGHT_ADDR)")
	return cmd
}

// writeSample writes the embedded sample history into dir, leaving files that are already
// identical untouched.
func writeSample(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files := sample.Files()
	return fs.WalkDir(files, ".", func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || !strings.HasSuffix(path, ".jsonl") || path == "pairs.jsonl" || path == "judgments.jsonl" {
			return err
		}
		b, err := fs.ReadFile(files, path)
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.Base(path))
		if old, err := os.ReadFile(dst); err == nil && bytes.Equal(old, b) {
			return nil
		}
		return os.WriteFile(dst, b, 0o644)
	})
}

// exampleThreat makes the demo's "new threat" from the sample's most recent threat: its title,
// summary, events and techniques, with a new ID and without the guidance that was sent.
func exampleThreat(dir string) (*hindsight.Document, error) {
	f, err := os.Open(filepath.Join(dir, "threats.jsonl"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var latest *hindsight.Document
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 8<<20)
	for sc.Scan() {
		var d hindsight.Document
		if json.Unmarshal(sc.Bytes(), &d) == nil && d.Kind == hindsight.KindThreat && d.Summary != "" &&
			(latest == nil || d.OccurredAt.After(latest.OccurredAt)) {
			latest = &d
		}
	}
	if latest == nil {
		return nil, errors.New("the sample has no threat to make an example of")
	}
	return &hindsight.Document{Kind: hindsight.KindThreat, ID: "THR-NEW-0001", Tenant: latest.Tenant, Title: latest.Title,
		Severity: latest.Severity, Techniques: latest.Techniques, Summary: latest.Summary, Events: latest.Events}, nil
}

// demoKey returns the key saved in path if the store still knows it, or creates and saves a new
// reviewer key for the tenant.
func (m *Main) demoKey(ctx context.Context, path, tenant string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		secret := strings.TrimSpace(string(b))
		if k, err := m.db.FindKeyBySecret(ctx, secret); err == nil && k.Tenant == tenant {
			return secret, nil
		}
	}
	secret, _, err := m.db.CreateKey(ctx, tenant, hindsight.RoleReviewer)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("save demo key: %w", err)
	}
	return secret, nil
}

func shortText(s string) string {
	s = strings.ReplaceAll(s, `"`, "")
	if len(s) > 60 {
		s = s[:strings.LastIndexByte(s[:60], ' ')]
	}
	return s
}
