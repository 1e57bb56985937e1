package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/api"
	"github.com/hindsightsec/hindsight/draft"
	"github.com/hindsightsec/hindsight/ingest"
	"github.com/hindsightsec/hindsight/retrieval"
	"github.com/hindsightsec/hindsight/store/sqlite"
)

// fixture: two tenants with the same kind of incident; globex's case is the closer match to the
// query, so a leak would show.
const fixture = `{"kind":"threat","id":"THR-A1","tenant":"acme","title":"Kerberoasting of svc_sql","severity":"high","disposition":"true_positive","techniques":["T1558.003"],"summary":"Rubeus requested RC4 TGS tickets for svc_sql from host WS-17","remediation":"- Reset the password of svc_sql to a 30-character random value\n- Enforce AES for service tickets"}
{"kind":"threat","id":"THR-G1","tenant":"globex","title":"Kerberoasting of svc_backup with Rubeus from WS-99","severity":"high","techniques":["T1558.003"],"summary":"Rubeus kerberoast requested RC4 TGS tickets for svc_backup from WS-99 at globex.example.com","remediation":"- Rotate svc_backup at globex immediately\n- Alert the globex SOC lead jane@globex.example.com"}
{"kind":"note","id":"NOTE-K","title":"Responding to Kerberoasting","body":"Service accounts with SPNs are targets.\n- Use group managed service accounts\n- Reset the password of the targeted service account","techniques":["T1558.003"]}
`

type bundle struct {
	srv      *httptest.Server
	db       *sqlite.DB
	reader   string
	reviewer string
	globex   string
}

// fixtureStore is an embedded store holding the API tests' fixture (three documents).
func fixtureStore(t *testing.T) *sqlite.DB { return storeOf(t, fixture) }

// storeOf is an embedded store holding the JSONL records, every one of which must be stored.
func storeOf(t *testing.T, records string) *sqlite.DB {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "h.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	in := filepath.Join(dir, "in.jsonl")
	os.WriteFile(in, []byte(records), 0o644)
	want := strings.Count(strings.TrimSpace(records), "\n") + 1
	if run, err := ingest.New(db, retrieval.Builtin{}, nil).Run(ctx, []string{in}, ingest.Options{}); err != nil || run.Inserted != want {
		t.Fatalf("ingest: %+v, %v; want %d stored", run, err, want)
	}
	return db
}

func setup(t *testing.T) *bundle {
	t.Helper()
	db := fixtureStore(t)
	r := retrieval.NewRetriever(db, retrieval.Builtin{})
	srv := httptest.NewServer(api.New(api.Config{Store: db, Search: r, Drafter: draft.New(r, nil)}))
	t.Cleanup(srv.Close)
	b := &bundle{srv: srv, db: db}
	for _, k := range []struct {
		dst    *string
		tenant string
		role   hindsight.Role
	}{{&b.reader, "acme", hindsight.RoleReader}, {&b.reviewer, "acme", hindsight.RoleReviewer}, {&b.globex, "globex", hindsight.RoleReviewer}} {
		var err error
		if *k.dst, _, err = db.CreateKey(context.Background(), k.tenant, k.role); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func (b *bundle) do(t *testing.T, method, path, key string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(v)
	case []byte:
		rd = bytes.NewReader(v)
	default:
		j, _ := json.Marshal(v)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, b.srv.URL+path, rd)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func errorOf(t *testing.T, body []byte) api.ErrorDetail {
	t.Helper()
	var e api.ErrorBody
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("body is not an error object: %s (%v)", body, err)
	}
	return e.Error
}

func TestHealthz(t *testing.T) {
	b := setup(t)
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, body := b.do(t, "GET", p, "", nil); code != 200 {
			t.Errorf("%s = %d %s", p, code, body)
		}
	}
}

func TestAuth(t *testing.T) {
	b := setup(t)
	for _, key := range []string{"", "nonsense", b.reader + "x", "hsk_000000000000_" + strings.Repeat("0", 48)} {
		for _, r := range []struct{ method, path string }{{"POST", "/v1/search"}, {"POST", "/v1/drafts"}, {"GET", "/v1/drafts/DRF-1"}, {"POST", "/v1/drafts/DRF-1/reviews"}} {
			code, body := b.do(t, r.method, r.path, key, `{"text":"x"}`)
			if code != 401 || errorOf(t, body).Code != hindsight.EUNAUTHORIZED {
				t.Errorf("%s %s with key %q: %d %s, want 401", r.method, r.path, key, code, body)
			}
		}
	}
}

func TestSearchIsTenantScoped(t *testing.T) {
	b := setup(t)
	code, body := b.do(t, "POST", "/v1/search", b.reader, map[string]any{"text": "rubeus kerberoast svc_backup WS-99", "techniques": []string{"T1558.003"}, "k": 10})
	if code != 200 {
		t.Fatalf("search = %d %s", code, body)
	}
	var res api.SearchResponse
	json.Unmarshal(body, &res)
	if len(res.Hits) != 2 {
		t.Fatalf("hits = %+v, want acme's threat and the global note", res.Hits)
	}
	for _, h := range res.Hits {
		if h.Tenant != "acme" && h.Tenant != "" {
			t.Errorf("hit %s of tenant %q leaked into acme's search", h.ID, h.Tenant)
		}
		if len(h.Why.Signals) == 0 || len(h.Why.Ranks) == 0 {
			t.Errorf("hit %s has no explanation: %+v", h.ID, h.Why)
		}
	}
}

func TestSearchFilters(t *testing.T) {
	b := setup(t)
	hits := func(body string) []string {
		t.Helper()
		code, out := b.do(t, "POST", "/v1/search", b.reader, body)
		if code != 200 {
			t.Fatalf("%s: %d %s", body, code, out)
		}
		var res api.SearchResponse
		json.Unmarshal(out, &res)
		var ids []string
		for _, h := range res.Hits {
			ids = append(ids, h.ID)
		}
		return ids
	}
	// THR-A1 is high severity with no time; NOTE-K has neither.
	if got := hits(`{"text":"kerberoasting rubeus svc_sql","min_severity":"high"}`); len(got) != 1 || got[0] != "THR-A1" {
		t.Errorf("min_severity high: %v, want THR-A1 only", got)
	}
	if got := hits(`{"text":"kerberoasting rubeus svc_sql","since":"2020-01-01T00:00:00Z"}`); len(got) != 0 {
		t.Errorf("since: %v, want nothing (no case has a time)", got)
	}
	// "Reset the password" is in THR-A1's remediation and in NOTE-K's body.
	if got := hits(`{"text":"reset the password","sections":["remediation"]}`); !slices.Equal(got, []string{"THR-A1"}) {
		t.Errorf("sections remediation: %v, want THR-A1 only", got)
	}
	if got := hits(`{"text":"reset the password","sections":["body","hunting"]}`); !slices.Equal(got, []string{"NOTE-K"}) {
		t.Errorf("sections body and hunting: %v, want NOTE-K only", got)
	}
}

func TestDraftNeverCitesAnotherTenant(t *testing.T) {
	b := setup(t)
	threat := map[string]any{"title": "Kerberoasting with Rubeus", "summary": "Rubeus kerberoast requested RC4 TGS tickets for svc_backup from WS-99", "techniques": []string{"T1558.003"}}
	code, body := b.do(t, "POST", "/v1/drafts", b.reader, map[string]any{"kind": "remediation", "threat": threat})
	if code != 201 {
		t.Fatalf("draft = %d %s", code, body)
	}
	var d hindsight.Draft
	json.Unmarshal(body, &d)
	if len(d.Recommendations) == 0 {
		t.Fatalf("no recommendations: %s", body)
	}
	if strings.Contains(string(body), "globex") || strings.Contains(string(body), "THR-G1") {
		t.Errorf("acme's draft mentions globex's case: %s", body)
	}
	sources := map[string]bool{}
	for _, s := range d.Sources {
		sources[s.ID] = true
	}
	for _, r := range d.Recommendations {
		if len(r.Citations) == 0 {
			t.Errorf("recommendation %q cites nothing", r.Text)
		}
		for _, c := range r.Citations {
			if !sources[c] {
				t.Errorf("recommendation %q cites %s, which is not a source", r.Text, c)
			}
		}
	}
	// The stored draft is the tenant's alone.
	if code, body := b.do(t, "GET", "/v1/drafts/"+d.ID, b.reader, nil); code != 200 {
		t.Errorf("own draft = %d %s", code, body)
	}
	if code, body := b.do(t, "GET", "/v1/drafts/"+d.ID, b.globex, nil); code != 404 || errorOf(t, body).Code != hindsight.ENOTFOUND {
		t.Errorf("other tenant's draft = %d %s, want 404", code, body)
	}
}

func TestReviews(t *testing.T) {
	b := setup(t)
	_, body := b.do(t, "POST", "/v1/drafts", b.reviewer, map[string]any{"kind": "remediation", "threat": map[string]any{"title": "Kerberoasting", "techniques": []string{"T1558.003"}}})
	var d hindsight.Draft
	json.Unmarshal(body, &d)
	review := map[string]any{"final": "- Reset the password of svc_sql", "ratings": map[string]int{"accuracy": 4, "clarity": 5, "completeness": 3}, "comment": "ok"}
	if code, body := b.do(t, "POST", "/v1/drafts/"+d.ID+"/reviews", b.reader, review); code != 403 {
		t.Errorf("reader review = %d %s, want 403", code, body)
	}
	if code, body := b.do(t, "POST", "/v1/drafts/"+d.ID+"/reviews", b.globex, review); code != 404 {
		t.Errorf("other tenant's review = %d %s, want 404", code, body)
	}
	for i := 0; i < 2; i++ {
		if code, body := b.do(t, "POST", "/v1/drafts/"+d.ID+"/reviews", b.reviewer, review); code != 201 {
			t.Fatalf("review = %d %s", code, body)
		}
	}
	_, body = b.do(t, "GET", "/v1/drafts/"+d.ID, b.reader, nil)
	var got api.DraftResponse
	json.Unmarshal(body, &got)
	if len(got.Reviews) != 2 || got.Reviews[0].Ratings.Accuracy != 4 || got.Reviews[1].Final != review["final"] {
		t.Errorf("reviews = %s", body)
	}
}

func TestBadInput(t *testing.T) {
	b := setup(t)
	threat := `{"title":"x"}`
	for _, tc := range []struct {
		name, path, body, field string
	}{
		{"invalid JSON", "/v1/search", `{"text": "x"`, "body"},
		{"not an object", "/v1/search", `[1,2]`, "body"},
		{"empty body", "/v1/search", ``, "body"},
		{"trailing data", "/v1/search", `{"text":"x"} {}`, "body"},
		{"unknown field", "/v1/search", `{"txt":"x"}`, "txt"},
		{"wrong type", "/v1/search", `{"text":5}`, "text"},
		{"k too large", "/v1/search", `{"text":"x","k":1000}`, "k"},
		{"k zero", "/v1/search", `{"text":"x","k":0}`, "k"},
		{"unknown search kind", "/v1/search", `{"text":"x","kinds":["gadget"]}`, "kinds[0]"},
		{"bad technique", "/v1/search", `{"text":"x","techniques":["T12"]}`, "techniques[0]"},
		{"bad severity", "/v1/search", `{"text":"x","min_severity":"severe"}`, "min_severity"},
		{"unknown section", "/v1/search", `{"text":"x","sections":["case","guidance"]}`, "sections[1]"},
		{"bad time", "/v1/search", `{"text":"x","since":"yesterday"}`, "since"},
		{"until before since", "/v1/search", `{"text":"x","since":"2024-01-02T00:00:00Z","until":"2024-01-01T00:00:00Z"}`, "until"},
		{"no terms", "/v1/search", `{"text":"the of"}`, "text"},
		{"unknown draft kind", "/v1/drafts", `{"kind":"poetry","threat":` + threat + `}`, "kind"},
		{"missing draft kind", "/v1/drafts", `{"threat":` + threat + `}`, "kind"},
		{"missing threat", "/v1/drafts", `{"kind":"remediation"}`, "threat"},
		{"threat not an object", "/v1/drafts", `{"kind":"remediation","threat":"x"}`, "threat"},
		{"threat bad technique", "/v1/drafts", `{"kind":"remediation","threat":{"title":"x","techniques":["X1"]}}`, "threat.techniques[0]"},
		{"threat wrong type", "/v1/drafts", `{"kind":"remediation","threat":{"title":5}}`, "threat.title"},
		{"draft k", "/v1/drafts", `{"kind":"remediation","threat":` + threat + `,"k":-1}`, "k"},
		{"oversized body", "/v1/search", `{"text":"` + strings.Repeat("a", api.MaxBody) + `"}`, "body"},
	} {
		code, body := b.do(t, "POST", tc.path, b.reader, tc.body)
		if code != 400 {
			t.Errorf("%s: status %d %s, want 400", tc.name, code, body)
			continue
		}
		if e := errorOf(t, body); e.Field != tc.field {
			t.Errorf("%s: field %q (%s), want %q", tc.name, e.Field, e.Message, tc.field)
		}
	}
	_, body := b.do(t, "POST", "/v1/drafts", b.reviewer, map[string]any{"kind": "remediation", "threat": map[string]any{"title": "Kerberoasting"}})
	var d hindsight.Draft
	json.Unmarshal(body, &d)
	for _, tc := range []struct{ body, field string }{
		{`{"ratings":{"accuracy":1,"clarity":1,"completeness":1}}`, "final"},
		{`{"final":"x"}`, "ratings"},
		{`{"final":"x","ratings":{"accuracy":6,"clarity":1,"completeness":1}}`, "ratings.accuracy"},
		{`{"final":"x","ratings":{"accuracy":1,"clarity":0,"completeness":1}}`, "ratings.clarity"},
		{`{"final":"x","ratings":{"accuracy":1,"clarity":1,"completeness":"a"}}`, "ratings.completeness"},
	} {
		code, body := b.do(t, "POST", "/v1/drafts/"+d.ID+"/reviews", b.reviewer, tc.body)
		if code != 400 || errorOf(t, body).Field != tc.field {
			t.Errorf("review %s: %d %s, want 400 on %s", tc.body, code, body, tc.field)
		}
	}
	if code, body := b.do(t, "GET", "/v1/nothing", b.reader, nil); code != 404 {
		t.Errorf("unknown route: %d %s", code, body)
	} else {
		errorOf(t, body)
	}
}
