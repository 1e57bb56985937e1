package ingest_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/ingest"
)

func TestReadPairs(t *testing.T) {
	path := filepath.Join("testdata", "pairs.jsonl")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []ingest.Record
	rej, err := ingest.ReadPairs(f, path, "", func(r ingest.Record) error { recs = append(recs, r); return nil })
	if err != nil {
		t.Fatal(err)
	}
	want := &hindsight.Pair{ID: "DRF-1", Kind: hindsight.DraftRemediation, Model: "llama3.1:8b", PromptVersion: "v3", Tenant: "acme",
		Techniques: []string{"T1078.004"}, Draft: "- Reset the password [THR-1]", Final: "- Reset the password and revoke sessions",
		Ratings: hindsight.Ratings{Accuracy: 4, Clarity: 5, Completeness: 3}, CreatedAt: time.Date(2024, 2, 1, 9, 0, 0, 0, time.UTC)}
	if len(recs) != 3 || recs[0].Doc != nil {
		t.Fatalf("%d records; want DRF-1, DRF-2 and the second DRF-1 (duplicates are the runner's to find), as pairs", len(recs))
	}
	if diff := cmp.Diff(want, recs[0].Pair); diff != "" {
		t.Errorf("DRF-1 (-want +got):\n%s", diff)
	}
	if got := recs[1].Pair.CreatedAt; !got.Equal(time.Date(2024, 2, 2, 8, 0, 0, 0, time.UTC)) || got.Location() != time.UTC || recs[1].Line != 2 {
		t.Errorf("DRF-2 created at %v, line %d; want 08:00 UTC, line 2", got, recs[1].Line)
	}
	wantRej := []string{
		path + `:4: kind: unknown kind "triage"`,
		path + ":5: ratings.clarity: must be an integer from 1 to 5, got 6",
		path + ":6: ratings.completeness: must be an integer from 1 to 5, got 4.5",
		path + ":7: created_at: must be an RFC 3339 time",
		path + ":8: final: is required",
		path + `:9: techniques[1]: "TX" is not an ATT&CK technique ID`,
		path + ":10: id: is required",
		path + ":11: tenant: is required",
		path + ":12: ratings: is required",
		path + ":13: invalid JSON",
	}
	if len(rej) != len(wantRej) {
		t.Fatalf("rejections %v, want %d", rej, len(wantRej))
	}
	for i, w := range wantRej {
		if got := rej[i].String(); !strings.HasPrefix(got, w) {
			t.Errorf("rejection %d = %q, want prefix %q", i, got, w)
		}
	}
	// --tenant fills a missing tenant and rejects another tenant's pairs.
	line := `{"id":"D","kind":"hunting","draft":"d","final":"f","ratings":{"accuracy":1,"clarity":1,"completeness":1},"created_at":"2024-02-01T09:00:00Z"}`
	if p, rej := ingest.ParsePair([]byte(line), "acme"); rej != nil || p.Tenant != "acme" {
		t.Errorf("default tenant: %+v, %v", p, rej)
	}
	other := strings.Replace(line, `"id":"D"`, `"id":"D","tenant":"globex"`, 1)
	if _, rej := ingest.ParsePair([]byte(other), "acme"); rej == nil || rej.Field != "tenant" {
		t.Errorf("other tenant: %v", rej)
	}
}

// corpusFiles writes a small mixed corpus of every format into dir, with files that auto-detection
// must skip.
func corpusFiles(t *testing.T, dir string) {
	t.Helper()
	write := func(name, content string) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, dir, name, content)
	}
	copyFile := func(from, to string) { write(to, mustRead(t, filepath.Join("testdata", from))) }
	copyFile("stix20.json", "attack/enterprise-attack.json")
	copyFile("stix21.json", "attack/enterprise-attack-21.json")
	copyFile("sigma/lsass_dump.yml", "sigma/rules/lsass_dump.yml")
	copyFile("sigma/bad.yml", "sigma/rules/bad.yml")
	copyFile("elastic/lsass_access.toml", "elastic/rules/lsass_access.toml")
	copyFile("elastic/deprecated.toml", "elastic/rules/_deprecated/deprecated.toml")
	copyFile("pairs.jsonl", "eval/pairs.jsonl")
	write("threats.jsonl", good)
	// Not recognised: skipped, not rejected.
	write("README.md", "# corpus\n")
	write("sigma/rules/T1003.yaml", "attack_technique: T1003\ndisplay_name: OS Credential Dumping\natomic_tests: []\n")
	write("package.json", `{"name": "not a bundle"}`)
	write("elastic/pyproject.toml", "[project]\nname = \"x\"\n")
	write(".git/config.jsonl", "not read: hidden directories are skipped\n")
}

func TestIngestAutoReadsEveryFormat(t *testing.T) {
	ctx := context.Background()
	in, db, _, dir := setup(t)
	corpus := filepath.Join(dir, "corpus")
	corpusFiles(t, corpus)
	run, err := in.Run(ctx, []string{corpus}, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Documents: 3 + 3 ATT&CK, 1 Sigma rule, the Elastic analytic and its note, 3 JSONL records;
	// and 2 pairs.
	if run.Inserted != 14 || run.Updated != 0 {
		t.Errorf("inserted %d, updated %d; want 14, 0", run.Inserted, run.Updated)
	}
	var rejected []string
	for _, r := range run.Rejected {
		rejected = append(rejected, strings.TrimPrefix(r.File, corpus+string(filepath.Separator))+": "+r.Field)
	}
	want := []string{
		"attack/enterprise-attack.json: objects[7].external_references",
		"eval/pairs.jsonl: kind", "eval/pairs.jsonl: ratings.clarity", "eval/pairs.jsonl: ratings.completeness",
		"eval/pairs.jsonl: created_at", "eval/pairs.jsonl: final", "eval/pairs.jsonl: techniques[1]", "eval/pairs.jsonl: id",
		"eval/pairs.jsonl: tenant", "eval/pairs.jsonl: ratings", "eval/pairs.jsonl: ", "eval/pairs.jsonl: id",
		"sigma/rules/bad.yml: title",
	}
	if diff := cmp.Diff(want, rejected); diff != "" {
		t.Errorf("rejections (-want +got):\n%s", diff)
	}
	if last := run.Rejected[11]; !strings.Contains(last.Error, `duplicate of the pair "DRF-1"`) || last.Line != 14 {
		t.Errorf("duplicate pair: %v", last)
	}
	if run.Read != 14+len(want) || run.Status != hindsight.RunPartial {
		t.Errorf("read %d, status %s; want %d, partial", run.Read, run.Status, 14+len(want))
	}
	counts, err := db.CountDocuments(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[hindsight.Kind]int{hindsight.KindTechnique: 4, hindsight.KindMitigation: 1, hindsight.KindGroup: 1,
		hindsight.KindAnalytic: 3, hindsight.KindNote: 2}, counts); diff != "" {
		t.Errorf("global documents (-want +got):\n%s", diff)
	}
	d, err := db.FindDraftByID(ctx, "acme", "DRF-1")
	if err != nil || d.Text != "- Reset the password [THR-1]" || d.Model != "llama3.1:8b" || d.Kind != hindsight.DraftRemediation {
		t.Fatalf("draft DRF-1 = %+v, %v", d, err)
	}
	reviews, err := db.FindReviews(ctx, "acme", "DRF-1")
	if err != nil || len(reviews) != 1 || reviews[0].Final != "- Reset the password and revoke sessions" || reviews[0].Ratings.Clarity != 5 {
		t.Fatalf("reviews of DRF-1 = %+v, %v", reviews, err)
	}

	// Nothing changed: nothing is written.
	run, err = in.Run(ctx, []string{corpus}, ingest.Options{})
	if err != nil || run.Unchanged != 14 || run.Inserted+run.Updated != 0 {
		t.Fatalf("second run: %+v, %v; want all 14 unchanged", run, err)
	}

	// A review made through the API survives a changed pair, which replaces only its imported review.
	api := &hindsight.Review{ID: "REV-0a1b2c", DraftID: "DRF-1", Tenant: "acme", Reviewer: "KEY-1", Final: "API final",
		Ratings: hindsight.Ratings{Accuracy: 5, Clarity: 5, Completeness: 5}, CreatedAt: time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)}
	if err := db.CreateReview(ctx, api); err != nil {
		t.Fatal(err)
	}
	pairs := filepath.Join(corpus, "eval", "pairs.jsonl")
	b, _ := os.ReadFile(pairs)
	os.WriteFile(pairs, []byte(strings.Replace(string(b), "and revoke sessions", "and revoke every session", 1)), 0o644)
	run, err = in.Run(ctx, []string{pairs}, ingest.Options{})
	if err != nil || run.Updated != 1 || run.Unchanged != 1 {
		t.Fatalf("changed pair: %+v, %v; want 1 updated, 1 unchanged", run, err)
	}
	reviews, _ = db.FindReviews(ctx, "acme", "DRF-1")
	if len(reviews) != 2 || reviews[0].Final != "- Reset the password and revoke every session" || reviews[1].Final != "API final" {
		t.Errorf("reviews after the change: %+v; want the imported one replaced and the API's kept", reviews)
	}
}

func TestIngestExplicitFormat(t *testing.T) {
	ctx := context.Background()
	in, _, _, dir := setup(t)
	corpus := filepath.Join(dir, "corpus")
	corpusFiles(t, corpus)
	// A directory is walked for the format's files only; the Atomic YAML is read as Sigma and
	// rejected, because the format was named.
	run, err := in.Run(ctx, []string{corpus}, ingest.Options{Format: "sigma"})
	if err != nil {
		t.Fatal(err)
	}
	if run.Inserted != 1 || len(run.Rejected) != 2 {
		t.Errorf("sigma: inserted %d, rejected %v; want 1 and 2 (bad.yml, T1003.yaml)", run.Inserted, run.Rejected)
	}
	// A file named directly is read by the named format whatever its name.
	file := writeFile(t, dir, "rule.txt", "title: Named\nid: 44444444-4444-4444-8444-444444444444\n")
	run, err = in.Run(ctx, []string{file}, ingest.Options{Format: "sigma"})
	if err != nil || run.Inserted != 1 {
		t.Errorf("named file: %+v, %v", run, err)
	}
	// With auto, a named file of no known type is JSONL, as before other formats existed.
	run, err = in.Run(ctx, []string{file}, ingest.Options{})
	if err != nil || len(run.Rejected) != 2 || run.Rejected[0].Error[:12] != "invalid JSON" {
		t.Errorf("named unknown file with auto: %+v, %v", run, err)
	}
	// A corrupt bundle fails the run without storing half a release.
	bundle := writeFile(t, dir, "broken.json", `{"type": "bundle", "objects": [{"type": "attack-pattern",`)
	if _, err := in.Run(ctx, []string{bundle}, ingest.Options{}); err == nil || !strings.Contains(err.Error(), "broken.json:1") {
		t.Errorf("corrupt bundle: %v", err)
	}
}

func TestIngestPairConflict(t *testing.T) {
	ctx := context.Background()
	in, db, _, dir := setup(t)
	// DRF-2 was made through the API and says something else: the pair must not overwrite it.
	apiDraft := &hindsight.Draft{ID: "DRF-2", Tenant: "acme", Kind: hindsight.DraftHunting, Text: "made by the API", Model: "extractive",
		PromptVersion: "v1", CreatedAt: time.Date(2024, 2, 2, 8, 0, 0, 0, time.UTC)}
	if err := db.CreateDraft(ctx, apiDraft); err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(mustRead(t, filepath.Join("testdata", "pairs.jsonl")), "\n")
	file := writeFile(t, dir, "pairs.jsonl", lines[0]+lines[1])
	run, err := in.Run(ctx, []string{file}, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if run.Inserted != 1 || len(run.Rejected) != 1 || run.Rejected[0].Line != 2 || !strings.Contains(run.Rejected[0].Error, "made through the API") {
		t.Errorf("run: inserted %d, rejected %v; want DRF-1 stored and DRF-2 rejected at line 2", run.Inserted, run.Rejected)
	}
	d, err := db.FindDraftByID(ctx, "acme", "DRF-2")
	if err != nil || d.Text != "made by the API" {
		t.Errorf("API draft = %+v, %v", d, err)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
