package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
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

// ingestServer is a server that ingests, over an empty store, with admin keys of two tenants and
// a reviewer key.
type ingestServer struct {
	srv                          *httptest.Server
	db                           *sqlite.DB
	admin, globexAdmin, reviewer string
}

func newIngestServer(t *testing.T, uploadLimit int64) *ingestServer {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "h.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	r := retrieval.NewRetriever(db, retrieval.Builtin{})
	srv := httptest.NewServer(api.New(api.Config{Store: db, Search: r, Drafter: draft.New(r, nil), RateLimit: 1000,
		Ingest: ingest.New(db, retrieval.Builtin{}, nil), UploadLimit: uploadLimit}))
	t.Cleanup(srv.Close)
	s := &ingestServer{srv: srv, db: db}
	for _, k := range []struct {
		dst    *string
		tenant string
		role   hindsight.Role
	}{{&s.admin, "acme", hindsight.RoleAdmin}, {&s.globexAdmin, "globex", hindsight.RoleAdmin}, {&s.reviewer, "acme", hindsight.RoleReviewer}} {
		if *k.dst, _, err = db.CreateKey(ctx, k.tenant, k.role); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// send makes a request with a content type and checks the answer against the OpenAPI document.
func (s *ingestServer) send(t *testing.T, sp *spec, method, path, key, contentType, body string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, s.srv.URL+path, rd)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	sp.check(t, method, path, resp.StatusCode, resp.Header.Get("Content-Type"), b)
	return resp.StatusCode, resp.Header, b
}

const upload = `{"kind":"threat","id":"THR-U1","title":"Mailbox forwarding rule to an external address","summary":"An inbox rule forwarded the CFO's mail to a gmail address","techniques":["T1114.003"],"remediation":"- Remove the inbox rule\n- Revoke the user's sessions"}
{"kind":"threat","id":"THR-U2","tenant":"globex","title":"Someone else's case"}
{"kind":"note","id":"NOTE-U","title":"A global note","body":"Shared by every tenant"}
{not json
`

// exerciseIngestRoutes calls each ingest route once, so that TestEveryRouteMatchesOpenAPI sees
// them; TestIngestRoutes checks what they do.
func exerciseIngestRoutes(t *testing.T, sp *spec) {
	t.Helper()
	s := newIngestServer(t, 0)
	code, hdr, b := s.send(t, sp, "POST", "/v1/ingest?name=cases", s.admin, "application/x-ndjson", upload)
	if code != 201 || hdr.Get("Location") == "" {
		t.Fatalf("upload: %d %s", code, b)
	}
	if code, _, b := s.send(t, sp, "GET", "/v1/ingest/runs", s.admin, "", ""); code != 200 {
		t.Errorf("runs: %d %s", code, b)
	}
	if code, _, b := s.send(t, sp, "GET", hdr.Get("Location"), s.admin, "", ""); code != 200 {
		t.Errorf("run: %d %s", code, b)
	}
}

func TestIngestRoutes(t *testing.T) {
	ctx := context.Background()
	sp := loadSpec(t)
	s := newIngestServer(t, 4096)

	// An upload stores the tenant's threat and rejects, by line, another tenant's record, global
	// knowledge and a broken line.
	code, hdr, b := s.send(t, sp, "POST", "/v1/ingest?name=cases", s.admin, "application/x-ndjson", upload)
	if code != 201 {
		t.Fatalf("upload: %d %s", code, b)
	}
	var run hindsight.Run
	json.Unmarshal(b, &run)
	if run.Status != hindsight.RunPartial || run.Inserted != 1 || run.Tenant != "acme" || len(run.Rejected) != 3 ||
		hdr.Get("Location") != "/v1/ingest/runs/"+run.ID {
		t.Fatalf("upload run = %+v, Location %q; want partial, 1 inserted, 3 rejected", run, hdr.Get("Location"))
	}
	for i, want := range []string{"upload:acme/cases:2: tenant: ", "upload:acme/cases:3: kind: note records are global knowledge", "upload:acme/cases:4: invalid JSON"} {
		if got := run.Rejected[i].String(); !strings.HasPrefix(got, want) {
			t.Errorf("rejection %d = %q, want %q…", i, got, want)
		}
	}
	// The threat is acme's, found by acme's search.
	code, _, b = s.send(t, sp, "POST", "/v1/search", s.reviewer, "application/json", `{"text":"inbox rule forwarding gmail"}`)
	if code != 200 || !strings.Contains(string(b), `"THR-U1"`) {
		t.Errorf("search after the upload: %d %s", code, b)
	}
	// The same upload again changes nothing; eval pairs go in too.
	code, _, b = s.send(t, sp, "POST", "/v1/ingest?name=cases", s.admin, "application/json", upload)
	json.Unmarshal(b, &run)
	if code != 201 || run.Unchanged != 1 || run.Inserted+run.Updated != 0 {
		t.Errorf("second upload: %d %+v", code, run)
	}
	pair := `{"id":"DRF-U1","kind":"remediation","tenant":"acme","draft":"- Remove the rule","final":"- Remove the rule\n- Revoke sessions","ratings":{"accuracy":4,"clarity":5,"completeness":3},"created_at":"2024-02-01T09:00:00Z"}` + "\n"
	code, _, b = s.send(t, sp, "POST", "/v1/ingest?format=pairs&name=pairs", s.admin, "application/x-ndjson", pair)
	json.Unmarshal(b, &run)
	if code != 201 || run.Status != hindsight.RunSucceeded || run.Inserted != 1 {
		t.Errorf("pairs upload: %d %s", code, b)
	}
	// prune: the upload named cases, sent again without its threat, removes it and nothing else.
	code, _, b = s.send(t, sp, "POST", "/v1/ingest?name=cases&prune=true", s.admin, "application/x-ndjson",
		`{"kind":"threat","id":"THR-U3","title":"Another case"}`)
	json.Unmarshal(b, &run)
	if code != 201 || run.Deleted != 1 || run.Inserted != 1 {
		t.Errorf("pruning upload: %d %s; want THR-U1 deleted", code, b)
	}

	// globex's admin uploads too, and each tenant lists only its own runs.
	if code, _, b := s.send(t, sp, "POST", "/v1/ingest", s.globexAdmin, "application/x-ndjson", `{"kind":"threat","id":"THR-G","title":"globex case"}`); code != 201 {
		t.Fatalf("globex upload: %d %s", code, b)
	}
	var list api.RunsResponse
	code, _, b = s.send(t, sp, "GET", "/v1/ingest/runs", s.admin, "", "")
	json.Unmarshal(b, &list)
	if code != 200 || len(list.Runs) != 4 {
		t.Fatalf("acme's runs: %d %s; want its 4", code, b)
	}
	for _, r := range list.Runs {
		if r.Tenant != "acme" || r.Seconds == nil {
			t.Errorf("acme lists %+v", r)
		}
	}
	if list.Runs[0].ID != run.ID || list.Runs[0].Deleted != 1 || list.Runs[3].Rejected != 3 {
		t.Errorf("runs not newest first, or counts wrong: %s", b)
	}
	code, _, b = s.send(t, sp, "GET", "/v1/ingest/runs?limit=2", s.globexAdmin, "", "")
	json.Unmarshal(b, &list)
	if code != 200 || len(list.Runs) != 1 || list.Runs[0].Tenant != "globex" {
		t.Errorf("globex's runs: %d %s", code, b)
	}
	if code, _, _ := s.send(t, sp, "GET", "/v1/ingest/runs/"+run.ID, s.globexAdmin, "", ""); code != 404 {
		t.Errorf("globex sees acme's run: %d", code)
	}
	if code, _, _ := s.send(t, sp, "GET", "/v1/ingest/runs/RUN-none", s.admin, "", ""); code != 404 {
		t.Errorf("unknown run: %d", code)
	}
	// A run of the operator (no tenant option) is nobody's to list.
	if _, err := ingest.New(s.db, retrieval.Builtin{}, nil).Run(ctx, []string{writeTemp(t, fixture)}, ingest.Options{}); err != nil {
		t.Fatal(err)
	}
	code, _, b = s.send(t, sp, "GET", "/v1/ingest/runs?limit=200", s.admin, "", "")
	json.Unmarshal(b, &list)
	if len(list.Runs) != 4 {
		t.Errorf("acme lists %d runs after an operator's run, want its 4", len(list.Runs))
	}

	// A run left running by a process that died is shown as interrupted.
	dead := &hindsight.Run{ID: "RUN-DEAD", StartedAt: time.Now().UTC(), Status: hindsight.RunRunning, Tenant: "acme", Paths: []string{"x"}, Rejected: []hindsight.Rejection{}}
	if err := s.db.SaveRun(ctx, dead); err != nil {
		t.Fatal(err)
	}
	code, _, b = s.send(t, sp, "GET", "/v1/ingest/runs/RUN-DEAD", s.admin, "", "")
	json.Unmarshal(b, &run)
	if code != 200 || run.Status != hindsight.RunFailed || !strings.HasPrefix(run.Error, "interrupted") {
		t.Errorf("dead run: %d %s; want failed, interrupted", code, b)
	}

	// Refusals.
	for _, tc := range []struct {
		name, method, path, key, ct, body string
		status                            int
		field                             string
	}{
		{"reviewer key", "POST", "/v1/ingest", s.reviewer, "application/x-ndjson", upload, 403, ""},
		{"no key", "POST", "/v1/ingest", "", "application/x-ndjson", upload, 401, ""},
		{"text body", "POST", "/v1/ingest", s.admin, "text/plain", upload, 400, "Content-Type"},
		{"STIX", "POST", "/v1/ingest?format=stix", s.admin, "application/json", upload, 400, "format"},
		{"bad name", "POST", "/v1/ingest?name=../x", s.admin, "application/json", upload, 400, "name"},
		{"bad prune", "POST", "/v1/ingest?prune=maybe", s.admin, "application/json", upload, 400, "prune"},
		{"empty", "POST", "/v1/ingest", s.admin, "application/x-ndjson", "", 400, "body"},
		{"too large", "POST", "/v1/ingest", s.admin, "application/x-ndjson", strings.Repeat(upload, 20), 400, "body"},
		{"reviewer lists", "GET", "/v1/ingest/runs", s.reviewer, "", "", 403, ""},
		{"bad limit", "GET", "/v1/ingest/runs?limit=0", s.admin, "", "", 400, "limit"},
		{"reviewer shows", "GET", "/v1/ingest/runs/RUN-DEAD", s.reviewer, "", "", 403, ""},
	} {
		code, _, b := s.send(t, sp, tc.method, tc.path, tc.key, tc.ct, tc.body)
		if code != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, code, b, tc.status)
		} else if tc.field != "" && errorOf(t, b).Field != tc.field {
			t.Errorf("%s: %s, want field %q", tc.name, b, tc.field)
		}
	}
	// A JSON request keeps its own, smaller limit.
	big := `{"text":"` + strings.Repeat("x", api.MaxBody) + `"}`
	if code, _, b := s.send(t, sp, "POST", "/v1/search", s.reviewer, "application/json", big); code != 400 || errorOf(t, b).Code != hindsight.ETOOLARGE {
		t.Errorf("large search: %d %.200s", code, b)
	}

	// While another ingest writes, an upload is refused with a conflict naming it.
	unlock, err := s.db.LockWriter(ctx, "run RUN-BUSY", false)
	if err != nil {
		t.Fatal(err)
	}
	code, _, b = s.send(t, sp, "POST", "/v1/ingest", s.admin, "application/x-ndjson", upload)
	if code != 409 || !strings.Contains(errorOf(t, b).Message, "RUN-BUSY") {
		t.Errorf("upload during another ingest: %d %s; want 409 naming RUN-BUSY", code, b)
	}
	unlock()
}

func TestIngestRoutesWithoutIngester(t *testing.T) {
	sp := loadSpec(t)
	b := setup(t)
	ctx := context.Background()
	admin, _, err := b.db.CreateKey(ctx, "acme", hindsight.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	s := &ingestServer{srv: b.srv}
	if code, _, body := s.send(t, sp, "GET", "/v1/ingest/runs/RUN-1", admin, "", ""); code != 404 {
		t.Errorf("a server without an ingester: %d %s", code, body)
	}
}

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "in.jsonl")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
