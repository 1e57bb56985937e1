package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/api"
	"github.com/hindsightsec/hindsight/draft"
	"github.com/hindsightsec/hindsight/ingest"
	"github.com/hindsightsec/hindsight/retrieval"
	"github.com/hindsightsec/hindsight/store/postgres"
	"github.com/hindsightsec/hindsight/store/qdrant"
	"github.com/hindsightsec/hindsight/store/sqlite"
	"github.com/spf13/cobra"
)

// Exit statuses.
const (
	exitOK      = 0
	exitFailed  = 1 // the command failed
	exitUsage   = 2 // bad flags or arguments
	exitPartial = 3 // ingest: some records rejected, the rest stored
)

// Config is the configuration shared by the subcommands, from flags with HINDSIGHT_* environment
// fall-backs.
type Config struct {
	DB       string // sqlite:PATH or postgres://…
	Index    string // qdrant://host:port/prefix: vectors in Qdrant, the rest in DB; empty: vectors in DB
	Embedder string // builtin
	LLM      string // extractive
	Addr     string // serve: HOST:PORT
	LogLevel string // debug, info, warn, error

	CrossTenant string        // off or anonymized: other tenants' cases as redacted precedent
	Weights     string        // retrieval weights, e.g. "text=1.5,priors=0"; empty: the defaults
	LLMFallback bool          // draft extractively, marked, when the model is unavailable
	LLMTimeout  time.Duration // per model request
}

// Main is one invocation of the program: its configuration, its streams, and what it opened.
type Main struct {
	Config Config
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Logger *slog.Logger

	db  Store
	emb hindsight.Embedder
}

// Store is everything the commands use of a store. Every backend implements all of it.
type Store interface {
	ingest.Store
	retrieval.Index
	api.Store
	CreateKey(ctx context.Context, tenant string, role hindsight.Role) (string, *hindsight.Key, error)
	FindKeys(ctx context.Context, tenant string) ([]*hindsight.Key, error)
	Close() error
}

// exitError carries an exit status other than exitFailed out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// Run runs the program with args and returns its exit status.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	m := &Main{Stdin: stdin, Stdout: stdout, Stderr: stderr}
	defer m.Close()
	root := m.rootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) && ee.err == nil {
		return ee.code
	}
	fmt.Fprintln(stderr, "hindsight:", err)
	switch {
	case errors.As(err, &ee):
		return ee.code
	case isUsageError(err):
		return exitUsage
	}
	return exitFailed
}

// usageError marks errors in flags or arguments.
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }

func isUsageError(err error) bool {
	var u usageError
	return errors.As(err, &u)
}

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func (m *Main) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "hindsight",
		Short: "Grounded, cited security recommendations from your team's worked threats",
		Long: `Hindsight indexes worked threats (analytics that fired, ATT&CK techniques, the guidance that was
sent) and, for a new threat, retrieves the most similar past cases and knowledge and drafts
remediation, threat-hunting or hardening recommendations in which every recommendation cites its
sources.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return m.setup()
		},
	}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&m.Config.DB, "db", env("HINDSIGHT_DB", "sqlite:./hindsight.db"), "store: sqlite:PATH or postgres://USER@HOST:PORT/DATABASE (env HINDSIGHT_DB)")
	pf.StringVar(&m.Config.Index, "index", env("HINDSIGHT_INDEX", ""), "vector index: qdrant://HOST:6334/COLLECTION_PREFIX[?shards=N&replicas=N&on_disk=true&quantization=int8&tls=true] (env HINDSIGHT_INDEX; API key from HINDSIGHT_QDRANT_API_KEY); default: vectors in --db")
	pf.StringVar(&m.Config.Embedder, "embedder", env("HINDSIGHT_EMBEDDER", "builtin"), "embedder: builtin or ollama:MODEL, e.g. ollama:nomic-embed-text (env HINDSIGHT_EMBEDDER; Ollama's address from OLLAMA_HOST)")
	pf.StringVar(&m.Config.LLM, "llm", env("HINDSIGHT_LLM", "extractive"), "drafter: extractive or ollama:MODEL, e.g. ollama:llama3.1:8b (env HINDSIGHT_LLM)")
	pf.StringVar(&m.Config.Weights, "weights", env("HINDSIGHT_WEIGHTS", ""), `retrieval weights, e.g. "vector=1,text=1.5,indicator=0.25,technique=0.5,priors=0.3,diversity=0.3" (env HINDSIGHT_WEIGHTS; measure with hindsight eval retrieval)`)
	pf.StringVar(&m.Config.CrossTenant, "cross-tenant", env("HINDSIGHT_CROSS_TENANT", "off"), "off, or anonymized: other tenants' cases may ground drafts after every identifying detail is redacted, cited by opaque IDs (env HINDSIGHT_CROSS_TENANT)")
	pf.BoolVar(&m.Config.LLMFallback, "llm-fallback", env("HINDSIGHT_LLM_FALLBACK", "") == "true", "when the model is unavailable, draft with the extractive drafter and mark the draft (env HINDSIGHT_LLM_FALLBACK=true)")
	pf.DurationVar(&m.Config.LLMTimeout, "llm-timeout", 2*time.Minute, "longest wait for one model request")
	pf.StringVar(&m.Config.LogLevel, "log-level", env("HINDSIGHT_LOG_LEVEL", "info"), "log level: debug, info, warn or error (env HINDSIGHT_LOG_LEVEL)")
	ev := m.evalCommand()
	ev.AddCommand(m.evalRetrievalCommand())
	root.AddCommand(m.ingestCommand(), m.searchCommand(), m.draftCommand(), m.keysCommand(), m.serveCommand(),
		m.demoCommand(), m.genCommand(), ev, m.migrateCommand())
	return root
}

// setup validates the shared configuration and builds the logger.
func (m *Main) setup() error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(m.Config.LogLevel)); err != nil {
		return usagef("--log-level: want debug, info, warn or error, got %q", m.Config.LogLevel)
	}
	m.Logger = slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{Level: level}))
	if e := m.Config.Embedder; e != "builtin" && !strings.HasPrefix(e, "ollama:") {
		return usagef("--embedder: want builtin or ollama:MODEL, got %q", e)
	}
	if l := m.Config.LLM; l != "extractive" && !strings.HasPrefix(l, "ollama:") {
		return usagef("--llm: want extractive or ollama:MODEL, got %q", l)
	}
	if c := m.Config.CrossTenant; c != "" && c != "off" && c != "anonymized" {
		return usagef("--cross-tenant: want off or anonymized, got %q", c)
	}
	return nil
}

// Close closes what the invocation opened.
func (m *Main) Close() error {
	if m.db != nil {
		return m.db.Close()
	}
	return nil
}

// openDB opens the store named by --db, with its vectors in the index named by --index when one
// is given.
func (m *Main) openDB(ctx context.Context) (Store, error) {
	if m.db != nil {
		return m.db, nil
	}
	// The store alone, and the same store as the catalog a vector index pairs with.
	var store Store
	var catalog qdrant.Catalog
	switch {
	case strings.HasPrefix(m.Config.DB, "sqlite:"):
		path := strings.TrimPrefix(m.Config.DB, "sqlite:")
		if path == "" {
			return nil, usagef("--db: sqlite: needs a file path, as in sqlite:./hindsight.db")
		}
		s, err := sqlite.Open(ctx, path, m.Logger)
		if err != nil {
			return nil, fmt.Errorf("open store %s: %w", path, err)
		}
		store, catalog = s, s
	case strings.HasPrefix(m.Config.DB, "postgres://"), strings.HasPrefix(m.Config.DB, "postgresql://"):
		// The URL may hold a password: errors name the store, never the URL.
		s, err := postgres.Open(ctx, m.Config.DB, m.Logger)
		if err != nil {
			return nil, fmt.Errorf("open postgres store: %w", err)
		}
		store, catalog = s, s
	default:
		return nil, usagef("--db: want sqlite:PATH or postgres://USER@HOST/DATABASE, got %q", m.Config.DB)
	}
	if m.Config.Index == "" {
		m.db = store
		return m.db, nil
	}
	opts, err := qdrant.ParseURL(m.Config.Index)
	if err != nil {
		catalog.Close()
		return nil, usageError{fmt.Errorf("--index: %w", err)}
	}
	opts.APIKey = os.Getenv("HINDSIGHT_QDRANT_API_KEY")
	idx, err := qdrant.Open(ctx, catalog, opts, m.Logger)
	if err != nil {
		catalog.Close()
		return nil, fmt.Errorf("open qdrant index: %w", err)
	}
	m.db = idx
	return m.db, nil
}

// services opens the store and builds the retriever and drafter over it.
func (m *Main) services(ctx context.Context) (Store, *retrieval.Retriever, *draft.Drafter, error) {
	db, err := m.openDB(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	emb, err := m.embedder(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	gen, err := m.generator()
	if err != nil {
		return nil, nil, nil, err
	}
	r := retrieval.NewRetriever(db, emb)
	if m.Config.Weights != "" {
		w, err := retrieval.ParseWeights(m.Config.Weights, r.Weights())
		if err != nil {
			return nil, nil, nil, usageError{fmt.Errorf("--weights: %w", err)}
		}
		r = r.WithWeights(w)
	}
	var d *draft.Drafter
	if gen != nil {
		d = draft.New(r, gen)
	} else {
		d = draft.New(r, nil)
	}
	d.Fallback = m.Config.LLMFallback
	d.CrossTenant = m.Config.CrossTenant == "anonymized"
	return db, r, d, nil
}

// parseKinds validates --kind values.
func parseKinds(ss []string) ([]hindsight.Kind, error) {
	var out []hindsight.Kind
	for _, s := range ss {
		k := hindsight.Kind(s)
		if !k.Valid() {
			return nil, usagef("--kind: unknown kind %q", s)
		}
		out = append(out, k)
	}
	return out, nil
}
