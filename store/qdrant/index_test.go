package qdrant

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/retrieval"
	"github.com/hindsightsec/hindsight/retrieval/retrievaltest"
	"github.com/hindsightsec/hindsight/store/qdrant/qdranttest"
	"github.com/hindsightsec/hindsight/store/sqlite"
	qc "github.com/qdrant/go-client/qdrant"
	"google.golang.org/protobuf/proto"
)

var (
	builtin = retrieval.Builtin{}
	space   = builtin.Space()
	t0      = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
)

// setup starts a fake and opens an index on it with the options (Host and Port are filled in).
func setup(t *testing.T, opts Options) (*qdranttest.Fake, *Index) {
	t.Helper()
	f := qdranttest.Start(t)
	opts.Host, opts.Port = f.Host(), f.Port()
	return f, openIndex(t, opts)
}

func embed(text string) []float32 { return builtin.EmbedTerms(retrieval.Tokenize(text)) }

func search(t *testing.T, ix *Index, text string, f hindsight.Filter, n int) []hindsight.Candidate {
	t.Helper()
	got, err := ix.SearchVectors(context.Background(), space, embed(text), f, n)
	if err != nil {
		t.Fatalf("SearchVectors(%q): %v", text, err)
	}
	return got
}

func docIDs(cs []hindsight.Candidate) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Doc.ID)
	}
	return out
}

// countPoints counts a document's points in a space's collection, asking Qdrant (the fake).
func countPoints(t *testing.T, ix *Index, space string, k hindsight.DocKey) uint64 {
	t.Helper()
	n, err := ix.client.Count(context.Background(), &qc.CountPoints{
		CollectionName: ix.collection(space),
		Filter:         &qc.Filter{Must: []*qc.Condition{docCondition(k)}},
		Exact:          qc.PtrOf(true),
	})
	if err != nil {
		t.Fatalf("count points of %s: %v", k, err)
	}
	return n
}

// TestTenantFilterIsAppliedInsideQdrant checks the request Qdrant received and what it answered:
// the tenant condition is in the query's filter, and Qdrant itself returned no other tenant's
// document, so nothing was left to filter afterwards.
func TestTenantFilterIsAppliedInsideQdrant(t *testing.T) {
	f, ix := setup(t, Options{})
	retrievaltest.Write(t, ix, "t.jsonl",
		&hindsight.Document{Kind: hindsight.KindThreat, Tenant: "acme", ID: "A-1", Title: "lsass dump by procdump"},
		&hindsight.Document{Kind: hindsight.KindThreat, Tenant: "globex", ID: "G-1", Title: "lsass dump by procdump at globex"},
		&hindsight.Document{Kind: hindsight.KindThreat, Tenant: "globex", ID: "G-2", Title: "lsass dump by comsvcs"},
		&hindsight.Document{Kind: hindsight.KindNote, ID: "N-1", Title: "lsass dump response"},
	)
	got := search(t, ix, "lsass dump procdump", hindsight.Filter{Tenant: "acme"}, 10)
	if want := []string{"A-1", "N-1"}; !sameIDs(docIDs(got), want) {
		t.Errorf("search = %v, want %v", docIDs(got), want)
	}

	calls := f.Calls("Points/QueryGroups")
	if len(calls) != 1 {
		t.Fatalf("%d QueryGroups calls, want 1", len(calls))
	}
	req := calls[0].Request.(*qc.QueryPointGroups)
	want := qc.NewMatchKeywords("tenant", "acme", "")
	if !slices.ContainsFunc(req.GetFilter().GetMust(), func(c *qc.Condition) bool { return proto.Equal(c, want) }) {
		t.Errorf("query filter %v has no must condition tenant in (acme, \"\")", req.GetFilter())
	}
	resp := calls[0].Response.(*qc.QueryGroupsResponse)
	var tenants []string
	for _, g := range resp.GetResult().GetGroups() {
		for _, h := range g.GetHits() {
			tenants = append(tenants, h.GetPayload()["tenant"].GetStringValue())
		}
	}
	if len(tenants) != 2 || slices.Contains(tenants, "globex") {
		t.Errorf("Qdrant answered hits of tenants %q: the filter did not keep globex out", tenants)
	}
}

func sameIDs(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// TestFilterFieldsReachQdrant checks the filter rendered for every field of hindsight.Filter.
func TestFilterFieldsReachQdrant(t *testing.T) {
	since, until := t0.Add(-time.Hour+time.Nanosecond), t0
	got := searchFilter(&hindsight.Filter{Tenant: "acme", Kinds: []hindsight.Kind{hindsight.KindThreat, hindsight.KindNote},
		Techniques: []string{"T1003"}, Since: since, Until: until, MinSeverity: hindsight.SeverityHigh})
	want := &qc.Filter{Must: []*qc.Condition{
		qc.NewMatchKeywords("tenant", "acme", ""),
		qc.NewMatchKeywords("kind", "threat", "note"),
		qc.NewMatchKeywords("techniques", "T1003"),
		qc.NewDatetimeRange("occurred_at", &qc.DatetimeRange{Gte: timestamp(since.Truncate(time.Microsecond)), Lte: timestamp(until)}),
		qc.NewRange("severity", &qc.Range{Gte: qc.PtrOf(4.0)}),
	}}
	if !proto.Equal(got, want) {
		t.Errorf("filter:\n got  %v\n want %v", got, want)
	}
}

func TestRewriteDeletesStaleChunkPoints(t *testing.T) {
	_, ix := setup(t, Options{})
	long := &hindsight.Document{Kind: hindsight.KindNote, ID: "N1", Title: "Long", Body: strings.Repeat("- rotate the krbtgt account twice\n", 300)}
	retrievaltest.Write(t, ix, "a.jsonl", long)
	before := countPoints(t, ix, space.String(), long.Key())
	if before < 3 {
		t.Fatalf("the long note has %d points, want several", before)
	}
	retrievaltest.Write(t, ix, "a.jsonl", &hindsight.Document{Kind: hindsight.KindNote, ID: "N1", Title: "Short", Body: "- enable LSA protection"})
	if n := countPoints(t, ix, space.String(), long.Key()); n != 1 {
		t.Errorf("after rewriting with one chunk, %d points remain (had %d)", n, before)
	}
	// The same document again: the same points are overwritten, none added.
	retrievaltest.Write(t, ix, "a.jsonl", &hindsight.Document{Kind: hindsight.KindNote, ID: "N1", Title: "Short", Body: "- enable LSA protection"})
	if n := countPoints(t, ix, space.String(), long.Key()); n != 1 {
		t.Errorf("after writing the same document again, %d points, want 1", n)
	}
}

func TestUpsertsAreBatched(t *testing.T) {
	f, ix := setup(t, Options{BatchSize: 10})
	var docs []*hindsight.Document
	for i := range 25 {
		docs = append(docs, &hindsight.Document{Kind: hindsight.KindNote, ID: fmt.Sprintf("N%02d", i), Title: "note " + fmt.Sprint(i)})
	}
	retrievaltest.Write(t, ix, "b.jsonl", docs...)
	var sizes []int
	for _, c := range f.Calls("Points/Upsert") {
		req := c.Request.(*qc.UpsertPoints)
		sizes = append(sizes, len(req.GetPoints()))
		if !req.GetWait() {
			t.Errorf("upsert without wait: the catalog could commit before Qdrant applied the points")
		}
	}
	if !slices.Equal(sizes, []int{10, 10, 5}) {
		t.Errorf("upsert batch sizes = %v, want [10 10 5]", sizes)
	}
}

// failingCatalog fails WriteDocuments while fail is set, like a catalog whose transaction never
// commits because the process died.
type failingCatalog struct {
	Catalog
	fail bool
}

func (c *failingCatalog) WriteDocuments(ctx context.Context, ws []hindsight.DocumentWrite) error {
	if c.fail {
		return errors.New("catalog transaction aborted")
	}
	return c.Catalog.WriteDocuments(ctx, ws)
}

// TestInterruptedWriteIsRepairedByRerun plays the crash between Qdrant and the catalog: the points
// are in Qdrant, the catalog never committed. Searches must not see the document, ingest must
// still see it as new, and writing it again must leave exactly its points.
func TestInterruptedWriteIsRepairedByRerun(t *testing.T) {
	ctx := context.Background()
	f := qdranttest.Start(t)
	sq, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "c.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	cat := &failingCatalog{Catalog: sq, fail: true}
	ix, err := Open(ctx, cat, fakeOptions(f), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	d := &hindsight.Document{Kind: hindsight.KindThreat, Tenant: "acme", ID: "T1", Title: "rclone exfiltration to mega",
		Remediation: "- block mega.nz\n- revoke the service account"}
	ws := []hindsight.DocumentWrite{prepare(d)}
	if err := ix.WriteDocuments(ctx, ws); err == nil {
		t.Fatal("WriteDocuments succeeded with a failing catalog")
	}
	if n := countPoints(t, ix, space.String(), d.Key()); n != 2 {
		t.Fatalf("Qdrant holds %d points of the document, want its 2 chunks (written before the catalog)", n)
	}
	if got := search(t, ix, "rclone mega", hindsight.Filter{Tenant: "acme"}, 10); len(got) != 0 {
		t.Errorf("search found %v, a document the catalog does not hold", docIDs(got))
	}
	if st, _ := ix.DocumentStates(ctx, []hindsight.DocKey{d.Key()}); len(st) != 0 {
		t.Errorf("the catalog knows the document (%v): ingest would not write it again", st)
	}
	cat.fail = false
	if err := ix.WriteDocuments(ctx, ws); err != nil {
		t.Fatalf("rerun: %v", err)
	}
	if n := countPoints(t, ix, space.String(), d.Key()); n != 2 {
		t.Errorf("after the rerun Qdrant holds %d points, want 2", n)
	}
	if got := search(t, ix, "rclone mega", hindsight.Filter{Tenant: "acme"}, 10); len(got) != 1 {
		t.Errorf("after the rerun search found %v, want T1", docIDs(got))
	}
}

// TestLineHashesAreTheCatalogs checks that the index keeps line hashes where its catalog does
// (the SQLite catalog) and has none otherwise, so that ingest then decodes every line.
func TestLineHashesAreTheCatalogs(t *testing.T) {
	ctx := context.Background()
	_, ix := setup(t, Options{})
	d := &hindsight.Document{Kind: hindsight.KindNote, ID: "N1", Title: "rclone exfiltration to mega"}
	w := prepare(d)
	w.LineHash = "line-1"
	if err := ix.WriteDocuments(ctx, []hindsight.DocumentWrite{w}); err != nil {
		t.Fatal(err)
	}
	got, err := ix.DocumentStatesByLine(ctx, []string{"line-1", "line-2"})
	if err != nil || len(got) != 1 || got["line-1"].Key != d.Key() || got["line-1"].Source != w.Source {
		t.Fatalf("DocumentStatesByLine = %+v, %v; want N1 under line-1", got, err)
	}
	err = ix.SetDocumentLineHashes(ctx, []hindsight.LineState{{Key: d.Key(), DocState: hindsight.DocState{RecordHash: w.RecordHash, LineHash: "line-2"}}})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ix.DocumentStatesByLine(ctx, []string{"line-1", "line-2"}); err != nil || len(got) != 1 || got["line-2"].Key != d.Key() {
		t.Errorf("after SetDocumentLineHashes: %+v, %v; want N1 under line-2 only", got, err)
	}

	// A catalog without line hashes (here: one that offers only Catalog's methods) has none.
	sq, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "c.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := Open(ctx, &failingCatalog{Catalog: sq}, fakeOptions(qdranttest.Start(t)), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if err := plain.WriteDocuments(ctx, []hindsight.DocumentWrite{w}); err != nil {
		t.Fatal(err)
	}
	if got, err := plain.DocumentStatesByLine(ctx, []string{"line-1"}); err != nil || len(got) != 0 {
		t.Errorf("without line hashes: %+v, %v; want none", got, err)
	}
	if err := plain.SetDocumentLineHashes(ctx, []hindsight.LineState{{Key: d.Key(), DocState: hindsight.DocState{RecordHash: w.RecordHash, LineHash: "line-2"}}}); err != nil {
		t.Errorf("SetDocumentLineHashes without line hashes: %v", err)
	}
}

func prepare(d *hindsight.Document) hindsight.DocumentWrite {
	w := hindsight.DocumentWrite{Document: d, Source: "x.jsonl", RecordHash: d.ID + d.Title, ContentHash: d.Title, Space: space.String()}
	i := 0
	for _, s := range []struct{ name, text string }{{"case", d.Title + " " + d.Summary}, {"remediation", d.Remediation}} {
		if s.text == "" {
			continue
		}
		terms := retrieval.Tokenize(s.text)
		w.Chunks = append(w.Chunks, hindsight.Chunk{Seq: i, Section: s.name, Text: s.text, Terms: terms, Vector: builtin.EmbedTerms(terms)})
		i++
	}
	return w
}

// TestOrphanPointsAreSkippedAndReplaced leaves the best-matching document's points in Qdrant after
// the catalog lost it (an interrupted delete) and checks that a search still returns n documents,
// all of which the catalog holds.
func TestOrphanPointsAreSkippedAndReplaced(t *testing.T) {
	ctx := context.Background()
	f, ix := setup(t, Options{})
	orphan := &hindsight.Document{Kind: hindsight.KindNote, ID: "ORPHAN", Title: "dcsync with mimikatz from a workstation"}
	retrievaltest.Write(t, ix, "o.jsonl", orphan,
		&hindsight.Document{Kind: hindsight.KindNote, ID: "N1", Title: "dcsync detection"},
		&hindsight.Document{Kind: hindsight.KindNote, ID: "N2", Title: "mimikatz cleanup"},
		&hindsight.Document{Kind: hindsight.KindNote, ID: "N3", Title: "password spraying"},
	)
	if n, err := ix.catalog.DeleteDocuments(ctx, []hindsight.DocKey{orphan.Key()}); err != nil || n != 1 {
		t.Fatalf("delete from the catalog alone: %d, %v", n, err)
	}
	got := search(t, ix, "dcsync with mimikatz from a workstation", hindsight.Filter{Tenant: "x"}, 2)
	if ids := docIDs(got); !sameIDs(ids, []string{"N1", "N2"}) {
		t.Errorf("search = %v, want the two best documents the catalog holds, N1 and N2", ids)
	}
	if n := len(f.Calls("Points/QueryGroups")); n != 2 {
		t.Errorf("%d queries, want 2: the first found the orphan among the best 2, the second one more", n)
	}
	// Deleting through the index removes the points as well.
	if _, err := ix.DeleteDocuments(ctx, []hindsight.DocKey{{Kind: hindsight.KindNote, ID: "N1"}}); err != nil {
		t.Fatal(err)
	}
	if n := countPoints(t, ix, space.String(), hindsight.DocKey{Kind: hindsight.KindNote, ID: "N1"}); n != 0 {
		t.Errorf("%d points of a deleted document remain", n)
	}
}

// TestMetadataOnlyWriteUpdatesFilterFields changes a document's severity and time without new
// chunks: Qdrant's copy of those fields must follow, or filters would disagree with the catalog.
func TestMetadataOnlyWriteUpdatesFilterFields(t *testing.T) {
	ctx := context.Background()
	f, ix := setup(t, Options{})
	d := &hindsight.Document{Kind: hindsight.KindThreat, Tenant: "acme", ID: "T1", Title: "vssadmin shadow copy deletion",
		Severity: hindsight.SeverityLow, OccurredAt: t0}
	retrievaltest.Write(t, ix, "m.jsonl", d)
	high := hindsight.Filter{Tenant: "acme", MinSeverity: hindsight.SeverityHigh}
	dated := hindsight.Filter{Tenant: "acme", Since: t0.Add(-time.Hour)}
	if got := search(t, ix, "vssadmin", high, 5); len(got) != 0 {
		t.Fatalf("a low-severity threat passed a high-severity filter: %v", docIDs(got))
	}
	d2 := *d
	d2.Severity, d2.OccurredAt = hindsight.SeverityCritical, time.Time{}
	if err := ix.WriteDocuments(ctx, []hindsight.DocumentWrite{{Document: &d2, Source: "m.jsonl", RecordHash: "new", ContentHash: "same", Space: space.String()}}); err != nil {
		t.Fatal(err)
	}
	if got := search(t, ix, "vssadmin", high, 5); len(got) != 1 {
		t.Errorf("after raising the severity, a high-severity search found %v, want T1", docIDs(got))
	}
	if got := search(t, ix, "vssadmin", dated, 5); len(got) != 0 {
		t.Errorf("after removing the time, a dated search found %v", docIDs(got))
	}
	// A record change that leaves the filter fields alone costs no request to Qdrant.
	before := len(f.Calls(""))
	d3 := d2
	d3.Platform = "windows"
	if err := ix.WriteDocuments(ctx, []hindsight.DocumentWrite{{Document: &d3, Source: "m.jsonl", RecordHash: "newer", ContentHash: "same", Space: space.String()}}); err != nil {
		t.Fatal(err)
	}
	if calls := f.Calls("")[before:]; len(calls) != 0 {
		t.Errorf("a platform change made %d Qdrant calls (first %s), want none", len(calls), calls[0].Method)
	}
}

// TestNewSpaceMovesPoints embeds a document in another space: its points must leave the old
// space's collection.
func TestNewSpaceMovesPoints(t *testing.T) {
	ctx := context.Background()
	_, ix := setup(t, Options{})
	d := &hindsight.Document{Kind: hindsight.KindNote, ID: "N1", Title: "golden ticket"}
	retrievaltest.Write(t, ix, "s.jsonl", d)
	other := hindsight.Space{Name: "tiny", Version: "2", Dim: 4}
	w := hindsight.DocumentWrite{Document: d, Source: "s.jsonl", RecordHash: "r", ContentHash: "c", Space: other.String(),
		Chunks: []hindsight.Chunk{{Seq: 0, Section: "title", Text: d.Title, Vector: []float32{1, 0, 0, 0}}}}
	if err := ix.WriteDocuments(ctx, []hindsight.DocumentWrite{w}); err != nil {
		t.Fatal(err)
	}
	if n := countPoints(t, ix, space.String(), d.Key()); n != 0 {
		t.Errorf("%d points remain in the old space's collection", n)
	}
	if n := countPoints(t, ix, other.String(), d.Key()); n != 1 {
		t.Errorf("%d points in the new space's collection, want 1", n)
	}
	got, err := ix.SearchVectors(ctx, other, []float32{0.9, 0.1, 0, 0}, hindsight.Filter{Tenant: "x"}, 5)
	if err != nil || len(got) != 1 || got[0].Score < 0.9 {
		t.Errorf("search in the new space = %+v, %v; want N1 with cosine near 0.99", got, err)
	}
}

func TestCollectionSettings(t *testing.T) {
	f, ix := setup(t, Options{CollectionPrefix: "soc", Shards: 3, Replicas: 2, OnDisk: true, Quantization: "int8"})
	retrievaltest.Write(t, ix, "c.jsonl", &hindsight.Document{Kind: hindsight.KindNote, ID: "N1", Title: "kerberoasting"})
	creates := f.Calls("Collections/Create")
	if len(creates) != 1 {
		t.Fatalf("%d collection creations, want 1", len(creates))
	}
	req := creates[0].Request.(*qc.CreateCollection)
	vp := req.GetVectorsConfig().GetParams()
	switch {
	case req.GetCollectionName() != "soc_builtin_1_384":
		t.Errorf("collection name %q, want soc_builtin_1_384", req.GetCollectionName())
	case vp.GetSize() != 384 || vp.GetDistance() != qc.Distance_Cosine:
		t.Errorf("vectors %d/%v, want 384/cosine", vp.GetSize(), vp.GetDistance())
	case req.GetShardNumber() != 3 || req.GetReplicationFactor() != 2:
		t.Errorf("shards %d replicas %d, want 3 and 2", req.GetShardNumber(), req.GetReplicationFactor())
	case !vp.GetOnDisk() || !req.GetOnDiskPayload():
		t.Errorf("on_disk vectors %v payload %v, want both", vp.GetOnDisk(), req.GetOnDiskPayload())
	case req.GetQuantizationConfig().GetScalar().GetType() != qc.QuantizationType_Int8 || !req.GetQuantizationConfig().GetScalar().GetAlwaysRam():
		t.Errorf("quantization %v, want int8 in RAM", req.GetQuantizationConfig())
	}
	info, err := ix.client.GetCollectionInfo(context.Background(), "soc_builtin_1_384")
	if err != nil {
		t.Fatal(err)
	}
	schema := info.GetPayloadSchema()
	for field, typ := range map[string]qc.PayloadSchemaType{"tenant": qc.PayloadSchemaType_Keyword, "doc": qc.PayloadSchemaType_Keyword,
		"kind": qc.PayloadSchemaType_Keyword, "techniques": qc.PayloadSchemaType_Keyword,
		"occurred_at": qc.PayloadSchemaType_Datetime, "severity": qc.PayloadSchemaType_Integer} {
		if got := schema[field].GetDataType(); got != typ {
			t.Errorf("payload index on %s: %v, want %v", field, got, typ)
		}
	}
	if !schema["tenant"].GetParams().GetKeywordIndexParams().GetIsTenant() {
		t.Errorf("the tenant index is not marked is_tenant: %v", schema["tenant"])
	}
	search(t, ix, "kerberoasting", hindsight.Filter{Tenant: "x"}, 3)
	q := f.Calls("Points/QueryGroups")[0].Request.(*qc.QueryPointGroups)
	if !q.GetParams().GetQuantization().GetRescore() {
		t.Errorf("a search over quantised vectors does not rescore: scores would not be exact cosines")
	}
	if q.GetGroupBy() != "doc" || q.GetGroupSize() != 1 || q.GetLimit() != 3 {
		t.Errorf("query groups by %q, %d a group, %d groups; want doc, 1, 3", q.GetGroupBy(), q.GetGroupSize(), q.GetLimit())
	}
}

// TestMissingPayloadIndexesAreCreated plays a crash between creating a collection and its indexes.
func TestMissingPayloadIndexesAreCreated(t *testing.T) {
	ctx := context.Background()
	f, ix := setup(t, Options{})
	err := ix.client.CreateCollection(ctx, &qc.CreateCollection{CollectionName: "hindsight_builtin_1_384",
		VectorsConfig: qc.NewVectorsConfig(&qc.VectorParams{Size: 384, Distance: qc.Distance_Cosine})})
	if err != nil {
		t.Fatal(err)
	}
	retrievaltest.Write(t, ix, "i.jsonl", &hindsight.Document{Kind: hindsight.KindNote, ID: "N1", Title: "kerberoasting"})
	if n := len(f.Calls("Points/CreateFieldIndex")); n != len(payloadIndexes) {
		t.Errorf("%d payload indexes created, want %d", n, len(payloadIndexes))
	}
}

func TestConflictingCollectionIsRefused(t *testing.T) {
	ctx := context.Background()
	_, ix := setup(t, Options{})
	err := ix.client.CreateCollection(ctx, &qc.CreateCollection{CollectionName: "hindsight_builtin_1_384",
		VectorsConfig: qc.NewVectorsConfig(&qc.VectorParams{Size: 384, Distance: qc.Distance_Dot})})
	if err != nil {
		t.Fatal(err)
	}
	err = ix.WriteDocuments(ctx, []hindsight.DocumentWrite{prepare(&hindsight.Document{Kind: hindsight.KindNote, ID: "N1", Title: "x"})})
	if hindsight.ErrorCode(err) != hindsight.ECONFLICT {
		t.Errorf("writing into a dot-product collection: %v, want ECONFLICT", err)
	}
}

func TestCollectionDeletedBehindTheIndex(t *testing.T) {
	ctx := context.Background()
	_, ix := setup(t, Options{})
	retrievaltest.Write(t, ix, "d.jsonl", &hindsight.Document{Kind: hindsight.KindNote, ID: "N1", Title: "kerberoasting"})
	if err := ix.client.DeleteCollection(ctx, "hindsight_builtin_1_384"); err != nil {
		t.Fatal(err)
	}
	if got := search(t, ix, "kerberoasting", hindsight.Filter{Tenant: "x"}, 3); len(got) != 0 {
		t.Errorf("search of a deleted collection = %v", docIDs(got))
	}
	retrievaltest.Write(t, ix, "d.jsonl", &hindsight.Document{Kind: hindsight.KindNote, ID: "N2", Title: "kerberoasting again"})
	if got := search(t, ix, "kerberoasting", hindsight.Filter{Tenant: "x"}, 3); len(got) != 1 {
		t.Errorf("after writing again, search = %v, want N2", docIDs(got))
	}
}

func TestAPIKey(t *testing.T) {
	ctx := context.Background()
	f := qdranttest.Start(t)
	f.RequireAPIKey("s3cret")
	cat, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "c.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	_, err = Open(ctx, cat, fakeOptions(f), nil)
	if hindsight.ErrorCode(err) != hindsight.EUNAVAILABLE || !strings.Contains(hindsight.ErrorMessage(err), "API key") {
		t.Errorf("Open without the key: %v, want EUNAVAILABLE about the API key", err)
	}
	opts := fakeOptions(f)
	opts.APIKey = "s3cret"
	ix := openIndex(t, opts)
	retrievaltest.Write(t, ix, "k.jsonl", &hindsight.Document{Kind: hindsight.KindNote, ID: "N1", Title: "kerberoasting"})
	if got := search(t, ix, "kerberoasting", hindsight.Filter{Tenant: "x"}, 3); len(got) != 1 {
		t.Errorf("search with the key = %v", docIDs(got))
	}
}

func TestOpenUnreachable(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := lis.Addr().(*net.TCPAddr).Port
	lis.Close()
	cat, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "c.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = Open(ctx, cat, Options{Host: "127.0.0.1", Port: port}, nil)
	if hindsight.ErrorCode(err) != hindsight.EUNAVAILABLE {
		t.Errorf("Open of a closed port: %v, want EUNAVAILABLE", err)
	}
	// The catalog is still the caller's, and still open.
	if err := cat.Ping(context.Background()); err != nil {
		t.Errorf("the catalog was closed by a failed Open: %v", err)
	}
}

func TestCollectionName(t *testing.T) {
	for _, tc := range []struct{ space, want string }{
		{"builtin@1/384", "hindsight_builtin_1_384"},
		{"nomic-embed-text@v1.5/768", "hindsight_nomic-embed-text_v1.5_768"},
	} {
		if got := collectionName("hindsight", tc.space); got != tc.want {
			t.Errorf("collectionName(%q) = %q, want %q", tc.space, got, tc.want)
		}
	}
	// Spaces that would read the same once their separators are gone get distinct names.
	seen := map[string]string{}
	for _, s := range []string{"a_b@1/3", "a@b_1/3", "a@b/1_3", "ollama:nomic@v1/768", "ollama_nomic@v1/768",
		"x/y@1/3", "x@y/1/3", "a@b/123", "a@b/12345678", strings.Repeat("n", 300) + "@1/3", strings.Repeat("n", 300) + "@2/3"} {
		name := collectionName("hindsight", s)
		if other, ok := seen[name]; ok {
			t.Errorf("spaces %q and %q share the collection %q", s, other, name)
		}
		seen[name] = s
		if len(name) > 255 || strings.ContainsAny(name, "<>:\"/\\|?*@ ") {
			t.Errorf("collection name %q for %q is not a valid Qdrant name", name, s)
		}
	}
}

func TestPointIDs(t *testing.T) {
	k := hindsight.DocKey{Tenant: "acme", Kind: hindsight.KindThreat, ID: "T1"}
	a := pointID("builtin@1/384", k, 0)
	if a != pointID("builtin@1/384", k, 0) {
		t.Error("point IDs are not deterministic")
	}
	for _, other := range []string{
		pointID("builtin@1/384", k, 1),
		pointID("builtin@2/384", k, 0),
		pointID("builtin@1/384", hindsight.DocKey{Tenant: "globex", Kind: k.Kind, ID: k.ID}, 0),
		pointID("builtin@1/384", hindsight.DocKey{Tenant: "acme", Kind: hindsight.KindNote, ID: k.ID}, 0),
	} {
		if other == a {
			t.Errorf("two different chunks share the point ID %s", a)
		}
	}
}
