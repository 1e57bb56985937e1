package ingest_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/ingest"
)

// Fuzz targets of the readers: run with `go test ./ingest/ -fuzz=FuzzReadSigma` (one target at a
// time); without -fuzz they run their seeds as tests. Each checks that a reader never panics, that
// every rejection says where, and that every document it passes on would pass the canonical
// validation.

// checkDoc fails when d is not a valid global knowledge document.
func checkDoc(t *testing.T, d *hindsight.Document) {
	t.Helper()
	if d == nil {
		t.Fatal("nil document")
	}
	if !d.Kind.Valid() || d.ID == "" || len(d.ID) > 200 || strings.ContainsAny(d.ID, " \t\n\r") || strings.TrimSpace(d.Title) == "" {
		t.Fatalf("invalid document %q/%q title %q", d.Kind, d.ID, d.Title)
	}
	if d.Tenant != "" && d.Kind.Global() {
		t.Fatalf("%s: global kind with tenant %q", d.ID, d.Tenant)
	}
	if d.Severity != "" && d.Severity.Rank() == 0 {
		t.Fatalf("%s: severity %q", d.ID, d.Severity)
	}
	for _, tech := range d.Techniques {
		if !hindsight.ValidTechnique(tech) {
			t.Fatalf("%s: technique %q", d.ID, tech)
		}
	}
}

func checkRejections(t *testing.T, rej []hindsight.Rejection, file string) {
	t.Helper()
	for _, r := range rej {
		if r.File != file || r.Line < 1 || r.Error == "" {
			t.Fatalf("rejection without a place or a reason: %+v", r)
		}
	}
}

func seedFiles(f *testing.F, pattern string) {
	matches, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil || len(matches) == 0 {
		f.Fatalf("no seeds for %s: %v", pattern, err)
	}
	for _, m := range matches {
		b, err := os.ReadFile(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// fuzzReader runs a file reader over data and checks its output.
func fuzzReader(t *testing.T, data []byte, read func(io.Reader, string, func(ingest.Record) error) ([]hindsight.Rejection, error)) {
	rej, err := read(bytes.NewReader(data), "f", func(r ingest.Record) error {
		checkDoc(t, r.Doc)
		if r.File != "f" || r.Line < 1 {
			t.Fatalf("record without a place: %s:%d", r.File, r.Line)
		}
		return nil
	})
	if err != nil && hindsight.ErrorCode(err) != hindsight.EINVALID {
		t.Fatalf("error that is not about the input: %v", err)
	}
	checkRejections(t, rej, "f")
}

func FuzzReadSTIX(f *testing.F) {
	seedFiles(f, "stix*.json")
	f.Add([]byte(`{"objects":[{"type":"relationship","relationship_type":"mitigates","source_ref":"course-of-action--1","target_ref":"attack-pattern--1"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzReader(t, data, ingest.ReadSTIX) })
}

func FuzzReadSigma(f *testing.F) {
	seedFiles(f, "sigma/*.yml")
	f.Add([]byte("action: global\ntags: [attack.t1059]\n---\ntitle: a\nid: b\n---\naction: repeat\nid: c\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzReader(t, data, ingest.ReadSigma) })
}

func FuzzReadElastic(f *testing.F) {
	seedFiles(f, "elastic/*.toml")
	f.Add([]byte("[rule]\nrule_id = \"r\"\nname = \"n\"\nnote = \"**Response and remediation**\\n- a\"\nthreat = [{technique = [{id = \"T1003\"}]}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzReader(t, data, ingest.ReadElastic) })
}

func FuzzParseRecord(f *testing.F) {
	for _, l := range strings.Split(good, "\n") {
		f.Add([]byte(l), "")
	}
	f.Add([]byte(`{"kind":"threat","id":"T","title":"x","techniques":["t1059.001"],"occurred_at":"2024-01-01T00:00:00Z"}`), "acme")
	f.Add([]byte(`{"kind":"analytic","id":"A","title":"x","conversion_rate":1e400}`), "")
	f.Fuzz(func(t *testing.T, line []byte, tenant string) {
		d, rej := ingest.ParseRecord(line, tenant)
		if (d == nil) == (rej == nil) {
			t.Fatalf("want exactly one of a document and a rejection, got %v and %v", d, rej)
		}
		if rej != nil {
			if rej.Error == "" {
				t.Fatal("rejection without a reason")
			}
			return
		}
		if d.Kind.Global() {
			checkDoc(t, d)
		} else if d.Tenant == "" || (tenant != "" && d.Tenant != tenant) {
			t.Fatalf("threat with tenant %q under --tenant %q", d.Tenant, tenant)
		}
		if d.ConversionRate != nil && (*d.ConversionRate < 0 || *d.ConversionRate > 1) {
			t.Fatalf("conversion rate %v", *d.ConversionRate)
		}
	})
}

func FuzzParsePair(f *testing.F) {
	for _, l := range strings.Split(mustReadSeed(f, filepath.Join("testdata", "pairs.jsonl")), "\n") {
		f.Add([]byte(l), "")
	}
	f.Fuzz(func(t *testing.T, line []byte, tenant string) {
		p, rej := ingest.ParsePair(line, tenant)
		if (p == nil) == (rej == nil) {
			t.Fatalf("want exactly one of a pair and a rejection, got %v and %v", p, rej)
		}
		if rej != nil {
			return
		}
		if p.ID == "" || !p.Kind.Valid() || p.Tenant == "" || p.Ratings.Validate() != nil || p.CreatedAt.IsZero() ||
			strings.TrimSpace(p.Draft) == "" || strings.TrimSpace(p.Final) == "" || (tenant != "" && p.Tenant != tenant) {
			t.Fatalf("invalid pair accepted: %+v", p)
		}
		for _, tech := range p.Techniques {
			if !hindsight.ValidTechnique(tech) {
				t.Fatalf("technique %q", tech)
			}
		}
	})
}

func mustReadSeed(f *testing.F, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	return string(b)
}
