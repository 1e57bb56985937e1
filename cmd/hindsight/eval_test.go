package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/eval"
	"github.com/hindsightsec/hindsight/store/sqlite"
)

const evalPairs = `{"id":"DRF-1","kind":"remediation","model":"extractive","prompt_version":"v1","tenant":"acme","techniques":["T1003.001"],"draft":"- Consider isolating WS-1 [THR-1]\n- Reset the password of svc_backup [THR-1, NOTE-1]\n- Monitor the environment","final":"- Isolate WS-1\n- Reset the password of svc_backup\n- Enable LSA protection","ratings":{"accuracy":4,"clarity":3,"completeness":3},"created_at":"2024-02-01T09:00:00Z"}
{"id":"DRF-2","kind":"remediation","model":"llama3.1:8b","prompt_version":"v2","tenant":"globex","techniques":["T1053.003"],"draft":"- Remove the cron job [THR-5]\n- Rotate SSH keys","final":"- Remove the cron job\n- Rotate SSH keys","ratings":{"accuracy":5,"clarity":5,"completeness":5},"created_at":"2024-03-01T09:00:00Z"}
{"id":"DRF-3","kind":"hunting","model":"extractive","prompt_version":"v1","tenant":"acme","techniques":["T1059.001"],"draft":"- Search for encoded PowerShell [AN-1]","final":"- Search every host for encoded PowerShell\n- Review script block logs","ratings":{"accuracy":3,"clarity":4,"completeness":2},"created_at":"2024-03-09T09:00:00Z"}
`

func readReport(t *testing.T, out string) *eval.Report {
	t.Helper()
	var r eval.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("report JSON: %v\n%.500s", err, out)
	}
	return &r
}

func TestEvalRunPairs(t *testing.T) {
	dir := t.TempDir()
	pairs := write(t, dir, "pairs.jsonl", evalPairs)
	out := filepath.Join(dir, "report")
	code, stdout, errs := run(t, "", "eval", "run", "--pairs", pairs, "--seed", "3", "--bootstrap", "300", "--out", out, "--json", "--log-level", "error")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	r := readReport(t, stdout)
	if r.Kind != eval.ReportRun || r.Source != "pairs:"+pairs || len(r.Drafts) != 3 || r.Bootstrap != 300 || r.Seed != 3 || r.Embedder != "builtin@1/384" {
		t.Errorf("report %s %s: %d drafts, bootstrap %d, seed %d, embedder %q", r.Kind, r.Source, len(r.Drafts), r.Bootstrap, r.Seed, r.Embedder)
	}
	if r.TERLabel() != "HTER" || r.Drafts[0].Reference != eval.ReferenceReview {
		t.Errorf("pairs are reviews of their drafts: label %s", r.TERLabel())
	}
	d1 := r.Drafts[0]
	if d1.Metrics[eval.MetricPrecision] != 2.0/3 || d1.Metrics[eval.MetricHedgeRemoved] != 1 || d1.Metrics[eval.MetricAccuracy] != 4 ||
		strings.Join(d1.Tactics, ",") != "credential-access" {
		t.Errorf("DRF-1: %+v, tactics %v", d1.Metrics, d1.Tactics)
	}
	if g := r.Slice("tactic", "execution"); g == nil || g.N != 2 {
		t.Errorf("execution slice %+v", g)
	}
	for _, f := range []string{"report.json", "report.md", "report.html"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	file, _ := os.ReadFile(filepath.Join(out, "report.json"))
	if fr := readReport(t, string(file)); fr.ID != r.ID {
		t.Errorf("report.json is report %s, stdout %s", fr.ID, r.ID)
	}
	page, _ := os.ReadFile(filepath.Join(out, "report.html"))
	if !strings.Contains(string(page), "<svg ") || regexp.MustCompile(`(?i)(src|href)\s*=|url\(|<script|<link`).Match(page) {
		t.Error("report.html must hold inline SVG and load nothing")
	}

	// The same seed gives the same numbers; the Markdown summary is the default output.
	_, again, _ := run(t, "", "eval", "run", "--pairs", pairs, "--seed", "3", "--bootstrap", "300", "--json", "--log-level", "error")
	r2 := readReport(t, again)
	// The built-in embedder's float32 sums may differ in their last bits between runs.
	approx := cmpopts.EquateApprox(0, 1e-9)
	if diff := cmp.Diff(r.Slices, r2.Slices, approx); diff != "" || !cmp.Equal(r.Overall, r2.Overall, approx) {
		t.Errorf("same seed, other intervals (-first +second):\n%s", diff)
	}
	code, md, _ := run(t, "", "eval", "run", "--pairs", pairs, "--tenant", "acme", "--kind", "hunting", "--bootstrap", "0", "--log-level", "error")
	if code != 0 || !strings.Contains(md, "1 drafts from pairs:") || !strings.Contains(md, "| HTER ↓ | 1 |") {
		t.Errorf("filtered Markdown run: exit %d\n%s", code, md)
	}
	// Scoring a file creates no database unless one is named.
	if _, err := os.Stat("hindsight.db"); err == nil {
		t.Error("eval run --pairs created ./hindsight.db")
	}
	bad := write(t, dir, "bad.jsonl", evalPairs+`{"id":"DRF-9","kind":"poem","tenant":"acme","draft":"x","final":"y","ratings":{"accuracy":1,"clarity":1,"completeness":1},"created_at":"2024-01-01T00:00:00Z"}`+"\n")
	if code, _, errs := run(t, "", "eval", "run", "--pairs", bad, "--log-level", "error"); code != exitFailed || !strings.Contains(errs, bad+":4: kind") {
		t.Errorf("invalid pair: exit %d, %s", code, errs)
	}
}

func TestEvalRunFromStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "h.db")
	db := "sqlite:" + dbPath
	if code, _, errs := run(t, "", "eval", "run", "--db", db, "--log-level", "error"); code != exitFailed || !strings.Contains(errs, "no reviewed drafts") {
		t.Errorf("empty store: exit %d, %s", code, errs)
	}
	if code, _, errs := run(t, "", "ingest", "--db", db, write(t, dir, "in.jsonl", records)); code != 0 {
		t.Fatal(errs)
	}
	// Each reviewer keeps every recommendation of the draft but the last, and adds one.
	var drafts []hindsight.Draft
	for _, tc := range []struct{ tenant, threat string }{
		{"acme", `{"title":"procdump.exe against lsass.exe","techniques":["T1003.001"]}`},
		{"globex", `{"title":"LSASS dump with procdump","techniques":["T1003.001"]}`},
	} {
		code, out, errs := run(t, tc.threat, "draft", "--db", db, "--tenant", tc.tenant, "--kind", "remediation", "--json", "-")
		var d hindsight.Draft
		if err := json.Unmarshal([]byte(out), &d); err != nil || code != 0 || len(d.Recommendations) < 2 {
			t.Fatalf("draft: %d %s %v: %+v", code, errs, err, d.Recommendations)
		}
		drafts = append(drafts, d)
	}
	s, err := sqlite.Open(ctx, dbPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	const added = "Call the customer's on-call engineer"
	for _, d := range drafts {
		var final strings.Builder
		for _, rec := range d.Recommendations[:len(d.Recommendations)-1] {
			final.WriteString("- " + rec.Text + "\n")
		}
		final.WriteString("- " + added)
		err := s.CreateReview(ctx, &hindsight.Review{ID: "REV-" + d.Tenant, DraftID: d.ID, Tenant: d.Tenant, Reviewer: "k",
			Final: final.String(), Ratings: hindsight.Ratings{Accuracy: 4, Clarity: 4, Completeness: 3}, CreatedAt: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
	}
	s.Close()

	code, out, errs := run(t, "", "eval", "run", "--db", db, "--from-store", "--json", "--bootstrap", "100", "--log-level", "error")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	r := readReport(t, out)
	if len(r.Drafts) != 2 || r.Source != "store" || strings.Join(r.Tenants, ",") != "acme,globex" {
		t.Fatalf("report: %d drafts from %s for %v", len(r.Drafts), r.Source, r.Tenants)
	}
	for i, d := range r.Drafts {
		recs := drafts[i].Recommendations
		n := float64(len(recs))
		if d.ID != drafts[i].ID || d.Reference != eval.ReferenceReview || d.Metrics[eval.MetricPrecision] != (n-1)/n || d.Metrics[eval.MetricRecall] != (n-1)/n ||
			strings.Join(d.Recommendations.Removed, "|") != recs[len(recs)-1].Text || strings.Join(d.Recommendations.Added, "|") != added ||
			d.Metrics[eval.MetricCited] != 1 || d.Metrics[eval.MetricAccuracy] != 4 {
			t.Errorf("stored draft %s scored %+v (%+v)", d.ID, d.Metrics, d.Recommendations)
		}
		if _, ok := d.Metrics[eval.MetricSupported]; !ok {
			t.Errorf("stored draft %s has no support score", d.ID)
		}
	}
	s, err = sqlite.Open(ctx, dbPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tenant := range []string{"acme", "globex"} {
		raw, err := s.FindLatestEvalReport(ctx, tenant)
		if err != nil {
			t.Fatalf("%s: %v", tenant, err)
		}
		tr := readReport(t, string(raw))
		if tr.ID != r.ID || len(tr.Drafts) != 1 || tr.Drafts[0].Tenant != tenant {
			t.Errorf("%s's stored report: %s with %d drafts", tenant, tr.ID, len(tr.Drafts))
		}
	}
	// --save=false stores nothing new.
	_, out, _ = run(t, "", "eval", "run", "--db", db, "--json", "--bootstrap", "0", "--save=false", "--log-level", "error")
	raw, _ := s.FindLatestEvalReport(ctx, "acme")
	if readReport(t, string(raw)).ID == readReport(t, out).ID {
		t.Error("--save=false stored the report")
	}
}

func TestEvalReplay(t *testing.T) {
	dir := t.TempDir()
	code, out, errs := run(t, "", "eval", "replay", "--sample", "--before", "2025-03-01", "--limit", "6", "--bootstrap", "100",
		"--kind", "remediation,hunting", "--out", filepath.Join(dir, "rep"), "--json", "--log-level", "error")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	r := readReport(t, out)
	rp := r.Replay
	if r.Kind != eval.ReportReplay || rp == nil || rp.Threats != 6 || rp.Drafted == 0 || rp.Drafted != len(r.Drafts) || rp.Failed != 0 || rp.Indexed < 300 {
		t.Fatalf("replay %+v with %d drafts", rp, len(r.Drafts))
	}
	cut := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, d := range r.Drafts {
		if d.Reference != eval.ReferenceSent || d.ThreatID == "" || d.CreatedAt.Before(cut) || d.Model != "extractive" {
			t.Errorf("replayed draft %s: reference %s, threat %s at %s, model %s", d.ID, d.Reference, d.ThreatID, d.CreatedAt, d.Model)
		}
		if _, ok := d.Metrics[eval.MetricSupported]; !ok {
			t.Errorf("replayed draft %s has no grounding", d.ID)
		}
	}
	if r.TERLabel() != "TER" || r.Slice("kind", "hunting") == nil {
		t.Errorf("label %s, kinds %v", r.TERLabel(), rp.Kinds)
	}

	// A generated corpus in a folder, whose pairs and judgments files are skipped.
	corpus := filepath.Join(dir, "gen")
	if code, _, errs := run(t, "", "gen", "--threats", "60", "--seed", "5", "--out", corpus); code != 0 {
		t.Fatal(errs)
	}
	code, out, errs = run(t, "", "eval", "replay", "--history", corpus, "--before", "2024-06-01", "--bootstrap", "0", "--json", "--log-level", "error")
	if code != 0 {
		t.Fatalf("generated corpus: exit %d: %s", code, errs)
	}
	g := readReport(t, out)
	if g.Replay.Threats == 0 || g.Replay.Skipped == 0 || g.Replay.Drafted != g.Replay.Threats {
		t.Errorf("generated corpus replay %+v", g.Replay)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"eval", "replay", "--sample"}, "--before is required"},
		{[]string{"eval", "replay", "--before", "2024-01-01"}, "--history"},
		{[]string{"eval", "replay", "--sample", "--before", "last year"}, "--before"},
		{[]string{"eval", "replay", "--sample", "--before", "2024-01-01", "--drafter", "gpt"}, "--drafter"},
		{[]string{"eval", "replay", "--sample", "--before", "2024-01-01", "--kind", "poem"}, "--kind"},
	} {
		if code, _, errs := run(t, "", tc.args...); code != exitUsage || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, %s", tc.args, code, errs)
		}
	}
	if code, _, errs := run(t, "", "eval", "replay", "--sample", "--before", "2030-01-01", "--log-level", "error"); code != exitFailed || !strings.Contains(errs, "no threat") {
		t.Errorf("nothing to replay: exit %d, %s", code, errs)
	}
}

func TestEvalCompare(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "base")
	if code, _, errs := run(t, "", "eval", "run", "--pairs", write(t, dir, "base.jsonl", evalPairs), "--out", base, "--log-level", "error"); code != 0 {
		t.Fatal(errs)
	}
	// The candidate drafted DRF-1 worse: it kept only one recommendation.
	worse := strings.Replace(evalPairs, `"draft":"- Consider isolating WS-1 [THR-1]\n- Reset the password of svc_backup [THR-1, NOTE-1]\n- Monitor the environment"`,
		`"draft":"- Monitor the environment\n- Check the logs"`, 1)
	candPairs := write(t, dir, "cand.jsonl", worse)
	baseJSON := filepath.Join(base, "report.json")

	code, out, errs := run(t, "", "eval", "compare", baseJSON, candPairs, "--gate", "ter:+100", "--gate", "recall:-0.9", "--json", "--out", filepath.Join(dir, "cmp"), "--log-level", "error")
	if code != 0 {
		t.Fatalf("lenient gates: exit %d: %s", code, errs)
	}
	var c eval.Comparison
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatal(err)
	}
	rec := c.Overall.Metrics[eval.MetricRecall]
	if c.Shared != 3 || rec.Diff.Mean >= 0 || len(c.Gates) != 2 || !c.Passed() {
		t.Errorf("comparison: shared %d, recall change %+v, gates %+v", c.Shared, rec, c.Gates)
	}
	if !strings.Contains(errs, "gate ter:+100: passed") || !strings.Contains(errs, "gate recall:-0.9: passed") {
		t.Errorf("stderr does not list the gates:\n%s", errs)
	}
	for _, f := range []string{"compare.json", "compare.md"} {
		if _, err := os.Stat(filepath.Join(dir, "cmp", f)); err != nil {
			t.Error(err)
		}
	}
	code, out, errs = run(t, "", "eval", "compare", baseJSON, candPairs, "--gate", "ter:+2,recall:-0.05,chrf:-100", "--log-level", "error")
	if code != exitGate || !strings.Contains(errs, "gate recall:-0.05: FAILED") || !strings.Contains(errs, "gate chrf:-100: passed") ||
		!strings.Contains(errs, "2 of 3 gates failed: ter:+2, recall:-0.05") || !strings.Contains(out, "❌ failed") {
		t.Errorf("broken gates: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if code, _, _ := run(t, "", "eval", "compare", baseJSON, baseJSON, "--gate", "ter:+0,recall:-0", "--log-level", "error"); code != 0 {
		t.Errorf("a report against itself broke a zero gate: exit %d", code)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"eval", "compare", baseJSON}, "BASELINE and CANDIDATE"},
		{[]string{"eval", "compare", baseJSON, baseJSON, "--gate", "meteor:+1"}, "unknown metric"},
		{[]string{"eval", "compare", baseJSON, baseJSON, "--gate", "ter"}, "metric:delta"},
		{[]string{"eval", "run", "--from-store", "--pairs", candPairs}, "exclude"},
		{[]string{"eval", "run", "--pairs", candPairs, "--bootstrap", "-1"}, "--bootstrap"},
	} {
		if code, _, errs := run(t, "", tc.args...); code != exitUsage || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, %s", tc.args, code, errs)
		}
	}
	if code, _, errs := run(t, "", "eval", "compare", baseJSON, write(t, dir, "junk.txt", "not json\n")); code != exitFailed || !strings.Contains(errs, "neither a report.json") {
		t.Errorf("junk input: exit %d, %s", code, errs)
	}
}
