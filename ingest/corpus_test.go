package ingest_test

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/ingest"
)

// corpusDir returns the shared security corpus (HINDSIGHT_CORPUS, else ../../shared/corpus), or
// skips the test when it is absent: it is data for benchmarks and demos, never copied into the
// repository.
func corpusDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("HINDSIGHT_CORPUS")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "corpus")
	}
	if _, err := os.Stat(filepath.Join(dir, "README.md")); err != nil {
		t.Skipf("no corpus at %s (set HINDSIGHT_CORPUS): %v", dir, err)
	}
	return dir
}

// tally counts what a reader produced.
type tally struct {
	kinds          map[hindsight.Kind]int
	withTechniques map[hindsight.Kind]int
	links          map[hindsight.Kind]int // sum of len(Techniques) per kind
	ids            map[hindsight.DocKey]string
	rejected       []hindsight.Rejection
	dups           []string
}

func newTally() *tally {
	return &tally{kinds: map[hindsight.Kind]int{}, withTechniques: map[hindsight.Kind]int{}, links: map[hindsight.Kind]int{}, ids: map[hindsight.DocKey]string{}}
}

func (c *tally) add(rec ingest.Record) error {
	d := rec.Doc
	if d.Tenant != "" {
		return fmt.Errorf("%s:%d: %s has tenant %q; readers of knowledge produce global documents", rec.File, rec.Line, d.ID, d.Tenant)
	}
	if first, dup := c.ids[d.Key()]; dup {
		c.dups = append(c.dups, fmt.Sprintf("%s at %s:%d and %s", d.Key(), rec.File, rec.Line, first))
	}
	c.ids[d.Key()] = fmt.Sprintf("%s:%d", rec.File, rec.Line)
	c.kinds[d.Kind]++
	c.links[d.Kind] += len(d.Techniques)
	if len(d.Techniques) > 0 {
		c.withTechniques[d.Kind]++
	}
	for _, tech := range d.Techniques {
		if !hindsight.ValidTechnique(tech) {
			return fmt.Errorf("%s: invalid technique %q", d.ID, tech)
		}
	}
	return nil
}

// summary renders the rejections grouped by field and the start of their message.
func (c *tally) summary() string {
	groups := map[string]int{}
	for _, r := range c.rejected {
		msg := r.Error
		if i := strings.IndexAny(msg, "\"("); i > 0 {
			msg = msg[:i]
		}
		groups[r.Field+": "+strings.TrimSpace(msg)]++
	}
	var lines []string
	for k, n := range groups {
		lines = append(lines, fmt.Sprintf("%5d  %s", n, k))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// readTree runs read over every file of dir with the extension, as the runner does.
func readTree(t *testing.T, dir, ext string, read func(f *os.File, path string, c *tally) ([]hindsight.Rejection, error)) (*tally, int) {
	t.Helper()
	c := newTally()
	files := 0
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || !strings.HasSuffix(path, ext) {
			return err
		}
		files++
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		rej, err := read(f, path, c)
		c.rejected = append(c.rejected, rej...)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, files
}

func TestCorpusATTACK(t *testing.T) {
	path := filepath.Join(corpusDir(t), "attack", "enterprise-attack.json")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	peak := before.HeapAlloc
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		// Sample the live heap while the reader runs: the figure that matters is how much it holds.
		defer close(done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				peak = max(peak, m.HeapAlloc)
			}
		}
	}()
	c := newTally()
	var docs []*hindsight.Document
	start := time.Now()
	rej, err := ingest.ReadSTIX(f, path, func(rec ingest.Record) error {
		docs = append(docs, rec.Doc)
		return c.add(rec)
	})
	elapsed := time.Since(start)
	close(stop)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	c.rejected = rej
	t.Logf("ATT&CK: %v in %v, peak live heap %.1f MiB above the start (documents kept by the test included); %d rejected\n%s",
		c.kinds, elapsed.Round(time.Millisecond), float64(peak-before.HeapAlloc)/(1<<20), len(rej), c.summary())
	want := map[hindsight.Kind]int{hindsight.KindTechnique: 691, hindsight.KindMitigation: 44, hindsight.KindGroup: 172}
	for k, n := range want {
		if c.kinds[k] != n {
			t.Errorf("%d %s documents, want %d (corpus README)", c.kinds[k], k, n)
		}
	}
	if c.links[hindsight.KindMitigation] != 1445 {
		t.Errorf("mitigations list %d techniques, want the 1,445 mitigates relationships", c.links[hindsight.KindMitigation])
	}
	if len(rej) != 0 || len(c.dups) != 0 {
		t.Errorf("rejected %v, duplicates %v", rej, c.dups)
	}
	tactics := ingest.TechniqueTactics(docs)
	if got := tactics["T1003.001"]; len(got) != 1 || got[0] != "credential-access" {
		t.Errorf("tactics of T1003.001 = %v", got)
	}
	for _, d := range docs {
		if strings.Contains(d.Description, "(Citation:") || strings.Contains(d.Description, "](http") {
			t.Errorf("%s keeps citation markers or links: %.200s", d.ID, d.Description)
			break
		}
		if d.Kind == hindsight.KindTechnique && len(tactics[d.ID]) == 0 {
			t.Errorf("technique %s has no tactic", d.ID)
		}
	}
}

func TestCorpusSigma(t *testing.T) {
	dir := filepath.Join(corpusDir(t), "sigma", "rules")
	start := time.Now()
	c, files := readTree(t, dir, ".yml", func(f *os.File, path string, c *tally) ([]hindsight.Rejection, error) {
		return ingest.ReadSigma(f, path, c.add)
	})
	t.Logf("Sigma: %d files → %v, %d with techniques, in %v; %d rejected\n%s", files, c.kinds,
		c.withTechniques[hindsight.KindAnalytic], time.Since(start).Round(time.Millisecond), len(c.rejected), c.summary())
	if files != 3141 || c.kinds[hindsight.KindAnalytic]+len(c.rejected) != files {
		t.Errorf("%d files gave %d rules and %d rejections, want 3,141 files each giving one", files, c.kinds[hindsight.KindAnalytic], len(c.rejected))
	}
	if n := c.withTechniques[hindsight.KindAnalytic]; n != 2795 {
		t.Errorf("%d rules with a technique, want 2,795 (corpus README)", n)
	}
	if len(c.dups) != 0 {
		t.Errorf("duplicate IDs: %v", c.dups)
	}
}

func TestCorpusElastic(t *testing.T) {
	dir := filepath.Join(corpusDir(t), "elastic", "rules")
	start := time.Now()
	var withNote, deprecated int
	c, files := readTree(t, dir, ".toml", func(f *os.File, path string, c *tally) ([]hindsight.Rejection, error) {
		n := 0
		rej, err := ingest.ReadElastic(f, path, func(rec ingest.Record) error {
			n++
			if rec.Doc.Kind == hindsight.KindNote {
				withNote++
				if strings.Contains(strings.ToLower(rec.Doc.Body), "## triage and analysis") {
					t.Errorf("%s: the note took the triage guide", path)
				}
			}
			return c.add(rec)
		})
		if n == 0 && len(rej) == 0 {
			deprecated++
		}
		return rej, err
	})
	t.Logf("Elastic: %d files → %v (%d deprecated skipped), %d analytics with techniques, in %v; %d rejected\n%s", files, c.kinds, deprecated,
		c.withTechniques[hindsight.KindAnalytic], time.Since(start).Round(time.Millisecond), len(c.rejected), c.summary())
	if files != 2064 || deprecated != 124 || c.kinds[hindsight.KindAnalytic]+len(c.rejected) != 1940 {
		t.Errorf("%d files: %d deprecated, %d analytics, %d rejected; want 2,064 files, 124 deprecated, 1,940 read", files, deprecated, c.kinds[hindsight.KindAnalytic], len(c.rejected))
	}
	// 1,880 live rules mention remediation in their guide (corpus README); all but a handful have
	// the section under a heading.
	if withNote < 1850 || withNote > 1880 {
		t.Errorf("%d remediation notes, want about 1,880", withNote)
	}
	if len(c.dups) != 0 {
		t.Errorf("duplicate IDs: %v", c.dups)
	}
}
