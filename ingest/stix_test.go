package ingest_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/ingest"
)

// readAll runs a reader over a testdata file and returns its records by document ID.
func readAll(t *testing.T, read func(f *os.File, path string, fn func(ingest.Record) error) ([]hindsight.Rejection, error), name string) ([]ingest.Record, []hindsight.Rejection) {
	t.Helper()
	path := filepath.Join("testdata", name)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []ingest.Record
	rej, err := read(f, path, func(rec ingest.Record) error {
		recs = append(recs, rec)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return recs, rej
}

func stix(f *os.File, path string, fn func(ingest.Record) error) ([]hindsight.Rejection, error) {
	return ingest.ReadSTIX(f, path, fn)
}

func ids(recs []ingest.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, string(r.Doc.Kind)+"/"+r.Doc.ID)
	}
	return out
}

func byID(recs []ingest.Record) map[string]*hindsight.Document {
	m := map[string]*hindsight.Document{}
	for _, r := range recs {
		m[r.Doc.ID] = r.Doc
	}
	return m
}

func TestReadSTIX20(t *testing.T) {
	recs, rej := readAll(t, stix, "stix20.json")
	// Revoked T1999, the deprecated legacy mitigation and the object without an ATT&CK ID are gone;
	// techniques come first, then mitigations, each by ID.
	if diff := cmp.Diff([]string{"technique/T1003", "technique/T1003.001", "mitigation/M1043"}, ids(recs)); diff != "" {
		t.Errorf("documents (-want +got):\n%s", diff)
	}
	wantRej := []hindsight.Rejection{{File: filepath.Join("testdata", "stix20.json"), Line: 72, Field: "objects[7].external_references",
		Error: "attack-pattern--00000000-0000-4000-8000-000000000bad: no mitre-attack external_id"}}
	if diff := cmp.Diff(wantRej, rej); diff != "" {
		t.Errorf("rejections (-want +got):\n%s", diff)
	}
	docs := byID(recs)
	lsass := docs["T1003.001"]
	want := &hindsight.Document{
		Kind: hindsight.KindTechnique, ID: "T1003.001", Title: "OS Credential Dumping: LSASS Memory",
		Techniques:  []string{"T1003.001"},
		Description: "Adversaries may access credential material stored in the process memory of the Local Security Authority Subsystem Service (LSASS). For example, procdump -ma lsass.exe dumps it.",
		Platform:    "Windows", Tags: []string{"tactic:credential-access"},
	}
	got := *lsass
	got.Metadata = nil
	want.Metadata = nil
	if diff := cmp.Diff(want, &got); diff != "" {
		t.Errorf("T1003.001 (-want +got):\n%s", diff)
	}
	for k, v := range map[string]string{"stix_id": `"attack-pattern--00000000-0000-4000-8000-000000003001"`,
		"url": `"https://attack.mitre.org/techniques/T1003/001"`, "version": `"1.3"`, "name": `"LSASS Memory"`, "platforms": `["Windows"]`} {
		if string(lsass.Metadata[k]) != v {
			t.Errorf("T1003.001 metadata %s = %s, want %s", k, lsass.Metadata[k], v)
		}
	}
	if recs[1].Line != 38 {
		t.Errorf("T1003.001 read at line %d, want 38 (its object's first line)", recs[1].Line)
	}
	if d := docs["T1003"]; d.Title != "OS Credential Dumping" || d.Platform != "Windows, Linux, macOS" {
		t.Errorf("T1003 = %q on %q", d.Title, d.Platform)
	}
	m := docs["M1043"]
	wantDesc := "Use capabilities to prevent successful credential access by adversaries.\n\nMitigates:\n" +
		"- T1003.001 (OS Credential Dumping: LSASS Memory): Enable Credential Guard on Windows 10 and later."
	if m.Description != wantDesc || !cmp.Equal(m.Techniques, []string{"T1003.001"}) || m.Tenant != "" {
		t.Errorf("M1043: techniques %v, description\n%s\nwant only the active relationship, without its citation:\n%s", m.Techniques, m.Description, wantDesc)
	}
	if tac := ingest.TechniqueTactics([]*hindsight.Document{docs["T1003"], lsass, m}); !cmp.Equal(tac, map[string][]string{
		"T1003": {"credential-access"}, "T1003.001": {"credential-access"}}) {
		t.Errorf("TechniqueTactics = %v", tac)
	}
}

func TestReadSTIX21(t *testing.T) {
	recs, rej := readAll(t, stix, "stix21.json")
	if len(rej) != 0 {
		t.Errorf("rejected %v", rej)
	}
	if diff := cmp.Diff([]string{"technique/T1059", "technique/T1059.001", "group/G0007"}, ids(recs)); diff != "" {
		t.Errorf("documents (-want +got):\n%s", diff)
	}
	g := byID(recs)["G0007"]
	if !cmp.Equal(g.Techniques, []string{"T1059", "T1059.001"}) {
		t.Errorf("G0007 techniques %v; want those of its active uses relationships only", g.Techniques)
	}
	for _, want := range []string{
		"APT28 is a threat group.\n\nAlso known as: Fancy Bear, Sofacy.\n\nTechniques used:\n- T1059 (Command and Scripting Interpreter)\n- T1059.001 (Command and Scripting Interpreter: PowerShell): APT28 downloaded",
		" …",
	} {
		if !strings.Contains(g.Description, want) {
			t.Errorf("G0007 description lacks %q:\n%s", want, g.Description)
		}
	}
	if strings.Contains(g.Description, "must not appear") || strings.Contains(g.Description, "Citation") || strings.Contains(g.Description, "administrators of the victim") {
		t.Errorf("G0007 description keeps what it should not (revoked, deprecated, citations, the unshortened text):\n%s", g.Description)
	}
	if string(g.Metadata["aliases"]) != `["Fancy Bear","Sofacy"]` {
		t.Errorf("aliases = %s", g.Metadata["aliases"])
	}
	if ps := byID(recs)["T1059.001"]; ps.Description != "Adversaries may abuse PowerShell commands and scripts for execution." {
		t.Errorf("T1059.001 description %q: want the link reduced to its text", ps.Description)
	}
}

func TestReadSTIXMalformed(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("testdata", "stix20.json"))
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		in      string
		wantErr string
	}{
		"truncated":        {string(good[:len(good)/2]), "b.json:"},
		"array":            {`[1, 2]`, "not a STIX bundle"},
		"other type":       {`{"type": "indicator", "objects": []}`, "type is \"indicator\""},
		"no objects":       {`{"type": "bundle"}`, "no \"objects\" array"},
		"objects not list": {`{"objects": {}}`, "objects is not an array"},
		"trailing garbage": {`{"objects": []} x`, "b.json:1"},
	} {
		t.Run(name, func(t *testing.T) {
			n := 0
			_, err := ingest.ReadSTIX(strings.NewReader(tc.in), "b.json", func(ingest.Record) error { n++; return nil })
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || n != 0 {
				t.Errorf("err = %v, %d documents; want an error containing %q and no document", err, n, tc.wantErr)
			}
		})
	}
	// A failing reader is a read error, not a malformed bundle.
	broken := io.MultiReader(strings.NewReader(`{"objects": [`), iotest.ErrReader(errors.New("disk gone")))
	if _, err := ingest.ReadSTIX(broken, "b.json", func(ingest.Record) error { return nil }); err == nil ||
		hindsight.ErrorCode(err) != hindsight.EINTERNAL || !strings.Contains(err.Error(), "disk gone") {
		t.Errorf("read error: %v", err)
	}
	// A field of the wrong type spoils its object only.
	in := `{"type":"bundle","objects":[
{"type":"attack-pattern","id":"attack-pattern--1","name":5,"external_references":[{"source_name":"mitre-attack","external_id":"T1001"}]},
{"type":"attack-pattern","id":"attack-pattern--2","name":"Data Obfuscation","external_references":[{"source_name":"mitre-attack","external_id":"T1001"}]},
{"type":"attack-pattern","id":"attack-pattern--3","name":"Bad ID","external_references":[{"source_name":"mitre-attack","external_id":"T1"}]},
{"type":"course-of-action","id":"course-of-action--1","name":"Wrong letter","external_references":[{"source_name":"mitre-attack","external_id":"T1001"}]},
{"type":"attack-pattern","id":"attack-pattern--4","name":"Duplicate","external_references":[{"source_name":"mitre-attack","external_id":"T1001"}]}
]}`
	var got []string
	rej, err := ingest.ReadSTIX(strings.NewReader(in), "b.json", func(r ingest.Record) error { got = append(got, r.Doc.ID); return nil })
	if err != nil || !cmp.Equal(got, []string{"T1001"}) {
		t.Fatalf("got %v, %v", got, err)
	}
	want := []string{
		"b.json:2: objects[0].name: attack-pattern--1: must be string, got a JSON number",
		`b.json:4: objects[2].external_references: attack-pattern--3: ATT&CK ID "T1" is not of the form T1234 or T1234.567`,
		`b.json:5: objects[3].external_references: course-of-action--1: ATT&CK ID "T1001" is not of the form M1234`,
		"b.json:6: objects[4].external_references: attack-pattern--4: ATT&CK ID T1001 is also the ID of the active object attack-pattern--2",
	}
	var gotRej []string
	for _, r := range rej {
		gotRej = append(gotRej, r.String())
	}
	if diff := cmp.Diff(want, gotRej); diff != "" {
		t.Errorf("rejections (-want +got):\n%s", diff)
	}
}
