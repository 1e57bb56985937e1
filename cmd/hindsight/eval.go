package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/hindsightsec/hindsight/eval"
	"github.com/spf13/cobra"
)

func (m *Main) evalCommand() *cobra.Command {
	ev := &cobra.Command{Use: "eval", Short: "Score drafts against what reviewers shipped"}
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
	ev.AddCommand(score)
	return ev
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
