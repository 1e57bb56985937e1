package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/api"
	"github.com/hindsightsec/hindsight/draft"
	"github.com/hindsightsec/hindsight/retrieval"
	"github.com/hindsightsec/hindsight/store/sqlite/sqlitebench"
)

// BenchmarkPostDraft measures POST /v1/drafts with the extractive drafter over an embedded store of
// generated history (2,000 threats; HINDSIGHT_BENCH_THREATS sets another size), timing the
// handler in-process, so the figure is server-side time with no network and no model. It reports
// p50 and p99.
func BenchmarkPostDraft(b *testing.B) {
	ctx := context.Background()
	db, c := sqlitebench.Open(b, 2000)
	indexed := len(c.Threats) + len(c.Knowledge)
	r := retrieval.NewRetriever(db, retrieval.Builtin{})
	srv := api.New(api.Config{Store: db, Search: r, Drafter: draft.New(r, nil), RateLimit: 1e9})
	keys := map[string]string{}
	for _, t := range c.Threats {
		if keys[t.Tenant] == "" {
			keys[t.Tenant], _, _ = db.CreateKey(ctx, t.Tenant, hindsight.RoleReader)
		}
	}
	// The requests, made before the loop: the generated corpus is dropped so that the garbage
	// collector marks what a server holds, not the benchmark's copy of every threat.
	type request struct{ key, body string }
	var reqs []request
	for _, t := range c.Threats[:min(len(c.Threats), sqlitebench.Queries)] {
		body, _ := json.Marshal(map[string]any{"kind": "remediation", "threat": map[string]any{
			"title": t.Title, "summary": t.Summary, "events": t.Events, "techniques": t.Techniques}})
		reqs = append(reqs, request{keys[t.Tenant], string(body)})
	}
	c = nil
	post := func(rq request) int {
		req := httptest.NewRequest(http.MethodPost, "/v1/drafts", strings.NewReader(rq.body))
		req.Header.Set("Authorization", "Bearer "+rq.key)
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		return w.Code
	}
	start := time.Now()
	if err := db.Warm(ctx, retrieval.Builtin{}.Space()); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d documents indexed; search index loaded in %s", indexed, time.Since(start).Round(time.Millisecond))
	if code := post(reqs[0]); code != http.StatusCreated {
		b.Fatalf("warm-up draft: status %d", code)
	}
	runtime.GC()
	b.ReportAllocs()
	var lat sqlitebench.Latencies
	lat.Start()
	i := 0
	for b.Loop() {
		rq := reqs[i%len(reqs)]
		i++
		lat.Time(func() {
			if code := post(rq); code != http.StatusCreated {
				b.Fatalf("status %d", code)
			}
		})
	}
	lat.Report(b)
}
