package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/eval"
	"github.com/hindsightsec/hindsight/ingest"
	"github.com/hindsightsec/hindsight/retrieval"
	"github.com/hindsightsec/hindsight/sample"
	"github.com/hindsightsec/hindsight/store/sqlite"
	"github.com/spf13/cobra"
)

// retrievalConfigs are the retrievers eval compares: the full hybrid, each signal alone, and the
// full hybrid without each refinement, so that every weight is justified by a measurement.
func retrievalConfigs(full retrieval.Weights) []struct {
	name string
	w    retrieval.Weights
} {
	only := func(w retrieval.Weights) retrieval.Weights { return w }
	without := func(mod func(*retrieval.Weights)) retrieval.Weights { w := full; mod(&w); return w }
	return []struct {
		name string
		w    retrieval.Weights
	}{
		{"full", full},
		{"vector only", only(retrieval.Weights{Vector: 1})},
		{"text only", only(retrieval.Weights{Text: 1})},
		{"indicator only", only(retrieval.Weights{Indicator: 1})},
		{"technique only", only(retrieval.Weights{Technique: 1})},
		{"vector+text (RRF)", only(retrieval.Weights{Vector: 1, Text: 1})},
		{"full without indicator", without(func(w *retrieval.Weights) { w.Indicator = 0 })},
		{"full without technique", without(func(w *retrieval.Weights) { w.Technique = 0 })},
		{"full without priors", without(func(w *retrieval.Weights) { w.Priors = 0 })},
		{"full without diversity", without(func(w *retrieval.Weights) { w.Diversity = 0 })},
	}
}

func (m *Main) evalRetrievalCommand() *cobra.Command {
	var corpus string
	var k, queries int
	var seed int64
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "retrieval [--corpus DIR] [--k N] [--queries N] [--json]",
		Short: "Measure retrieval (recall@k, MRR, nDCG@10) for the full retriever and each signal alone",
		Long: `Ingests a corpus with relevance judgments (the output of hindsight gen: threats.jsonl,
knowledge.jsonl, judgments.jsonl; default: the built-in sample) into a temporary embedded store,
then queries with each judged threat (its title, summary, events and techniques, the threat itself
excluded) and scores the rankings against the judgments.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if k < 1 || k > retrieval.MaxK {
				return usagef("--k: must be between 1 and %d, got %d", retrieval.MaxK, k)
			}
			tmp, err := os.MkdirTemp("", "hindsight-eval-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(tmp)
			if corpus == "" {
				corpus = filepath.Join(tmp, "sample")
				if err := writeSample(corpus); err != nil {
					return err
				}
				if err := copyEmbedded(sample.JudgmentsFile, filepath.Join(corpus, sample.JudgmentsFile)); err != nil {
					return err
				}
			}
			judgments, err := readJudgments(filepath.Join(corpus, "judgments.jsonl"))
			if err != nil {
				return err
			}
			if queries > 0 && queries < len(judgments) {
				r := rand.New(rand.NewPCG(uint64(seed), 0))
				r.Shuffle(len(judgments), func(i, j int) { judgments[i], judgments[j] = judgments[j], judgments[i] })
				judgments = judgments[:queries]
			}
			db, err := sqlite.Open(ctx, filepath.Join(tmp, "eval.db"), m.Logger)
			if err != nil {
				return err
			}
			defer db.Close()
			emb, err := m.embedder(ctx)
			if err != nil {
				return err
			}
			var files []string
			for _, f := range []string{"threats.jsonl", "knowledge.jsonl"} {
				files = append(files, filepath.Join(corpus, f))
			}
			if _, err := ingest.New(db, emb, m.Logger).Run(ctx, files, ingest.Options{}); err != nil {
				return fmt.Errorf("ingest %s: %w", corpus, err)
			}
			base := retrieval.NewRetriever(db, emb)
			if m.Config.Weights != "" {
				w, err := retrieval.ParseWeights(m.Config.Weights, base.Weights())
				if err != nil {
					return usageError{fmt.Errorf("--weights: %w", err)}
				}
				base = base.WithWeights(w)
			}
			type row struct {
				Config string `json:"config"`
				eval.RetrievalScores
			}
			var rows []row
			for _, c := range retrievalConfigs(base.Weights()) {
				r := base.WithWeights(c.w)
				s, err := eval.EvaluateRetrieval(ctx, judgments, k, func(ctx context.Context, j eval.Judgment) ([]string, error) {
					return rankThreat(ctx, db, r, j, k)
				})
				if err != nil {
					return fmt.Errorf("%s: %w", c.name, err)
				}
				rows = append(rows, row{c.name, s})
				m.Logger.Debug("retrieval config scored", "config", c.name, "ndcg", s.NDCG10)
			}
			if asJSON {
				return writeJSON(m.Stdout, map[string]any{"corpus": corpus, "k": k, "results": rows})
			}
			fmt.Fprintf(m.Stdout, "%d queries, k=%d, corpus %s\n\n", rows[0].Queries, k, corpus)
			fmt.Fprintf(m.Stdout, "%-24s %9s %7s %8s %8s %8s\n", "retriever", fmt.Sprintf("recall@%d", k), "MRR", "nDCG@10", "p50 ms", "p99 ms")
			for _, r := range rows {
				fmt.Fprintf(m.Stdout, "%-24s %9.3f %7.3f %8.3f %8.2f %8.2f\n", r.Config, r.RecallAtK, r.MRR, r.NDCG10, r.P50Millis, r.P99Millis)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&corpus, "corpus", "", "folder with threats.jsonl, knowledge.jsonl and judgments.jsonl (default: the built-in sample)")
	f.IntVar(&k, "k", 10, "cut-off for recall")
	f.IntVar(&queries, "queries", 0, "evaluate this many judged queries, drawn at random (0: all)")
	f.Int64Var(&seed, "seed", 1, "random seed for --queries")
	f.BoolVar(&asJSON, "json", false, "print the results as JSON")
	return cmd
}

// rankThreat queries with a judged threat as a detection engineer would see it when it arrived:
// its title, summary, events and techniques, not the guidance that was later sent.
func rankThreat(ctx context.Context, db *sqlite.DB, r *retrieval.Retriever, j eval.Judgment, k int) ([]string, error) {
	key := hindsight.DocKey{Tenant: j.Tenant, Kind: hindsight.KindThreat, ID: j.Query}
	docs, err := db.FindDocuments(ctx, []hindsight.DocKey{key})
	if err != nil {
		return nil, err
	}
	t := docs[key]
	if t == nil {
		return nil, fmt.Errorf("judged query %s of tenant %s is not in the corpus", j.Query, j.Tenant)
	}
	hits, err := r.Search(ctx, retrieval.Query{
		Text:       strings.Join(append([]string{t.Title, t.Summary}, t.Events...), "\n"),
		Techniques: t.Techniques, K: max(k, 10), Exclude: []hindsight.DocKey{key}, At: t.OccurredAt,
		Filter: hindsight.Filter{Tenant: j.Tenant},
	})
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(hits))
	for i, h := range hits {
		ids[i] = h.ID
	}
	return ids, nil
}

func readJudgments(path string) ([]eval.Judgment, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []eval.Judgment
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	for line := 1; sc.Scan(); line++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var j eval.Judgment
		if err := json.Unmarshal(sc.Bytes(), &j); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, line, err)
		}
		out = append(out, j)
	}
	return out, sc.Err()
}

func copyEmbedded(name, dst string) error {
	b, err := fs.ReadFile(sample.Files(), name)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}
