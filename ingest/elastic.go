package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/hindsightsec/hindsight"
)

// ReadElastic reads one Elastic detection rule (TOML, as in elastic/detection-rules) and calls fn with
// up to two global documents:
//
//   - a KindAnalytic "ELASTIC-" + rule_id (lower-cased: rule IDs are UUIDs): title = name;
//     Severity = severity; Techniques = every technique and sub-technique of its MITRE ATT&CK threat
//     mapping; Tags = its tags, with "Tactic: X" tags and the mapping's tactics as TacticTagPrefix
//     tags; Platform = the "OS: …" tag's value, else the first integration (lower-case);
//     Description = the rule's description, its false positives, then the investigation guide
//     (`note`) without its "Response and remediation" section, its "Setup" section and its
//     generated-content disclaimer. The guide's triage steps are what matches a new alert of the
//     same kind, so they stay with the analytic.
//   - a KindNote "ELASTIC-NOTE-" + rule_id when the guide has a "Response and remediation" section
//     (a Markdown heading of any level, "&" for "and", any case, an optional colon, or a line in
//     bold): title "Response and remediation: " + name, Body = the section's text (its list items and
//     sub-headings), Analytics = [the analytic's ID], Techniques, Tags and Severity copied. It is
//     the remediation guidance a draft cites, kept apart so that it is retrieved as guidance rather
//     than diluted by triage text.
//
// Author, license, risk score, references, rule type, language, query, index patterns, setup text
// and the [metadata] dates go to Metadata. A rule whose [metadata] maturity is "deprecated" is
// skipped: it is not passed to fn and is not a rejection. TOML that does not parse, a missing
// rule_id or name, an unknown severity, a field of the wrong type or a malformed technique ID is
// returned as a rejection naming the line and field. The error is non-nil only when r cannot be read
// or fn fails.
func ReadElastic(r io.Reader, file string, fn func(Record) error) ([]hindsight.Rejection, error) {
	src, rej, err := readFile(r, file)
	if err != nil || rej != nil {
		return appendRejection(nil, rej), err
	}
	docs, line, rej := parseElastic(string(src))
	if rej != nil {
		rej.File = file
		return []hindsight.Rejection{*rej}, nil
	}
	for _, d := range docs {
		if err := fn(Record{Doc: d, File: file, Line: line}); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// parseElastic parses one rule file into its documents (none for a deprecated rule) and the line
// they start on (the [rule] table's).
func parseElastic(src string) (docs []*hindsight.Document, line int, rej *hindsight.Rejection) {
	reject := func(line int, field, format string, args ...any) ([]*hindsight.Document, int, *hindsight.Rejection) {
		return nil, 0, &hindsight.Rejection{Line: max(line, 1), Field: field, Error: fmt.Sprintf(format, args...)}
	}
	var raw map[string]any
	if _, err := toml.Decode(src, &raw); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return reject(pe.Position.Line, pe.LastKey, "invalid TOML: %s", pe.Message)
		}
		return reject(1, "", "invalid TOML: %v", err)
	}
	meta, _ := raw["metadata"].(map[string]any)
	if m, _ := meta["maturity"].(string); strings.EqualFold(m, "deprecated") {
		return nil, 0, nil
	}
	rule, ok := raw["rule"].(map[string]any)
	if !ok {
		return reject(1, "rule", "is required: an Elastic rule has a [rule] table")
	}
	ruleLine := tomlTableLine(src, "rule")
	str := func(table map[string]any, tableName, key string) (string, *hindsight.Rejection) {
		v, ok := table[key]
		if !ok {
			return "", nil
		}
		s, ok := v.(string)
		if !ok {
			return "", &hindsight.Rejection{Line: tomlKeyLine(src, tableName, key), Field: tableName + "." + key, Error: fmt.Sprintf("must be a string, got %s", tomlType(v))}
		}
		return strings.TrimSpace(s), nil
	}
	strs := func(table map[string]any, tableName, key string) ([]string, *hindsight.Rejection) {
		v, ok := table[key]
		if !ok {
			return nil, nil
		}
		if s, ok := v.(string); ok {
			return []string{strings.TrimSpace(s)}, nil
		}
		list, ok := v.([]any)
		if !ok {
			return nil, &hindsight.Rejection{Line: tomlKeyLine(src, tableName, key), Field: tableName + "." + key, Error: fmt.Sprintf("must be an array of strings, got %s", tomlType(v))}
		}
		out := make([]string, 0, len(list))
		for i, e := range list {
			s, ok := e.(string)
			if !ok {
				return nil, &hindsight.Rejection{Line: tomlKeyLine(src, tableName, key), Field: fmt.Sprintf("%s.%s[%d]", tableName, key, i), Error: fmt.Sprintf("must be a string, got %s", tomlType(e))}
			}
			out = append(out, strings.TrimSpace(s))
		}
		return out, nil
	}

	var ruleID, name, description, severity, note string
	for _, f := range []struct {
		key string
		dst *string
	}{{"rule_id", &ruleID}, {"name", &name}, {"description", &description}, {"severity", &severity}, {"note", &note}} {
		s, rej := str(rule, "rule", f.key)
		if rej != nil {
			return nil, 0, rej
		}
		*f.dst = s
	}
	tags, rej := strs(rule, "rule", "tags")
	if rej != nil {
		return nil, 0, rej
	}
	fps, rej := strs(rule, "rule", "false_positives")
	if rej != nil {
		return nil, 0, rej
	}
	switch {
	case ruleID == "":
		return reject(ruleLine, "rule.rule_id", "is required")
	case name == "":
		return reject(ruleLine, "rule.name", "is required")
	}
	a := &hindsight.Document{Kind: hindsight.KindAnalytic, ID: "ELASTIC-" + strings.ToLower(ruleID), Title: name, Metadata: map[string]json.RawMessage{}}
	if msg := checkID(a.ID); msg != "" {
		return reject(tomlKeyLine(src, "rule", "rule_id"), "rule.rule_id", "%s", msg)
	}
	if severity != "" {
		a.Severity = hindsight.Severity(strings.ToLower(severity))
		if a.Severity.Rank() == 0 {
			return reject(tomlKeyLine(src, "rule", "severity"), "rule.severity", "unknown severity %q (want low, medium, high or critical)", severity)
		}
	}

	// The ATT&CK mapping: [[rule.threat]] with a tactic and techniques, each with sub-techniques.
	threats, ok := tomlTables(rule["threat"])
	if !ok {
		return reject(tomlKeyLine(src, "rule", "threat"), "rule.threat", "must be an array of tables, got %s", tomlType(rule["threat"]))
	}
	var tactics []string
	addTechnique := func(field string, t map[string]any) *hindsight.Rejection {
		id, _ := t["id"].(string)
		id = strings.ToUpper(strings.TrimSpace(id))
		if !hindsight.ValidTechnique(id) {
			return &hindsight.Rejection{Line: lineContaining(src, fmt.Sprintf("%q", t["id"]), ruleLine), Field: field + ".id",
				Error: fmt.Sprintf("%v is not an ATT&CK technique ID (want T1234 or T1234.567)", tomlValue(t["id"]))}
		}
		a.Techniques = append(a.Techniques, id)
		return nil
	}
	for i, th := range threats {
		if fw, _ := th["framework"].(string); fw != "" && !strings.EqualFold(fw, "MITRE ATT&CK") {
			continue // another framework (MITRE ATLAS) has IDs of its own
		}
		if tac, ok := th["tactic"].(map[string]any); ok {
			if n, _ := tac["name"].(string); strings.TrimSpace(n) != "" {
				tactics = append(tactics, tacticTag(n))
			}
		}
		techs, _ := tomlTables(th["technique"])
		for j, t := range techs {
			field := fmt.Sprintf("rule.threat[%d].technique[%d]", i, j)
			if rej := addTechnique(field, t); rej != nil {
				return nil, 0, rej
			}
			subs, _ := tomlTables(t["subtechnique"])
			for k, s := range subs {
				if rej := addTechnique(fmt.Sprintf("%s.subtechnique[%d]", field, k), s); rej != nil {
					return nil, 0, rej
				}
			}
		}
	}
	a.Techniques = dedupe(a.Techniques)
	for _, t := range tags {
		if tac, ok := cutFold(t, "Tactic:"); ok {
			tactics = append(tactics, tacticTag(tac))
			continue
		}
		if os, ok := cutFold(t, "OS:"); ok && a.Platform == "" {
			a.Platform = strings.ToLower(strings.TrimSpace(os))
		}
		if t != "" {
			a.Tags = append(a.Tags, t)
		}
	}
	a.Tags = dedupe(append(dedupe(tactics), a.Tags...))
	if integrations, _ := meta["integration"].([]any); a.Platform == "" && len(integrations) > 0 {
		if s, ok := integrations[0].(string); ok {
			a.Platform = strings.ToLower(strings.TrimSpace(s))
		}
	}

	guide, response, setup := splitGuide(note)
	parts := []string{description, falsePositiveText(fps), guide}
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			a.Description = strings.TrimSpace(a.Description + "\n\n" + p)
		}
	}
	if s, _ := rule["setup"].(string); strings.TrimSpace(s) != "" {
		setup = strings.TrimSpace(strings.TrimSpace(s) + "\n\n" + setup)
	}
	if setup != "" {
		a.Metadata["setup"] = mustJSON(setup)
	}
	for _, k := range []string{"author", "license", "risk_score", "references", "false_positives", "type", "language", "query", "index", "from", "interval"} {
		if v, ok := rule[k]; ok {
			if b, err := json.Marshal(v); err == nil {
				a.Metadata[k] = b
			}
		}
	}
	for _, k := range []string{"creation_date", "updated_date", "maturity", "integration"} {
		if v, ok := meta[k]; ok {
			if b, err := json.Marshal(v); err == nil {
				a.Metadata[k] = b
			}
		}
	}
	docs = []*hindsight.Document{a}
	if response != "" {
		n := &hindsight.Document{Kind: hindsight.KindNote, ID: "ELASTIC-NOTE-" + strings.ToLower(ruleID), Title: "Response and remediation: " + name,
			Body: response, Analytics: []string{a.ID}, Techniques: slices.Clone(a.Techniques), Tags: slices.Clone(a.Tags), Severity: a.Severity, Platform: a.Platform,
			Metadata: map[string]json.RawMessage{}}
		for _, k := range []string{"author", "license"} {
			if v, ok := a.Metadata[k]; ok {
				n.Metadata[k] = v
			}
		}
		docs = append(docs, n)
	}
	return docs, ruleLine, nil
}

// cutFold is strings.CutPrefix ignoring the prefix's case, trimming what follows.
func cutFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return strings.TrimSpace(s[len(prefix):]), true
	}
	return "", false
}

var (
	mdHeading   = regexp.MustCompile(`^(#{1,6})\s+(.*?)\s*#*\s*$`)
	boldHeading = regexp.MustCompile(`^\*\*([^*]+)\*\*\s*:?\s*$`)
	headingNorm = regexp.MustCompile(`[^a-z]+`)
	blankRun    = regexp.MustCompile(`\n{3,}`)
)

// heading reports whether line is a Markdown heading: its level (1–6; 7 for a line in bold, which
// guides use as a heading below all others) and its name normalised ("Response & Remediation:" →
// "response and remediation").
func heading(line string) (int, string, bool) {
	var level int
	var text string
	if m := mdHeading.FindStringSubmatch(line); m != nil {
		level, text = len(m[1]), m[2]
	} else if m := boldHeading.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
		level, text = 7, m[1]
	} else {
		return 0, "", false
	}
	text = strings.ReplaceAll(strings.ToLower(text), "&", " and ")
	return level, strings.TrimSpace(headingNorm.ReplaceAllString(text, " ")), true
}

// splitGuide splits an investigation guide into the guide kept with the analytic, the text of its
// "Response and remediation" section(s) and of its "Setup" section(s). A section runs to the next
// heading of its level or higher; headings inside fenced code blocks do not count. The
// generated-content disclaimer (a block quote that starts with "Disclaimer") is dropped: it is the
// same in a thousand rules and says nothing about any of them.
func splitGuide(note string) (guide, response, setup string) {
	if strings.TrimSpace(note) == "" {
		return "", "", ""
	}
	lines := strings.Split(strings.ReplaceAll(note, "\r\n", "\n"), "\n")
	var keep, resp, set []string
	section, sectionLevel := "", 0 // "response", "setup" or "" while in neither
	fenced, quoteDropped := false, false
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			fenced = !fenced
		}
		if !fenced {
			if level, name, ok := heading(l); ok {
				if section != "" && level <= sectionLevel {
					section = ""
				}
				switch name {
				case "response and remediation":
					section, sectionLevel = "response", level
					continue
				case "setup":
					section, sectionLevel = "setup", level
					continue
				}
			}
			if section == "" && !quoteDropped && strings.HasPrefix(l, ">") && strings.Contains(strings.ToLower(l), "disclaimer") {
				for i+1 < len(lines) && strings.HasPrefix(lines[i+1], ">") {
					i++
				}
				quoteDropped = true
				continue
			}
		}
		switch section {
		case "response":
			resp = append(resp, l)
		case "setup":
			set = append(set, l)
		default:
			keep = append(keep, l)
		}
	}
	tidy := func(ls []string) string {
		return strings.TrimSpace(blankRun.ReplaceAllString(strings.Join(ls, "\n"), "\n\n"))
	}
	return tidy(keep), tidy(resp), tidy(set)
}

// tomlTableLine returns the line of the header [name] (or [[name]]), or 1.
func tomlTableLine(src, name string) int {
	for i, l := range strings.Split(src, "\n") {
		if t := strings.TrimSpace(l); t == "["+name+"]" || t == "[["+name+"]]" {
			return i + 1
		}
	}
	return 1
}

// tomlKeyLine returns the line where key is set in table, or the table's line. It is for error
// messages: a plain scan of the lines that understands table headers and keys at the start of a
// line, which is how rule files are written.
func tomlKeyLine(src, table, key string) int {
	current := ""
	for i, l := range strings.Split(src, "\n") {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "[") {
			current = strings.Trim(t, "[] \t")
			continue
		}
		if current != table {
			continue
		}
		if k, _, ok := strings.Cut(t, "="); ok && strings.Trim(strings.TrimSpace(k), `"'`) == key {
			return i + 1
		}
	}
	return tomlTableLine(src, table)
}

// lineContaining returns the first line containing needle, or fallback.
func lineContaining(src, needle string, fallback int) int {
	if i := strings.Index(src, needle); i >= 0 {
		return strings.Count(src[:i], "\n") + 1
	}
	return fallback
}

// tomlTables returns an array of tables, written as [[name]] sections or as an inline array of
// inline tables; ok is false when v is something else. A missing value is an empty array.
func tomlTables(v any) (tables []map[string]any, ok bool) {
	switch v := v.(type) {
	case nil:
		return nil, true
	case []map[string]any:
		return v, true
	case []any:
		for _, e := range v {
			t, ok := e.(map[string]any)
			if !ok {
				return nil, false
			}
			tables = append(tables, t)
		}
		return tables, true
	}
	return nil, false
}

// tomlType names the TOML type of a decoded value for an error message.
func tomlType(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("a %T", v)
}

// tomlValue shows a decoded value in an error message.
func tomlValue(v any) string {
	if v == nil {
		return "a missing id"
	}
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return tomlType(v)
}
