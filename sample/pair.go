package sample

import (
	"math"
	"slices"
	"strings"
	"time"

	"github.com/hindsightsec/hindsight"
)

// drafter is a model and prompt version whose drafts reviewers edited, with its habits: how often
// it hedges, rewords, pads with generic advice, copies another case's indicators and leaves steps
// out. The numbers make later prompt versions need fewer edits, so that eval has something to find.
type drafter struct {
	model, version string
	weight         float64
	hedge          float64 // chance to hedge a recommendation the reviewer stated plainly
	reword         float64 // chance to phrase a step differently from the final text
	extra          float64 // chance of one generic recommendation the reviewer deleted
	wrong          float64 // chance to keep an indicator of the source case (extractive drafting)
	cite           float64 // chance that a recommendation carries a citation
	missing        [3]float64
}

var drafters = []drafter{
	{model: "extractive", version: "v1", weight: 1.0, hedge: 0.03, reword: 0.15, extra: 0.1, wrong: 0.35, cite: 1, missing: [3]float64{0.3, 0.5, 0.2}},
	{model: "extractive", version: "v2", weight: 1.0, hedge: 0.03, reword: 0.1, extra: 0.05, wrong: 0.15, cite: 1, missing: [3]float64{0.45, 0.45, 0.1}},
	{model: "llama3.1:8b", version: "v1", weight: 1.2, hedge: 0.45, reword: 0.45, extra: 0.75, cite: 0.8, missing: [3]float64{0.2, 0.55, 0.25}},
	{model: "llama3.1:8b", version: "v2", weight: 1.2, hedge: 0.25, reword: 0.3, extra: 0.45, cite: 0.95, missing: [3]float64{0.35, 0.5, 0.15}},
	{model: "qwen2.5:14b", version: "v2", weight: 0.8, hedge: 0.2, reword: 0.25, extra: 0.35, cite: 0.95, missing: [3]float64{0.5, 0.42, 0.08}},
}

// genericAdvice is what language models add when they have nothing specific to say.
var genericAdvice = []string{
	"Continue to monitor the environment for any further suspicious activity.",
	"Ensure all systems are fully patched and endpoint protection is up to date.",
	"Educate users on recognising phishing and social engineering attempts.",
	"Review and update the incident response plan based on lessons learned.",
	"Implement the principle of least privilege across all accounts.",
	"Conduct a full security assessment of the affected environment.",
	"Enable comprehensive logging and retain logs for at least 90 days.",
}

// pair makes the eval pair of threat d: a machine draft of its remediation and, as the final text,
// the remediation that was sent. v still holds the threat's values; rem are its remediation
// bullets; prior are IDs of earlier threats of the same tenant and scenario, which drafts cite.
func (g *generator) pair(d *hindsight.Document, v *vars, sc *scenario, rem []bullet, prior []string) hindsight.Pair {
	r := g.rng
	w := make([]float64, len(drafters))
	for i, dr := range drafters {
		w[i] = dr.weight
	}
	dr := drafters[weighted(r, w)]

	// The draft leaves out the analyst's own additions and a few playbook steps.
	drop := make([]bool, len(rem))
	missing := 0
	for i, b := range rem {
		if b.step < 0 {
			drop[i] = true
			missing++
		}
	}
	for k := weighted(r, dr.missing[:]); k > 0 && len(rem)-missing > 2; k-- {
		i := r.IntN(len(rem))
		if !drop[i] {
			drop[i] = true
			missing++
		}
	}

	sources := make([]string, 0, 5)
	sources = append(sources, prior...)
	sources = append(sources, sc.note, d.Analytics[0])
	var other *vars // another case's values, which extractive drafts copy by mistake
	hedged, reworded, wrong := 0, 0, 0
	lines := make([]string, 0, len(rem)+1)
	for i, b := range rem {
		if drop[i] {
			continue
		}
		text := b.text
		steps := sc.remediation
		if d.Disposition == hindsight.DispositionBenignPositive || d.Disposition == hindsight.DispositionFalsePositive {
			steps = benignSteps
		}
		variants := steps[b.step].variants
		switch u := r.Float64(); {
		case u < dr.reword && len(variants) > 1:
			k := (b.variant + 1 + r.IntN(len(variants)-1)) % len(variants)
			text = finish(v.text(variants[k]), true)
			reworded++
		case u < dr.reword+dr.wrong:
			if other == nil {
				other = &vars{rng: r}
				other.reset(sc, d.Tenant, "", d.OccurredAt.AddDate(0, -2, 0), d.Analytics[0])
			}
			if t := finish(other.text(variants[b.variant]), true); t != finish(v.text(variants[b.variant]), true) {
				text = t
				wrong++
			}
		}
		if !b.hedged && r.Float64() < dr.hedge {
			if h, ok := hedge(r, strings.TrimSuffix(text, ".")); ok {
				text = finish(h, true)
				hedged++
			}
		}
		if r.Float64() < dr.cite {
			text = cite(text, sources, r.IntN(len(sources)), dr.model == "extractive" || r.IntN(3) > 0)
		}
		lines = append(lines, text)
	}
	extra := 0
	if r.Float64() < dr.extra {
		at := 1 + r.IntN(len(lines))
		lines = append(lines, "")
		copy(lines[at+1:], lines[at:])
		lines[at] = pick(r, genericAdvice)
		extra = 1
	}
	var draft strings.Builder
	for i, l := range lines {
		if i > 0 {
			draft.WriteByte('\n')
		}
		draft.WriteString("- ")
		draft.WriteString(l)
	}

	n := float64(len(rem))
	ratings := hindsight.Ratings{
		Accuracy:     rating(5 - 1.5*float64(wrong) - 0.5*float64(extra)),
		Clarity:      rating(5 - 4*(float64(hedged)+0.5*float64(reworded)+float64(extra))/n),
		Completeness: rating(5 - 6*float64(missing)/n),
	}
	// Reviewers are people: now and then a mark is a point off either way.
	if r.Float64() < 0.15 {
		f := []*int{&ratings.Accuracy, &ratings.Clarity, &ratings.Completeness}[r.IntN(3)]
		*f = min(5, max(1, *f+[]int{-1, 1}[r.IntN(2)]))
	}
	return hindsight.Pair{
		ID:            "DRF-" + strings.TrimPrefix(d.ID, "THR-"),
		Kind:          hindsight.DraftRemediation,
		Model:         dr.model,
		PromptVersion: dr.version,
		Tenant:        d.Tenant,
		Techniques:    slices.Clone(d.Techniques),
		Draft:         draft.String(),
		Final:         d.Remediation,
		Ratings:       ratings,
		CreatedAt:     d.OccurredAt.Add(time.Duration(30+r.IntN(72*60)) * time.Minute),
	}
}

// cite appends a citation of sources[i] (and, with both, the next source) to a recommendation.
func cite(text string, sources []string, i int, both bool) string {
	ids := sources[i]
	if both && len(sources) > 1 {
		ids += ", " + sources[(i+1)%len(sources)]
	}
	return strings.TrimSuffix(text, ".") + " [" + ids + "]."
}

// rating rounds a mark to an integer from 1 to 5.
func rating(x float64) int {
	return int(math.Max(1, math.Min(5, math.Round(x))))
}
