package ingest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCleanSTIXText(t *testing.T) {
	for in, want := range map[string]string{
		"Uses [Mimikatz](https://attack.mitre.org/software/S0002) to dump.(Citation: Foo 2020)(Citation: Bar (n.d.))": "Uses Mimikatz to dump.",
		"Run <code>procdump -ma lsass.exe</code> , then exit.":                                                        "Run procdump -ma lsass.exe, then exit.",
		"First paragraph. (Citation: X)\n\nSecond   paragraph.":                                                       "First paragraph.\n\nSecond paragraph.",
		"Placeholders like C:\\Users\\<username> stay.":                                                               "Placeholders like C:\\Users\\<username> stay.",
		"Unclosed (Citation: runs to the end":                                                                         "Unclosed",
	} {
		if got := cleanSTIXText(in); got != want {
			t.Errorf("cleanSTIXText(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestShorten(t *testing.T) {
	long := strings.Repeat("word ", 100)
	got := shorten(long, 40)
	if len(got) > 44 || !strings.HasSuffix(got, " …") || strings.Contains(got, "wor …") {
		t.Errorf("shorten = %q: want about 40 bytes cut between words", got)
	}
	if got := shorten(strings.Repeat("ü", 100), 41); !strings.HasSuffix(got, "ü …") {
		t.Errorf("shorten cut a character: %q", got)
	}
	if shorten("short", 40) != "short" || shorten(long, 0) != strings.TrimSpace(long) {
		t.Error("shorten changed a text within its limit")
	}
}

func TestDetect(t *testing.T) {
	for _, tc := range []struct {
		name, content string
		named         bool
		want          string
	}{
		{"a.jsonl", `{"kind":"note","id":"N","title":"t"}`, false, "jsonl"},
		{"a.ndjson", `{"id":"D","draft":"d","final":"f"}`, false, "pairs"},
		{"judgments.jsonl", `{"query":"THR-1","tenant":"acme","relevant":[]}`, false, ""},
		{"judgments.jsonl", `{"query":"THR-1","tenant":"acme","relevant":[]}`, true, "jsonl"},
		{"a.json", `{"type": "bundle", "objects": []}`, false, "stix"},
		{"a.json", `{"id": "bundle--1", "objects": [`, false, "stix"},
		{"a.json", `{"name": "x"}`, false, ""},
		{"a.json", `{"name": "x"}`, true, "jsonl"},
		{"a.yml", "title: x\n", false, "sigma"},
		{"a.YAML", "# comment\nlogsource:\n  product: windows\n", false, "sigma"},
		{"T1003.yaml", "attack_technique: T1003\n", false, ""},
		{"T1003.yaml", "attack_technique: T1003\n", true, "sigma"},
		{"a.toml", "[metadata]\n[rule]\nname = \"x\"\n", false, "elastic"},
		{"pyproject.toml", "[project]\n", false, ""},
		{"README.md", "# x\n", false, ""},
		{"export", `{"type":"bundle","objects":[]}`, true, "stix"},
		{"export", `{"kind":"note"}`, true, "jsonl"},
	} {
		path := filepath.Join(t.TempDir(), tc.name)
		if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := detect(path, tc.named)
		if err != nil || got != tc.want {
			t.Errorf("detect(%s %q, named %v) = %q, %v; want %q", tc.name, tc.content, tc.named, got, err, tc.want)
		}
	}
}
