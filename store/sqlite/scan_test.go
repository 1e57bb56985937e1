package sqlite_test

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/retrieval/hnsw"
)

// TestFilteredScanIsExact holds the filtered vector search that scans quantized vectors and
// rescores the doubtful ones to a plain exact scan: the same documents, best chunks, scores and
// order. The vectors are crowded around one direction, so that many documents lie within the
// quantization's error of the cut, and some are repeated exactly, within a document and across
// documents, so that ties must break as the exact scan breaks them (the earlier chunk first).
func TestFilteredScanIsExact(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	dim := len(query("x"))
	r := rand.New(rand.NewPCG(5, 5))
	centre := randomUnit(r, dim, nil, 0)
	type chunk struct {
		doc     string
		section string
		vec     []float32
	}
	var chunks []chunk // in the order they are stored
	var ws []hindsight.DocumentWrite
	var shared []float32
	for i := range 700 {
		d := &hindsight.Document{Kind: hindsight.KindThreat, ID: fmt.Sprintf("t%03d", i), Tenant: "acme", Title: "case"}
		switch {
		case i%7 == 6:
			d.Techniques = []string{"T1003"}
		case i%50 == 49:
			d.Tenant = "other"
			d.Techniques = []string{"T1059.001"}
		default:
			d.Techniques = []string{"T1059.001"}
		}
		w := hindsight.DocumentWrite{Document: d, Source: "scan.jsonl", RecordHash: d.ID, ContentHash: d.ID, Space: space.String()}
		for s := range 1 + i%3 {
			v := randomUnit(r, dim, centre, 0.02)
			switch {
			case i%40 == 5:
				shared = v // later documents repeat it
			case i%40 == 25 && shared != nil:
				v = shared
			case s == 2:
				v = w.Chunks[0].Vector // a document repeating its own first chunk
			}
			section := []string{"case", "remediation", "case"}[s]
			w.Chunks = append(w.Chunks, hindsight.Chunk{Seq: s, Section: section, Text: "case", Terms: []string{"case"}, Vector: v})
			chunks = append(chunks, chunk{d.ID, section, v})
		}
		ws = append(ws, w)
	}
	if err := db.WriteDocuments(ctx, ws); err != nil {
		t.Fatal(err)
	}
	deleted := map[string]bool{}
	// exact is the plain scan: every allowed chunk scored, each document's best (the earlier
	// chunk on a tie), documents by score and then by their best chunk's place.
	exact := func(q []float32, sections []string, n int) []hindsight.Candidate {
		type best struct {
			at    int
			score float32
		}
		bests := map[string]*best{}
		var order []string
		for at, c := range chunks {
			id := c.doc
			var i int
			fmt.Sscanf(id, "t%d", &i)
			if i%7 == 6 || i%50 == 49 || deleted[id] || (sections != nil && !slices.Contains(sections, c.section)) {
				continue
			}
			s := hnsw.Dot(q, c.vec)
			if b := bests[id]; b == nil {
				bests[id] = &best{at, s}
				order = append(order, id)
			} else if s > b.score {
				*b = best{at, s}
			}
		}
		slices.SortFunc(order, func(a, b string) int {
			if c := cmp.Compare(bests[b].score, bests[a].score); c != 0 {
				return c
			}
			return cmp.Compare(bests[a].at, bests[b].at)
		})
		var out []hindsight.Candidate
		for _, id := range order[:min(n, len(order))] {
			b := bests[id]
			out = append(out, hindsight.Candidate{Doc: hindsight.DocKey{Tenant: "acme", Kind: hindsight.KindThreat, ID: id},
				Section: chunks[b.at].section, Score: float64(b.score)})
		}
		return out
	}
	check := func(stage string) {
		t.Helper()
		for qi := range 40 {
			q := randomUnit(r, dim, centre, 0.02)
			if qi%10 == 0 {
				q = shared // a query on the repeated vector: exact ties at the top
			}
			for _, n := range []int{1, 10, 30, 1000} {
				for _, sections := range [][]string{nil, {"case"}} {
					f := hindsight.Filter{Tenant: "acme", Techniques: []string{"T1059.001"}, Sections: sections}
					got, err := db.SearchVectors(ctx, space, q, f, n)
					if err != nil {
						t.Fatal(err)
					}
					if want := exact(q, sections, n); !slices.Equal(got, want) {
						t.Fatalf("%s, query %d, n=%d, sections %v:\n got %v\nwant %v", stage, qi, n, sections, got, want)
					}
				}
			}
		}
	}
	check("stored")
	// Deleted documents leave dead chunk slots among the live ones, which the scan must skip.
	var gone []hindsight.DocKey
	for i := 3; i < 700; i += 11 {
		id := fmt.Sprintf("t%03d", i)
		deleted[id] = true
		gone = append(gone, hindsight.DocKey{Tenant: ws[i].Document.Tenant, Kind: hindsight.KindThreat, ID: id})
	}
	if _, err := db.DeleteDocuments(ctx, gone); err != nil {
		t.Fatal(err)
	}
	check("after deletes")
}

// randomUnit returns a random unit vector, or, with a centre, the centre moved by Gaussian noise
// of the given spread in each dimension and normalised.
func randomUnit(r *rand.Rand, dim int, centre []float32, spread float64) []float32 {
	v := make([]float32, dim)
	var norm float64
	for i := range v {
		x := r.NormFloat64()
		if centre != nil {
			x = float64(centre[i]) + spread*x
		}
		v[i] = float32(x)
		norm += x * x
	}
	for i := range v {
		v[i] = float32(float64(v[i]) / math.Sqrt(norm))
	}
	return v
}
