// Package retrievaltest is the conformance suite that every store backend passes: what ingest
// writes through it and what the retriever reads from it must behave the same on SQLite,
// PostgreSQL and Qdrant. A backend's test calls Exercise with a function that opens an empty store.
package retrievaltest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/eval"
	"github.com/hindsightsec/hindsight/ingest"
	"github.com/hindsightsec/hindsight/retrieval"
)

// Backend is a store under test.
type Backend interface {
	ingest.Store
	ingest.LineStore
	retrieval.Index
	CreateReview(ctx context.Context, r *hindsight.Review) error
}

var (
	embedder = retrieval.Builtin{}
	space    = embedder.Space()
	t0       = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
)

// Exercise runs the suite. open must return a new, empty store each time it is called; it is
// called once per sub-test and stores are not shared between sub-tests.
func Exercise(t *testing.T, open func(t *testing.T) Backend) {
	t.Run("EmptyStore", func(t *testing.T) { testEmptyStore(t, open(t)) })
	t.Run("UpsertAndFind", func(t *testing.T) { testUpsertAndFind(t, open(t)) })
	t.Run("Replace", func(t *testing.T) { testReplace(t, open(t)) })
	t.Run("MetadataOnlyUpdate", func(t *testing.T) { testMetadataOnly(t, open(t)) })
	t.Run("DeleteAndPrune", func(t *testing.T) { testDelete(t, open(t)) })
	t.Run("Filters", func(t *testing.T) { testFilters(t, open(t)) })
	t.Run("KLargerThanMatches", func(t *testing.T) { testK(t, open(t)) })
	t.Run("Unicode", func(t *testing.T) { testUnicode(t, open(t)) })
	t.Run("LongText", func(t *testing.T) { testLongText(t, open(t)) })
	t.Run("SpaceIsolation", func(t *testing.T) { testSpaceIsolation(t, open(t)) })
	t.Run("ConcurrentReadersDuringWrite", func(t *testing.T) { testConcurrent(t, open(t)) })
	t.Run("TenantIsolation", func(t *testing.T) { testTenantIsolation(t, open(t)) })
	t.Run("Runs", func(t *testing.T) { testRuns(t, open(t)) })
	t.Run("ReviewedFinals", func(t *testing.T) { testReviewedFinals(t, open(t)) })
	t.Run("LineHashes", func(t *testing.T) { testLineHashes(t, open(t)) })
}

// Write stores documents as ingest would: chunked, tokenised and embedded with the built-in
// embedder, from the given source.
func Write(t testing.TB, b Backend, source string, docs ...*hindsight.Document) {
	t.Helper()
	var ws []hindsight.DocumentWrite
	for _, d := range docs {
		ws = append(ws, prepare(t, d, source))
	}
	if err := b.WriteDocuments(context.Background(), ws); err != nil {
		t.Fatalf("WriteDocuments: %v", err)
	}
}

func prepare(t testing.TB, d *hindsight.Document, source string) hindsight.DocumentWrite {
	rec, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	w := hindsight.DocumentWrite{Document: d, Source: source, RecordHash: fmt.Sprintf("%x", rec), Space: space.String()}
	var all strings.Builder
	for i, s := range ingest.Sections(d) {
		terms := retrieval.Tokenize(s.Text)
		w.Chunks = append(w.Chunks, hindsight.Chunk{Seq: i, Section: s.Name, Text: s.Text, Terms: terms, Vector: embedder.EmbedTerms(terms)})
		all.WriteString(s.Name + s.Text)
	}
	w.ContentHash = fmt.Sprintf("%d:%s", len(all.String()), hashish(all.String()))
	return w
}

func hashish(s string) string {
	var h uint64 = 14695981039346656037
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * 1099511628211
	}
	return fmt.Sprintf("%016x", h)
}

func vsearch(t testing.TB, b Backend, text string, f hindsight.Filter, n int) []hindsight.Candidate {
	t.Helper()
	got, err := b.SearchVectors(context.Background(), space, embedder.EmbedTerms(retrieval.Tokenize(text)), f, n)
	if err != nil {
		t.Fatalf("SearchVectors(%q): %v", text, err)
	}
	return got
}

func tsearch(t testing.TB, b Backend, text string, f hindsight.Filter, n int) []hindsight.Candidate {
	t.Helper()
	got, err := b.SearchText(context.Background(), retrieval.Tokenize(text), f, n)
	if err != nil {
		t.Fatalf("SearchText(%q): %v", text, err)
	}
	return got
}

func ids(cs []hindsight.Candidate) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Doc.ID)
	}
	return out
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, x := range a {
		m[x]++
	}
	for _, x := range b {
		m[x]--
	}
	for _, n := range m {
		if n != 0 {
			return false
		}
	}
	return true
}

// checkBoth asserts that vector and text search both return exactly want (as a set).
func checkBoth(t *testing.T, b Backend, name, text string, f hindsight.Filter, want ...string) {
	t.Helper()
	if got := ids(vsearch(t, b, text, f, 100)); !sameSet(got, want) {
		t.Errorf("%s: vector search = %v, want %v", name, got, want)
	}
	if got := ids(tsearch(t, b, text, f, 100)); !sameSet(got, want) {
		t.Errorf("%s: text search = %v, want %v", name, got, want)
	}
}

func testEmptyStore(t *testing.T, b Backend) {
	ctx := context.Background()
	f := hindsight.Filter{Tenant: "acme"}
	checkBoth(t, b, "empty", "lsass dump", f)
	docs, err := b.FindDocuments(ctx, []hindsight.DocKey{{Kind: hindsight.KindNote, ID: "N"}})
	if err != nil || len(docs) != 0 {
		t.Errorf("FindDocuments: %v, %v", docs, err)
	}
	states, err := b.DocumentStates(ctx, []hindsight.DocKey{{Kind: hindsight.KindNote, ID: "N"}})
	if err != nil || len(states) != 0 {
		t.Errorf("DocumentStates: %v, %v", states, err)
	}
	if n, err := b.DeleteDocuments(ctx, []hindsight.DocKey{{Kind: hindsight.KindNote, ID: "N"}}); err != nil || n != 0 {
		t.Errorf("DeleteDocuments: %d, %v", n, err)
	}
	if keys, err := b.DocumentsBySource(ctx, "nowhere"); err != nil || len(keys) != 0 {
		t.Errorf("DocumentsBySource: %v, %v", keys, err)
	}
}

func testUpsertAndFind(t *testing.T, b Backend) {
	ctx := context.Background()
	rate := 0.25
	d := &hindsight.Document{Kind: hindsight.KindAnalytic, ID: "AN-1", Title: "Atypical sign-in for privileged user",
		Description: "Sign-in from a new ASN for an admin", Techniques: []string{"T1078.004"}, Severity: hindsight.SeverityMedium,
		ConversionRate: &rate, OccurredAt: t0, Platform: "azure", Tags: []string{"entra-id"},
		Metadata: map[string]json.RawMessage{"owner": json.RawMessage(`"detection-eng"`)}}
	th := &hindsight.Document{Kind: hindsight.KindThreat, Tenant: "acme", ID: "THR-1", Title: "Cloud account compromise",
		Summary: "jesse.brown signed in from 203.0.113.7", Events: []string{"10:22 sign-in", "10:31 NSG rule added"},
		Remediation: "- Revoke sessions\n- Revert the NSG rule", Techniques: []string{"T1078.004", "T1098"},
		Severity: hindsight.SeverityHigh, Disposition: hindsight.DispositionTruePositive, OccurredAt: t0}
	Write(t, b, "a.jsonl", d, th)
	got, err := b.FindDocuments(ctx, []hindsight.DocKey{d.Key(), th.Key(), {Tenant: "globex", Kind: hindsight.KindThreat, ID: "THR-1"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("FindDocuments returned %d documents, want 2 (a key of another tenant must not match)", len(got))
	}
	for _, want := range []*hindsight.Document{d, th} {
		a, _ := json.Marshal(want)
		c, _ := json.Marshal(got[want.Key()])
		if string(a) != string(c) {
			t.Errorf("stored document differs:\n want %s\n got  %s", a, c)
		}
	}
	states, err := b.DocumentStates(ctx, []hindsight.DocKey{d.Key(), th.Key()})
	if err != nil || len(states) != 2 {
		t.Fatalf("DocumentStates: %v, %v", states, err)
	}
	w := prepare(t, th, "a.jsonl")
	if s := states[th.Key()]; s.RecordHash != w.RecordHash || s.ContentHash != w.ContentHash || s.Space != space.String() || s.Source != "a.jsonl" {
		t.Errorf("state = %+v, want the hashes, space and source written", s)
	}
	cands := vsearch(t, b, "revert the NSG rule", hindsight.Filter{Tenant: "acme"}, 1)
	if len(cands) != 1 || cands[0].Doc != th.Key() || cands[0].Section != "remediation" || cands[0].Score <= 0 {
		t.Errorf("best vector candidate = %+v, want THR-1's remediation", cands)
	}
	cands = tsearch(t, b, "revert NSG", hindsight.Filter{Tenant: "acme"}, 5)
	if len(cands) != 1 || cands[0].Doc != th.Key() || cands[0].Score <= 0 {
		t.Errorf("text candidates = %+v, want THR-1 with a positive score", cands)
	}
}

func testReplace(t *testing.T, b Backend) {
	f := hindsight.Filter{Tenant: "acme"}
	Write(t, b, "a.jsonl", &hindsight.Document{Kind: hindsight.KindNote, ID: "N1", Title: "mimikatz cleanup", Body: "- remove mimikatz.exe"})
	checkBoth(t, b, "before", "mimikatz", f, "N1")
	Write(t, b, "a.jsonl", &hindsight.Document{Kind: hindsight.KindNote, ID: "N1", Title: "certutil download", Body: "- block certutil.exe -urlcache"})
	if got := ids(tsearch(t, b, "mimikatz", f, 10)); len(got) != 0 {
		t.Errorf("old text still found after replace: %v", got)
	}
	checkBoth(t, b, "after", "certutil -urlcache", f, "N1")
	// Fewer chunks than before: no stale chunk remains.
	long := &hindsight.Document{Kind: hindsight.KindNote, ID: "N2", Title: "Long", Body: strings.Repeat("- rotate krbtgt twice\n", 200)}
	Write(t, b, "a.jsonl", long)
	Write(t, b, "a.jsonl", &hindsight.Document{Kind: hindsight.KindNote, ID: "N2", Title: "Short", Body: "- enable LSA protection"})
	if got := ids(tsearch(t, b, "krbtgt", f, 10)); len(got) != 0 {
		t.Errorf("chunks of the longer version remain: %v", got)
	}
	if got := vsearch(t, b, "rotate krbtgt twice", f, 10); len(got) != 2 {
		t.Errorf("vector search after shrinking = %v, want each document once", ids(got))
	}
}

func testMetadataOnly(t *testing.T, b Backend) {
	ctx := context.Background()
	d := &hindsight.Document{Kind: hindsight.KindNote, ID: "N1", Title: "Kerberoasting", Body: "- use gMSA"}
	Write(t, b, "a.jsonl", d)
	before := vsearch(t, b, "kerberoasting gMSA", hindsight.Filter{Tenant: "x"}, 1)
	d2 := *d
	d2.Metadata = map[string]json.RawMessage{"reviewed": json.RawMessage("true")}
	w := prepare(t, &d2, "b.jsonl")
	w.Chunks = nil // the text did not change: keep the stored chunks
	if err := b.WriteDocuments(ctx, []hindsight.DocumentWrite{w}); err != nil {
		t.Fatal(err)
	}
	got, err := b.FindDocuments(ctx, []hindsight.DocKey{d.Key()})
	if err != nil || string(got[d.Key()].Metadata["reviewed"]) != "true" {
		t.Fatalf("metadata not updated: %+v, %v", got[d.Key()], err)
	}
	st, _ := b.DocumentStates(ctx, []hindsight.DocKey{d.Key()})
	if st[d.Key()].Source != "b.jsonl" || st[d.Key()].RecordHash != w.RecordHash {
		t.Errorf("state after metadata update = %+v", st[d.Key()])
	}
	after := vsearch(t, b, "kerberoasting gMSA", hindsight.Filter{Tenant: "x"}, 1)
	if len(after) != 1 || len(before) != 1 || after[0].Score != before[0].Score {
		t.Errorf("chunks changed by a metadata-only update: before %v, after %v", before, after)
	}
	if got := ids(tsearch(t, b, "gMSA", hindsight.Filter{Tenant: "x"}, 5)); len(got) != 1 {
		t.Errorf("text index lost the chunks: %v", got)
	}
}

func testDelete(t *testing.T, b Backend) {
	ctx := context.Background()
	f := hindsight.Filter{Tenant: "acme"}
	a := &hindsight.Document{Kind: hindsight.KindNote, ID: "N1", Title: "ntds.dit extraction"}
	c := &hindsight.Document{Kind: hindsight.KindThreat, Tenant: "acme", ID: "N1", Title: "ntds.dit copied by vssadmin"}
	d := &hindsight.Document{Kind: hindsight.KindNote, ID: "N3", Title: "ntds.dit from another file"}
	Write(t, b, "a.jsonl", a, c)
	Write(t, b, "b.jsonl", d)
	keys, err := b.DocumentsBySource(ctx, "a.jsonl")
	if err != nil || len(keys) != 2 {
		t.Fatalf("DocumentsBySource(a.jsonl) = %v, %v; want 2 keys", keys, err)
	}
	n, err := b.DeleteDocuments(ctx, []hindsight.DocKey{a.Key(), {Kind: hindsight.KindNote, ID: "absent"}})
	if err != nil || n != 1 {
		t.Fatalf("DeleteDocuments = %d, %v; want 1", n, err)
	}
	// Same ID, other kind and tenant: untouched.
	checkBoth(t, b, "after delete", "ntds.dit", f, "N1", "N3")
	if got, _ := b.FindDocuments(ctx, []hindsight.DocKey{a.Key()}); len(got) != 0 {
		t.Errorf("deleted document still found: %v", got)
	}
	if keys, _ := b.DocumentsBySource(ctx, "a.jsonl"); len(keys) != 1 || keys[0] != c.Key() {
		t.Errorf("DocumentsBySource after delete = %v", keys)
	}
}

func testFilters(t *testing.T, b Backend) {
	docs := []*hindsight.Document{
		{Kind: hindsight.KindThreat, Tenant: "acme", ID: "A-OLD", Title: "lsass dump procdump", Techniques: []string{"T1003.001"}, Severity: hindsight.SeverityLow, OccurredAt: t0.AddDate(-2, 0, 0)},
		{Kind: hindsight.KindThreat, Tenant: "acme", ID: "A-NEW", Title: "lsass dump comsvcs", Techniques: []string{"T1003.001", "T1218.011"}, Severity: hindsight.SeverityCritical, OccurredAt: t0},
		{Kind: hindsight.KindThreat, Tenant: "acme", ID: "A-DC", Title: "lsass dump and ntds", Techniques: []string{"T1003.003"}, Severity: hindsight.SeverityHigh, OccurredAt: t0.AddDate(0, -1, 0)},
		{Kind: hindsight.KindThreat, Tenant: "globex", ID: "G-1", Title: "lsass dump at globex", Techniques: []string{"T1003.001"}, Severity: hindsight.SeverityCritical, OccurredAt: t0},
		{Kind: hindsight.KindNote, ID: "N-1", Title: "lsass dump response", Techniques: []string{"T1003"}},
		{Kind: hindsight.KindAnalytic, ID: "AN-1", Title: "lsass dump access", Techniques: []string{"T1003.001"}, Severity: hindsight.SeverityHigh},
		{Kind: hindsight.KindThreat, Tenant: "acme", ID: "A-REM", Title: "lsass dump by DCSync", Techniques: []string{"T1003.006"}, Severity: hindsight.SeverityMedium,
			OccurredAt: t0.AddDate(0, -6, 0), Remediation: "- Rotate the krbtgt secret twice"},
	}
	Write(t, b, "f.jsonl", docs...)
	q := "lsass dump"
	acme := func(f hindsight.Filter) hindsight.Filter { f.Tenant = "acme"; return f }
	checkBoth(t, b, "tenant", q, acme(hindsight.Filter{}), "A-OLD", "A-NEW", "A-DC", "A-REM", "N-1", "AN-1")
	checkBoth(t, b, "other tenant", q, hindsight.Filter{Tenant: "globex"}, "G-1", "N-1", "AN-1")
	checkBoth(t, b, "other tenants only", q, hindsight.Filter{Tenant: "acme", OtherTenants: true}, "G-1")
	checkBoth(t, b, "other tenants of globex", q, hindsight.Filter{Tenant: "globex", OtherTenants: true, MinSeverity: hindsight.SeverityHigh}, "A-NEW", "A-DC")
	checkBoth(t, b, "kinds", q, acme(hindsight.Filter{Kinds: []hindsight.Kind{hindsight.KindNote, hindsight.KindAnalytic}}), "N-1", "AN-1")
	checkBoth(t, b, "sub-technique", q, acme(hindsight.Filter{Techniques: []string{"T1003.001"}}), "A-OLD", "A-NEW", "AN-1")
	checkBoth(t, b, "parent technique", q, acme(hindsight.Filter{Techniques: []string{"T1003"}}), "A-OLD", "A-NEW", "A-DC", "A-REM", "N-1", "AN-1")
	checkBoth(t, b, "any of techniques", q, acme(hindsight.Filter{Techniques: []string{"T1218.011", "T1003.003"}}), "A-NEW", "A-DC")
	checkBoth(t, b, "since", q, acme(hindsight.Filter{Since: t0.AddDate(0, -2, 0)}), "A-NEW", "A-DC")
	checkBoth(t, b, "until", q, acme(hindsight.Filter{Until: t0.AddDate(0, -1, 0)}), "A-OLD", "A-DC", "A-REM")
	checkBoth(t, b, "range", q, acme(hindsight.Filter{Since: t0.AddDate(0, -1, 0), Until: t0.AddDate(0, -1, 0)}), "A-DC")
	checkBoth(t, b, "severity", q, acme(hindsight.Filter{MinSeverity: hindsight.SeverityHigh}), "A-NEW", "A-DC", "AN-1")
	checkBoth(t, b, "combined", q, acme(hindsight.Filter{Kinds: []hindsight.Kind{hindsight.KindThreat}, Techniques: []string{"T1003"}, MinSeverity: hindsight.SeverityHigh, Since: t0.AddDate(-1, 0, 0)}), "A-NEW", "A-DC")

	// Sections apply to chunks: a document is found through its chunks of those sections only.
	checkBoth(t, b, "sections", q, acme(hindsight.Filter{Sections: []string{hindsight.SectionRemediation}}), "A-REM")
	checkBoth(t, b, "descriptive sections", q, acme(hindsight.Filter{Sections: hindsight.DescriptiveSections}), "A-OLD", "A-NEW", "A-DC", "A-REM", "N-1", "AN-1")
	checkBoth(t, b, "sections and techniques", q, acme(hindsight.Filter{Sections: []string{hindsight.SectionCase}, Techniques: []string{"T1003"}}), "A-OLD", "A-NEW", "A-DC", "A-REM")
	checkBoth(t, b, "a section no document has", q, acme(hindsight.Filter{Sections: []string{"appendix"}}))
	for _, c := range tsearch(t, b, "krbtgt", acme(hindsight.Filter{Sections: hindsight.DescriptiveSections}), 10) {
		t.Errorf("text search for a word of A-REM's remediation, in its descriptive sections, found %s in %s", c.Doc.ID, c.Section)
	}
	f := acme(hindsight.Filter{Sections: []string{hindsight.SectionCase}, Techniques: []string{"T1003.006"}})
	for _, got := range [][]hindsight.Candidate{vsearch(t, b, "rotate krbtgt", f, 10), tsearch(t, b, "dcsync krbtgt", f, 10)} {
		if len(got) != 1 || got[0].Doc.ID != "A-REM" || got[0].Section != hindsight.SectionCase {
			t.Errorf("search of case chunks with T1003.006 = %+v, want A-REM's case", got)
		}
	}
}

func testK(t *testing.T, b Backend) {
	var docs []*hindsight.Document
	for i := range 7 {
		docs = append(docs, &hindsight.Document{Kind: hindsight.KindThreat, Tenant: "acme", ID: fmt.Sprintf("T-%d", i), Title: fmt.Sprintf("rundll32 beacon variant %d", i)})
	}
	docs = append(docs, &hindsight.Document{Kind: hindsight.KindThreat, Tenant: "globex", ID: "G", Title: "rundll32 beacon"})
	Write(t, b, "k.jsonl", docs...)
	f := hindsight.Filter{Tenant: "acme"}
	if got := vsearch(t, b, "rundll32 beacon", f, 1000); len(got) != 7 {
		t.Errorf("vector k=1000 over 7 matches returned %d", len(got))
	}
	if got := tsearch(t, b, "rundll32 beacon", f, 1000); len(got) != 7 {
		t.Errorf("text k=1000 over 7 matches returned %d", len(got))
	}
	for _, search := range []func(testing.TB, Backend, string, hindsight.Filter, int) []hindsight.Candidate{vsearch, tsearch} {
		got := search(t, b, "rundll32 beacon variant 3", f, 3)
		if len(got) != 3 {
			t.Errorf("k=3 returned %d", len(got))
		}
		for i := 1; i < len(got); i++ {
			if got[i].Score > got[i-1].Score {
				t.Errorf("results not best first: %v", got)
			}
		}
	}
	if got := vsearch(t, b, "rundll32", f, 0); len(got) != 0 {
		t.Errorf("k=0 returned %d", len(got))
	}
}

func testUnicode(t *testing.T, b Backend) {
	ctx := context.Background()
	d := &hindsight.Document{Kind: hindsight.KindNote, ID: "NOTE-ü-1", Title: "Fälschung: Phishing-Köder 🎣 mit ＵＮＩＣＯＤＥ",
		Body: "- Prüfen Sie die Weiterleitungsregel für müller@例え.jp\n- 重置密码\n- Quote \" and backslash \\ and NUL-free control \t tab"}
	Write(t, b, "u.jsonl", d)
	got, err := b.FindDocuments(ctx, []hindsight.DocKey{d.Key()})
	if err != nil || got[d.Key()] == nil || got[d.Key()].Title != d.Title || got[d.Key()].Body != d.Body {
		t.Fatalf("unicode document did not round-trip: %+v, %v", got[d.Key()], err)
	}
	f := hindsight.Filter{Tenant: "x"}
	checkBoth(t, b, "unicode query", "Weiterleitungsregel Köder", f, "NOTE-ü-1")
	checkBoth(t, b, "cjk query", "重置密码", f, "NOTE-ü-1")
	// FTS syntax in a query is taken literally, never as operators.
	for _, q := range []string{`"unbalanced`, `AND OR NOT`, `col:value`, `a* NEAR(b c)`, `'; DROP TABLE documents; --`} {
		if _, err := b.SearchText(ctx, retrieval.Tokenize(q), f, 5); err != nil {
			t.Errorf("SearchText(%q) failed: %v", q, err)
		}
		if _, err := b.SearchText(ctx, []string{q}, f, 5); err != nil {
			t.Errorf("SearchText(raw %q) failed: %v", q, err)
		}
	}
}

func testLongText(t *testing.T, b Backend) {
	ctx := context.Background()
	var body strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&body, "- Step %d: collect the event log of host WS-%04d and review logon type 10 sessions\n", i, i)
	}
	body.WriteString("- Finally rotate the krbtgt account twice\n")
	d := &hindsight.Document{Kind: hindsight.KindNote, ID: "LONG", Title: "Very long playbook", Body: body.String()}
	Write(t, b, "l.jsonl", d)
	got, err := b.FindDocuments(ctx, []hindsight.DocKey{d.Key()})
	if err != nil || got[d.Key()] == nil || got[d.Key()].Body != d.Body {
		t.Fatalf("long document did not round-trip (%d bytes): %v", len(d.Body), err)
	}
	checkBoth(t, b, "term at the end", "krbtgt rotate twice", hindsight.Filter{Tenant: "x"}, "LONG")
}

func testSpaceIsolation(t *testing.T, b Backend) {
	ctx := context.Background()
	d := &hindsight.Document{Kind: hindsight.KindNote, ID: "N1", Title: "dcsync by mimikatz"}
	Write(t, b, "s.jsonl", d)
	other := hindsight.Space{Name: "other", Version: "1", Dim: space.Dim}
	got, err := b.SearchVectors(ctx, other, embedder.EmbedTerms(retrieval.Tokenize("dcsync")), hindsight.Filter{Tenant: "x"}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Errorf("a search in another space found %v: spaces must never mix", ids(got))
	}
}

func testConcurrent(t *testing.T, b Backend) {
	Write(t, b, "c.jsonl", &hindsight.Document{Kind: hindsight.KindNote, ID: "SEED", Title: "lsass seed"})
	f := hindsight.Filter{Tenant: "x"}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				got, err := b.SearchText(context.Background(), []string{"lsass"}, f, 100)
				if err == nil && len(got) == 0 {
					err = fmt.Errorf("reader saw no documents during a write")
				}
				if err == nil {
					_, err = b.SearchVectors(context.Background(), space, embedder.EmbedTerms([]string{"lsass"}), f, 10)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := range 20 {
		Write(t, b, "c.jsonl", &hindsight.Document{Kind: hindsight.KindNote, ID: fmt.Sprintf("N%d", i), Title: "lsass variant", Body: strings.Repeat("- dump lsass\n", 10)})
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := tsearch(t, b, "lsass", f, 100); len(got) != 21 {
		t.Errorf("after the writes: %d documents, want 21", len(got))
	}
}

// testTenantIsolation writes random threats for several tenants and checks, for random tenants,
// queries and filters, that no result ever belongs to another tenant.
func testTenantIsolation(t *testing.T, b Backend) {
	r := rand.New(rand.NewPCG(7, 11))
	tenants := []string{"acme", "globex", "initech", "umbrella", "acme-eu"}
	words := strings.Fields("lsass mimikatz rundll32 powershell kerberoast phishing macro beacon rclone certutil vssadmin ntds dcsync wmi psexec rdp mshta regsvr32 cron sudo")
	var docs []*hindsight.Document
	for i := range 120 {
		var text []string
		for range 6 {
			text = append(text, words[r.IntN(len(words))])
		}
		d := &hindsight.Document{Kind: hindsight.KindThreat, Tenant: tenants[r.IntN(len(tenants))], ID: fmt.Sprintf("THR-%03d", i),
			Title: strings.Join(text[:3], " "), Summary: strings.Join(text, " "), Techniques: []string{fmt.Sprintf("T10%02d", r.IntN(5)+50)}}
		docs = append(docs, d)
	}
	for i := range 10 {
		docs = append(docs, &hindsight.Document{Kind: hindsight.KindNote, ID: fmt.Sprintf("NOTE-%d", i), Title: words[r.IntN(len(words))] + " " + words[r.IntN(len(words))]})
	}
	Write(t, b, "t.jsonl", docs...)
	for range 60 {
		tenant := tenants[r.IntN(len(tenants))]
		if r.IntN(6) == 0 {
			tenant = "nobody"
		}
		q := words[r.IntN(len(words))] + " " + words[r.IntN(len(words))]
		f := hindsight.Filter{Tenant: tenant}
		if r.IntN(3) == 0 {
			f.Techniques = []string{fmt.Sprintf("T10%02d", r.IntN(5)+50)}
		}
		n := 1 + r.IntN(50)
		for name, cands := range map[string][]hindsight.Candidate{"vector": vsearch(t, b, q, f, n), "text": tsearch(t, b, q, f, n)} {
			for _, c := range cands {
				if c.Doc.Tenant != "" && c.Doc.Tenant != tenant {
					t.Fatalf("%s search for tenant %q (%q) returned %s of tenant %q", name, tenant, q, c.Doc.ID, c.Doc.Tenant)
				}
			}
			if len(cands) > n {
				t.Fatalf("%s search returned %d > k=%d", name, len(cands), n)
			}
		}
	}
}

func testRuns(t *testing.T, b Backend) {
	ctx := context.Background()
	run := &hindsight.Run{ID: "RUN-1", StartedAt: t0, Status: hindsight.RunRunning, Paths: []string{"a"}, Rejected: []hindsight.Rejection{}}
	if err := b.SaveRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	run.Status, run.FinishedAt, run.Inserted = hindsight.RunPartial, t0.Add(time.Minute), 3
	run.Rejected = append(run.Rejected, hindsight.Rejection{File: "a", Line: 2, Field: "id", Error: "is required"})
	if err := b.SaveRun(ctx, run); err != nil {
		t.Fatalf("update run: %v", err)
	}
}

// testReviewedFinals pages through reviewed drafts, each with its latest review, and checks that
// an ingest run makes their finals searchable grounding within their tenants, replaced by a newer
// review.
func testReviewedFinals(t *testing.T, b Backend) {
	ctx := context.Background()
	pair := func(id, tenant string, kind hindsight.DraftKind, final string) hindsight.Pair {
		return hindsight.Pair{ID: id, Kind: kind, Model: "extractive", PromptVersion: "extractive-1", Tenant: tenant,
			Techniques: []string{"T1003.001"}, Draft: "- Isolate the host", Final: final,
			Ratings: hindsight.Ratings{Accuracy: 4, Clarity: 4, Completeness: 3}, CreatedAt: t0}
	}
	pairs := []hindsight.Pair{
		pair("DRF-C", "acme", hindsight.DraftRemediation, "- Rotate the krbtgt password twice"),
		pair("DRF-A", "globex", hindsight.DraftRemediation, "- Rotate the krbtgt password at globex"),
		pair("DRF-E", "acme", hindsight.DraftHardening, "- Enable LSA protection on every server"),
		pair("DRF-B", "acme", hindsight.DraftHunting, "- Hunt for procdump on jump hosts"),
		pair("DRF-D", "acme", hindsight.DraftRemediation, "- Reset the password of svc_backup"),
	}
	if _, _, _, err := b.ImportPairs(ctx, pairs); err != nil {
		t.Fatal(err)
	}
	if err := b.CreateReview(ctx, &hindsight.Review{ID: "REV-2", DraftID: "DRF-C", Tenant: "acme", Reviewer: "k1",
		Final: "- Rotate the krbtgt password twice, ten hours apart", Ratings: hindsight.Ratings{Accuracy: 2, Clarity: 2, Completeness: 2},
		CreatedAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	page := func(p eval.PairPage) []string {
		t.Helper()
		var out []string
		for {
			got, err := b.FindPairsPage(ctx, p)
			if err != nil {
				t.Fatalf("FindPairsPage(%+v): %v", p, err)
			}
			if len(got) > p.Limit {
				t.Fatalf("FindPairsPage(%+v) returned %d drafts", p, len(got))
			}
			for _, sp := range got {
				out = append(out, sp.Draft.ID+"/"+sp.Review.ID)
			}
			if len(got) < p.Limit {
				return out
			}
			p.After = got[len(got)-1].Draft.ID
		}
	}
	all := []string{"DRF-A/REV-IMPORT-DRF-A", "DRF-B/REV-IMPORT-DRF-B", "DRF-C/REV-2", "DRF-D/REV-IMPORT-DRF-D", "DRF-E/REV-IMPORT-DRF-E"}
	if got := page(eval.PairPage{Limit: 2}); strings.Join(got, " ") != strings.Join(all, " ") {
		t.Errorf("pages of 2 = %v, want %v: in ID order, each with its latest review", got, all)
	}
	if got := page(eval.PairPage{Tenant: "acme", After: "DRF-B", Limit: 10}); strings.Join(got, " ") != strings.Join(all[2:], " ") {
		t.Errorf("acme's after DRF-B = %v, want %v", got, all[2:])
	}
	if got := page(eval.PairPage{DraftIDs: []string{"DRF-E", "DRF-X", "DRF-A"}, Limit: 10}); strings.Join(got, " ") != all[0]+" "+all[4] {
		t.Errorf("drafts named = %v, want %v", got, []string{all[0], all[4]})
	}
	if got := page(eval.PairPage{Tenant: "acme", DraftIDs: []string{"DRF-E", "DRF-A"}, Limit: 10}); strings.Join(got, " ") != all[4] {
		t.Errorf("acme's of the drafts named = %v, want %v", got, all[4:])
	}

	in := ingest.New(b, embedder, nil)
	run, err := in.Run(ctx, nil, ingest.Options{Reviews: true, BatchSize: 2})
	if err != nil || run.Read != 5 || run.Inserted != 5 || len(run.Rejected) != 0 {
		t.Fatalf("reviews sync: %+v, %v; want 5 read and inserted", run, err)
	}
	acme := hindsight.Filter{Tenant: "acme"}
	text := func(name, q string, f hindsight.Filter, want ...string) {
		t.Helper()
		if got := ids(tsearch(t, b, q, f, 100)); !sameSet(got, want) {
			t.Errorf("%s: text search = %v, want %v", name, got, want)
		}
	}
	text("acme's reviewed finals", "krbtgt", acme, "REVIEWED-DRF-C")
	text("globex's reviewed finals", "krbtgt", hindsight.Filter{Tenant: "globex"}, "REVIEWED-DRF-A")
	if got, want := ids(vsearch(t, b, "krbtgt password", acme, 100)), []string{"REVIEWED-DRF-B", "REVIEWED-DRF-C", "REVIEWED-DRF-D", "REVIEWED-DRF-E"}; !sameSet(got, want) || got[0] != "REVIEWED-DRF-C" {
		t.Errorf("acme's vector search = %v, want %v with REVIEWED-DRF-C first", got, want)
	}
	key := hindsight.DocKey{Tenant: "acme", Kind: hindsight.KindThreat, ID: "REVIEWED-DRF-C"}
	docs, err := b.FindDocuments(ctx, []hindsight.DocKey{key})
	if err != nil || docs[key] == nil {
		t.Fatalf("FindDocuments(%v) = %v, %v", key, docs, err)
	}
	if d := docs[key]; d.Remediation != "- Rotate the krbtgt password twice, ten hours apart" || string(d.Metadata["status"]) != `"approved"` ||
		string(d.Metadata["review_id"]) != `"REV-2"` {
		t.Errorf("reviewed final = %+v", d)
	}

	// A newer review replaces the final; the rest is unchanged.
	if err := b.CreateReview(ctx, &hindsight.Review{ID: "REV-3", DraftID: "DRF-C", Tenant: "acme", Reviewer: "k2",
		Final: "- Reset the krbtgt account with the New-KrbtgtKeys script", Ratings: hindsight.Ratings{Accuracy: 5, Clarity: 5, Completeness: 5},
		CreatedAt: t0.Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	run, err = in.Run(ctx, nil, ingest.Options{Reviews: true, Tenant: "acme"})
	if err != nil || run.Read != 4 || run.Updated != 1 || run.Unchanged != 3 || run.Deleted != 0 {
		t.Fatalf("acme's sync after a new review: %+v, %v; want 1 updated, 3 unchanged", run, err)
	}
	text("replaced final", "script", acme, "REVIEWED-DRF-C")
	text("replaced final's old text", "apart", acme)
	if got := ids(vsearch(t, b, "New-KrbtgtKeys script", acme, 1)); len(got) != 1 || got[0] != "REVIEWED-DRF-C" {
		t.Errorf("vector search for the new final = %v, want REVIEWED-DRF-C", got)
	}
}
