package eval

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hindsightsec/hindsight/retrieval"
)

// asList lays words out as a recommendation list, one sentence an item,
// the shape of drafts and finals.
func asList(text string) string {
	var b strings.Builder
	b.WriteString("- ")
	for _, w := range strings.Fields(text) {
		b.WriteString(w)
		if strings.HasSuffix(w, ".") {
			b.WriteString("\n- ")
		} else {
			b.WriteByte(' ')
		}
	}
	return strings.TrimSuffix(strings.TrimSpace(b.String()), "\n-")
}

// benchInputs returns n generated draft–final pairs of 200–400-word texts
// laid out as lists, drafts carrying citations, finals ratings.
func benchInputs(n int) []Input {
	hyps, refs := newTextGen(1).pairs(n)
	in := make([]Input, n)
	for i := range hyps {
		d := strings.ReplaceAll(asList(hyps[i]), "\n", " [THR-2022-0036, NOTE-0011]\n")
		in[i] = Input{ID: "D", Kind: "remediation", Model: "m", Tenant: "acme", Techniques: []string{"T1003.001"},
			Draft: d, Final: asList(refs[i][0])}
	}
	return in
}

// BenchmarkScore computes every per-draft metric — TER, character edit
// distance, unchanged, chrF, chrF++, BLEU, ROUGE-L, meaning under the
// built-in embedder, recommendation alignment, prescriptiveness and
// grounding — for 10,000 pairs of 200–400-word texts, one corpus per
// iteration, and reports the time per pair. The target is 20 s per
// corpus on the project's 2-core machines.
func BenchmarkScore(b *testing.B) {
	inputs := benchInputs(benchPairs)
	ctx := context.Background()
	start := time.Now()
	for b.Loop() {
		res, err := Score(ctx, inputs, Options{Embedder: retrieval.Builtin{}})
		if err != nil {
			b.Fatal(err)
		}
		sink += res[0].Metrics[MetricTER]
	}
	b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(b.N*len(inputs)), "ns/pair")
	b.ReportMetric(time.Since(start).Seconds()/float64(b.N), "s/corpus")
}

// BenchmarkReport aggregates 10,000 scored drafts with 1,000 bootstrap
// resamples per interval, over every slice.
func BenchmarkReport(b *testing.B) {
	res, err := Score(context.Background(), benchInputs(benchPairs), Options{})
	if err != nil {
		b.Fatal(err)
	}
	models := []string{"extractive", "llama3.1:8b", "qwen2.5:14b"}
	tenants := []string{"acme", "globex", "initech", "umbrella"}
	for i := range res {
		res[i].Model, res[i].Tenant = models[i%3], tenants[i%4]
		res[i].CreatedAt = time.Date(2024, time.Month(1+i%12), 1, 0, 0, 0, 0, time.UTC)
	}
	for b.Loop() {
		r := NewReport(res, ReportConfig{Seed: 1})
		sink += r.Overall.Metrics[MetricTER].Lo
	}
}
