package ingest_test

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/ingest"
	"github.com/hindsightsec/hindsight/retrieval"
)

// reversed is another embedder: the built-in one's vectors with their components in reverse
// order, in a space of its own name. Its vectors are as good as the built-in ones but not
// comparable with them, as a change of model would be.
type reversed struct {
	retrieval.Builtin
	texts int
}

func (reversed) Space() hindsight.Space {
	return hindsight.Space{Name: "reversed", Version: "1", Dim: retrieval.BuiltinDim}
}

func (r *reversed) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	r.texts += len(texts)
	vs, err := r.Builtin.Embed(ctx, texts)
	for _, v := range vs {
		slices.Reverse(v)
	}
	return vs, err
}

func (r *reversed) vector(text string) []float32 {
	v := r.EmbedTerms(retrieval.Tokenize(text))
	slices.Reverse(v)
	return v
}

// TestSwitchingEmbedderReembeds checks that a run with another embedder embeds again the documents
// stored in the old space, even though their content is unchanged, and that searches in either
// space never see the other's vectors.
func TestSwitchingEmbedderReembeds(t *testing.T) {
	ctx := context.Background()
	db, dir := newStore(t)
	threats := writeFile(t, dir, "threats.jsonl", good)
	other := writeFile(t, dir, "notes.jsonl", notes(4))
	if _, err := ingest.New(db, retrieval.Builtin{}, nil).Run(ctx, []string{threats, other}, ingest.Options{}); err != nil {
		t.Fatal(err)
	}
	// Only threats.jsonl is read with the new embedder: its three documents move to the new
	// space, notes.jsonl's stay in the old one.
	emb := &reversed{}
	run, err := ingest.New(db, emb, nil).Run(ctx, []string{threats}, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sections := 0
	for _, line := range splitLines(good) {
		d, rej := ingest.ParseRecord([]byte(line), "")
		if rej != nil {
			t.Fatal(rej)
		}
		sections += len(ingest.Sections(d))
	}
	if run.Updated != 3 || run.Unchanged != 0 || emb.texts != sections {
		t.Fatalf("run with the new embedder = %+v, embedded %d texts; want 3 updated and all %d sections embedded", run, emb.texts, sections)
	}

	f := hindsight.Filter{Tenant: "acme"}
	old := retrieval.Builtin{}
	docs := func(cs []hindsight.Candidate) []string {
		var ids []string
		for _, c := range cs {
			ids = append(ids, c.Doc.ID)
		}
		slices.Sort(ids)
		return ids
	}
	for _, q := range []string{"Cloud account compromise jesse.brown", "Reverting permissive NSG rules", "reset credential"} {
		inNew, err := db.SearchVectors(ctx, emb.Space(), emb.vector(q), f, 20)
		if err != nil {
			t.Fatal(err)
		}
		inOld, err := db.SearchVectors(ctx, old.Space(), old.EmbedTerms(retrieval.Tokenize(q)), f, 20)
		if err != nil {
			t.Fatal(err)
		}
		if got := docs(inNew); !slices.Equal(got, []string{"AN-0113", "NOTE-1", "THR-1"}) {
			t.Errorf("%q in the new space found %v; want exactly the three re-embedded documents", q, got)
		}
		if got := docs(inOld); !slices.Equal(got, []string{"NOTE-0000", "NOTE-0001", "NOTE-0002", "NOTE-0003"}) {
			t.Errorf("%q in the old space found %v; want only the documents still in it", q, got)
		}
	}
	// The new vectors are the new embedder's: a chunk's own text finds it with similarity 1.
	best, err := db.SearchVectors(ctx, emb.Space(), emb.vector(ingest.Sections(&hindsight.Document{Kind: hindsight.KindNote, Title: "Reverting permissive NSG rules",
		Body: "Remove allow-any rules.", Techniques: []string{"T1562.007"}})[0].Text), f, 1)
	if err != nil || len(best) != 1 || best[0].Doc.ID != "NOTE-1" || math.Abs(best[0].Score-1) > 1e-4 {
		t.Errorf("search for NOTE-1's own text in the new space = %+v, %v; want NOTE-1 with similarity 1", best, err)
	}
	// The retriever over the new embedder finds them.
	hits, err := retrieval.NewRetriever(db, emb).Search(ctx, retrieval.Query{Text: "compromise jesse.brown NSG", Filter: f, K: 5})
	if err != nil || len(hits) == 0 || hits[0].ID != "THR-1" {
		t.Errorf("retriever in the new space = %+v, %v", hits, err)
	}
	// Once moved, the documents are unchanged for the new embedder.
	emb.texts = 0
	run, err = ingest.New(db, emb, nil).Run(ctx, []string{threats}, ingest.Options{})
	if err != nil || run.Unchanged != 3 || emb.texts != 0 {
		t.Errorf("third run = %+v, %v, embedded %d", run, err, emb.texts)
	}
}

func splitLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}
