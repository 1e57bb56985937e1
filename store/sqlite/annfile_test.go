package sqlite

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/retrieval"
	"github.com/hindsightsec/hindsight/retrieval/retrievaltest"
	"github.com/hindsightsec/hindsight/sample"
)

// logBuffer collects a store's log lines for a test to read.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.buf.String()
	l.buf.Reset()
	return s
}

func openLogged(t *testing.T, path string, logs *logBuffer) *DB {
	t.Helper()
	db, err := Open(context.Background(), path, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// searchOnce loads the index (as the first search does) and checks that the vector graph holds
// exactly the store's chunks, then that each of probes is found first by its own text.
func searchOnce(t *testing.T, db *DB, probes []hindsight.Document) {
	t.Helper()
	ctx := context.Background()
	space := retrieval.Builtin{}.Space()
	if err := db.Warm(ctx, space); err != nil {
		t.Fatal(err)
	}
	var want []uint32
	rows, err := db.r.QueryContext(ctx, "SELECT id FROM chunks")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id uint32
		rows.Scan(&id)
		want = append(want, id)
	}
	rows.Close()
	db.index.mu.RLock()
	got := db.index.ann.IDs()
	db.index.mu.RUnlock()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("vector graph holds %d chunks, the store %d (or other ones)", len(got), len(want))
	}
	for _, d := range probes {
		text := strings.Join(append([]string{d.Title, d.Summary}, d.Events...), "\n")
		vec := retrieval.Builtin{}.EmbedTerms(retrieval.Tokenize(text))
		cands, err := db.SearchVectors(ctx, space, vec, hindsight.Filter{Tenant: d.Tenant}, 5)
		if err != nil {
			t.Fatal(err)
		}
		if len(cands) == 0 || cands[0].Doc != d.Key() {
			t.Fatalf("search for %s's own text found %v first", d.ID, cands)
		}
	}
}

func writeDocs(t *testing.T, db *DB, docs []hindsight.Document) {
	t.Helper()
	ptrs := make([]*hindsight.Document, len(docs))
	for i := range docs {
		ptrs[i] = &docs[i]
	}
	retrievaltest.Write(t, db, "test", ptrs...)
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestVectorGraphSavedAndLoaded(t *testing.T) {
	c, err := sample.Generate(sample.Config{Threats: 400, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	threats := c.Threats
	dir := t.TempDir()
	path := filepath.Join(dir, "h.db")
	logs := &logBuffer{}
	ctx := context.Background()

	// A first search builds the graph and saves it.
	db := openLogged(t, path, logs)
	writeDocs(t, db, threats[:300])
	searchOnce(t, db, threats[:3])
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if l := logs.take(); strings.Contains(l, "vector graph loaded") || !strings.Contains(l, "vector graph saved") {
		t.Fatalf("first start should build and save the graph; log:\n%s", l)
	}
	if _, err := os.Stat(path + annSuffix); err != nil {
		t.Fatalf("no saved graph: %v", err)
	}
	copyFile(t, path, filepath.Join(dir, "backup.db")) // closed: the WAL is checkpointed into it

	// Changes made while no process had the index loaded: the graph is loaded and caught up.
	db = openLogged(t, path, logs)
	var gone []hindsight.DocKey
	for _, d := range threats[:20] {
		gone = append(gone, d.Key())
	}
	if _, err := db.DeleteDocuments(ctx, gone); err != nil {
		t.Fatal(err)
	}
	writeDocs(t, db, threats[300:])
	searchOnce(t, db, threats[395:])
	for _, d := range threats[:20] {
		vec := retrieval.Builtin{}.EmbedTerms(retrieval.Tokenize(d.Summary))
		cands, _ := db.SearchVectors(ctx, retrieval.Builtin{}.Space(), vec, hindsight.Filter{Tenant: d.Tenant}, 30)
		for _, cand := range cands {
			if cand.Doc == d.Key() {
				t.Fatalf("deleted %s found", d.ID)
			}
		}
	}
	db.Close()
	if l := logs.take(); !strings.Contains(l, "vector graph loaded") {
		t.Fatalf("second start should load the saved graph; log:\n%s", l)
	}

	// A damaged file is not used; the graph is built again and saved whole.
	if err := os.Truncate(path+annSuffix, 4096); err != nil {
		t.Fatal(err)
	}
	db = openLogged(t, path, logs)
	searchOnce(t, db, threats[:0])
	db.Close()
	if l := logs.take(); !strings.Contains(l, "saved vector graph not used") || !strings.Contains(l, "vector graph saved") {
		t.Fatalf("a damaged file should be replaced; log:\n%s", l)
	}

	// The store restored from a backup is behind the saved graph: the file is not used.
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(path + suffix)
	}
	copyFile(t, filepath.Join(dir, "backup.db"), path)
	db = openLogged(t, path, logs)
	searchOnce(t, db, threats[:3])
	db.Close()
	if l := logs.take(); !strings.Contains(l, errANNMismatch.Error()) {
		t.Fatalf("a graph ahead of the store should not be used; log:\n%s", l)
	}

	// Another store's graph at this store's path is not used.
	other := filepath.Join(dir, "other.db")
	odb := openLogged(t, other, logs)
	writeDocs(t, odb, threats[:50])
	searchOnce(t, odb, threats[:1])
	odb.Close()
	copyFile(t, other+annSuffix, path+annSuffix)
	logs.take()
	db = openLogged(t, path, logs)
	searchOnce(t, db, threats[:3])
	db.Close()
	if l := logs.take(); !strings.Contains(l, errANNMismatch.Error()) {
		t.Fatalf("another store's graph should not be used; log:\n%s", l)
	}
}

func TestSavedGraphHeaderChecked(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"empty":       "",
		"other magic": "not-a-graph-file\n",
		"no version":  annMagic,
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := loadANN(path, annHeader{}); err == nil || err == io.EOF {
			t.Errorf("%s: loadANN = %v, want a format error", name, err)
		}
	}
}

// A text search before any vector search loads the vectors the store's documents are embedded in,
// so the vector search after it finds the index ready instead of loading everything again.
func TestTextSearchFirstLoadsTheStoresSpace(t *testing.T) {
	c, err := sample.Generate(sample.Config{Threats: 50, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "h.db")
	logs := &logBuffer{}
	db := openLogged(t, path, logs)
	writeDocs(t, db, c.Threats)
	ctx := context.Background()
	if _, err := db.SearchText(ctx, []string{"powershell"}, hindsight.Filter{Tenant: c.Threats[0].Tenant}, 5); err != nil {
		t.Fatal(err)
	}
	db.index.mu.RLock()
	space, ann := db.index.space, db.index.ann
	db.index.mu.RUnlock()
	if want := (retrieval.Builtin{}).Space().String(); space != want || ann == nil || ann.Len() == 0 {
		t.Fatalf("after a text search the index holds space %q and %v vectors; want the documents' space", space, ann)
	}
	searchOnce(t, db, c.Threats[:1])
	db.Close() // waits for the save
	if n := strings.Count(logs.take(), "vector graph saved"); n != 1 {
		t.Errorf("the graph was built and saved %d times, want once", n)
	}
}
