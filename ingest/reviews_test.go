package ingest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/ingest"
	"github.com/hindsightsec/hindsight/retrieval"
	"github.com/hindsightsec/hindsight/retrieval/retrievaltest"
	"github.com/hindsightsec/hindsight/store/sqlite"
)

var reviewedAt = time.Date(2024, 6, 3, 14, 5, 0, 0, time.UTC)

// reviewedDraft stores a draft for a credential-dumping threat of acme, as the API would.
func reviewedDraft(t *testing.T, db *sqlite.DB, id, tenant string, kind hindsight.DraftKind) *hindsight.Draft {
	t.Helper()
	d := &hindsight.Draft{ID: id, Tenant: tenant, Kind: kind, Text: "1. Isolate the host [THR-1]", Model: "extractive",
		PromptVersion: "extractive-1", CreatedAt: reviewedAt.Add(-time.Hour),
		Recommendations: []hindsight.Recommendation{}, Sources: []hindsight.Source{},
		Threat: hindsight.Document{Kind: hindsight.KindThreat, Tenant: tenant, Title: "LSASS memory dumped with procdump on WS-17",
			Severity: hindsight.SeverityHigh, Techniques: []string{"T1003.001"}, Analytics: []string{"AN-0042"},
			Summary: "procdump.exe -ma lsass.exe ran on WS-17 as svc_backup", Events: []string{"10:02 procdump.exe started"}}}
	if err := db.CreateDraft(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	return d
}

func review(t *testing.T, db *sqlite.DB, id, draftID, tenant, final string, at time.Time, r hindsight.Ratings) {
	t.Helper()
	if err := db.CreateReview(context.Background(), &hindsight.Review{ID: id, DraftID: draftID, Tenant: tenant, Reviewer: "KEY-1",
		Final: final, Ratings: r, CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
}

func findDoc(t *testing.T, db *sqlite.DB, tenant, id string) *hindsight.Document {
	t.Helper()
	k := hindsight.DocKey{Tenant: tenant, Kind: hindsight.KindThreat, ID: id}
	got, err := db.FindDocuments(context.Background(), []hindsight.DocKey{k})
	if err != nil {
		t.Fatal(err)
	}
	return got[k]
}

func TestReviewedDocument(t *testing.T) {
	d := &hindsight.Draft{ID: "DRF-1", Tenant: "acme", Kind: hindsight.DraftHunting,
		Threat: hindsight.Document{Kind: hindsight.KindThreat, ID: "THR-9", Tenant: "acme", Title: " Kerberoasting of svc_sql ",
			Severity: hindsight.SeverityHigh, Techniques: []string{"T1558.003"}, Description: "Rubeus asked for RC4 tickets",
			Remediation: "- what the threat record said"}}
	r := &hindsight.Review{ID: "REV-1", DraftID: "DRF-1", Tenant: "acme", Reviewer: "KEY-7", Final: "- Hunt for RC4 TGS requests",
		Ratings: hindsight.Ratings{Accuracy: 1, Clarity: 2, Completeness: 1}, CreatedAt: reviewedAt}
	doc := ingest.ReviewedDocument(d, r)
	meta := map[string]string{}
	for k, v := range doc.Metadata {
		meta[k] = string(v)
	}
	doc.Metadata = nil
	want := &hindsight.Document{Kind: hindsight.KindThreat, ID: "REVIEWED-DRF-1", Tenant: "acme",
		Title: "Reviewed hunting guidance: Kerberoasting of svc_sql", OccurredAt: reviewedAt, Severity: hindsight.SeverityHigh,
		Techniques: []string{"T1558.003"}, Summary: "Rubeus asked for RC4 tickets", Hunting: "- Hunt for RC4 TGS requests"}
	if diff := cmp.Diff(want, doc); diff != "" {
		t.Errorf("document (-want +got):\n%s", diff)
	}
	// Low ratings rate the draft; the final is still what was approved and sent.
	wantMeta := map[string]string{"status": `"approved"`, "draft_id": `"DRF-1"`, "draft_kind": `"hunting"`, "threat_id": `"THR-9"`,
		"review_id": `"REV-1"`, "reviewer": `"KEY-7"`, "reviewed_at": `"2024-06-03T14:05:00Z"`,
		"ratings": `{"accuracy":1,"clarity":2,"completeness":1}`}
	if diff := cmp.Diff(wantMeta, meta); diff != "" {
		t.Errorf("metadata (-want +got):\n%s", diff)
	}

	// A draft imported from an eval pair knows only its techniques, or nothing.
	imported := &hindsight.Draft{ID: "P-7", Tenant: "acme", Kind: hindsight.DraftRemediation,
		Threat: hindsight.Document{Kind: hindsight.KindThreat, Techniques: []string{"T1078.004", "T1098"}}}
	if got := ingest.ReviewedDocument(imported, r).Title; got != "Reviewed remediation guidance for T1078.004, T1098" {
		t.Errorf("title = %q", got)
	}
	imported.Threat.Techniques = nil
	if got := ingest.ReviewedDocument(imported, r); got.Title != "Reviewed remediation guidance of draft P-7" || got.Remediation != r.Final {
		t.Errorf("document = %+v", got)
	}
}

func TestReviewedIDsAreReserved(t *testing.T) {
	_, rej := ingest.ParseRecord([]byte(`{"kind":"threat","id":"REVIEWED-DRF-1","tenant":"acme","title":"x"}`), "")
	if rej == nil || rej.Field != "id" || !strings.Contains(rej.Error, "reserved") {
		t.Errorf("threat with a reserved ID: rejection %+v", rej)
	}
	// Only a tenant's threats could meet a reviewed final's key; knowledge may use the prefix.
	if _, rej := ingest.ParseRecord([]byte(`{"kind":"note","id":"REVIEWED-1","title":"x"}`), ""); rej != nil {
		t.Errorf("note: %+v", rej)
	}
}

func TestReviewsSync(t *testing.T) {
	ctx := context.Background()
	in, db, emb, dir := setup(t)
	file := writeFile(t, dir, "in.jsonl", good)
	if _, err := in.Run(ctx, []string{file}, ingest.Options{}); err != nil {
		t.Fatal(err)
	}
	reviewedDraft(t, db, "DRF-1", "acme", hindsight.DraftRemediation)
	reviewedDraft(t, db, "DRF-2", "acme", hindsight.DraftHunting) // never reviewed
	reviewedDraft(t, db, "DRF-3", "globex", hindsight.DraftRemediation)
	review(t, db, "REV-1", "DRF-1", "acme", "- Reset the password of svc_backup\n- Enable LSA protection on WS-17", reviewedAt,
		hindsight.Ratings{Accuracy: 2, Clarity: 3, Completeness: 2})
	review(t, db, "REV-3", "DRF-3", "globex", "- Call the globex hotline", reviewedAt, hindsight.Ratings{Accuracy: 5, Clarity: 5, Completeness: 5})

	before := emb.texts.Load()
	run, err := in.Run(ctx, nil, ingest.Options{Reviews: true})
	if err != nil || run.Status != hindsight.RunSucceeded || run.Read != 2 || run.Inserted != 2 {
		t.Fatalf("reviews-only run: %+v, %v; want 2 read and inserted", run, err)
	}
	if diff := cmp.Diff([]string{ingest.ReviewsSource}, run.Paths); diff != "" {
		t.Errorf("run paths (-want +got):\n%s", diff)
	}
	if emb.texts.Load() == before {
		t.Error("nothing embedded for two new documents")
	}
	doc := findDoc(t, db, "acme", "REVIEWED-DRF-1")
	if doc == nil || doc.Remediation != "- Reset the password of svc_backup\n- Enable LSA protection on WS-17" ||
		string(doc.Metadata["status"]) != `"approved"` || doc.Summary == "" {
		t.Fatalf("acme's reviewed final = %+v", doc)
	}

	// Search finds it for acme, approved, and never for globex.
	r := retrieval.NewRetriever(db, emb)
	search := func(tenant string) []hindsight.Hit {
		hits, err := r.Search(ctx, retrieval.Query{Text: "procdump dumped lsass on a workstation", Techniques: []string{"T1003.001"},
			K: 10, Filter: hindsight.Filter{Tenant: tenant}})
		if err != nil {
			t.Fatal(err)
		}
		return hits
	}
	found := false
	for _, h := range search("acme") {
		found = found || h.ID == "REVIEWED-DRF-1"
		if h.Tenant == "globex" {
			t.Errorf("acme's search found globex's %s", h.ID)
		}
	}
	if !found {
		t.Error("acme's search did not find its reviewed final")
	}
	for _, h := range search("globex") {
		if h.ID == "REVIEWED-DRF-1" {
			t.Error("globex's search found acme's reviewed final")
		}
	}

	// Nothing new: nothing embedded, nothing written.
	before = emb.texts.Load()
	run, err = in.Run(ctx, nil, ingest.Options{Reviews: true})
	if err != nil || run.Unchanged != 2 || run.Inserted+run.Updated+run.Deleted != 0 || emb.texts.Load() != before {
		t.Errorf("re-run: %+v, %v, embedded %d texts; want 2 unchanged and nothing embedded", run, err, emb.texts.Load()-before)
	}

	// A second review replaces the final.
	review(t, db, "REV-2", "DRF-1", "acme", "- Reset the password of svc_backup twice", reviewedAt.Add(time.Minute),
		hindsight.Ratings{Accuracy: 4, Clarity: 4, Completeness: 4})
	run, err = in.Run(ctx, nil, ingest.Options{Reviews: true, Tenant: "acme"})
	if err != nil || run.Read != 1 || run.Updated != 1 || run.Tenant != "acme" {
		t.Fatalf("acme's run after a second review: %+v, %v; want 1 updated", run, err)
	}
	doc = findDoc(t, db, "acme", "REVIEWED-DRF-1")
	if doc.Remediation != "- Reset the password of svc_backup twice" || string(doc.Metadata["review_id"]) != `"REV-2"` {
		t.Errorf("after the second review: %q, review %s", doc.Remediation, doc.Metadata["review_id"])
	}

	// Pruning the file's documents leaves the reviewed finals alone, and a run of files alone
	// does not touch them either.
	writeFile(t, dir, "in.jsonl", strings.SplitAfter(good, "\n")[0])
	run, err = in.Run(ctx, []string{file}, ingest.Options{Prune: true})
	if err != nil || run.Deleted != 2 || run.Read != 1 {
		t.Fatalf("prune of the file: %+v, %v; want its 2 vanished records deleted", run, err)
	}
	if findDoc(t, db, "acme", "REVIEWED-DRF-1") == nil || findDoc(t, db, "globex", "REVIEWED-DRF-3") == nil {
		t.Error("prune of a file deleted reviewed finals")
	}
}

func TestReviewsSyncIncludesPairsImportedInTheSameRun(t *testing.T) {
	ctx := context.Background()
	in, db, _, dir := setup(t)
	var pairs strings.Builder
	for i := range 5 {
		fmt.Fprintf(&pairs, `{"id":"P-%d","kind":"remediation","tenant":"acme","techniques":["T1110.003"],"draft":"- Block the IP","final":"- Block 198.51.100.%d at the edge and reset the sprayed accounts","ratings":{"accuracy":4,"clarity":4,"completeness":4},"created_at":"2024-02-01T09:00:00Z"}`+"\n", i, i)
	}
	file := writeFile(t, dir, "pairs.jsonl", pairs.String())
	// Batches of two: the pairs are imported in three, the reviewed drafts read in three pages.
	run, err := in.Run(ctx, []string{file}, ingest.Options{Reviews: true, BatchSize: 2})
	if err != nil || run.Read != 10 || run.Inserted != 10 || len(run.Rejected) != 0 {
		t.Fatalf("pairs with reviews: %+v, %v; want 5 pairs and 5 reviewed finals read and inserted", run, err)
	}
	for i := range 5 {
		doc := findDoc(t, db, "acme", fmt.Sprintf("REVIEWED-P-%d", i))
		if doc == nil || doc.Title != "Reviewed remediation guidance for T1110.003" || string(doc.Metadata["reviewer"]) != `"import"` ||
			!strings.Contains(doc.Remediation, fmt.Sprintf("198.51.100.%d ", i)) || !doc.OccurredAt.Equal(time.Date(2024, 2, 1, 9, 0, 0, 0, time.UTC)) {
			t.Errorf("P-%d's reviewed final = %+v", i, doc)
		}
	}
	run, err = in.Run(ctx, []string{file}, ingest.Options{Reviews: true, BatchSize: 2})
	if err != nil || run.Unchanged != 10 || run.Inserted+run.Updated != 0 {
		t.Errorf("second run: %+v, %v; want all unchanged", run, err)
	}
}

func TestReviewsSyncPrunesFinalsOfVanishedDrafts(t *testing.T) {
	ctx := context.Background()
	in, db, _, _ := setup(t)
	reviewedDraft(t, db, "DRF-1", "acme", hindsight.DraftRemediation)
	review(t, db, "REV-1", "DRF-1", "acme", "- Isolate WS-17", reviewedAt, hindsight.Ratings{Accuracy: 3, Clarity: 3, Completeness: 3})
	// Documents of the reviews source whose drafts the store does not hold, e.g. written by an
	// older version under other IDs: one of acme, one of globex.
	stale := func(tenant string) *hindsight.Document {
		return &hindsight.Document{Kind: hindsight.KindThreat, Tenant: tenant, ID: "REVIEWED-GONE", Title: "Gone",
			Metadata: map[string]json.RawMessage{"status": json.RawMessage(`"approved"`)}}
	}
	retrievaltest.Write(t, db, ingest.ReviewsSource, stale("acme"), stale("globex"))
	run, err := in.Run(ctx, nil, ingest.Options{Reviews: true, Tenant: "acme"})
	if err != nil || run.Inserted != 1 || run.Deleted != 1 {
		t.Fatalf("acme's sync: %+v, %v; want 1 inserted, acme's stale final deleted", run, err)
	}
	if findDoc(t, db, "acme", "REVIEWED-GONE") != nil || findDoc(t, db, "globex", "REVIEWED-GONE") == nil {
		t.Error("a tenant's sync must prune its own stale finals and no other tenant's")
	}
	run, err = in.Run(ctx, nil, ingest.Options{Reviews: true})
	if err != nil || run.Deleted != 1 || findDoc(t, db, "globex", "REVIEWED-GONE") != nil {
		t.Errorf("every tenant's sync: %+v, %v; want globex's stale final deleted", run, err)
	}
}

func TestReviewsOffNeedsInput(t *testing.T) {
	in, _, _, _ := setup(t)
	if _, err := in.Run(context.Background(), nil, ingest.Options{}); hindsight.ErrorField(err) != "path" {
		t.Errorf("no input and no reviews: %v; want an error naming the path", err)
	}
	if _, err := in.RunInputs(context.Background(), nil, ingest.Options{}); hindsight.ErrorField(err) != "path" {
		t.Errorf("RunInputs without input: %v", err)
	}
}

func TestReviewsSyncOfNamedDrafts(t *testing.T) {
	ctx := context.Background()
	in, db, _, _ := setup(t)
	for _, id := range []string{"DRF-1", "DRF-2", "DRF-3"} {
		reviewedDraft(t, db, id, "acme", hindsight.DraftRemediation)
		review(t, db, "REV-"+id, id, "acme", "- Isolate WS-17 for "+id, reviewedAt, hindsight.Ratings{Accuracy: 3, Clarity: 3, Completeness: 3})
	}
	reviewedDraft(t, db, "DRF-G", "globex", hindsight.DraftRemediation)
	review(t, db, "REV-G", "DRF-G", "globex", "- Isolate GX-1", reviewedAt, hindsight.Ratings{Accuracy: 3, Clarity: 3, Completeness: 3})
	stale := &hindsight.Document{Kind: hindsight.KindThreat, Tenant: "acme", ID: "REVIEWED-GONE", Title: "Gone"}
	retrievaltest.Write(t, db, ingest.ReviewsSource, stale)
	// Named drafts alone, within the tenant, in pages of one; DRF-9 does not exist, DRF-G is
	// another tenant's. Not every final was read: nothing is pruned.
	run, err := in.Run(ctx, nil, ingest.Options{Reviews: true, Tenant: "acme", BatchSize: 1,
		ReviewDrafts: []string{"DRF-3", "DRF-9", "DRF-1", "DRF-G", "DRF-3"}})
	if err != nil || run.Read != 2 || run.Inserted != 2 || run.Deleted != 0 {
		t.Fatalf("sync of named drafts: %+v, %v; want DRF-1 and DRF-3 inserted, nothing deleted", run, err)
	}
	for id, want := range map[string]bool{"REVIEWED-DRF-1": true, "REVIEWED-DRF-2": false, "REVIEWED-DRF-3": true, "REVIEWED-GONE": true} {
		if got := findDoc(t, db, "acme", id) != nil; got != want {
			t.Errorf("%s stored: %v, want %v", id, got, want)
		}
	}
	if findDoc(t, db, "globex", "REVIEWED-DRF-G") != nil {
		t.Error("acme's sync of named drafts synced globex's draft")
	}
}
