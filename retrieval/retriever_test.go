package retrieval_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/retrieval"
	"github.com/hindsightsec/hindsight/store/sqlite"
)

func setup(t *testing.T, docs ...*hindsight.Document) *retrieval.Retriever {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "h.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	emb := retrieval.Builtin{}
	var ws []hindsight.DocumentWrite
	for _, d := range docs {
		text := retrieval.DocumentText(d)
		terms := retrieval.Tokenize(text)
		ws = append(ws, hindsight.DocumentWrite{Document: d, RecordHash: d.ID, ContentHash: d.ID, Space: emb.Space().String(),
			Chunks: []hindsight.Chunk{{Section: "case", Text: text, Terms: terms, Vector: emb.EmbedTerms(terms)}}})
	}
	if err := db.WriteDocuments(context.Background(), ws); err != nil {
		t.Fatal(err)
	}
	return retrieval.NewRetriever(db, emb)
}

func TestSearchFusesAndExplains(t *testing.T) {
	r := setup(t,
		&hindsight.Document{Kind: hindsight.KindThreat, Tenant: "acme", ID: "A", Title: "LSASS dump with procdump.exe", Summary: "procdump.exe -ma lsass.exe on WS-1", Techniques: []string{"T1003.001"}},
		&hindsight.Document{Kind: hindsight.KindThreat, Tenant: "acme", ID: "B", Title: "NTDS extraction", Summary: "ntdsutil ifm on DC-1", Techniques: []string{"T1003.003"}},
		&hindsight.Document{Kind: hindsight.KindThreat, Tenant: "acme", ID: "C", Title: "Phishing macro", Summary: "winword.exe spawned powershell.exe", Techniques: []string{"T1566.001"}},
		&hindsight.Document{Kind: hindsight.KindThreat, Tenant: "acme", ID: "SELF", Title: "LSASS dump with procdump.exe", Summary: "procdump.exe -ma lsass.exe", Techniques: []string{"T1003.001"}},
	)
	hits, err := r.Search(context.Background(), retrieval.Query{
		Text: "procdump.exe dumped lsass.exe memory", Techniques: []string{"T1003.001"}, K: 3,
		Filter:  hindsight.Filter{Tenant: "acme"},
		Exclude: []hindsight.DocKey{{Tenant: "acme", Kind: hindsight.KindThreat, ID: "SELF"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) == 0 || hits[0].ID != "A" {
		t.Fatalf("hits = %+v, want A first", hits)
	}
	for _, h := range hits {
		if h.ID == "SELF" {
			t.Error("excluded document returned")
		}
	}
	top := hits[0]
	if top.Why.Ranks["vector"] != 1 || top.Why.Ranks["text"] != 1 || top.Why.Ranks["technique"] != 1 {
		t.Errorf("top hit ranks = %v, want first in every signal", top.Why.Ranks)
	}
	if len(top.Why.Techniques) != 1 || top.Why.Techniques[0] != "T1003.001" {
		t.Errorf("shared techniques = %v", top.Why.Techniques)
	}
	if top.Document == nil || top.Title == "" {
		t.Errorf("top hit lacks its document: %+v", top)
	}
	// Terms are shown as the query wrote them, not as stems.
	if diff := cmp.Diff([]string{"procdump.exe", "procdump", "dumped", "lsass.exe", "lsass", "t1003.001", "t1003"}, top.Why.Terms); diff != "" {
		t.Errorf("matching terms (-want +got):\n%s", diff)
	}
	// B shares only the parent technique: half the technique score of A.
	for _, h := range hits {
		if h.ID == "B" && h.Why.Signals["technique"] != 0.5 {
			t.Errorf("B technique signal = %v, want 0.5", h.Why.Signals["technique"])
		}
	}
}

func TestSearchValidates(t *testing.T) {
	r := setup(t)
	ctx := context.Background()
	for _, tc := range []struct {
		q     retrieval.Query
		field string
	}{
		{retrieval.Query{Text: "x"}, "tenant"},
		{retrieval.Query{Text: "lsass", K: 101, Filter: hindsight.Filter{Tenant: "a"}}, "k"},
		{retrieval.Query{Text: "lsass", K: -1, Filter: hindsight.Filter{Tenant: "a"}}, "k"},
		{retrieval.Query{Text: "lsass", Techniques: []string{"T1"}, Filter: hindsight.Filter{Tenant: "a"}}, "techniques[0]"},
		{retrieval.Query{Text: "lsass", Filter: hindsight.Filter{Tenant: "a", Kinds: []hindsight.Kind{"x"}}}, "kinds[0]"},
		{retrieval.Query{Text: "the and of", Filter: hindsight.Filter{Tenant: "a"}}, "text"},
	} {
		if _, err := r.Search(ctx, tc.q); hindsight.ErrorField(err) != tc.field {
			t.Errorf("Search(%+v) err = %v, want one on %s", tc.q, err, tc.field)
		}
	}
	hits, err := r.Search(ctx, retrieval.Query{Text: "lsass", Filter: hindsight.Filter{Tenant: "a"}})
	if err != nil || len(hits) != 0 {
		t.Errorf("empty store: %v, %v", hits, err)
	}
}

func TestTechniqueSimilarity(t *testing.T) {
	for _, tc := range []struct {
		q, d []string
		want float64
	}{
		{[]string{"T1003.001"}, []string{"T1003.001"}, 1},
		{[]string{"T1003.001"}, []string{"T1003.002"}, 0.5},
		{[]string{"T1003"}, []string{"T1003.002"}, 0.5},
		{[]string{"T1003.001", "T1566"}, []string{"T1003.001"}, 0.5},
		{[]string{"T1003.001"}, []string{"T1566"}, 0},
		{nil, []string{"T1566"}, 0},
	} {
		if got := retrieval.TechniqueSimilarity(tc.q, tc.d, nil); got != tc.want {
			t.Errorf("TechniqueSimilarity(%v, %v) = %v, want %v", tc.q, tc.d, got, tc.want)
		}
	}
}

func TestTechniqueSimilarityWithTactics(t *testing.T) {
	tactics := map[string][]string{"T1003": {"credential-access"}, "T1558": {"credential-access"}, "T1566": {"initial-access"}}
	if got := retrieval.TechniqueSimilarity([]string{"T1003.001"}, []string{"T1558.003"}, tactics); got != 0.25 {
		t.Errorf("shared tactic = %v, want 0.25", got)
	}
	if got := retrieval.TechniqueSimilarity([]string{"T1003.001"}, []string{"T1566"}, tactics); got != 0 {
		t.Errorf("different tactics = %v, want 0", got)
	}
	if got := retrieval.TechniqueSimilarity([]string{"T1003.001"}, []string{"T1558.003", "T1003.002"}, tactics); got != 0.5 {
		t.Errorf("parent beats tactic: %v, want 0.5", got)
	}
}

// TestSearchAgesFromTheThreatsTime: of two equally similar cases, the one closer in time to the
// query's threat, before or after it, has the higher prior; without a time, the newer one.
func TestSearchAgesFromTheThreatsTime(t *testing.T) {
	at := func(y int) time.Time { return time.Date(y, 6, 1, 0, 0, 0, 0, time.UTC) }
	r := setup(t,
		&hindsight.Document{Kind: hindsight.KindThreat, Tenant: "acme", ID: "OLD", Title: "Kerberoasting from WS-1", Summary: "RC4 TGS requests for svc_sql", OccurredAt: at(2019)},
		&hindsight.Document{Kind: hindsight.KindThreat, Tenant: "acme", ID: "NEW", Title: "Kerberoasting from WS-1", Summary: "RC4 TGS requests for svc_sql", OccurredAt: at(2025)},
	)
	for _, tc := range []struct {
		at   time.Time
		want string
	}{{at(2018), "OLD"}, {at(2020), "OLD"}, {at(2024), "NEW"}, {at(2031), "NEW"}, {time.Time{}, "NEW"}} {
		hits, err := r.Search(context.Background(), retrieval.Query{Text: "kerberoasting RC4 TGS svc_sql", At: tc.at, Filter: hindsight.Filter{Tenant: "acme"}})
		if err != nil {
			t.Fatal(err)
		}
		prior := map[string]float64{}
		for _, h := range hits {
			prior[h.ID] = h.Why.Signals["prior"]
		}
		other := map[string]string{"OLD": "NEW", "NEW": "OLD"}[tc.want]
		if len(hits) != 2 || prior[tc.want] <= prior[other] {
			t.Errorf("at %v: priors = %v, want %s's higher", tc.at, prior, tc.want)
		}
	}
}

// TestSearchSkipTerms: the explanation's terms are left out when asked, and only they.
func TestSearchSkipTerms(t *testing.T) {
	r := setup(t, &hindsight.Document{Kind: hindsight.KindThreat, Tenant: "acme", ID: "A", Title: "LSASS dump with procdump.exe", Techniques: []string{"T1003.001"}})
	q := retrieval.Query{Text: "procdump.exe lsass", Techniques: []string{"T1003.001"}, Filter: hindsight.Filter{Tenant: "acme"}}
	with, err := r.Search(context.Background(), q)
	if err != nil || len(with) != 1 || len(with[0].Why.Terms) == 0 {
		t.Fatalf("search = %+v, %v; want A with its matching terms", with, err)
	}
	q.SkipTerms = true
	without, err := r.Search(context.Background(), q)
	if err != nil || len(without) != 1 || without[0].Why.Terms != nil {
		t.Fatalf("search skipping terms = %+v, %v; want A without terms", without, err)
	}
	with[0].Why.Terms = nil
	if diff := cmp.Diff(with, without); diff != "" {
		t.Errorf("skipping terms changed more than the terms (-with +without):\n%s", diff)
	}
}
