package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/ingest"
	"github.com/hindsightsec/hindsight/store/sqlite"
)

func TestIngestRuns(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "h.db")
	file := write(t, dir, "in.jsonl", records+"{broken\n")
	if code, _, errs := run(t, "", "ingest", "--db", db, file); code != exitPartial {
		t.Fatalf("first ingest: exit %d\n%s", code, errs)
	}
	if code, _, errs := run(t, "", "ingest", "--db", db, "--tenant", "acme", write(t, dir, "acme.jsonl", records)); code != exitPartial {
		t.Fatalf("second ingest: exit %d\n%s", code, errs)
	}

	code, out, errs := run(t, "", "ingest", "runs", "--db", db, "--json")
	var list struct{ Runs []ingest.RunSummary }
	if err := json.Unmarshal([]byte(out), &list); err != nil || code != 0 || len(list.Runs) != 2 {
		t.Fatalf("ingest runs --json: exit %d, %q, %v\n%s", code, out, err, errs)
	}
	first, second := list.Runs[1], list.Runs[0]
	if first.Status != hindsight.RunPartial || first.Inserted != 3 || first.Rejected != 1 || first.Seconds == nil || second.Tenant != "acme" {
		t.Errorf("runs = %+v", list.Runs)
	}
	if strings.Contains(out, `"rejected":`) {
		t.Errorf("the list carries the rejections: %s", out)
	}
	code, out, _ = run(t, "", "ingest", "runs", "--db", db)
	if code != 0 || !strings.HasPrefix(out, "RUN ") || !strings.Contains(out, first.ID) || !strings.Contains(out, "tenant acme") ||
		strings.Index(out, second.ID) > strings.Index(out, first.ID) {
		t.Errorf("ingest runs: exit %d\n%s", code, out)
	}
	code, out, _ = run(t, "", "ingest", "runs", "--db", db, "--limit", "1")
	if code != 0 || strings.Contains(out, first.ID) || !strings.Contains(out, second.ID) {
		t.Errorf("ingest runs --limit 1:\n%s", out)
	}

	code, out, _ = run(t, "", "ingest", "runs", "show", "--db", db, first.ID)
	if code != 0 || !strings.Contains(out, "status    partial") || !strings.Contains(out, "rejected  "+file+":4: invalid JSON") {
		t.Errorf("ingest runs show: exit %d\n%s", code, out)
	}
	code, out, _ = run(t, "", "ingest", "runs", "show", "--db", db, "--json", first.ID)
	var full hindsight.Run
	if err := json.Unmarshal([]byte(out), &full); err != nil || code != 0 || full.ID != first.ID || len(full.Rejected) != 1 || full.Rejected[0].Line != 4 {
		t.Errorf("ingest runs show --json: exit %d, %s, %v", code, out, err)
	}
	if code, _, errs := run(t, "", "ingest", "runs", "show", "--db", db, "RUN-none"); code != exitFailed || !strings.Contains(errs, `no ingest run "RUN-none"`) {
		t.Errorf("unknown run: exit %d, %s", code, errs)
	}
	if code, _, errs := run(t, "", "ingest", "runs", "--db", db, "--limit", "0"); code != exitUsage || !strings.Contains(errs, "--limit") {
		t.Errorf("--limit 0: exit %d, %s", code, errs)
	}
}

// TestIngestWaitsOrFails checks the command's side of the writer lock: without --wait a second
// ingest fails at once naming the first and suggesting --wait; with it, it waits.
func TestIngestWaitsOrFails(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "h.db")
	file := write(t, dir, "in.jsonl", records)
	store, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	unlock, err := store.LockWriter(ctx, "run RUN-FIRST", false)
	if err != nil {
		t.Fatal(err)
	}
	code, _, errs := run(t, "", "ingest", "--db", "sqlite:"+path, file)
	if code != exitFailed || !strings.Contains(errs, "run RUN-FIRST") || !strings.Contains(errs, "--wait") {
		t.Errorf("ingest while another writes: exit %d, %s", code, errs)
	}
	code, _, errs = run(t, "", "ingest", "--db", "sqlite:"+path, "--wait=300ms", file)
	if code != exitFailed || !strings.Contains(errs, "waited 300ms") {
		t.Errorf("ingest --wait=300ms while another writes: exit %d, %s", code, errs)
	}
	done := make(chan int, 1)
	go func() {
		code, _, _ := run(t, "", "ingest", "--db", "sqlite:"+path, "--wait", file)
		done <- code
	}()
	unlock()
	if code := <-done; code != exitOK {
		t.Errorf("ingest --wait: exit %d", code)
	}
	runs, _ := store.FindRuns(ctx, -1)
	if len(runs) != 1 || runs[0].Status != hindsight.RunSucceeded {
		t.Errorf("runs = %+v; want only the one that waited", runs)
	}
}

func TestIngestHelpNamesEveryFormat(t *testing.T) {
	code, out, _ := run(t, "", "ingest", "--help")
	for _, want := range append(ingest.Formats, "--wait", "ingest runs") {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("ingest --help lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Reads canonical JSONL records (files") {
		t.Error("the help still says JSONL only")
	}
}

func TestIngestSyncsReviewedFinals(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "h.db")
	pairs := write(t, dir, "pairs.jsonl", `{"id":"P-1","kind":"remediation","tenant":"acme","techniques":["T1003.001"],"draft":"- Isolate the host","final":"- Isolate the host and enable LSA protection","ratings":{"accuracy":3,"clarity":4,"completeness":3},"created_at":"2024-02-01T09:00:00Z"}
{"id":"P-2","kind":"hunting","tenant":"globex","techniques":["T1003.001"],"draft":"- Look for procdump","final":"- Look for procdump and comsvcs.dll MiniDump","ratings":{"accuracy":4,"clarity":4,"completeness":4},"created_at":"2024-02-01T09:00:00Z"}
`)
	var res struct {
		Read, Inserted, Unchanged int
	}
	ingestJSON := func(args ...string) {
		t.Helper()
		code, out, errs := run(t, "", append([]string{"ingest", "--db", db, "--json"}, args...)...)
		res.Read, res.Inserted, res.Unchanged = 0, 0, 0
		if err := json.Unmarshal([]byte(out), &res); err != nil || code != 0 {
			t.Fatalf("ingest %v: exit %d, %q, %v\n%s", args, code, out, err, errs)
		}
	}
	ingestJSON("--reviews=false", pairs)
	if res.Read != 2 || res.Inserted != 2 {
		t.Fatalf("pairs without reviews: %+v", res)
	}
	code, out, _ := run(t, "", "search", "--db", db, "--tenant", "acme", "--json", "LSA protection")
	if code != 0 || strings.Contains(out, "REVIEWED-") {
		t.Fatalf("reviewed finals searchable before any sync: %s", out)
	}
	// No PATH: the reviewed finals alone; --tenant keeps one tenant's.
	ingestJSON("--tenant", "acme")
	if res.Read != 1 || res.Inserted != 1 {
		t.Errorf("acme's reviews-only ingest: %+v", res)
	}
	ingestJSON()
	if res.Read != 2 || res.Inserted != 1 || res.Unchanged != 1 {
		t.Errorf("every tenant's reviews-only ingest: %+v", res)
	}
	code, out, _ = run(t, "", "search", "--db", db, "--tenant", "acme", "--json", "LSA protection")
	var hits struct{ Hits []struct{ ID, Tenant string } }
	if err := json.Unmarshal([]byte(out), &hits); err != nil || code != 0 || len(hits.Hits) == 0 || hits.Hits[0].ID != "REVIEWED-P-1" {
		t.Errorf("acme's search after the sync: exit %d, %s", code, out)
	}
	for _, h := range hits.Hits {
		if h.Tenant == "globex" {
			t.Errorf("acme's search found globex's %s", h.ID)
		}
	}
}
