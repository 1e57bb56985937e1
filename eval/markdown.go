package eval

import (
	"fmt"
	"io"
	"strings"
)

// headline are the metrics the per-slice tables and charts show; the
// overall table shows every metric.
var headline = []string{MetricTER, MetricChrFPP, MetricBLEU, MetricMeaning, MetricPrecision, MetricRecall, MetricCited, MetricAccuracy}

// label returns a metric's label, with the report's name for its TER and an
// arrow for the direction in which it improves.
func label(info MetricInfo, terName string) string {
	l := info.Label
	if info.Name == MetricTER {
		l = terName
	}
	if info.LowerIsBetter() {
		return l + " ↓"
	}
	return l + " ↑"
}

// format renders a value at the precision its scale deserves.
func format(info MetricInfo, v float64) string {
	if info.Scale == "0-100" {
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.3f", v)
}

func formatStat(info MetricInfo, s Stat) string {
	return fmt.Sprintf("%s [%s, %s]", format(info, s.Mean), format(info, s.Lo), format(info, s.Hi))
}

func formatChange(info MetricInfo, s Stat) string {
	sign := func(v float64) string {
		t := format(info, v)
		if v >= 0 && !strings.HasPrefix(t, "-") {
			t = "+" + t
		}
		return t
	}
	return fmt.Sprintf("%s [%s, %s]", sign(s.Mean), sign(s.Lo), sign(s.Hi))
}

// present returns the metrics among names that some group of the report
// has, so tables carry no empty columns (a replay has no ratings).
func (r *Report) present(names []string) []MetricInfo {
	var out []MetricInfo
	for _, n := range names {
		info, _ := LookupMetric(n)
		if _, ok := r.Overall.Metrics[n]; ok {
			out = append(out, info)
		}
	}
	return out
}

func mdCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// WriteMarkdown writes the report's summary as Markdown fit for a pull
// request comment: the overall means with intervals, a table per
// dimension of the headline metrics, and the notes.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	ter := r.TERLabel()
	fmt.Fprintf(&b, "## Hindsight eval %s %s\n\n", r.Kind, r.ID)
	fmt.Fprintf(&b, "%d drafts from %s · tenants: %s · %s · %.0f%% intervals from %d bootstrap resamples (seed %d)\n\n",
		len(r.Drafts), mdCell(r.Source), mdCell(strings.Join(r.Tenants, ", ")), r.CreatedAt.Format("2006-01-02 15:04 UTC"),
		100*r.Confidence, r.Bootstrap, r.Seed)
	if rp := r.Replay; rp != nil {
		fmt.Fprintf(&b, "Replay before %s: %d documents indexed, %d later threats, %d drafts scored, %d failed (kinds: %s; drafters: %s; k = %d).\n\n",
			rp.Before.Format("2006-01-02"), rp.Indexed, rp.Threats, rp.Drafted, rp.Failed, strings.Join(rp.Kinds, ", "), strings.Join(rp.Drafters, ", "), rp.K)
	}
	b.WriteString("| metric | n | mean [95% CI] |\n| --- | ---: | --- |\n")
	for _, info := range r.present(metricNames()) {
		s := r.Overall.Metrics[info.Name]
		fmt.Fprintf(&b, "| %s | %d | %s |\n", mdCell(label(info, ter)), s.N, formatStat(info, s))
	}
	cols := r.present(headline)
	for _, dim := range Dimensions {
		groups := r.slicesOf(dim)
		if len(groups) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n### By %s\n\n| %s | n |", strings.ReplaceAll(dim, "_", " "), dim)
		for _, info := range cols {
			fmt.Fprintf(&b, " %s |", mdCell(label(info, ter)))
		}
		b.WriteString("\n| --- | ---: |" + strings.Repeat(" --- |", len(cols)) + "\n")
		for _, g := range groups {
			fmt.Fprintf(&b, "| %s | %d |", mdCell(g.Value), g.N)
			for _, info := range cols {
				if s, ok := g.Metrics[info.Name]; ok {
					fmt.Fprintf(&b, " %s |", formatStat(info, s))
				} else {
					b.WriteString(" – |")
				}
			}
			b.WriteString("\n")
		}
	}
	b.WriteString("\n### Notes\n\n")
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "- %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (r *Report) slicesOf(dim string) []Group {
	var out []Group
	for _, g := range r.Slices {
		if g.Dimension == dim {
			out = append(out, g)
		}
	}
	return out
}

func metricNames() []string {
	names := make([]string, len(metricInfos))
	for i, m := range metricInfos {
		names[i] = m.Name
	}
	return names
}

// WriteMarkdown writes the comparison as Markdown fit for a pull request
// comment: the gates, the overall differences and a table per slice.
func (c *Comparison) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "## Hindsight eval compare\n\nBaseline %s (%s, %s) vs candidate %s (%s, %s): %d shared drafts",
		c.Baseline.ID, mdCell(strings.Join(c.Baseline.Models, ", ")), mdCell(c.Baseline.Source),
		c.Candidate.ID, mdCell(strings.Join(c.Candidate.Models, ", ")), mdCell(c.Candidate.Source), c.Shared)
	if c.OnlyBaseline+c.OnlyCandidate > 0 {
		fmt.Fprintf(&b, " (%d only in the baseline, %d only in the candidate, left out)", c.OnlyBaseline, c.OnlyCandidate)
	}
	fmt.Fprintf(&b, " · %.0f%% intervals from %d bootstrap resamples (seed %d)\n\n", 100*c.Confidence, c.Bootstrap, c.Seed)
	if len(c.Gates) > 0 {
		b.WriteString("| gate | change | n | result |\n| --- | ---: | ---: | --- |\n")
		for _, g := range c.Gates {
			res := "✅ passed"
			if !g.Passed {
				res = "❌ failed"
			}
			fmt.Fprintf(&b, "| `%s` | %+.4g | %d | %s: %s |\n", mdCell(g.Gate), g.Change, g.N, res, mdCell(g.Reason))
		}
		b.WriteString("\n")
	}
	b.WriteString("| metric | n | baseline | candidate | change [95% CI] |\n| --- | ---: | ---: | ---: | --- |\n")
	for _, info := range metricInfos {
		s, ok := c.Overall.Metrics[info.Name]
		if !ok {
			continue
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s |\n", mdCell(label(info, "TER")), s.N, format(info, s.Baseline),
			format(info, s.Candidate), formatChange(info, s.Diff))
	}
	for _, dim := range CompareDimensions {
		var cols []MetricInfo
		for _, n := range headline {
			if _, ok := c.Overall.Metrics[n]; ok {
				info, _ := LookupMetric(n)
				cols = append(cols, info)
			}
		}
		first := true
		for _, g := range c.Slices {
			if g.Dimension != dim {
				continue
			}
			if first {
				fmt.Fprintf(&b, "\n### Change by %s\n\n| %s | n |", dim, dim)
				for _, info := range cols {
					fmt.Fprintf(&b, " %s |", mdCell(label(info, "TER")))
				}
				b.WriteString("\n| --- | ---: |" + strings.Repeat(" --- |", len(cols)) + "\n")
				first = false
			}
			fmt.Fprintf(&b, "| %s | %d |", mdCell(g.Value), g.N)
			for _, info := range cols {
				if s, ok := g.Metrics[info.Name]; ok {
					fmt.Fprintf(&b, " %s |", formatChange(info, s.Diff))
				} else {
					b.WriteString(" – |")
				}
			}
			b.WriteString("\n")
		}
	}
	b.WriteString("\n### Notes\n\n")
	for _, n := range c.Notes {
		fmt.Fprintf(&b, "- %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
