package ingest_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/ingest"
)

func sigma(f *os.File, path string, fn func(ingest.Record) error) ([]hindsight.Rejection, error) {
	return ingest.ReadSigma(f, path, fn)
}

func TestReadSigma(t *testing.T) {
	recs, rej := readAll(t, sigma, "sigma/lsass_dump.yml")
	if len(rej) != 0 || len(recs) != 1 {
		t.Fatalf("%d records, rejected %v", len(recs), rej)
	}
	d := recs[0].Doc
	want := &hindsight.Document{
		Kind: hindsight.KindAnalytic, ID: "SIGMA-5afee48e-0000-4e03-a783-00000000f998", Title: "LSASS Memory Dump via Procdump",
		Severity:    hindsight.SeverityHigh,
		Techniques:  []string{"T1003.001", "T1003"},
		Description: "Detects procdump dumping the memory of lsass.exe.\n\nFalse positives:\n- Administrators troubleshooting lsass with Sysinternals tools",
		Platform:    "windows",
		Tags:        []string{"tactic:credential-access", "attack.s0002", "car.2013-05-009"},
	}
	got := *d
	got.Metadata = nil
	if diff := cmp.Diff(want, &got); diff != "" {
		t.Errorf("rule (-want +got):\n%s", diff)
	}
	for k, v := range map[string]string{
		"author":         `"Jane Analyst, Example SOC"`,
		"date":           `"2022-09-27"`,
		"modified":       `"2024/03/05"`,
		"status":         `"test"`,
		"references":     `["https://example.org/procdump-lsass"]`,
		"logsource":      `{"category":"process_creation","product":"Windows"}`,
		"falsepositives": `["Administrators troubleshooting lsass with Sysinternals tools","Unknown"]`,
		"detection":      `{"condition":"selection","selection":{"CommandLine|contains":"lsass","Image|endswith":"\\procdump.exe"}}`,
	} {
		if string(d.Metadata[k]) != v {
			t.Errorf("metadata %s = %s, want %s", k, d.Metadata[k], v)
		}
	}
	if recs[0].Line != 1 {
		t.Errorf("line %d, want 1", recs[0].Line)
	}

	_, rej = readAll(t, sigma, "sigma/bad.yml")
	wantRej := []hindsight.Rejection{{File: filepath.Join("testdata", "sigma", "bad.yml"), Line: 2, Field: "title", Error: "is required"}}
	if diff := cmp.Diff(wantRej, rej); diff != "" {
		t.Errorf("bad rule (-want +got):\n%s", diff)
	}
}

// readSigma reads YAML text and returns the records and the rejections as strings.
func readSigma(t *testing.T, src string) ([]ingest.Record, []string) {
	t.Helper()
	var recs []ingest.Record
	rej, err := ingest.ReadSigma(strings.NewReader(src), "r.yml", func(r ingest.Record) error { recs = append(recs, r); return nil })
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rej {
		out = append(out, r.String())
	}
	return recs, out
}

func TestReadSigmaCollection(t *testing.T) {
	src := `action: global
title: Suspicious use of certutil
status: test
logsource:
    product: windows
tags:
    - attack.defense-evasion
    - attack.t1140
level: medium
---
id: 11111111-1111-4111-8111-111111111111
description: certutil decodes a file
logsource:
    category: process_creation
detection:
    selection:
        CommandLine|contains: '-decode'
    condition: selection
---
action: repeat
id: 22222222-2222-4222-8222-222222222222
title: Suspicious use of certutil to download
level: high
---
action: reset
---
id: 33333333-3333-4333-8333-333333333333
title: After the reset
---
`
	recs, rej := readSigma(t, src)
	if len(rej) != 0 || len(recs) != 3 {
		t.Fatalf("%d rules, rejected %v; want 3", len(recs), rej)
	}
	first, second, third := recs[0].Doc, recs[1].Doc, recs[2].Doc
	if first.Title != "Suspicious use of certutil" || first.Platform != "windows" || first.Severity != hindsight.SeverityMedium ||
		!cmp.Equal(first.Techniques, []string{"T1140"}) || string(first.Metadata["logsource"]) != `{"category":"process_creation","product":"windows"}` ||
		recs[0].Line != 11 {
		t.Errorf("first rule did not get the global fields merged in: %+v (line %d)", first, recs[0].Line)
	}
	if second.ID != "SIGMA-22222222-2222-4222-8222-222222222222" || second.Title != "Suspicious use of certutil to download" ||
		second.Severity != hindsight.SeverityHigh || second.Description != "certutil decodes a file" || !cmp.Equal(second.Techniques, []string{"T1140"}) {
		t.Errorf("repeated rule = %+v", second)
	}
	if third.Title != "After the reset" || len(third.Techniques) != 0 || third.Platform != "" {
		t.Errorf("rule after reset kept global fields: %+v", third)
	}
}

func TestReadSigmaRejections(t *testing.T) {
	for name, tc := range map[string]struct {
		src  string
		want string
	}{
		"no id":           {"title: x\nlevel: low\n", "r.yml:1: id: is required (the rule's UUID)"},
		"bad level":       {"title: x\nid: abc\nlevel: severe\n", `r.yml:3: level: unknown level "severe"`},
		"bad technique":   {"title: x\nid: abc\ntags:\n  - attack.execution\n  - attack.t12\n", `r.yml:5: tags[1]: "attack.t12" is not an ATT&CK technique tag`},
		"title is a list": {"title: [a, b]\nid: abc\n", "r.yml:1: title: must be a string, got a list"},
		"id with spaces":  {"title: x\nid: a b\n", "r.yml:2: id: must not contain spaces"},
		"not a mapping":   {"- a\n- b\n", "r.yml:1: want a mapping of rule fields, got a list"},
		"broken YAML":     {"title: x\nid: abc\ndetection: [\n", "r.yml:3: invalid YAML: did not find expected node content"},
		"unknown action":  {"action: merge\ntitle: x\nid: abc\n", `r.yml:1: action: unknown action "merge"`},
		"repeat first":    {"action: repeat\ntitle: x\nid: abc\n", "r.yml:1: action: repeat needs a rule before it"},
	} {
		t.Run(name, func(t *testing.T) {
			recs, rej := readSigma(t, tc.src)
			if len(recs) != 0 || len(rej) != 1 || !strings.HasPrefix(rej[0], tc.want) {
				t.Errorf("%d records, rejections %q; want one starting %q", len(recs), rej, tc.want)
			}
		})
	}
	// A bad document does not hide the good ones around it.
	recs, rej := readSigma(t, "title: a\nid: A\n---\ntitle: b\n---\ntitle: c\nid: C\n")
	if len(recs) != 2 || len(rej) != 1 || !strings.HasPrefix(rej[0], "r.yml:4: id:") {
		t.Errorf("%d records, rejections %q", len(recs), rej)
	}
	// A file over the size limit is rejected whole, without being parsed.
	big := "title: x\nid: abc\ndescription: " + strings.Repeat("a", 9<<20) + "\n"
	if recs, rej := readSigma(t, big); len(recs) != 0 || len(rej) != 1 || !strings.Contains(rej[0], "larger than") {
		t.Errorf("huge file: %d records, %q", len(recs), rej)
	}
}
