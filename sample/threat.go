package sample

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/hindsightsec/hindsight"
)

// epoch and spanDays bound the occurrence times of generated threats: three years of history.
var epoch = time.Date(2022, 7, 1, 0, 0, 0, 0, time.UTC)

const spanDays = 3 * 365

// pairShare is the chance that a true-positive or inconclusive threat with at least three
// remediation steps gets an eval pair; about one threat in three does.
const pairShare = 0.42

// threats generates n threats, oldest first, and the eval pairs of some of them. It records each
// threat's tenant, scenario and time for the judgments.
func (g *generator) threats(n int) ([]hindsight.Document, []hindsight.Pair) {
	r := g.rng
	mins := make([]int64, n)
	for i := range mins {
		day := r.Int64N(spanDays)
		if wd := epoch.AddDate(0, 0, int(day)).Weekday(); (wd == time.Saturday || wd == time.Sunday) && r.IntN(2) == 0 {
			day = r.Int64N(spanDays) // fewer cases at weekends
		}
		var m int64
		if r.Float64() < 0.7 {
			m = 8*60 + r.Int64N(10*60) // working hours
		} else {
			m = r.Int64N(24 * 60)
		}
		mins[i] = day*24*60 + m
	}
	slices.Sort(mins)
	g.minutes = mins

	tenantCum := cumulative(len(g.tenants), func(i int) float64 { return 1 / (1 + 0.35*float64(i)) })
	scenarioCum := make([][]float64, len(g.tenants))
	for t := range g.tenants {
		// Each tenant has its own mix: a cloud-first company sees more cloud scenarios.
		scenarioCum[t] = cumulative(len(g.scenarios), func(i int) float64 {
			return g.scenarios[i].weight * (0.3 + 1.4*r.Float64())
		})
	}

	docs := make([]hindsight.Document, n)
	g.tenantOf = make([]uint16, n)
	g.scenarioOf = make([]uint16, n)
	pairs := make([]hindsight.Pair, 0, n/3+1)
	history := make([][]string, len(g.tenants)*len(g.scenarios))
	seq := map[int]int{}
	v := &vars{rng: r}
	var rem []bullet
	for i := range docs {
		when := epoch.Add(time.Duration(mins[i]) * time.Minute)
		seq[when.Year()]++
		id := fmt.Sprintf("THR-%d-%04d", when.Year(), seq[when.Year()])
		t := pickIndex(tenantCum, r.Float64())
		si := pickIndex(scenarioCum[t], r.Float64())
		sc := g.scenarios[si]
		g.tenantOf[i], g.scenarioOf[i] = uint16(t), uint16(si)
		rem = g.threat(&docs[i], v, sc, g.tenants[t], id, when, rem[:0])

		h := &history[t*len(g.scenarios)+si]
		if (docs[i].Disposition == hindsight.DispositionTruePositive || docs[i].Disposition == hindsight.DispositionInconclusive) &&
			len(rem) >= 3 && r.Float64() < pairShare {
			pairs = append(pairs, g.pair(&docs[i], v, sc, rem, *h))
		}
		if len(*h) == 3 {
			copy(*h, (*h)[1:])
			*h = (*h)[:2]
		}
		*h = append(*h, id)
	}
	return docs, pairs
}

// threat fills d with one threat of scenario sc and returns its remediation bullets, appended to
// rem, for the eval pair.
func (g *generator) threat(d *hindsight.Document, v *vars, sc *scenario, tenant, id string, when time.Time, rem []bullet) []bullet {
	r := g.rng
	weights := sc.disposition
	if weights == ([4]float64{}) {
		weights = defaultDisposition
	}
	disp := dispositionOrder[weighted(r, weights[:])]
	sev := severityOrder[weighted(r, sc.severity[:])]

	analytics := make([]string, 0, len(sc.analytics))
	analytics = append(analytics, sc.analytics[0])
	for _, a := range sc.analytics[1:] {
		if r.Float64() < 0.45 {
			analytics = append(analytics, a)
		}
	}
	techniques := make([]string, 0, len(sc.core)+len(sc.extra))
	techniques = append(techniques, sc.core...)
	for _, t := range sc.extra {
		if r.Float64() < 0.35 {
			techniques = append(techniques, t)
		}
	}

	v.reset(sc, tenant, id, when, analytics[0])
	*d = hindsight.Document{
		Kind: hindsight.KindThreat, ID: id, Tenant: tenant, Title: v.text(pick(r, sc.titles)),
		OccurredAt: when, Severity: sev, Disposition: disp, Techniques: techniques, Analytics: analytics,
	}
	d.Summary = g.summary(v, sc, disp)
	d.Events = g.events(v, sc, when)

	st := newStyle(r)
	var hunt, hard []bullet
	switch disp {
	case hindsight.DispositionTruePositive:
		rem = guidance(r, v, sc.remediation, remediationExtras, st, 4, rem)
		hunt = guidance(r, v, sc.hunting, huntingExtras, st, 4, nil)
		hard = guidance(r, v, sc.hardening, hardeningExtras, st, 4, nil)
		// Some cases were closed in a hurry, with only part of the guidance written down.
		if r.Float64() < 0.06 {
			switch r.IntN(4) {
			case 0:
				hunt = nil
			case 1:
				hard = nil
			case 2:
				hunt, hard = nil, nil
			default:
				rem = rem[:min(len(rem), 2)]
			}
		}
	case hindsight.DispositionInconclusive:
		st.hedge, st.drop = 0.6, 0.6
		rem = guidance(r, v, sc.remediation, nil, st, 3, rem)
		hunt = guidance(r, v, sc.hunting, huntingExtras, st, 3, nil)
	default: // benign or false positive: the guidance is about tuning, not containment
		rem = guidance(r, v, benignSteps, nil, st, 2, rem)
		if disp == hindsight.DispositionBenignPositive && r.Float64() < 0.5 {
			hard = guidance(r, v, sc.hardening[:2], nil, st, 2, nil)
		}
	}
	d.Remediation, d.Hunting, d.Hardening = bullets(rem), bullets(hunt), bullets(hard)

	d.Tags = sc.tags[:len(sc.tags):len(sc.tags)]
	if h := when.Hour(); h < 7 || h >= 19 {
		d.Tags = append(d.Tags, "after-hours")
	}
	if r.Float64() < 0.05 {
		d.Tags = append(d.Tags, "vip")
	}
	if r.Float64() < 0.03 {
		d.Tags = append(d.Tags, "customer-escalation")
	}
	return rem
}

// summary writes what happened, how the case was closed and, now and then, a remark in another
// scenario's vocabulary: the noise that makes lexical search imperfect.
func (g *generator) summary(v *vars, sc *scenario, disp hindsight.Disposition) string {
	r := g.rng
	var b []byte
	b = v.expand(b, pick(r, sc.summaries))
	var closing string
	switch disp {
	case hindsight.DispositionTruePositive:
		closing = pick(r, trueClosings)
	case hindsight.DispositionBenignPositive:
		closing = "Closed as benign positive: " + v.text(pick(r, sc.benign))
	case hindsight.DispositionFalsePositive:
		closing = "Closed as false positive: " + v.text(pick(r, sc.falsePos))
	case hindsight.DispositionInconclusive:
		closing = "Closed as inconclusive: " + pick(r, inconclusiveReasons)
	}
	if closing != "" {
		b = append(b, ' ')
		b = append(b, closing...)
	}
	if r.Float64() < 0.08 {
		other := g.scenarios[r.IntN(len(g.scenarios))]
		if other != sc {
			b = append(b, ' ')
			b = append(b, upperFirst(fmt.Sprintf(pick(r, noiseRemarks), other.lookalike))...)
		}
	}
	return string(b)
}

// events writes the timeline, one "HH:MM what happened" line per event.
func (g *generator) events(v *vars, sc *scenario, when time.Time) []string {
	r := g.rng
	out := make([]string, 0, len(sc.events))
	t := when
	for _, e := range sc.events {
		if strings.HasPrefix(e, "?") {
			if r.IntN(5) < 2 {
				continue
			}
			e = e[1:]
		}
		b := make([]byte, 0, len(e)+48)
		b = t.AppendFormat(b, "15:04")
		b = append(b, ' ')
		out = append(out, string(v.expand(b, e)))
		t = t.Add(time.Duration(1+r.IntN(12)) * time.Minute)
	}
	return out
}

// benignSteps are the guidance of benign and false positives: no containment, but tuning.
var benignSteps = []step{
	s("No containment is needed: the activity was confirmed as legitimate",
		"No remediation required; the activity is explained and expected",
		"No action is needed on the affected systems"),
	s("Tune {analytic} to exclude this pattern, keeping the exclusion as narrow as possible",
		"Add a narrow exclusion to {analytic} for the confirmed pattern (path and signer, not process name)",
		"Raise a tuning request for {analytic} with the details from case {id}"),
	o("Review the exclusion in 90 days",
		"Give the exclusion an owner and a 90-day review date"),
	o("Tell the customer that no further action is required",
		"Confirm the closure with the customer's contact"),
}

var remediationExtras = []string{
	"Keep the collected evidence until the customer closes the incident",
	"Confirm each containment step with the customer's IT contact before closing the case",
	"Send the customer a written summary of the actions taken",
	"Schedule a follow-up check in seven days to confirm nothing has returned",
	"Record every change made during containment in the case timeline",
}

var huntingExtras = []string{
	"Extend the search window to 90 days if retention allows",
	"Share the new indicators with the threat intelligence team",
	"Repeat the searches across all of the customer's sites",
}

var hardeningExtras = []string{
	"Track the remaining items in the customer's risk register",
	"Review these controls again at the next quarterly service review",
	"Add this case to the detection coverage review",
}

var trueClosings = []string{
	"Confirmed malicious; the customer was notified.",
	"True positive; containment was agreed with the customer's IT team.",
	"Escalated to the customer as a confirmed incident.",
	"Confirmed true positive.",
	"",
	"",
}

var inconclusiveReasons = []string{
	"the customer could not confirm whether the activity was authorised, and logs older than 30 days had rolled over.",
	"the host was reimaged by the customer before evidence could be collected.",
	"the user has left the company and the activity could not be attributed.",
}

var noiseRemarks = []string{
	"initial triage suspected %s, which was ruled out.",
	"the first analyst thought this was %s; the timeline showed otherwise.",
	"%s was considered and excluded.",
	"the ticket was first routed as %s by the automation.",
}

// cumulative returns the running sums of n weights.
func cumulative(n int, w func(int) float64) []float64 {
	c := make([]float64, n)
	sum := 0.0
	for i := range c {
		sum += w(i)
		c[i] = sum
	}
	return c
}

// pickIndex picks an index from cumulative weights with u uniform in [0, 1).
func pickIndex(cum []float64, u float64) int {
	x := u * cum[len(cum)-1]
	i, _ := slices.BinarySearch(cum, x)
	for i < len(cum)-1 && cum[i] <= x {
		i++
	}
	return min(i, len(cum)-1)
}

// weighted picks an index with probability proportional to its weight.
func weighted(r *rand.Rand, w []float64) int {
	sum := 0.0
	for _, x := range w {
		sum += x
	}
	x := r.Float64() * sum
	last := 0
	for i, wi := range w {
		if wi <= 0 {
			continue
		}
		if x < wi {
			return i
		}
		x -= wi
		last = i
	}
	return last // only reached through rounding
}
