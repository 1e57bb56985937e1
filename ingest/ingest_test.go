package ingest_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/ingest"
	"github.com/hindsightsec/hindsight/retrieval"
	"github.com/hindsightsec/hindsight/store/sqlite"
)

// countingEmbedder is the built-in embedder, counting the texts it embeds.
type countingEmbedder struct {
	retrieval.Builtin
	texts atomic.Int64
}

func (c *countingEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	c.texts.Add(int64(len(texts)))
	return c.Builtin.Embed(ctx, texts)
}

func setup(t *testing.T) (*ingest.Ingester, *sqlite.DB, *countingEmbedder, string) {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "h.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	emb := &countingEmbedder{}
	return ingest.New(db, emb, nil), db, emb, dir
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const good = `{"kind":"threat","id":"THR-1","tenant":"acme","title":"Cloud account compromise","occurred_at":"2023-05-04T10:22:00Z","severity":"high","disposition":"true_positive","techniques":["T1078.004","t1098"],"summary":"jesse.brown signed in from 203.0.113.7","remediation":"- Revoke all sessions for jesse.brown\n- Revert the NSG rule allow-any-3389","ticket":"INC-7"}
{"kind":"analytic","id":"AN-0113","title":"Sign-in from atypical IP","description":"Privileged sign-in from a new ASN","techniques":["T1078.004"],"conversion_rate":0.18}
{"kind":"note","id":"NOTE-1","title":"Reverting permissive NSG rules","body":"Remove allow-any rules.","techniques":["T1562.007"]}
`

func TestIngestRejectsBadLinesAndKeepsGoodOnes(t *testing.T) {
	ctx := context.Background()
	in, db, _, dir := setup(t)
	bad := `{"kind":"threat","id":"THR-2","title":"no tenant"}
not json at all

{"kind":"gadget","id":"G-1","title":"x"}
{"kind":"threat","id":"THR-3","tenant":"acme","title":"bad technique","techniques":["T1078","T99"]}
{"kind":"threat","id":"THR-4","tenant":"acme","title":"bad time","occurred_at":"yesterday"}
{"kind":"note","id":"NOTE-2","tenant":"acme","title":"global with tenant"}
{"kind":"analytic","id":"AN-2","title":"bad rate","conversion_rate":1.5}
{"kind":"threat","id":"THR-1","tenant":"acme","title":"duplicate"}
["an","array"]
{"kind":"note","id":"","title":"empty id"}
`
	file := writeFile(t, dir, "in.jsonl", good+bad)
	run, err := in.Run(ctx, []string{file}, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != hindsight.RunPartial || run.Inserted != 3 || run.Read != 13 {
		t.Errorf("run = %s inserted %d read %d, want partial, 3, 13", run.Status, run.Inserted, run.Read)
	}
	want := []string{
		file + ":4: tenant: is required for threat records (or give --tenant)",
		file + ":5: invalid JSON",
		file + ":7: kind: unknown kind \"gadget\"",
		file + ":8: techniques[1]: \"T99\" is not an ATT&CK technique ID",
		file + ":9: occurred_at: must be an RFC 3339 time",
		file + ":10: tenant: must be empty",
		file + ":11: conversion_rate: must be between 0 and 1",
		file + ":12: id: duplicate of the threat record \"THR-1\" first read at " + file + ":1",
		file + ":13: want a JSON object",
		file + ":14: id: is required",
	}
	if len(run.Rejected) != len(want) {
		t.Fatalf("rejected %d records, want %d: %v", len(run.Rejected), len(want), run.Rejected)
	}
	for i, w := range want {
		if got := run.Rejected[i].String(); !strings.HasPrefix(got, w) {
			t.Errorf("rejection %d = %q, want prefix %q", i, got, w)
		}
	}
	docs, err := db.FindDocuments(ctx, []hindsight.DocKey{{Tenant: "acme", Kind: hindsight.KindThreat, ID: "THR-1"}})
	if err != nil {
		t.Fatal(err)
	}
	d := docs[hindsight.DocKey{Tenant: "acme", Kind: hindsight.KindThreat, ID: "THR-1"}]
	if d == nil || d.Techniques[1] != "T1098" || string(d.Metadata["ticket"]) != `"INC-7"` {
		t.Errorf("stored threat = %+v; want normalised techniques and the unknown field kept in metadata", d)
	}
	saved, err := db.FindRunByID(ctx, run.ID)
	if err != nil || saved.Status != hindsight.RunPartial || len(saved.Rejected) != len(want) {
		t.Errorf("saved run = %+v, %v", saved, err)
	}
}

func TestIngestIsIncremental(t *testing.T) {
	ctx := context.Background()
	in, _, emb, dir := setup(t)
	file := writeFile(t, dir, "in.jsonl", good)
	if _, err := in.Run(ctx, []string{file}, ingest.Options{}); err != nil {
		t.Fatal(err)
	}
	first := emb.texts.Load()
	run, err := in.Run(ctx, []string{file}, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if run.Unchanged != 3 || run.Inserted+run.Updated != 0 || emb.texts.Load() != first {
		t.Errorf("second run: %+v, embedded %d more texts; want all unchanged and nothing embedded", run, emb.texts.Load()-first)
	}
	// Only metadata changes: the record is rewritten but nothing is embedded.
	writeFile(t, dir, "in.jsonl", strings.Replace(good, `"ticket":"INC-7"`, `"ticket":"INC-8"`, 1))
	run, err = in.Run(ctx, []string{file}, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if run.Updated != 1 || run.Unchanged != 2 || emb.texts.Load() != first {
		t.Errorf("metadata-only change: %+v, embedded %d more texts; want 1 updated, nothing embedded", run, emb.texts.Load()-first)
	}
	// Text changes: that document alone is re-embedded.
	writeFile(t, dir, "in.jsonl", strings.Replace(good, "Remove allow-any rules.", "Remove allow-any rules at once.", 1))
	run, err = in.Run(ctx, []string{file}, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if run.Updated != 2 || emb.texts.Load() != first+1 {
		t.Errorf("text change: %+v, embedded %d more texts; want the note's one chunk re-embedded", run, emb.texts.Load()-first)
	}
}

func TestIngestPrune(t *testing.T) {
	ctx := context.Background()
	in, db, _, dir := setup(t)
	file := writeFile(t, dir, "in.jsonl", good)
	other := writeFile(t, dir, "other.jsonl", `{"kind":"note","id":"NOTE-9","title":"Other source"}`+"\n")
	if _, err := in.Run(ctx, []string{dir}, ingest.Options{}); err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(good, "\n")
	writeFile(t, dir, "in.jsonl", lines[0]+lines[1])
	run, err := in.Run(ctx, []string{file}, ingest.Options{})
	if err != nil || run.Deleted != 0 {
		t.Fatalf("without --prune: %+v, %v", run, err)
	}
	run, err = in.Run(ctx, []string{file}, ingest.Options{Prune: true})
	if err != nil || run.Deleted != 1 {
		t.Fatalf("with --prune: deleted %d, %v; want 1", run.Deleted, err)
	}
	got, _ := db.FindDocuments(ctx, []hindsight.DocKey{{Kind: hindsight.KindNote, ID: "NOTE-1"}, {Kind: hindsight.KindNote, ID: "NOTE-9"}})
	if len(got) != 1 || got[hindsight.DocKey{Kind: hindsight.KindNote, ID: "NOTE-9"}] == nil {
		t.Errorf("after prune of %s: %v; want NOTE-1 gone and %s's NOTE-9 kept", file, got, other)
	}
}

func TestIngestTenantOption(t *testing.T) {
	ctx := context.Background()
	in, _, _, dir := setup(t)
	file := writeFile(t, dir, "in.jsonl", `{"kind":"threat","id":"T1","title":"no tenant"}
{"kind":"threat","id":"T2","tenant":"globex","title":"other tenant"}
`)
	run, err := in.Run(ctx, []string{file}, ingest.Options{Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if run.Inserted != 1 || len(run.Rejected) != 1 || run.Rejected[0].Field != "tenant" {
		t.Errorf("run = %+v", run)
	}
}

func TestIngestBadOptions(t *testing.T) {
	in, _, _, dir := setup(t)
	if _, err := in.Run(context.Background(), []string{dir}, ingest.Options{Format: "csv"}); hindsight.ErrorField(err) != "format" {
		t.Errorf("bad format: %v", err)
	}
	if _, err := in.Run(context.Background(), []string{filepath.Join(dir, "missing")}, ingest.Options{}); hindsight.ErrorField(err) != "path" {
		t.Errorf("missing path: %v", err)
	}
}

// TestIngestMalformedCorpus is issue 3's malformed corpus: broken JSON, invalid UTF-8, missing
// required fields, a 20 MB field, technique IDs that are not ATT&CK's and duplicate IDs in one
// file. Every valid record is stored, each invalid one is reported with its file, line, field and
// reason, and a re-run, which knows the unchanged lines by their hash, reports exactly the same.
func TestIngestMalformedCorpus(t *testing.T) {
	ctx := context.Background()
	in, db, emb, dir := setup(t)
	thr1 := `{"kind":"threat","id":"THR-1","tenant":"acme","title":"Cloud account compromise","summary":"jesse.brown signed in from 203.0.113.7","techniques":["T1078.004"]}`
	lines := []string{
		thr1, // 1
		`{"kind":"analytic","id":"AN-1","title":"Sign-in from atypical IP","description":"Privileged sign-in from a new ASN"}`,
		`{"kind":"note","id":"NOTE-X","title":"unterminated`,
		`{"kind":"note","id":"NOTE-Y","title":"two values"} {"kind":"note"}`,
		`{"kind":"note","id":"NOTE-Z","title":"trailing comma",}`, // 5
		"{\"kind\":\"threat\",\"id\":\"THR-L1\",\"tenant\":\"acme\",\"title\":\"Latin-1 export\",\"summary\":\"caf\xe9 au lait\"}",
		"{\"kind\":\"note\",\"id\":\"NOTE-K\",\"title\":\"bad key\",\"r\xe9f\":\"1\"}",
		`{"id":"NOTE-NOKIND","title":"no kind"}`,
		`{"kind":"note","title":"no id"}`,
		`{"kind":"note","id":"NOTE-NOTITLE","body":"no title"}`, // 10
		`{"kind":"threat","id":"THR-NOTENANT","title":"no tenant"}`,
		`{"kind":"note","id":"NOTE-BIG","title":"a 20 MB body","body":"` + strings.Repeat("a", 20<<20) + `"}`,
		`{"kind":"note","id":"NOTE-AFTER","title":"Read after the big line","body":"Still here."}`,
		`{"kind":"threat","id":"THR-T99","tenant":"acme","title":"short technique","techniques":["T99"]}`,
		`{"kind":"threat","id":"THR-TA","tenant":"acme","title":"tactic, not technique","techniques":["T1059","TA0001"]}`, // 15
		`{"kind":"note","id":"NOTE-WORDS","title":"technique by name","techniques":["lateral movement"]}`,
		`{"kind":"threat","id":"THR-SUB","tenant":"acme","title":"sub-technique of two digits","techniques":["T1059.01"]}`,
		// Well-formed but in no ATT&CK release: stored. Which IDs exist depends on the ATT&CK
		// release, and cases keep the IDs of theirs (ATT&CK revokes and renumbers techniques), so
		// ingest checks the form of an ID, never a list of them.
		`{"kind":"threat","id":"THR-T1999","tenant":"acme","title":"future technique","techniques":["T1999"]}`,
		thr1, // a duplicate, byte for byte
		`{"kind":"analytic","id":"AN-1","title":"Sign-in from atypical IP, edited"}`, // 20: a duplicate, edited
		`{"kind":"threat","id":"THR-1","tenant":"globex","title":"Another tenant's THR-1"}`,
		`{"kind":"note","id":"NOTE-LAST","title":"Last line, no newline","body":"The end."}`,
	}
	file := writeFile(t, dir, "malformed.jsonl", strings.Join(lines, "\n"))
	want := []string{
		file + ":3: invalid JSON: unexpected end of line",
		file + ":4: more than one JSON value on the line",
		file + ":5: invalid JSON: invalid character '}'",
		file + ":6: summary: is not valid UTF-8 (byte 0xE9 at byte 87 of the line)",
		file + ":7: a field name is not valid UTF-8 (byte 0xE9 at byte 50 of the line)",
		file + ":8: kind: is required",
		file + ":9: id: is required",
		file + ":10: title: is required",
		file + ":11: tenant: is required for threat records",
		file + ":12: line is longer than 8388608 bytes",
		file + ":14: techniques[0]: \"T99\" is not an ATT&CK technique ID",
		file + ":15: techniques[1]: \"TA0001\" is not an ATT&CK technique ID",
		file + ":16: techniques[0]: \"lateral movement\" is not an ATT&CK technique ID",
		file + ":17: techniques[0]: \"T1059.01\" is not an ATT&CK technique ID",
		file + ":19: id: duplicate of the threat record \"THR-1\" first read at " + file + ":1",
		file + ":20: id: duplicate of the analytic record \"AN-1\" first read at " + file + ":2",
	}
	stored := []hindsight.DocKey{
		{Tenant: "acme", Kind: hindsight.KindThreat, ID: "THR-1"},
		{Kind: hindsight.KindAnalytic, ID: "AN-1"},
		{Kind: hindsight.KindNote, ID: "NOTE-AFTER"},
		{Tenant: "acme", Kind: hindsight.KindThreat, ID: "THR-T1999"},
		{Tenant: "globex", Kind: hindsight.KindThreat, ID: "THR-1"},
		{Kind: hindsight.KindNote, ID: "NOTE-LAST"},
	}
	check := func(what string, run *hindsight.Run) {
		t.Helper()
		if len(run.Rejected) != len(want) {
			t.Fatalf("%s: %d rejections, want %d: %v", what, len(run.Rejected), len(want), run.Rejected)
		}
		for i, w := range want {
			if got := run.Rejected[i].String(); !strings.HasPrefix(got, w) {
				t.Errorf("%s: rejection %d = %q, want prefix %q", what, i, got, w)
			}
		}
		if run.Read != len(lines) || run.Status != hindsight.RunPartial {
			t.Errorf("%s: read %d, status %s; want %d, partial", what, run.Read, run.Status, len(lines))
		}
		got, err := db.DocumentsBySource(ctx, file)
		if err != nil {
			t.Fatal(err)
		}
		if !sameKeys(got, stored) {
			t.Errorf("%s: stored %v, want exactly %v", what, got, stored)
		}
	}
	run, err := in.Run(ctx, []string{file}, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	check("first run", run)
	if run.Inserted != len(stored) {
		t.Errorf("first run: inserted %d, want %d", run.Inserted, len(stored))
	}
	docs, err := db.FindDocuments(ctx, []hindsight.DocKey{{Tenant: "acme", Kind: hindsight.KindThreat, ID: "THR-1"}, {Kind: hindsight.KindAnalytic, ID: "AN-1"}})
	if err != nil || docs[stored[0]].Summary != "jesse.brown signed in from 203.0.113.7" || docs[stored[1]].Title != "Sign-in from atypical IP" {
		t.Errorf("the first of each duplicate should be the one stored: %+v, %v", docs, err)
	}
	embedded := emb.texts.Load()
	run, err = in.Run(ctx, []string{file}, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	check("re-run", run)
	if run.Unchanged != len(stored) || run.Inserted+run.Updated != 0 || emb.texts.Load() != embedded {
		t.Errorf("re-run: %+v, embedded %d texts; want every stored record unchanged, nothing embedded", run, emb.texts.Load()-embedded)
	}
}

func sameKeys(a, b []hindsight.DocKey) bool {
	if len(a) != len(b) {
		return false
	}
	set := map[hindsight.DocKey]bool{}
	for _, k := range a {
		set[k] = true
	}
	for _, k := range b {
		if !set[k] {
			return false
		}
	}
	return true
}

// statesCounter is the embedded store, counting the keys ingest asks the state of: a line
// known by its hash is never asked about.
type statesCounter struct {
	*sqlite.DB
	keys atomic.Int64
}

func (s *statesCounter) DocumentStates(ctx context.Context, keys []hindsight.DocKey) (map[hindsight.DocKey]hindsight.DocState, error) {
	s.keys.Add(int64(len(keys)))
	return s.DB.DocumentStates(ctx, keys)
}

var _ ingest.LineStore = (*sqlite.DB)(nil)

// TestRerunKnowsLinesByTheirHash checks the re-run's shortcut: a line stored before, byte for
// byte, in the same file and embedding space, is unchanged without being decoded; anything else
// about it (the file's formatting, the tenant the run is for, TenantOnly) goes the full way, with
// the same outcome as without the shortcut.
func TestRerunKnowsLinesByTheirHash(t *testing.T) {
	ctx := context.Background()
	_, db, emb, dir := setup(t)
	store := &statesCounter{DB: db}
	in := ingest.New(store, emb, nil)
	file := writeFile(t, dir, "in.jsonl", good)
	ingestFile := func(what string, opts ingest.Options, unchanged, asked int) *hindsight.Run {
		t.Helper()
		store.keys.Store(0)
		embedded := emb.texts.Load()
		run, err := in.Run(ctx, []string{file}, opts)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if run.Unchanged != unchanged || run.Inserted+run.Updated != 0 || emb.texts.Load() != embedded || store.keys.Load() != int64(asked) {
			t.Errorf("%s: %+v, embedded %d texts, asked the state of %d keys; want %d unchanged, nothing embedded, %d keys asked",
				what, run, emb.texts.Load()-embedded, store.keys.Load(), unchanged, asked)
		}
		return run
	}
	if _, err := in.Run(ctx, []string{file}, ingest.Options{}); err != nil {
		t.Fatal(err)
	}
	ingestFile("re-run", ingest.Options{}, 3, 0)

	// The same records written differently are decoded, found unchanged, and known by their new
	// lines from then on.
	reformatted := strings.ReplaceAll(good, `","`, `", "`)
	writeFile(t, dir, "in.jsonl", reformatted)
	ingestFile("reformatted", ingest.Options{}, 3, 3)
	ingestFile("reformatted, again", ingest.Options{}, 3, 0)

	// The tenant a run is for changes what a line means: the lines are decoded again.
	ingestFile("for acme", ingest.Options{Tenant: "acme"}, 3, 3)
	ingestFile("for acme, again", ingest.Options{Tenant: "acme"}, 3, 0)

	// Global knowledge known by its line is still refused to a tenant's upload.
	run := ingestFile("acme's upload", ingest.Options{Tenant: "acme", TenantOnly: true}, 1, 0)
	if len(run.Rejected) != 2 || run.Rejected[0].Field != "kind" || run.Rejected[1].Field != "kind" {
		t.Errorf("acme's upload: rejected %v; want the analytic and the note refused", run.Rejected)
	}

	// A changed line is decoded and written; the lines around it are not asked about.
	writeFile(t, dir, "in.jsonl", strings.Replace(reformatted, `"ticket":"INC-7"`, `"ticket":"INC-8"`, 1))
	store.keys.Store(0)
	run, err := in.Run(ctx, []string{file}, ingest.Options{Tenant: "acme"})
	if err != nil || run.Updated != 1 || run.Unchanged != 2 || store.keys.Load() != 1 {
		t.Errorf("one line changed: %+v, %v, %d keys asked; want 1 updated, 2 unchanged, 1 key asked", run, err, store.keys.Load())
	}

	// A run for another tenant decodes the lines again, and refuses acme's threat.
	run = ingestFile("for globex", ingest.Options{Tenant: "globex"}, 2, 2)
	if len(run.Rejected) != 1 || run.Rejected[0].Line != 1 || run.Rejected[0].Field != "tenant" {
		t.Errorf("for globex: rejected %v; want acme's threat on line 1 rejected", run.Rejected)
	}
}

func TestSections(t *testing.T) {
	long := strings.Repeat("- Rotate the credentials of every service account that touched the host.\n", 60)
	d := &hindsight.Document{Kind: hindsight.KindThreat, Tenant: "a", ID: "T", Title: "Case", Summary: "s", Remediation: long, Techniques: []string{"T1003"}}
	secs := ingest.Sections(d)
	if secs[0].Name != "case" || !strings.Contains(secs[0].Text, "T1003") {
		t.Errorf("first section = %+v", secs[0])
	}
	var rem []ingest.Section
	for _, s := range secs {
		if s.Name == "remediation" {
			rem = append(rem, s)
		}
		if len(s.Text) > 1500+len(d.Title)+1 {
			t.Errorf("section %s is %d bytes", s.Name, len(s.Text))
		}
		if !strings.HasPrefix(s.Text, "Case\n") {
			t.Errorf("section %s does not start with the title", s.Name)
		}
	}
	if len(rem) < 2 {
		t.Fatalf("long remediation split into %d pieces", len(rem))
	}
	for _, s := range rem {
		for _, l := range strings.Split(strings.TrimPrefix(s.Text, "Case\n"), "\n") {
			if l != "" && !strings.HasPrefix(l, "- Rotate") {
				t.Errorf("split mid-line: %q", l)
			}
		}
	}
	uni := &hindsight.Document{Kind: hindsight.KindNote, ID: "N", Title: "U", Body: strings.Repeat("ü", 2000)}
	for _, s := range ingest.Sections(uni) {
		if !strings.HasPrefix(s.Text, "U\n") || strings.ContainsRune(s.Text, '\uFFFD') {
			t.Errorf("unicode split broke a character")
		}
	}
}
