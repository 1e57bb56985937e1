package sample

import (
	"bytes"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hindsightsec/hindsight"
)

var update = flag.Bool("update", false, "regenerate the committed sample in sample/data")

var files = []string{ThreatsFile, KnowledgeFile, PairsFile, JudgmentsFile}

// TestCommittedSample keeps sample/data in step with the generator: it regenerates the committed
// sample and compares it byte for byte with the embedded files.
func TestCommittedSample(t *testing.T) {
	c, err := Generate(committedConfig())
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := c.WriteDir("data"); err != nil {
			t.Fatal(err)
		}
		t.Log("rewrote sample/data; rebuild to embed the new files")
		return
	}
	dir := t.TempDir()
	if err := c.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, name := range files {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		want, err := fs.ReadFile(Files(), name)
		if err != nil {
			t.Fatalf("committed sample lacks %s: %v; regenerate it with: go test ./sample -run TestCommittedSample -update", name, err)
		}
		total += len(want)
		if !bytes.Equal(got, want) {
			line := 1 + bytes.Count(got[:commonPrefix(got, want)], []byte("\n"))
			t.Errorf("sample/data/%s is stale (first difference on line %d); the generator changed, so regenerate it with: go test ./sample -run TestCommittedSample -update", name, line)
		}
	}
	if total > 1_500_000 {
		t.Errorf("committed sample is %d bytes; keep it under 1.5 MB", total)
	}
}

func commonPrefix(a, b []byte) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

func TestGenerateIsDeterministic(t *testing.T) {
	write := func(cfg Config) map[string][]byte {
		c, err := Generate(cfg)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		if err := c.WriteDir(dir); err != nil {
			t.Fatal(err)
		}
		out := map[string][]byte{}
		for _, name := range files {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			out[name] = b
		}
		return out
	}
	cfg := Config{Threats: 500, Seed: 42, Tenants: []string{"north", "south", "east"}}
	a, b := write(cfg), write(cfg)
	for _, name := range files {
		if !bytes.Equal(a[name], b[name]) {
			t.Errorf("%s differs between two runs with the same config", name)
		}
	}
	cfg.Seed = 43
	if c := write(cfg); bytes.Equal(a[ThreatsFile], c[ThreatsFile]) {
		t.Errorf("seeds 42 and 43 produced the same threats")
	}
}

func TestGenerateCounts(t *testing.T) {
	const n = 3000
	c, err := Generate(Config{Threats: n, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Threats) != n || len(c.Judgments) != n {
		t.Fatalf("got %d threats and %d judgments, want %d of each", len(c.Threats), len(c.Judgments), n)
	}
	if share := float64(len(c.Pairs)) / n; share < 0.25 || share > 0.42 {
		t.Errorf("%d pairs for %d threats (%.2f); want about one in three", len(c.Pairs), n, share)
	}
	kinds := map[hindsight.Kind]int{}
	for _, d := range c.Knowledge {
		kinds[d.Kind]++
	}
	if kinds[hindsight.KindAnalytic] < 60 || kinds[hindsight.KindNote] < len(scenarios()) || kinds[hindsight.KindProfile] < 5 {
		t.Errorf("knowledge has %v; want at least 60 analytics, a note per scenario and 5 profiles", kinds)
	}
	tenants := map[string]int{}
	dispositions := map[hindsight.Disposition]int{}
	for _, d := range c.Threats {
		tenants[d.Tenant]++
		dispositions[d.Disposition]++
	}
	if len(tenants) != 4 {
		t.Errorf("threats spread over %d tenants, want the 4 default ones: %v", len(tenants), tenants)
	}
	if tp := dispositions[hindsight.DispositionTruePositive]; tp < n/2 || dispositions[hindsight.DispositionFalsePositive] == 0 || dispositions[hindsight.DispositionBenignPositive] == 0 {
		t.Errorf("dispositions %v; want mostly true positives and some false and benign positives", dispositions)
	}
}

var placeholder = regexp.MustCompile(`\{[A-Za-z0-9_]+\}`)

func TestRecordsAreComplete(t *testing.T) {
	c, err := Generate(Config{Threats: 2000, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	start, end := epoch, epoch.AddDate(0, 0, spanDays+1)
	ids := map[string]bool{}
	for _, d := range c.Threats {
		if d.Kind != hindsight.KindThreat || d.ID == "" || d.Title == "" || d.Tenant == "" {
			t.Fatalf("threat lacks kind, id, title or tenant: %+v", d)
		}
		if ids[d.ID] {
			t.Fatalf("duplicate threat ID %s", d.ID)
		}
		ids[d.ID] = true
		if !regexp.MustCompile(`^THR-\d{4}-\d{4,}$`).MatchString(d.ID) {
			t.Errorf("threat ID %q does not look like THR-2024-0412", d.ID)
		}
		if d.OccurredAt.Before(start) || !d.OccurredAt.Before(end) {
			t.Errorf("%s occurred at %v, outside the three years from %v", d.ID, d.OccurredAt, start)
		}
		if d.Severity.Rank() == 0 || !d.Disposition.Valid() {
			t.Errorf("%s: severity %q, disposition %q", d.ID, d.Severity, d.Disposition)
		}
		if len(d.Techniques) == 0 || len(d.Analytics) == 0 || d.Summary == "" || len(d.Events) == 0 || d.Remediation == "" || len(d.Tags) == 0 {
			t.Errorf("%s lacks techniques, analytics, summary, events, remediation or tags", d.ID)
		}
		for _, g := range []string{d.Remediation, d.Hunting, d.Hardening} {
			if g == "" {
				continue
			}
			lines := strings.Split(g, "\n")
			if len(lines) > 8 {
				t.Errorf("%s has a list of %d recommendations, want at most 8", d.ID, len(lines))
			}
			for _, l := range lines {
				if !strings.HasPrefix(l, "- ") || len(l) < 12 {
					t.Errorf("%s: recommendation %q is not a \"- ...\" bullet", d.ID, l)
				}
			}
		}
		if d.Disposition == hindsight.DispositionTruePositive {
			if n := strings.Count(d.Remediation, "\n") + 1; n < 2 {
				t.Errorf("%s: true positive with %d remediation steps", d.ID, n)
			}
		}
		checkText(t, d)
	}
	for _, d := range c.Knowledge {
		if !d.Kind.Valid() || !d.Kind.Global() || d.ID == "" || d.Title == "" || d.Tenant != "" {
			t.Fatalf("knowledge record lacks kind, id or title, or has a tenant: %+v", d)
		}
		if ids[d.ID] {
			t.Fatalf("duplicate ID %s", d.ID)
		}
		ids[d.ID] = true
		if len(d.Techniques) == 0 && d.ID != "NOTE-0059" {
			t.Errorf("%s has no techniques", d.ID)
		}
		switch d.Kind {
		case hindsight.KindAnalytic:
			if d.ConversionRate == nil || *d.ConversionRate < 0.01 || *d.ConversionRate > 0.6 {
				t.Errorf("%s: conversion rate %v, want 0.01 to 0.6", d.ID, d.ConversionRate)
			}
			if d.Description == "" || d.Platform == "" || d.Severity.Rank() == 0 {
				t.Errorf("%s lacks description, platform or severity", d.ID)
			}
		case hindsight.KindNote, hindsight.KindProfile:
			if strings.Count(d.Body, "\n") < 2 {
				t.Errorf("%s: body has fewer than three lines", d.ID)
			}
		default:
			t.Errorf("%s: unexpected kind %s", d.ID, d.Kind)
		}
		checkText(t, d)
	}
}

// checkText fails when a document still holds an unresolved {placeholder} or an address outside
// the documentation ranges.
func checkText(t *testing.T, d hindsight.Document) {
	t.Helper()
	texts := append([]string{d.Title, d.Summary, d.Remediation, d.Hunting, d.Hardening, d.Body, d.Description}, d.Events...)
	ipv4 := regexp.MustCompile(`\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b`)
	for _, s := range texts {
		for _, m := range placeholder.FindAllString(s, -1) {
			if m != "{default}" { // bcdedit's own syntax
				t.Errorf("%s: unresolved placeholder %s in %q", d.ID, m, s)
			}
		}
		for _, ip := range ipv4.FindAllString(s, -1) {
			if !strings.HasPrefix(ip, "192.0.2.") && !strings.HasPrefix(ip, "198.51.100.") && !strings.HasPrefix(ip, "203.0.113.") && ip != "0.0.0.0" {
				t.Errorf("%s: IP %s is outside the documentation ranges", d.ID, ip)
			}
		}
	}
}

func TestTechniques(t *testing.T) {
	table := map[string][]string{}
	for _, tc := range techniques {
		if !hindsight.ValidTechnique(tc.id) || tc.name == "" || len(tc.tactics) == 0 {
			t.Errorf("bad technique table entry %+v", tc)
		}
		if _, dup := table[tc.id]; dup {
			t.Errorf("%s is listed twice", tc.id)
		}
		for _, ta := range tc.tactics {
			if !slices.Contains(tactics, ta) {
				t.Errorf("%s: unknown tactic %q", tc.id, ta)
			}
		}
		table[tc.id] = tc.tactics
	}
	used := map[string]bool{}
	for _, sc := range scenarios() {
		for _, id := range append(slices.Clone(sc.core), sc.extra...) {
			used[id] = true
		}
	}
	for _, a := range analyticDefs() {
		for _, id := range a.techniques {
			used[id] = true
		}
	}
	for _, n := range extraNotes() {
		for _, id := range n.techniques {
			used[id] = true
		}
	}
	for _, p := range profileDefs() {
		for _, id := range p.techniques {
			used[id] = true
		}
	}
	for id := range used {
		if _, ok := table[id]; !ok {
			t.Errorf("%s is used but missing from the technique table", id)
		}
	}

	// What the generated threats cover.
	c, err := Generate(committedConfig())
	if err != nil {
		t.Fatal(err)
	}
	seen, tacticSeen := map[string]bool{}, map[string]bool{}
	for _, d := range c.Threats {
		for _, id := range d.Techniques {
			if !hindsight.ValidTechnique(id) {
				t.Errorf("%s: invalid technique ID %q", d.ID, id)
			}
			seen[id] = true
			for _, ta := range table[id] {
				tacticSeen[ta] = true
			}
		}
	}
	if len(seen) < 40 {
		t.Errorf("threats cover %d distinct techniques, want at least 40", len(seen))
	}
	if len(tacticSeen) < 10 {
		t.Errorf("threats cover %d tactics, want at least 10", len(tacticSeen))
	}
	t.Logf("%d scenarios; the committed sample covers %d techniques and %d tactics", len(scenarios()), len(seen), len(tacticSeen))
}

func TestScenarios(t *testing.T) {
	all := scenarios()
	if len(all) < 30 {
		t.Errorf("%d scenarios, want at least 30", len(all))
	}
	analytics := map[string]bool{}
	for _, a := range analyticDefs() {
		if analytics[a.id] {
			t.Errorf("analytic %s defined twice", a.id)
		}
		analytics[a.id] = true
	}
	notes := map[string]bool{}
	for _, n := range extraNotes() {
		notes[n.id] = true
	}
	keys := map[string]bool{}
	for _, sc := range all {
		if keys[sc.key] || notes[sc.note] {
			t.Errorf("%s: key or playbook note %s is not unique", sc.key, sc.note)
		}
		keys[sc.key] = true
		notes[sc.note] = true
		if sc.name == "" || sc.about == "" || sc.lookalike == "" || sc.platform == "" || len(sc.tags) == 0 ||
			len(sc.titles) < 3 || len(sc.summaries) < 2 || len(sc.events) < 3 || len(sc.core) == 0 ||
			len(sc.benign) == 0 || len(sc.falsePos) == 0 || sc.weight <= 0 {
			t.Errorf("%s is incomplete", sc.key)
		}
		for _, id := range sc.analytics {
			if !analytics[id] {
				t.Errorf("%s: unknown analytic %s", sc.key, id)
			}
		}
		for name, steps := range map[string][]step{"remediation": sc.remediation, "hunting": sc.hunting, "hardening": sc.hardening} {
			if len(steps) < 4 || len(steps) > 7 {
				t.Errorf("%s: %d %s steps, want 4 to 7 (one more may be added by the analyst)", sc.key, len(steps), name)
			}
			for _, st := range steps {
				for _, v := range st.variants {
					if verbOf(v) == "" {
						t.Errorf("%s: %s step %q does not open with a known imperative verb (see verbs)", sc.key, name, v)
					}
				}
			}
		}
	}
	for _, sc := range all {
		for _, id := range sc.notes {
			if !notes[id] {
				t.Errorf("%s: unknown note %s", sc.key, id)
			}
		}
	}
}

func TestJudgments(t *testing.T) {
	for _, cfg := range []Config{committedConfig(), {Threats: 20000, Seed: 11, Tenants: []string{"a", "b"}}} {
		tenants, err := cfg.validate()
		if err != nil {
			t.Fatal(err)
		}
		g := newGenerator(cfg.Seed, tenants)
		c := &Corpus{Knowledge: g.knowledge()}
		c.Threats, c.Pairs = g.threats(cfg.Threats)
		c.Judgments = g.judgments(c.Threats)

		index := map[string]int{}
		for i, d := range c.Threats {
			index[d.ID] = i
		}
		knowledge := map[string]hindsight.Kind{}
		for _, d := range c.Knowledge {
			knowledge[d.ID] = d.Kind
		}
		groups := map[[2]uint16]int{}
		for i := range c.Threats {
			groups[[2]uint16{g.tenantOf[i], g.scenarioOf[i]}]++
		}
		capped := false
		for qi, j := range c.Judgments {
			if j.Query != c.Threats[qi].ID || j.Tenant != c.Threats[qi].Tenant {
				t.Fatalf("judgment %d is for %s/%s, want %s/%s", qi, j.Tenant, j.Query, c.Threats[qi].Tenant, c.Threats[qi].ID)
			}
			same, last := 0, time.Duration(0)
			sc := g.scenarios[g.scenarioOf[qi]]
			for _, r := range j.Relevant {
				switch r.Grade {
				case 2:
					i, ok := index[r.ID]
					if !ok || r.Kind != hindsight.KindThreat || i == qi {
						t.Fatalf("%s: grade-2 %s is not another threat", j.Query, r.ID)
					}
					if c.Threats[i].Tenant != j.Tenant || g.scenarioOf[i] != g.scenarioOf[qi] {
						t.Fatalf("%s: grade-2 %s is of another tenant or scenario", j.Query, r.ID)
					}
					dt := c.Threats[i].OccurredAt.Sub(c.Threats[qi].OccurredAt).Abs()
					if dt < last {
						t.Fatalf("%s: grade-2 threats are not closest first", j.Query)
					}
					last = dt
					same++
				case 1:
					if kind, ok := knowledge[r.ID]; !ok || kind != r.Kind {
						t.Fatalf("%s: grade-1 %s (%s) is not in the knowledge", j.Query, r.ID, r.Kind)
					}
					if r.ID != sc.note && !slices.Contains(sc.notes, r.ID) && !slices.Contains(sc.analytics, r.ID) {
						t.Fatalf("%s: grade-1 %s does not belong to scenario %s", j.Query, r.ID, sc.key)
					}
				default:
					t.Fatalf("%s: grade %d", j.Query, r.Grade)
				}
			}
			want := min(groups[[2]uint16{g.tenantOf[qi], g.scenarioOf[qi]}]-1, MaxSameScenario)
			if same != want {
				t.Fatalf("%s: %d grade-2 threats, want %d", j.Query, same, want)
			}
			if want == MaxSameScenario {
				capped = true
			}
		}
		if cfg.Threats == 240 && capped {
			t.Errorf("the committed sample hits MaxSameScenario; its judgments would be incomplete")
		}
		if cfg.Threats > 240 && !capped {
			t.Errorf("%d threats never hit MaxSameScenario; the cap is untested", cfg.Threats)
		}
	}
}

func TestPairs(t *testing.T) {
	c, err := Generate(Config{Threats: 6000, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	threats := map[string]hindsight.Document{}
	for _, d := range c.Threats {
		threats[strings.TrimPrefix(d.ID, "THR-")] = d
	}
	type stats struct{ n, sum int }
	byDrafter := map[string]*stats{}
	for _, p := range c.Pairs {
		d, ok := threats[strings.TrimPrefix(p.ID, "DRF-")]
		if !ok {
			t.Fatalf("pair %s has no threat", p.ID)
		}
		if p.Final != d.Remediation || p.Tenant != d.Tenant || p.Kind != hindsight.DraftRemediation {
			t.Errorf("%s: final, tenant or kind does not match threat %s", p.ID, d.ID)
		}
		if p.Draft == "" || p.Draft == p.Final {
			t.Errorf("%s: draft is empty or needs no edit", p.ID)
		}
		if !p.CreatedAt.After(d.OccurredAt) {
			t.Errorf("%s: created at %v, before the threat occurred (%v)", p.ID, p.CreatedAt, d.OccurredAt)
		}
		if err := p.Ratings.Validate(); err != nil {
			t.Errorf("%s: %v", p.ID, err)
		}
		if p.Model == "" || (p.PromptVersion != "v1" && p.PromptVersion != "v2") {
			t.Errorf("%s: model %q, prompt version %q", p.ID, p.Model, p.PromptVersion)
		}
		k := p.Model + "@" + p.PromptVersion
		if byDrafter[k] == nil {
			byDrafter[k] = &stats{}
		}
		byDrafter[k].n++
		byDrafter[k].sum += p.Ratings.Accuracy + p.Ratings.Clarity + p.Ratings.Completeness
	}
	mean := func(k string) float64 {
		s := byDrafter[k]
		if s == nil || s.n == 0 {
			t.Fatalf("no pairs from %s", k)
		}
		return float64(s.sum) / float64(s.n)
	}
	// Eval compares prompt versions; the data must give it a difference to find.
	for _, m := range []string{"extractive", "llama3.1:8b"} {
		if v1, v2 := mean(m+"@v1"), mean(m+"@v2"); v2 <= v1 {
			t.Errorf("%s: mean rating sum v1 %.2f, v2 %.2f; want v2 better", m, v1, v2)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	long := strings.Repeat("a", 33)
	many := make([]string, MaxTenants+1)
	for i := range many {
		many[i] = "t" + strings.Repeat("x", i%5) + string(rune('a'+i%26))
	}
	for _, tc := range []struct {
		cfg   Config
		field string
		msg   string
	}{
		{Config{Threats: 0}, "threats", "must be at least 1, got 0"},
		{Config{Threats: -5}, "threats", "must be at least 1, got -5"},
		{Config{Threats: MaxThreats + 1}, "threats", "must be at most"},
		{Config{Threats: 10, Tenants: []string{"acme", ""}}, "tenants[1]", "must not be empty"},
		{Config{Threats: 10, Tenants: []string{"Acme"}}, "tenants[0]", "must start with a lowercase letter"},
		{Config{Threats: 10, Tenants: []string{"acme corp"}}, "tenants[0]", `not " "`},
		{Config{Threats: 10, Tenants: []string{long}}, "tenants[0]", "longer than 32"},
		{Config{Threats: 10, Tenants: []string{"acme", "globex", "acme"}}, "tenants[2]", `repeats tenants[0]`},
		{Config{Threats: 10, Tenants: many}, "tenants", "at most 1000"},
	} {
		_, err := Generate(tc.cfg)
		if err == nil {
			t.Errorf("Generate(%+v) succeeded, want an error about %s", tc.cfg.Threats, tc.field)
			continue
		}
		if hindsight.ErrorCode(err) != hindsight.EINVALID || hindsight.ErrorField(err) != tc.field || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("got %q (code %s, field %q), want code invalid, field %q, message containing %q",
				err, hindsight.ErrorCode(err), hindsight.ErrorField(err), tc.field, tc.msg)
		}
	}
	if _, err := Generate(Config{Threats: 1, Seed: -1, Tenants: []string{"a-1"}}); err != nil {
		t.Errorf("a minimal valid config failed: %v", err)
	}
}

func TestWriteDir(t *testing.T) {
	c, err := Generate(Config{Threats: 50, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "new", "dir")
	if err := c.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := slices.Sorted(slices.Values(files))
	if !slices.Equal(names, want) {
		t.Errorf("WriteDir wrote %v, want exactly %v (no temporary files left)", names, want)
	}
	b, err := os.ReadFile(filepath.Join(dir, ThreatsFile))
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(b, []byte("\n")); n != 50 {
		t.Errorf("%s has %d lines, want 50", ThreatsFile, n)
	}

	// A directory that cannot be created is reported.
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteDir(filepath.Join(blocker, "sub")); err == nil {
		t.Errorf("WriteDir under a regular file succeeded")
	}
}

func BenchmarkGenerate(b *testing.B) {
	for _, n := range []int{1000, 100_000} {
		b.Run(fmt.Sprintf("threats=%d", n), func(b *testing.B) {
			var sink *Corpus
			for b.Loop() {
				c, err := Generate(Config{Threats: n, Seed: 1})
				if err != nil {
					b.Fatal(err)
				}
				sink = c
			}
			if len(sink.Threats) != n {
				b.Fatal("wrong count")
			}
		})
	}
}
