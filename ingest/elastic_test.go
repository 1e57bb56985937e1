package ingest_test

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/ingest"
)

func elastic(f *os.File, path string, fn func(ingest.Record) error) ([]hindsight.Rejection, error) {
	return ingest.ReadElastic(f, path, fn)
}

func TestReadElastic(t *testing.T) {
	recs, rej := readAll(t, elastic, "elastic/lsass_access.toml")
	if len(rej) != 0 || len(recs) != 2 {
		t.Fatalf("%d records, rejected %v; want the analytic and its note", len(recs), rej)
	}
	a, n := recs[0].Doc, recs[1].Doc
	const id = "ELASTIC-a6d1b2c3-0000-4000-8000-0000000000aa"
	if a.Kind != hindsight.KindAnalytic || a.ID != id || a.Title != "LSASS Memory Access" || a.Severity != hindsight.SeverityHigh ||
		a.Platform != "windows" || a.Tenant != "" || recs[0].Line != 7 {
		t.Errorf("analytic = %+v (line %d)", a, recs[0].Line)
	}
	if want := []string{"T1003", "T1003.001"}; !cmp.Equal(a.Techniques, want) {
		t.Errorf("techniques %v, want %v", a.Techniques, want)
	}
	if want := []string{"tactic:credential-access", "Domain: Endpoint", "OS: Windows", "Resources: Investigation Guide"}; !cmp.Equal(a.Tags, want) {
		t.Errorf("tags %v, want %v", a.Tags, want)
	}
	wantDesc := `Identifies access to the memory of the LSASS process, a common way to dump credentials.

False positives:
- Endpoint security products scanning LSASS.

## Triage and analysis

### Investigating LSASS Memory Access

- Identify the process that opened lsass.exe and its parent.
- Check whether the binary is signed.

### False positive analysis

- Security products may read LSASS memory.`
	if diff := cmp.Diff(wantDesc, a.Description); diff != "" {
		t.Errorf("analytic description: the guide without disclaimer, remediation and setup (-want +got):\n%s", diff)
	}
	for k, v := range map[string]string{"author": `["Elastic"]`, "license": `"Elastic License v2"`, "risk_score": "73",
		"setup": `"Enable Sysmon event 10."`, "maturity": `"production"`, "type": `"eql"`} {
		if string(a.Metadata[k]) != v {
			t.Errorf("metadata %s = %s, want %s", k, a.Metadata[k], v)
		}
	}
	want := &hindsight.Document{
		Kind: hindsight.KindNote, ID: "ELASTIC-NOTE-a6d1b2c3-0000-4000-8000-0000000000aa", Title: "Response and remediation: LSASS Memory Access",
		Severity: hindsight.SeverityHigh, Techniques: a.Techniques, Analytics: []string{id}, Platform: "windows", Tags: a.Tags,
		Body: "- Isolate the host from the network.\n- Reset the passwords of every account that logged on to the host.\n  - Start with privileged accounts.",
	}
	got := *n
	got.Metadata = nil
	if diff := cmp.Diff(want, &got); diff != "" {
		t.Errorf("note (-want +got):\n%s", diff)
	}
	if string(n.Metadata["author"]) != `["Elastic"]` || string(n.Metadata["license"]) != `"Elastic License v2"` {
		t.Errorf("note metadata %v: want the rule's author and licence", n.Metadata)
	}

	recs, rej = readAll(t, elastic, "elastic/deprecated.toml")
	if len(recs) != 0 || len(rej) != 0 {
		t.Errorf("deprecated rule: %d records, %v; want it skipped", len(recs), rej)
	}
}

func TestReadElasticResponseHeadings(t *testing.T) {
	rule := func(note string) string {
		return "[rule]\nrule_id = \"r1\"\nname = \"Rule\"\ndescription = \"d\"\nnote = '''\n" + note + "\n'''\n"
	}
	for name, tc := range map[string]struct {
		note, body, keeps string
	}{
		"h3":               {"## Triage\n- look\n### Response and remediation\n- isolate\n", "- isolate", "- look"},
		"title case colon": {"### Response and Remediation:\n- isolate\n\n### Additional information\nsee docs", "- isolate", "see docs"},
		"ampersand":        {"### Response & Remediation\n- revert\n", "- revert", ""},
		"h2 with subsections": {"## Response and remediation\n### Immediate actions\n- isolate\n### Long-term mitigation\n- patch\n## Setup\nenable logs",
			"### Immediate actions\n- isolate\n### Long-term mitigation\n- patch", ""},
		"bold":       {"**Triage**\n- look\n\n**Response and remediation**\n- isolate\n- reset\n", "- isolate\n- reset", "**Triage**\n- look"},
		"bold colon": {"**Response and remediation:**\n- isolate\n\n### Notes\nmore", "- isolate", "### Notes\nmore"},
		"in code":    {"```\n### Response and remediation\n```\n- look", "", "### Response and remediation"},
		"none":       {"## Triage\n- look", "", "- look"},
	} {
		t.Run(name, func(t *testing.T) {
			var docs []*hindsight.Document
			rej, err := ingest.ReadElastic(strings.NewReader(rule(tc.note)), "r.toml", func(r ingest.Record) error { docs = append(docs, r.Doc); return nil })
			if err != nil || len(rej) != 0 {
				t.Fatal(err, rej)
			}
			body := ""
			if len(docs) == 2 {
				body = docs[1].Body
			}
			if body != tc.body {
				t.Errorf("note body %q, want %q", body, tc.body)
			}
			if !strings.Contains(docs[0].Description, tc.keeps) || (tc.body != "" && strings.Contains(docs[0].Description, tc.body)) {
				t.Errorf("analytic description %q: want it to keep %q and not the remediation", docs[0].Description, tc.keeps)
			}
		})
	}
}

func TestReadElasticRejections(t *testing.T) {
	for name, tc := range map[string]struct {
		src, want string
	}{
		"no rule table": {"[metadata]\nmaturity = \"production\"\n", "r.toml:1: rule: is required"},
		"no rule_id":    {"[metadata]\nmaturity = \"production\"\n\n[rule]\nname = \"x\"\n", "r.toml:4: rule.rule_id: is required"},
		"no name":       {"[rule]\nrule_id = \"r\"\n", "r.toml:1: rule.name: is required"},
		"bad severity":  {"[rule]\nrule_id = \"r\"\nname = \"x\"\nseverity = \"severe\"\n", `r.toml:4: rule.severity: unknown severity "severe"`},
		"name not text": {"[rule]\nrule_id = \"r\"\nname = 5\n", "r.toml:3: rule.name: must be a string, got an integer"},
		"tags not list": {"[rule]\nrule_id = \"r\"\nname = \"x\"\ntags = 5\n", "r.toml:4: rule.tags: must be an array of strings"},
		"invalid TOML":  {"[rule]\nrule_id = \"r\"\nname = \"x\n", "r.toml:3: rule.name: invalid TOML"},
		"bad technique": {"[rule]\nrule_id = \"r\"\nname = \"x\"\n\n[[rule.threat]]\nframework = \"MITRE ATT&CK\"\n[[rule.threat.technique]]\nid = \"T10\"\n",
			`r.toml:8: rule.threat[0].technique[0].id: "T10" is not an ATT&CK technique ID`},
		"threat not tables": {"[rule]\nrule_id = \"r\"\nname = \"x\"\nthreat = \"T1003\"\n", "r.toml:4: rule.threat: must be an array of tables"},
	} {
		t.Run(name, func(t *testing.T) {
			n := 0
			rej, err := ingest.ReadElastic(strings.NewReader(tc.src), "r.toml", func(ingest.Record) error { n++; return nil })
			if err != nil || n != 0 || len(rej) != 1 || !strings.HasPrefix(rej[0].String(), tc.want) {
				t.Errorf("%d records, %v, %v; want one rejection starting %q", n, rej, err, tc.want)
			}
		})
	}
	// Another framework's mapping is not ATT&CK: its IDs are not checked as techniques.
	src := "[rule]\nrule_id = \"r\"\nname = \"x\"\n[[rule.threat]]\nframework = \"MITRE ATLAS\"\n[[rule.threat.technique]]\nid = \"AML.T0051\"\n"
	var docs []*hindsight.Document
	rej, err := ingest.ReadElastic(strings.NewReader(src), "r.toml", func(r ingest.Record) error { docs = append(docs, r.Doc); return nil })
	if err != nil || len(rej) != 0 || len(docs) != 1 || len(docs[0].Techniques) != 0 {
		t.Errorf("ATLAS mapping: %v, %v, %+v", rej, err, docs)
	}
}
