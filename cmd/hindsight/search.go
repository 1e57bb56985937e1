package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/retrieval"
	"github.com/spf13/cobra"
)

func (m *Main) searchCommand() *cobra.Command {
	var tenant, since, until, minSeverity string
	var kinds, techniques, sections []string
	var k int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "search --tenant T [flags] TEXT",
		Short: "Find the past cases and knowledge most similar to a text",
		RunE: func(cmd *cobra.Command, args []string) error {
			if tenant == "" {
				return usagef("--tenant is required")
			}
			text := strings.Join(args, " ")
			if strings.TrimSpace(text) == "" && len(techniques) == 0 {
				return usagef("search: give a TEXT or --technique")
			}
			ks, err := parseKinds(kinds)
			if err != nil {
				return err
			}
			if k < 1 || k > retrieval.MaxK {
				return usagef("--k: must be between 1 and %d, got %d", retrieval.MaxK, k)
			}
			for i, t := range techniques {
				techniques[i] = strings.ToUpper(t)
				if !hindsight.ValidTechnique(techniques[i]) {
					return usagef("--technique: %q is not an ATT&CK technique ID (want T1234 or T1234.567)", t)
				}
			}
			for _, sec := range sections {
				if !slices.Contains(hindsight.Sections, sec) {
					return usagef("--section: unknown section %q (want %s)", sec, strings.Join(hindsight.Sections, ", "))
				}
			}
			f := hindsight.Filter{Tenant: tenant, Kinds: ks, MinSeverity: hindsight.Severity(minSeverity), Sections: sections}
			if minSeverity != "" && f.MinSeverity.Rank() == 0 {
				return usagef("--min-severity: want informational, low, medium, high or critical, got %q", minSeverity)
			}
			for _, b := range []struct {
				flag, v string
				dst     *time.Time
			}{{"--since", since, &f.Since}, {"--until", until, &f.Until}} {
				if b.v == "" {
					continue
				}
				t, err := time.Parse(time.RFC3339, b.v)
				if err != nil {
					if t, err = time.Parse(time.DateOnly, b.v); err != nil {
						return usagef("%s: want a date (2024-01-31) or an RFC 3339 time, got %q", b.flag, b.v)
					}
				}
				*b.dst = t
			}
			_, r, _, err := m.services(cmd.Context())
			if err != nil {
				return err
			}
			hits, err := r.Search(cmd.Context(), retrieval.Query{Text: text, Techniques: techniques, K: k, Filter: f})
			if err != nil {
				return err
			}
			if asJSON {
				if hits == nil {
					hits = []hindsight.Hit{}
				}
				return writeJSON(m.Stdout, map[string]any{"hits": hits})
			}
			printHits(m.Stdout, hits)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&tenant, "tenant", "", "tenant whose cases (and the global knowledge) to search; required")
	f.StringArrayVar(&kinds, "kind", nil, "keep only this kind (repeatable): threat, analytic, note, profile, technique, mitigation, group")
	f.StringArrayVar(&techniques, "technique", nil, "ATT&CK technique of the new threat (repeatable); ranks by overlap")
	f.IntVar(&k, "k", 10, "number of hits")
	f.BoolVar(&asJSON, "json", false, `print {"hits": [...]} as JSON`)
	f.StringVar(&since, "since", "", "keep cases that occurred on or after this date or time")
	f.StringVar(&until, "until", "", "keep cases that occurred on or before this date or time")
	f.StringVar(&minSeverity, "min-severity", "", "keep cases at least this severe: informational, low, medium, high or critical")
	f.StringArrayVar(&sections, "section", nil, "keep matches in this section (repeatable): "+strings.Join(hindsight.Sections, ", ")+
		"; hunting finds how similar threats were hunted")
	return cmd
}

func printHits(w io.Writer, hits []hindsight.Hit) {
	if len(hits) == 0 {
		fmt.Fprintln(w, "no hits")
		return
	}
	for i, h := range hits {
		tenant := h.Tenant
		if tenant == "" {
			tenant = "-"
		}
		fmt.Fprintf(w, "%2d. %-16s %-9s %-10s %.4f  %s\n", i+1, h.ID, h.Kind, tenant, h.Score, h.Title)
		var sig []string
		names := make([]string, 0, len(h.Why.Signals))
		for n := range h.Why.Signals {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if r, ok := h.Why.Ranks[n]; ok {
				sig = append(sig, fmt.Sprintf("%s %.3f (#%d)", n, h.Why.Signals[n], r))
			} else {
				sig = append(sig, fmt.Sprintf("%s %.3f", n, h.Why.Signals[n])) // a prior or a mark, not a ranked list
			}
		}
		line := "    " + strings.Join(sig, ", ")
		if h.Why.Section != "" {
			line += "; best in " + h.Why.Section
		}
		if len(h.Why.Techniques) > 0 {
			line += "; shares " + strings.Join(h.Why.Techniques, " ")
		}
		fmt.Fprintln(w, line)
		if len(h.Why.Terms) > 0 {
			terms := h.Why.Terms
			if len(terms) > 12 {
				terms = terms[:12]
			}
			fmt.Fprintln(w, "    terms: "+strings.Join(terms, ", "))
		}
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
