package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hindsightsec/hindsight/store/qdrant/qdranttest"
)

// TestQdrantIndex runs the commands with --index against the fake Qdrant server (not Qdrant).
func TestQdrantIndex(t *testing.T) {
	fake := qdranttest.Start(t)
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "h.db")
	index := fmt.Sprintf("qdrant://%s/hs_test", fake.Addr())
	if code, _, errs := run(t, "", "ingest", "--db", db, "--index", index, write(t, dir, "in.jsonl", records)); code != 0 {
		t.Fatalf("ingest with --index: exit %d\n%s", code, errs)
	}
	if len(fake.Calls("Points/Upsert")) == 0 {
		t.Fatal("no points were upserted to the index")
	}
	code, out, errs := run(t, "", "search", "--db", db, "--index", index, "--tenant", "acme", "--json", "procdump lsass")
	var res struct{ Hits []struct{ ID, Tenant string } }
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 0 || len(res.Hits) != 2 {
		t.Fatalf("search with --index: exit %d %q %s", code, out, errs)
	}
	if len(fake.Calls("Points/QueryGroups")) == 0 && len(fake.Calls("Points/Query")) == 0 {
		t.Error("the vector search did not go to the index")
	}
	for _, h := range res.Hits {
		if h.Tenant == "globex" {
			t.Errorf("globex's %s found for acme", h.ID)
		}
	}
	if code, _, errs := run(t, "", "search", "--db", db, "--index", "qdrant://", "--tenant", "acme", "x"); code != exitUsage || !strings.Contains(errs, "--index") {
		t.Errorf("bad --index: exit %d %s", code, errs)
	}
}
