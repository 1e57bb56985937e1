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
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/draft"
	"github.com/hindsightsec/hindsight/eval"
	"github.com/hindsightsec/hindsight/ingest"
	"github.com/hindsightsec/hindsight/ollama"
	"github.com/hindsightsec/hindsight/retrieval"
	"github.com/hindsightsec/hindsight/store/sqlite"
	"github.com/spf13/cobra"
)

// exitGate is the exit status of eval compare when a gate is broken, so that CI can tell a
// regression (4) from a failure to run (1) or a usage error (2).
const exitGate = 4

// evalStore is what eval run needs of a store beyond Store. It is asked for by a type assertion so
// that a backend without eval support still runs every other command.
type evalStore interface {
	FindPairs(ctx context.Context, f eval.PairFilter) ([]eval.StoredPair, error)
	SaveEvalReport(ctx context.Context, r *eval.Report) error
}

var _ evalStore = (*sqlite.DB)(nil)

func (m *Main) evalCommand() *cobra.Command {
	ev := &cobra.Command{Use: "eval", Short: "Score drafts against what reviewers shipped"}
	ev.AddCommand(m.evalScoreCommand(), m.evalRunCommand(), m.evalReplayCommand(), m.evalCompareCommand())
	return ev
}

func (m *Main) evalScoreCommand() *cobra.Command {
	var metric, hyp string
	var refs []string
	var asJSON bool
	score := &cobra.Command{
		Use:   "score --metric ter|chrf|chrf++|bleu|rouge-l --hyp FILE --ref FILE [--ref FILE]... [--json]",
		Short: "Corpus score of line-aligned hypotheses against one or more references, as sacrebleu computes it",
		RunE: func(cmd *cobra.Command, args []string) error {
			if hyp == "" || len(refs) == 0 {
				return usagef("--hyp and at least one --ref are required")
			}
			hyps, err := readLines(hyp)
			if err != nil {
				return err
			}
			var refStreams [][]string
			for _, r := range refs {
				lines, err := readLines(r)
				if err != nil {
					return err
				}
				refStreams = append(refStreams, lines)
			}
			s, err := eval.CorpusScore(metric, hyps, refStreams)
			if err != nil {
				return usageError{err}
			}
			if asJSON {
				return writeJSON(m.Stdout, map[string]any{"metric": metric, "score": s})
			}
			fmt.Fprintf(m.Stdout, "%s = %.2f\n", metric, s)
			return nil
		},
	}
	f := score.Flags()
	f.StringVar(&metric, "metric", "", "ter, chrf, chrf++, bleu or rouge-l")
	f.StringVar(&hyp, "hyp", "", "file of hypotheses, one segment a line")
	f.StringArrayVar(&refs, "ref", nil, "file of references, line-aligned with --hyp (repeatable)")
	f.BoolVar(&asJSON, "json", false, `print {"metric", "score"}`)
	return score
}

// reportFlags are the flags eval run and eval replay share.
type reportFlags struct {
	seed      uint64
	bootstrap int
	out       string
	asJSON    bool
	save      bool
}

func (rf *reportFlags) add(cmd *cobra.Command, saveDefault bool, saveHelp string) {
	f := cmd.Flags()
	f.Uint64Var(&rf.seed, "seed", 1, "seed of the bootstrap: the same seed and drafts give the same intervals")
	f.IntVar(&rf.bootstrap, "bootstrap", eval.DefaultBootstrap, "bootstrap resamples per confidence interval (0: no intervals)")
	f.StringVar(&rf.out, "out", "", "write report.json, report.md and report.html into this folder")
	f.BoolVar(&rf.asJSON, "json", false, "print the whole report as JSON instead of the Markdown summary")
	f.BoolVar(&rf.save, "save", saveDefault, saveHelp)
}

func (rf *reportFlags) validate() error {
	if rf.bootstrap < 0 {
		return usagef("--bootstrap: must be 0 or more, got %d", rf.bootstrap)
	}
	return nil
}

// resamples turns --bootstrap into eval's convention, in which 0 means the default.
func (rf *reportFlags) resamples() int {
	if rf.bootstrap == 0 {
		return -1
	}
	return rf.bootstrap
}

func (m *Main) evalRunCommand() *cobra.Command {
	var rf reportFlags
	var fromStore bool
	var pairsFile, tenant, since, until string
	var kinds []string
	cmd := &cobra.Command{
		Use:   "run [--from-store | --pairs FILE] [--tenant T] [--kind K]... [--seed S] [--bootstrap N] [--out DIR] [--json]",
		Short: "Score drafts against the finals reviewers shipped, per draft and per model, prompt, kind, tenant and tactic",
		Long: `Scores every reviewed draft in the store (the default, or --from-store) or every pair of an
eval-pairs JSONL file (--pairs) against its reviewer's final text: TER (HTER, since the final is
the reviewer's edit of that very draft), character edit distance, shipped unchanged, chrF,
chrF++, BLEU, ROUGE-L, meaning (cosine under --embedder), recommendation precision and recall with
the removed, added and rewritten recommendations, hedges removed and added, citations and
support, and the reviewer's ratings. A draft with several reviews is scored against its latest.

Means come with 95% percentile bootstrap intervals, overall and per drafter (model and prompt
version), model, prompt version, draft kind, tenant, ATT&CK tactic and month; the same --seed gives
the same intervals. Tactics come from the ATT&CK technique documents in the store (their tactic:
tags) and otherwise from a built-in table.

With --from-store the report is also stored (turn off with --save=false): the report over all
tenants, served to none, and one report per tenant of only its drafts, which GET
/v1/eval/reports/latest serves to that tenant.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if len(args) > 0 {
				return usagef("eval run takes no arguments; give --pairs FILE or --from-store")
			}
			if err := rf.validate(); err != nil {
				return err
			}
			if fromStore && pairsFile != "" {
				return usagef("--from-store and --pairs exclude each other")
			}
			dks, err := parseDraftKinds(kinds)
			if err != nil {
				return err
			}
			var sinceT, untilT time.Time
			if since != "" {
				if sinceT, err = parseEvalTime(since); err != nil {
					return usagef("--since: %v", err)
				}
			}
			if until != "" {
				if untilT, err = parseEvalTime(until); err != nil {
					return usagef("--until: %v", err)
				}
			}
			var inputs []eval.Input
			var source string
			var db Store
			if pairsFile != "" {
				source = "pairs:" + pairsFile
				if inputs, err = readPairInputs(pairsFile); err != nil {
					return err
				}
				inputs = filterInputs(inputs, tenant, dks, sinceT, untilT)
				// The store is consulted for ATT&CK tactics only when one was named, so that scoring
				// a file does not create a database.
				if cmd.Flags().Changed("db") || os.Getenv("HINDSIGHT_DB") != "" {
					if db, err = m.openDB(ctx); err != nil {
						return err
					}
				}
			} else {
				source = "store"
				if db, err = m.openDB(ctx); err != nil {
					return err
				}
				es, ok := db.(evalStore)
				if !ok {
					return errors.New("the configured store does not keep eval pairs and reports yet; give --pairs FILE")
				}
				pairs, err := es.FindPairs(ctx, eval.PairFilter{Tenant: tenant, Kinds: dks, Since: sinceT, Until: untilT})
				if err != nil {
					return err
				}
				for _, p := range pairs {
					inputs = append(inputs, eval.InputFromStored(p))
				}
			}
			if len(inputs) == 0 {
				return errors.New("no reviewed drafts to score: review drafts (POST /v1/drafts/{id}/reviews), import eval pairs (hindsight ingest --format pairs) or give --pairs FILE")
			}
			report, err := m.scoreReport(ctx, db, inputs, eval.ReportConfig{Kind: eval.ReportRun, Source: source, Seed: rf.seed, Bootstrap: rf.resamples()})
			if err != nil {
				return err
			}
			saveRequested := rf.save
			if pairsFile != "" && !cmd.Flags().Changed("save") {
				saveRequested = false
			}
			if saveRequested {
				if err := m.saveReport(ctx, report); err != nil {
					return err
				}
			}
			return m.emitReport(report, rf)
		},
	}
	rf.add(cmd, true, "store the report (--from-store: on unless --save=false; --pairs: off unless --save)")
	f := cmd.Flags()
	f.BoolVar(&fromStore, "from-store", false, "score the reviewed drafts in the store (the default)")
	f.StringVar(&pairsFile, "pairs", "", "score an eval-pairs JSONL file instead of the store")
	f.StringVar(&tenant, "tenant", "", "only this tenant's drafts (default: every tenant)")
	f.StringArrayVar(&kinds, "kind", nil, "only drafts of this kind: remediation, hunting or hardening (repeatable)")
	f.StringVar(&since, "since", "", "only drafts made at or after this time (RFC 3339 or YYYY-MM-DD)")
	f.StringVar(&until, "until", "", "only drafts made before this time (RFC 3339 or YYYY-MM-DD)")
	return cmd
}

// scoreReport scores inputs under the configured embedder, with tactics from the store's ATT&CK
// technique documents over the built-in table, and aggregates them.
func (m *Main) scoreReport(ctx context.Context, db documentFinder, inputs []eval.Input, cfg eval.ReportConfig) (*eval.Report, error) {
	emb, err := m.embedder(ctx)
	if err != nil {
		return nil, err
	}
	tactics := eval.BuiltinTactics()
	if db != nil {
		if err := addStoreTactics(ctx, db, tactics, inputs); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	results, err := eval.Score(ctx, inputs, eval.Options{Embedder: emb, Tactics: tactics})
	if err != nil {
		return nil, err
	}
	m.Logger.Info("drafts scored", "drafts", len(results), "seconds", time.Since(start).Seconds())
	cfg.Embedder = emb.Space().String()
	return eval.NewReport(results, cfg), nil
}

// documentFinder is the part of a store that tactics are read from.
type documentFinder interface {
	FindDocuments(ctx context.Context, keys []hindsight.DocKey) (map[hindsight.DocKey]*hindsight.Document, error)
}

// addStoreTactics lays the tactics of the ATT&CK technique documents in the store (each technique
// the inputs name, and its parent) over t.
func addStoreTactics(ctx context.Context, db documentFinder, t eval.Tactics, inputs []eval.Input) error {
	seen := map[string]bool{}
	var keys []hindsight.DocKey
	for _, in := range inputs {
		for _, id := range in.Techniques {
			for _, k := range []string{id, hindsight.ParentTechnique(id)} {
				if !seen[k] {
					seen[k] = true
					keys = append(keys, hindsight.DocKey{Kind: hindsight.KindTechnique, ID: k})
				}
			}
		}
	}
	if len(keys) == 0 {
		return nil
	}
	docs, err := db.FindDocuments(ctx, keys)
	if err != nil {
		return fmt.Errorf("read ATT&CK techniques: %w", err)
	}
	list := make([]*hindsight.Document, 0, len(docs))
	for _, d := range docs {
		list = append(list, d)
	}
	t.AddDocuments(list)
	return nil
}

// saveReport stores the report in --db: the whole report and, when it spans several tenants, one
// report per tenant of only that tenant's drafts, which is what the API serves.
func (m *Main) saveReport(ctx context.Context, r *eval.Report) error {
	db, err := m.openDB(ctx)
	if err != nil {
		return err
	}
	es, ok := db.(evalStore)
	if !ok {
		return errors.New("the configured store does not keep eval reports yet; use --save=false")
	}
	if err := es.SaveEvalReport(ctx, r); err != nil {
		return err
	}
	if len(r.Tenants) > 1 {
		for _, t := range r.Tenants {
			if tr := r.ForTenant(t); tr != nil {
				if err := es.SaveEvalReport(ctx, tr); err != nil {
					return err
				}
			}
		}
	}
	m.Logger.Info("eval report stored", "id", r.ID, "tenants", len(r.Tenants))
	return nil
}

// emitReport writes the report files and prints the report.
func (m *Main) emitReport(r *eval.Report, rf reportFlags) error {
	if rf.out != "" {
		if err := r.WriteFiles(rf.out); err != nil {
			return err
		}
		m.Logger.Info("eval report written", "dir", rf.out)
	}
	if rf.asJSON {
		return r.WriteJSON(m.Stdout)
	}
	return r.WriteMarkdown(m.Stdout)
}

func parseDraftKinds(ss []string) ([]hindsight.DraftKind, error) {
	var out []hindsight.DraftKind
	for _, s := range ss {
		for _, p := range strings.Split(s, ",") {
			k := hindsight.DraftKind(strings.TrimSpace(p))
			if !k.Valid() {
				return nil, usagef("--kind: want remediation, hunting or hardening, got %q", p)
			}
			if !slices.Contains(out, k) {
				out = append(out, k)
			}
		}
	}
	return out, nil
}

// parseEvalTime reads RFC 3339 or a date (midnight UTC).
func parseEvalTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}, fmt.Errorf("want RFC 3339 (2024-01-31T00:00:00Z) or a date (2024-01-31), got %q", s)
	}
	return t, nil
}

// readPairInputs reads an eval-pairs JSONL file. Any invalid line fails the read, each reported as
// file:line: field: reason: a score over part of a file would not be the file's score.
func readPairInputs(path string) ([]eval.Input, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []eval.Input
	rejected, err := ingest.ReadPairs(f, path, "", func(r ingest.Record) error {
		out = append(out, eval.InputFromPair(*r.Pair))
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(rejected) > 0 {
		var lines []string
		for _, r := range rejected {
			lines = append(lines, r.String())
		}
		return nil, fmt.Errorf("%d invalid eval pairs:\n%s", len(rejected), strings.Join(lines, "\n"))
	}
	return out, nil
}

func filterInputs(in []eval.Input, tenant string, kinds []hindsight.DraftKind, since, until time.Time) []eval.Input {
	var out []eval.Input
	for _, x := range in {
		switch {
		case tenant != "" && x.Tenant != tenant:
		case len(kinds) > 0 && !slices.Contains(kinds, x.Kind):
		case !since.IsZero() && x.CreatedAt.Before(since):
		case !until.IsZero() && !x.CreatedAt.Before(until):
		default:
			out = append(out, x)
		}
	}
	return out
}

func (m *Main) evalReplayCommand() *cobra.Command {
	var rf reportFlags
	var before string
	var history, kinds, drafters []string
	var useSample bool
	var k, limit int
	cmd := &cobra.Command{
		Use:   "replay --before T (--history DIR|FILE... | --sample) [--kind K]... [--drafter D]... [--out DIR] [--json]",
		Short: "Draft for every threat after T from only the history before T, and score against what was sent",
		Long: `Indexes only the history that happened before --before (canonical JSONL records: threats with
occurred_at before T, and all knowledge) into a fresh temporary embedded store, then drafts for
every later threat with each --drafter (default: --llm), without the threat's own guidance, and
scores each draft against the guidance that was actually sent (the threat's remediation, hunting or
hardening field). The draft is scored as its recommendations in a "- " list, without heading or
citations, the form of the guidance it is compared with; its TER is plain TER, not HTER, since the
guidance was written without it. The report slices by drafter like eval run.

History: JSONL files, or folders walked for *.jsonl and *.ndjson; lines that are not canonical
records (an eval-pairs or judgments file beside them) are skipped and counted. Other files named
directly (an ATT&CK STIX bundle, Sigma rules) are indexed whole as knowledge. --sample replays the
built-in sample history.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			history = append(history, args...)
			if err := rf.validate(); err != nil {
				return err
			}
			if before == "" {
				return usagef("--before is required: the time that splits indexed history from replayed threats")
			}
			cut, err := parseEvalTime(before)
			if err != nil {
				return usagef("--before: %v", err)
			}
			if len(history) == 0 && !useSample {
				return usagef("give the history to replay with --history DIR|FILE (repeatable) or --sample")
			}
			if k < 1 || k > retrieval.MaxK {
				return usagef("--k: must be between 1 and %d, got %d", retrieval.MaxK, k)
			}
			dks, err := parseDraftKinds(kinds)
			if err != nil {
				return err
			}
			if len(dks) == 0 {
				dks = []hindsight.DraftKind{hindsight.DraftRemediation}
			}
			if len(drafters) == 0 {
				drafters = []string{m.Config.LLM}
			}
			for _, d := range drafters {
				if d != "extractive" && !strings.HasPrefix(d, "ollama:") {
					return usagef("--drafter: want extractive or ollama:MODEL, got %q", d)
				}
			}
			report, err := m.replay(ctx, replayConfig{before: cut, history: history, sample: useSample, kinds: dks,
				drafters: drafters, k: k, limit: limit}, rf)
			if err != nil {
				return err
			}
			if rf.save {
				if err := m.saveReport(ctx, report); err != nil {
					return err
				}
			}
			return m.emitReport(report, rf)
		},
	}
	rf.add(cmd, false, "store the report in --db")
	f := cmd.Flags()
	f.StringVar(&before, "before", "", "index history before this time, replay threats from it on (RFC 3339 or YYYY-MM-DD); required")
	f.StringArrayVar(&history, "history", nil, "history to replay: a JSONL file or a folder (repeatable)")
	f.BoolVar(&useSample, "sample", false, "replay the built-in sample history")
	f.StringArrayVar(&kinds, "kind", nil, "draft kinds to replay: remediation (default), hunting, hardening (repeatable)")
	f.StringArrayVar(&drafters, "drafter", nil, "drafter: extractive or ollama:MODEL (repeatable; default --llm)")
	f.IntVar(&k, "k", 8, "sources retrieved per draft")
	f.IntVar(&limit, "limit", 0, "replay only the first N threats from --before on (0: all)")
	return cmd
}

type replayConfig struct {
	before   time.Time
	history  []string
	sample   bool
	kinds    []hindsight.DraftKind
	drafters []string
	k, limit int
}

// replay runs eval replay and returns its report.
func (m *Main) replay(ctx context.Context, cfg replayConfig, rf reportFlags) (*eval.Report, error) {
	tmp, err := os.MkdirTemp("", "hindsight-replay-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	paths := slices.Clone(cfg.history)
	if cfg.sample {
		dir := filepath.Join(tmp, "sample")
		if err := writeSample(dir); err != nil {
			return nil, err
		}
		paths = append(paths, dir)
	}
	split, err := splitHistory(paths, cfg.before)
	if err != nil {
		return nil, err
	}
	// Threats are replayed in the order they happened; the limit keeps the earliest.
	sort.SliceStable(split.later, func(i, j int) bool { return split.later[i].OccurredAt.Before(split.later[j].OccurredAt) })
	if cfg.limit > 0 && len(split.later) > cfg.limit {
		split.later = split.later[:cfg.limit]
	}
	if len(split.later) == 0 {
		return nil, fmt.Errorf("no threat with guidance happened at or after %s in the history", cfg.before.Format(time.RFC3339))
	}
	indexFile := filepath.Join(tmp, "history.jsonl")
	if err := writeDocs(indexFile, split.earlier); err != nil {
		return nil, err
	}
	db, err := sqlite.Open(ctx, filepath.Join(tmp, "replay.db"), m.Logger)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	emb, err := m.embedder(ctx)
	if err != nil {
		return nil, err
	}
	run, err := ingest.New(db, emb, m.Logger).Run(ctx, append([]string{indexFile}, split.other...), ingest.Options{})
	if err != nil {
		return nil, fmt.Errorf("index the history before %s: %w", cfg.before.Format("2006-01-02"), err)
	}
	for _, r := range run.Rejected {
		m.Logger.Warn("replay: history record not indexed", "at", r.String())
	}
	retr := retrieval.NewRetriever(db, emb)
	info := &eval.ReplayInfo{Before: cfg.before, History: cfg.history, Indexed: run.Inserted + run.Updated + run.Unchanged,
		Threats: len(split.later), Skipped: split.skipped, K: cfg.k, Drafters: cfg.drafters}
	if cfg.sample {
		info.History = append(info.History, "built-in sample")
	}
	for _, kd := range cfg.kinds {
		info.Kinds = append(info.Kinds, string(kd))
	}
	var inputs []eval.Input
	start := time.Now()
	for _, name := range cfg.drafters {
		gen, err := m.generatorNamed(name)
		if err != nil {
			return nil, err
		}
		var dr *draft.Drafter
		if gen != nil {
			dr = draft.New(retr, gen)
		} else {
			dr = draft.New(retr, nil)
		}
		dr.Fallback = m.Config.LLMFallback
		dr.CrossTenant = m.Config.CrossTenant == "anonymized"
		for i, t := range split.later {
			for _, kd := range cfg.kinds {
				sent := t.Guidance(kd)
				if strings.TrimSpace(sent) == "" {
					continue
				}
				in, err := replayOne(ctx, dr, t, kd, sent, cfg.k)
				if err != nil {
					if ctx.Err() != nil {
						return nil, ctx.Err()
					}
					// A model that is down fails every draft alike: stop rather than count them.
					if hindsight.ErrorCode(err) == hindsight.EUNAVAILABLE {
						return nil, fmt.Errorf("drafter %s: %w", name, err)
					}
					info.Failed++
					m.Logger.Warn("replay: drafting failed", "threat", t.ID, "kind", kd, "drafter", name, "err", err)
					continue
				}
				inputs = append(inputs, in)
			}
			if (i+1)%100 == 0 {
				m.Logger.Info("replay progress", "drafter", name, "threats", i+1, "of", len(split.later), "seconds", time.Since(start).Seconds())
			}
		}
	}
	info.Drafted = len(inputs)
	if len(inputs) == 0 {
		return nil, fmt.Errorf("replay made no draft (%d failed)", info.Failed)
	}
	source := "replay before " + cfg.before.Format(time.RFC3339) + " of " + strings.Join(info.History, ", ")
	report, err := m.scoreReport(ctx, db, inputs, eval.ReportConfig{Kind: eval.ReportReplay, Source: source, Seed: rf.seed, Bootstrap: rf.resamples()})
	if err != nil {
		return nil, err
	}
	report.Replay = info
	return report, nil
}

// replayOne drafts for a threat as it was known when it arrived — without the guidance that was
// sent for it, which the drafter must not see — and turns the draft into an input scored against
// what was sent.
func replayOne(ctx context.Context, dr *draft.Drafter, t *hindsight.Document, kind hindsight.DraftKind, sent string, k int) (eval.Input, error) {
	threat := *t
	threat.Remediation, threat.Hunting, threat.Hardening = "", "", ""
	threat.Metadata = nil
	d, err := dr.Draft(ctx, draft.Request{Tenant: t.Tenant, Kind: kind, Threat: &threat, K: k})
	if err != nil {
		return eval.Input{}, err
	}
	var b strings.Builder
	for _, r := range d.Recommendations {
		b.WriteString("- " + r.Text + "\n")
	}
	return eval.Input{
		ID: t.ID + "/" + string(kind) + "/" + d.Model, ThreatID: t.ID, Kind: kind, Model: d.Model, PromptVersion: d.PromptVersion,
		Tenant: t.Tenant, Techniques: t.Techniques, CreatedAt: t.OccurredAt, Draft: strings.TrimSuffix(b.String(), "\n"),
		Final: sent, Reference: eval.ReferenceSent, Recommendations: d.Recommendations,
	}, nil
}

// historySplit is the history divided at the replay's cut.
type historySplit struct {
	earlier []*hindsight.Document // knowledge and threats before the cut: indexed
	later   []*hindsight.Document // threats at or after the cut: replayed
	other   []string              // files of other formats, indexed whole as knowledge
	skipped int                   // lines that are not canonical records, and threats without a time
}

// splitHistory reads the canonical records of paths and splits them at cut.
func splitHistory(paths []string, cut time.Time) (*historySplit, error) {
	s := &historySplit{}
	read := func(path string) error {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		rejected, err := ingest.ReadJSONL(f, path, "", func(r ingest.Record) error {
			d := r.Doc
			switch {
			case d == nil:
				s.skipped++
			case d.Kind != hindsight.KindThreat:
				s.earlier = append(s.earlier, d)
			case d.OccurredAt.IsZero():
				s.skipped++ // neither before nor after the cut
			case d.OccurredAt.Before(cut):
				s.earlier = append(s.earlier, d)
			case d.Remediation != "" || d.Hunting != "" || d.Hardening != "":
				s.later = append(s.later, d)
			}
			return nil
		})
		s.skipped += len(rejected)
		return err
	}
	isJSONL := func(p string) bool {
		l := strings.ToLower(p)
		return strings.HasSuffix(l, ".jsonl") || strings.HasSuffix(l, ".ndjson")
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, usageError{fmt.Errorf("--history: %w", err)}
		}
		if !st.IsDir() {
			if isJSONL(p) {
				if err := read(p); err != nil {
					return nil, err
				}
			} else {
				s.other = append(s.other, p)
			}
			continue
		}
		var files []string
		err = filepath.WalkDir(p, func(path string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if e.IsDir() && path != p && strings.HasPrefix(e.Name(), ".") {
				return filepath.SkipDir
			}
			if !e.IsDir() && isJSONL(path) {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("walk %s: %w", p, err)
		}
		sort.Strings(files)
		for _, f := range files {
			if err := read(f); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

// writeDocs writes documents as canonical JSONL for ingest.
func writeDocs(path string, docs []*hindsight.Document) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, d := range docs {
		if err := enc.Encode(d); err != nil {
			return err
		}
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// generatorNamed returns the model a --drafter names, or nil for the extractive drafter.
func (m *Main) generatorNamed(name string) (hindsight.Generator, error) {
	model, isOllama := strings.CutPrefix(name, "ollama:")
	if !isOllama {
		return nil, nil
	}
	c, err := m.ollama()
	if err != nil {
		return nil, err
	}
	return ollama.NewGenerator(c, model)
}

func (m *Main) evalCompareCommand() *cobra.Command {
	var gates []string
	var baseModel, candModel, out string
	var seed uint64
	var resample int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   `compare BASELINE CANDIDATE [--gate "ter:+2,recall:-0.05"]... [--out DIR] [--json]`,
		Short: "Paired comparison of two eval reports, with intervals per metric and slice, and gates for CI",
		Long: `Compares two report.json files of eval run or eval replay (or eval-pairs files, which are scored
first) on the drafts they share: the same draft ID, or for replays the same threat and draft kind.
For every metric it reports the mean change candidate − baseline with a 95% paired bootstrap
interval, overall and per draft kind, tenant and ATT&CK tactic.

` + wrapText(eval.GateConvention, 100) + `

Exit status: 0 when every gate passed (or none was given), 4 when a gate failed, 2 for bad flags or
arguments, 1 when the comparison could not be made. A replay with several drafters holds each threat
once per drafter: pick one with --baseline-model or --candidate-model.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if len(args) != 2 {
				return usagef("compare: give BASELINE and CANDIDATE, each a report.json or an eval-pairs file")
			}
			if resample < 0 {
				return usagef("--bootstrap: must be 0 or more, got %d", resample)
			}
			var gs []eval.Gate
			for _, g := range gates {
				parsed, err := eval.ParseGates(g)
				if err != nil {
					return usagef("--gate: %v", err)
				}
				gs = append(gs, parsed...)
			}
			base, err := m.loadReport(ctx, args[0])
			if err != nil {
				return err
			}
			cand, err := m.loadReport(ctx, args[1])
			if err != nil {
				return err
			}
			if baseModel != "" {
				if base, err = base.FilterModel(baseModel); err != nil {
					return usageError{fmt.Errorf("--baseline-model: %w", err)}
				}
			}
			if candModel != "" {
				if cand, err = cand.FilterModel(candModel); err != nil {
					return usageError{fmt.Errorf("--candidate-model: %w", err)}
				}
			}
			if resample == 0 {
				resample = -1
			}
			c, err := eval.Compare(base, cand, eval.CompareOptions{Seed: seed, Bootstrap: resample, Gates: gs})
			if err != nil {
				return err
			}
			if c.Shared == 0 {
				return fmt.Errorf("%s and %s share no draft (by draft ID, or threat and kind for replays)", args[0], args[1])
			}
			if out != "" {
				if err := os.MkdirAll(out, 0o755); err != nil {
					return err
				}
				var j, md bytes.Buffer
				if err := writeJSON(&j, c); err != nil {
					return err
				}
				if err := c.WriteMarkdown(&md); err != nil {
					return err
				}
				if err := os.WriteFile(filepath.Join(out, "compare.json"), j.Bytes(), 0o644); err != nil {
					return err
				}
				if err := os.WriteFile(filepath.Join(out, "compare.md"), md.Bytes(), 0o644); err != nil {
					return err
				}
			}
			if asJSON {
				if err := writeJSON(m.Stdout, c); err != nil {
					return err
				}
			} else if err := c.WriteMarkdown(m.Stdout); err != nil {
				return err
			}
			var failed []string
			for _, g := range c.Gates {
				status := "passed"
				if !g.Passed {
					status = "FAILED"
					failed = append(failed, g.Gate)
				}
				fmt.Fprintf(m.Stderr, "gate %s: %s: %s\n", g.Gate, status, g.Reason)
			}
			if len(failed) > 0 {
				return &exitError{code: exitGate, err: fmt.Errorf("%d of %d gates failed: %s", len(failed), len(c.Gates), strings.Join(failed, ", "))}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&gates, "gate", nil, `gates "metric:delta,…" (repeatable), e.g. "ter:+2,recall:-0.05"`)
	f.StringVar(&baseModel, "baseline-model", "", `keep only the baseline's drafts of this model ("model" or "model prompt_version")`)
	f.StringVar(&candModel, "candidate-model", "", `keep only the candidate's drafts of this model ("model" or "model prompt_version")`)
	f.Uint64Var(&seed, "seed", 1, "seed of the bootstrap")
	f.IntVar(&resample, "bootstrap", eval.DefaultBootstrap, "bootstrap resamples per interval (0: no intervals)")
	f.StringVar(&out, "out", "", "write compare.json and compare.md into this folder")
	f.BoolVar(&asJSON, "json", false, "print the comparison as JSON instead of Markdown")
	return cmd
}

// loadReport reads a report.json, or scores an eval-pairs file into a report.
func (m *Main) loadReport(ctx context.Context, path string) (*eval.Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r eval.Report
	if err := json.Unmarshal(b, &r); err == nil && (r.Kind == eval.ReportRun || r.Kind == eval.ReportReplay) {
		return &r, nil
	}
	inputs, err := readPairInputs(path)
	if err != nil {
		return nil, fmt.Errorf("%s is neither a report.json of eval run or replay nor an eval-pairs file: %w", path, err)
	}
	if len(inputs) == 0 {
		return nil, fmt.Errorf("%s holds no eval pairs", path)
	}
	return m.scoreReport(ctx, nil, inputs, eval.ReportConfig{Kind: eval.ReportRun, Source: "pairs:" + path, Bootstrap: -1})
}

// wrapText breaks text into lines of at most width characters at spaces, for help texts.
func wrapText(text string, width int) string {
	var b strings.Builder
	n := 0
	for _, w := range strings.Fields(text) {
		switch {
		case n == 0:
		case n+1+len([]rune(w)) > width:
			b.WriteByte('\n')
			n = 0
		default:
			b.WriteByte(' ')
			n++
		}
		b.WriteString(w)
		n += len([]rune(w))
	}
	return b.String()
}

// readLines reads a file's lines as sacrebleu does: split on newlines, the final newline not
// starting another segment.
func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		out = append(out, strings.TrimRight(sc.Text(), "\r"))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return out, nil
}
