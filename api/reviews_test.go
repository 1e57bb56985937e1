package api_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/api"
	"github.com/hindsightsec/hindsight/draft"
	"github.com/hindsightsec/hindsight/ingest"
	"github.com/hindsightsec/hindsight/retrieval"
	"github.com/hindsightsec/hindsight/store/sqlite"
)

// reviewsServer is the fixture behind a server whose reviews become grounding: reviewer keys of
// acme and globex, an admin key of acme, and the background sync, which runs until the test ends.
type reviewsServer struct {
	*bundle
	sync  *ingest.ReviewSync
	admin string
}

// newReviewsServer serves db with a drafter that uses other tenants' cases as anonymised
// precedent when crossTenant is set.
func newReviewsServer(t *testing.T, db *sqlite.DB, crossTenant bool) *reviewsServer {
	t.Helper()
	emb := retrieval.Builtin{}
	in := ingest.New(db, emb, nil)
	sync := ingest.NewReviewSync(in, ingest.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		sync.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	r := retrieval.NewRetriever(db, emb)
	dr := draft.New(r, nil)
	dr.CrossTenant = crossTenant
	srv := httptest.NewServer(api.New(api.Config{Store: db, Search: r, Drafter: dr, RateLimit: 1000, Ingest: in, Reviews: sync}))
	t.Cleanup(srv.Close)
	s := &reviewsServer{bundle: &bundle{srv: srv, db: db}, sync: sync}
	for _, k := range []struct {
		dst    *string
		tenant string
		role   hindsight.Role
	}{{&s.reviewer, "acme", hindsight.RoleReviewer}, {&s.globex, "globex", hindsight.RoleReviewer}, {&s.admin, "acme", hindsight.RoleAdmin}} {
		var err error
		if *k.dst, _, err = db.CreateKey(context.Background(), k.tenant, k.role); err != nil {
			t.Fatal(err)
		}
	}
	s.reader = s.reviewer
	return s
}

func (s *reviewsServer) waitSync(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.sync.Wait(ctx); err != nil {
		t.Fatalf("review sync not done: %v", err)
	}
}

func (s *reviewsServer) draft(t *testing.T, key string, threat map[string]any) *hindsight.Draft {
	t.Helper()
	code, body := s.do(t, "POST", "/v1/drafts", key, map[string]any{"kind": "remediation", "threat": threat})
	if code != 201 {
		t.Fatalf("draft = %d %s", code, body)
	}
	var d hindsight.Draft
	if err := json.Unmarshal(body, &d); err != nil {
		t.Fatal(err)
	}
	return &d
}

func (s *reviewsServer) review(t *testing.T, key, draftID, final string, accuracy int) {
	t.Helper()
	code, body := s.do(t, "POST", "/v1/drafts/"+draftID+"/reviews", key,
		map[string]any{"final": final, "ratings": map[string]int{"accuracy": accuracy, "clarity": 4, "completeness": 3}})
	if code != 201 {
		t.Fatalf("review = %d %s", code, body)
	}
}

func (s *reviewsServer) search(t *testing.T, key, text string) []hindsight.Hit {
	t.Helper()
	code, body := s.do(t, "POST", "/v1/search", key, map[string]any{"text": text, "techniques": []string{"T1558.003"}, "k": 20})
	if code != 200 {
		t.Fatalf("search = %d %s", code, body)
	}
	var res api.SearchResponse
	json.Unmarshal(body, &res)
	return res.Hits
}

const (
	kerberoast = "Rubeus kerberoast requested RC4 TGS tickets for svc_sql from WS-17"
	// The reviewer's final: what the drafter proposed was not what was sent.
	honeytoken = "- Plant a honeytoken service account with an SPN and alert on any ticket request for it\n- Reset the password of svc_sql to a 30-character random value"
)

func TestReviewedFinalGroundsLaterDrafts(t *testing.T) {
	s := newReviewsServer(t, fixtureStore(t), false)
	first := s.draft(t, s.reviewer, map[string]any{"title": "Kerberoasting of svc_sql", "summary": kerberoast, "techniques": []string{"T1558.003"}})
	s.review(t, s.reviewer, first.ID, honeytoken, 2)
	s.waitSync(t)

	reviewedID := "REVIEWED-" + first.ID
	hits := s.search(t, s.reviewer, "kerberoast RC4 tickets for a service account")
	i := slices.IndexFunc(hits, func(h hindsight.Hit) bool { return h.ID == reviewedID })
	if i < 0 || hits[i].Tenant != "acme" || hits[i].Kind != hindsight.KindThreat {
		t.Fatalf("acme's search does not find its reviewed final %s: %+v", reviewedID, hits)
	}
	code, body := s.do(t, "GET", "/v1/documents/"+reviewedID, s.reviewer, nil)
	var doc hindsight.Document
	json.Unmarshal(body, &doc)
	if code != 200 || doc.Remediation != honeytoken || string(doc.Metadata["status"]) != `"approved"` ||
		string(doc.Metadata["draft_id"]) != `"`+first.ID+`"` || !strings.HasPrefix(doc.Title, "Reviewed remediation guidance: Kerberoasting of svc_sql") {
		t.Errorf("GET %s = %d %s", reviewedID, code, body)
	}

	// A later draft for a similar threat cites the reviewed final.
	later := s.draft(t, s.reviewer, map[string]any{"title": "Kerberoasting from a workstation",
		"summary": "RC4 service tickets requested in bulk for svc_sql by an unusual process on WS-31", "techniques": []string{"T1558.003"}})
	cited := false
	for _, r := range later.Recommendations {
		if strings.Contains(r.Text, "honeytoken") && slices.Contains(r.Citations, reviewedID) {
			cited = true
		}
	}
	if !cited {
		t.Errorf("the later draft does not cite %s for the honeytoken: %+v", reviewedID, later.Recommendations)
	}

	// Another tenant never sees it: not in search, not by ID, not in a draft.
	for _, h := range s.search(t, s.globex, "kerberoast RC4 tickets honeytoken service account") {
		if h.Tenant == "acme" || strings.HasPrefix(h.ID, "REVIEWED-") {
			t.Errorf("globex's search found %s of tenant %q", h.ID, h.Tenant)
		}
	}
	if code, _ := s.do(t, "GET", "/v1/documents/"+reviewedID, s.globex, nil); code != 404 {
		t.Errorf("globex's GET %s = %d, want 404", reviewedID, code)
	}
	_, body = s.do(t, "POST", "/v1/drafts", s.globex, map[string]any{"kind": "remediation",
		"threat": map[string]any{"title": "Kerberoasting", "summary": kerberoast, "techniques": []string{"T1558.003"}}})
	if strings.Contains(string(body), "honeytoken") || strings.Contains(string(body), "REVIEWED-") {
		t.Errorf("globex's draft uses acme's reviewed final: %s", body)
	}

	// A second review replaces the grounding text.
	s.review(t, s.reviewer, first.ID, "- Disable RC4 for Kerberos on every domain controller", 5)
	s.waitSync(t)
	_, body = s.do(t, "GET", "/v1/documents/"+reviewedID, s.reviewer, nil)
	json.Unmarshal(body, &doc)
	if doc.Remediation != "- Disable RC4 for Kerberos on every domain controller" {
		t.Errorf("after a second review the grounding is %q", doc.Remediation)
	}
	for _, h := range s.search(t, s.reviewer, "honeytoken") {
		if h.ID == reviewedID && h.Why.Section == "remediation" {
			t.Errorf("the replaced final still matches by its old remediation text: %+v", h)
		}
	}
}

func TestReviewedFinalIsOnlyAnonymisedPrecedentForOtherTenants(t *testing.T) {
	db := fixtureStore(t)
	s := newReviewsServer(t, db, true)
	first := s.draft(t, s.reviewer, map[string]any{"title": "Kerberoasting of svc_sql", "summary": kerberoast, "techniques": []string{"T1558.003"}})
	s.review(t, s.reviewer, first.ID, honeytoken, 4)
	s.waitSync(t)

	_, body := s.do(t, "POST", "/v1/drafts", s.globex, map[string]any{"kind": "remediation",
		"threat": map[string]any{"title": "Kerberoasting", "summary": "Rubeus kerberoast requested RC4 TGS tickets for svc_backup", "techniques": []string{"T1558.003"}}})
	var d hindsight.Draft
	json.Unmarshal(body, &d)
	used := false
	for _, r := range d.Recommendations {
		if !strings.Contains(r.Text, "honeytoken") {
			continue
		}
		used = true
		for _, c := range r.Citations {
			i := slices.IndexFunc(d.Sources, func(s hindsight.Source) bool { return s.ID == c })
			if !strings.HasPrefix(c, "PREC-") || i < 0 || !slices.Contains(d.Sources[i].Flags, draft.FlagAnonymized) || d.Sources[i].Tenant != "" {
				t.Errorf("the honeytoken recommendation cites %s, not an anonymised precedent: %+v", c, d.Sources)
			}
		}
	}
	if !used {
		t.Errorf("globex's cross-tenant draft did not use acme's reviewed final as precedent: %s", body)
	}
	for _, leak := range []string{"acme", "REVIEWED-", first.ID, "svc_sql", "WS-17", "approved"} {
		if strings.Contains(string(body), leak) {
			t.Errorf("globex's draft shows %q: %s", leak, body)
		}
	}
}

func TestUploadSyncsOnlyItsTenantsReviewedFinals(t *testing.T) {
	db := fixtureStore(t)
	s := newReviewsServer(t, db, false)
	// globex's reviewed final is in the store but not yet indexed: no sync was asked for it.
	if _, _, _, err := db.ImportPairs(context.Background(), []hindsight.Pair{{ID: "P-G", Kind: hindsight.DraftRemediation, Tenant: "globex",
		Draft: "- x", Final: "- Rotate the globex service accounts", Ratings: hindsight.Ratings{Accuracy: 3, Clarity: 3, Completeness: 3},
		CreatedAt: time.Date(2024, 2, 1, 9, 0, 0, 0, time.UTC)}}); err != nil {
		t.Fatal(err)
	}
	// Reviewed this week, so that its age does not rank it below the undated threat it was written for.
	pair := `{"id":"P-A","kind":"remediation","techniques":["T1558.003"],"draft":"- Reset svc_sql","final":"- Reset svc_sql and move it to a gMSA","ratings":{"accuracy":4,"clarity":4,"completeness":4},"created_at":"` +
		time.Now().Add(-48*time.Hour).UTC().Format(time.RFC3339) + `"}` + "\n"
	code, body := s.do(t, "POST", "/v1/ingest?format=pairs", s.admin, pair)
	var run hindsight.Run
	json.Unmarshal(body, &run)
	if code != 201 || run.Read != 2 || run.Inserted != 2 || !slices.Contains(run.Paths, ingest.ReviewsSource) {
		t.Fatalf("upload = %d %s; want the pair and its reviewed final read and inserted", code, body)
	}
	hits := s.search(t, s.reviewer, "gMSA")
	if len(hits) == 0 || hits[0].ID != "REVIEWED-P-A" {
		t.Errorf("acme's search for its imported pair's final = %+v", hits)
	}
	if got, _ := db.FindDocuments(context.Background(), []hindsight.DocKey{{Tenant: "globex", Kind: hindsight.KindThreat, ID: "REVIEWED-P-G"}}); len(got) != 0 {
		t.Error("acme's upload synced globex's reviewed final")
	}
}
