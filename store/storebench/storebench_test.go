package storebench_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/store/storebench"
)

func TestGenerate(t *testing.T) {
	d, err := storebench.Generate(context.Background(), 600)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	loaded := map[hindsight.DocKey]bool{}
	for _, w := range d.Writes {
		n += len(w.Chunks)
		loaded[w.Document.Key()] = true
		for _, c := range w.Chunks {
			if len(c.Vector) != d.Space.Dim || len(c.Terms) == 0 {
				t.Fatalf("%s chunk %d: %d values, %d terms", w.Document.Key(), c.Seq, len(c.Vector), len(c.Terms))
			}
		}
	}
	// It stops after the document that reaches the number.
	last := len(d.Writes[len(d.Writes)-1].Chunks)
	if n != d.Chunks || n < 600 || n-last >= 600 {
		t.Errorf("%d chunks (Chunks says %d, the last document has %d), want the first document to reach 600", n, d.Chunks, last)
	}
	if len(d.Queries) != storebench.QueryCount {
		t.Fatalf("%d queries, want %d", len(d.Queries), storebench.QueryCount)
	}
	for _, q := range d.Queries {
		if loaded[q.Threat.Key()] || q.Threat.Tenant == "" || len(q.Vector) != d.Space.Dim {
			t.Errorf("query %s: loaded %v, tenant %q, %d values; want a new threat of a tenant", q.Threat.Key(), loaded[q.Threat.Key()], q.Threat.Tenant, len(q.Vector))
		}
	}
}

func cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	return dot / math.Sqrt(na*nb)
}

func TestExactAndAccuracy(t *testing.T) {
	d, err := storebench.Generate(context.Background(), 600)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range d.Queries[:5] {
		f := hindsight.Filter{Tenant: q.Threat.Tenant}
		want := d.Exact(q.Vector, f, 10)
		if len(want) != 10 {
			t.Fatalf("%d results, want 10", len(want))
		}
		in := map[hindsight.DocKey]bool{}
		for i, c := range want {
			in[c.Doc] = true
			if c.Doc.Tenant != "" && c.Doc.Tenant != f.Tenant {
				t.Errorf("result %s is another tenant's", c.Doc)
			}
			if i > 0 && c.Score > want[i-1].Score {
				t.Errorf("result %d (%v) is better than result %d (%v)", i, c.Score, i-1, want[i-1].Score)
			}
		}
		// No document left out is nearer than the last one kept, and every score is the
		// document's nearest chunk's.
		var bestOut hindsight.Candidate
		for _, w := range d.Writes {
			if !f.Matches(w.Document) {
				continue
			}
			best := math.Inf(-1)
			for _, c := range w.Chunks {
				best = max(best, cosine(q.Vector, c.Vector))
			}
			if !in[w.Document.Key()] && best > bestOut.Score {
				bestOut = hindsight.Candidate{Doc: w.Document.Key(), Score: best}
			}
			for _, c := range want {
				if c.Doc == w.Document.Key() && math.Abs(c.Score-best) > 1e-9 {
					t.Errorf("%s scored %v, its nearest chunk is at %v", c.Doc, c.Score, best)
				}
			}
		}
		if bestOut.Score > want[9].Score {
			t.Errorf("%s (%v) was left out for %s (%v)", bestOut.Doc, bestOut.Score, want[9].Doc, want[9].Score)
		}

		var a storebench.Accuracy
		if err := a.Add(d, q.Vector, f, want, want); err != nil || a.Recall() != 1 || a.AsNearShare() != 1 {
			t.Errorf("the exact answer itself: recall %v, as-near %v, %v", a.Recall(), a.AsNearShare(), err)
		}
		// The last result replaced by the best document left out: one miss, and as near only if
		// it ties.
		got := append(append([]hindsight.Candidate(nil), want[:9]...), bestOut)
		a = storebench.Accuracy{}
		if err := a.Add(d, q.Vector, f, got, want); err != nil || a.Recall() != 0.9 {
			t.Errorf("one result replaced: recall %v, %v; want 0.9", a.Recall(), err)
		}
		if tie := bestOut.Score >= want[9].Score-1e-6; (a.AsNearShare() == 1) != tie {
			t.Errorf("one result replaced (tie %v): as-near %v", tie, a.AsNearShare())
		}
		// Fewer results than wanted are misses.
		a = storebench.Accuracy{}
		if err := a.Add(d, q.Vector, f, want[:5], want); err != nil || a.Recall() != 0.5 {
			t.Errorf("half the results: recall %v, %v; want 0.5", a.Recall(), err)
		}
	}

	q := d.Queries[0]
	f := hindsight.Filter{Tenant: q.Threat.Tenant}
	want := d.Exact(q.Vector, f, 10)
	var other hindsight.DocKey
	for _, w := range d.Writes {
		if k := w.Document.Key(); k.Tenant != "" && k.Tenant != f.Tenant {
			other = k
			break
		}
	}
	var a storebench.Accuracy
	for name, got := range map[string][]hindsight.Candidate{
		"another tenant's document": {{Doc: other}},
		"an unknown document":       {{Doc: hindsight.DocKey{Tenant: f.Tenant, Kind: hindsight.KindThreat, ID: "nowhere"}}},
		"a document twice":          {want[0], want[0]},
	} {
		if err := a.Add(d, q.Vector, f, got, want); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if a.Wanted != 0 {
		t.Errorf("refused results were counted: %+v", a)
	}
}

func TestChunksFromEnv(t *testing.T) {
	t.Setenv("HINDSIGHT_BENCH_CHUNKS", "")
	if n, err := storebench.ChunksFromEnv(); n != storebench.DefaultChunks || err != nil {
		t.Errorf("unset: %d, %v; want %d", n, err, storebench.DefaultChunks)
	}
	t.Setenv("HINDSIGHT_BENCH_CHUNKS", "100000")
	if n, err := storebench.ChunksFromEnv(); n != 100_000 || err != nil {
		t.Errorf("100000: %d, %v", n, err)
	}
	for _, bad := range []string{"0", "-5", "100k"} {
		t.Setenv("HINDSIGHT_BENCH_CHUNKS", bad)
		if _, err := storebench.ChunksFromEnv(); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestPercentile(t *testing.T) {
	var lat []time.Duration
	for i := 100; i >= 1; i-- {
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	for p, want := range map[float64]time.Duration{0.5: 50 * time.Millisecond, 0.99: 99 * time.Millisecond, 1: 100 * time.Millisecond, 0.001: time.Millisecond} {
		if got := storebench.Percentile(lat, p); got != want {
			t.Errorf("p%v = %v, want %v", p*100, got, want)
		}
	}
	if got := storebench.Percentile(nil, 0.5); got != 0 {
		t.Errorf("no latencies: %v", got)
	}
}
