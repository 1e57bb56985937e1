package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/hindsightsec/hindsight"
	"go.yaml.in/yaml/v3"
)

// ReadSigma reads a Sigma rule file (YAML) and calls fn with one global KindAnalytic document per
// rule:
//
//   - ID "SIGMA-" + the rule's id, lower-cased (Sigma ids are UUIDs; case must not make two
//     identities); title; level → Severity.
//   - Description: the rule's description, then its false positives as a list (placeholders such as
//     "Unknown" left out), because they tell a reader when an alert is benign.
//   - tags: attack.tNNNN[.NNN] → Techniques (upper-cased); attack.<tactic> → a TacticTagPrefix tag
//     ("attack.credential_access" → "tactic:credential-access"); every other tag is kept as written.
//   - logsource.product → Platform.
//   - Every other field (author, references, status, date, modified, logsource, detection, related,
//     falsepositives, …) goes to Metadata as JSON, the author in particular because the Detection
//     Rule License asks that it be kept with the rule.
//
// A file may hold several YAML documents separated by "---". Each is a rule, except in the Sigma
// collections of the v1 specification: a document with "action: global" is merged into every
// following rule of the file, "action: reset" drops it, and "action: repeat" makes a rule of the
// previous rule merged with the document's fields.
//
// A rule without title or id, or with a field of the wrong shape, an unknown level or a malformed
// ATT&CK tag, is returned as a rejection naming the file, the line (the rule's first line for a
// missing field, else the field's own line) and the field. YAML that does not parse is rejected at the
// line the parser names, and the rest of the file with it: YAML has no way to find the next document
// after a syntax error. The error is non-nil only when r cannot be read or fn fails.
func ReadSigma(r io.Reader, file string, fn func(Record) error) ([]hindsight.Rejection, error) {
	src, rej, err := readFile(r, file)
	if err != nil || rej != nil {
		return appendRejection(nil, rej), err
	}
	recs, rejected := parseSigma(src, file)
	for _, rec := range recs {
		if err := fn(rec); err != nil {
			return rejected, err
		}
	}
	return rejected, nil
}

func appendRejection(rs []hindsight.Rejection, r *hindsight.Rejection) []hindsight.Rejection {
	if r == nil {
		return rs
	}
	return append(rs, *r)
}

// parseSigma parses every rule of one file.
func parseSigma(src []byte, file string) (recs []Record, rejected []hindsight.Rejection) {
	defer func() {
		// A parser panic on one hostile file must not end a nightly run that reads thousands.
		if p := recover(); p != nil {
			rejected = append(rejected, hindsight.Rejection{File: file, Line: 1, Error: fmt.Sprintf("YAML parser failed: %v", p)})
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var global, previous *yaml.Node
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return recs, rejected
		}
		if err != nil {
			line, msg := yamlError(err)
			return recs, append(rejected, hindsight.Rejection{File: file, Line: line, Error: "invalid YAML: " + msg})
		}
		if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind == 0 ||
			(doc.Content[0].Kind == yaml.ScalarNode && doc.Content[0].Tag == "!!null") {
			continue // an empty document, e.g. after a trailing "---"
		}
		root := doc.Content[0]
		line := max(root.Line, 1)
		reject := func(line int, field, format string, args ...any) {
			rejected = append(rejected, hindsight.Rejection{File: file, Line: line, Field: field, Error: fmt.Sprintf(format, args...)})
		}
		if root.Kind != yaml.MappingNode {
			reject(line, "", "want a mapping of rule fields, got %s", nodeKind(root))
			continue
		}
		action := ""
		if n := mappingValue(root, "action"); n != nil {
			action = n.Value
		}
		switch action {
		case "global":
			global = withoutKey(root, "action")
			continue
		case "reset":
			global = nil
			continue
		case "repeat":
			if previous == nil {
				reject(line, "action", "repeat needs a rule before it in the file")
				continue
			}
			root = mergeNodes(previous, withoutKey(root, "action"))
		case "":
		default:
			reject(mappingValue(root, "action").Line, "action", "unknown action %q (want global, reset or repeat)", action)
			continue
		}
		previous = root
		rule := root
		if global != nil {
			rule = mergeNodes(global, root)
		}
		d, rej := sigmaDocument(rule, line)
		if rej != nil {
			rej.File = file
			rejected = append(rejected, *rej)
			continue
		}
		recs = append(recs, Record{Doc: d, File: file, Line: line})
	}
}

var (
	sigmaTechnique = regexp.MustCompile(`^t\d`)
	sigmaTactic    = regexp.MustCompile(`^[a-z][a-z_-]*$`)
	sigmaOtherID   = regexp.MustCompile(`^(?:g|s|c|m|ta|ds)\d{4}$`) // groups, software, campaigns, mitigations, tactics, data sources
	yamlLine       = regexp.MustCompile(`^yaml: line (\d+): `)
)

// sigmaDocument turns one rule (a mapping) into a document; line is where the rule starts.
func sigmaDocument(root *yaml.Node, line int) (*hindsight.Document, *hindsight.Rejection) {
	reject := func(line int, field, format string, args ...any) (*hindsight.Document, *hindsight.Rejection) {
		return nil, &hindsight.Rejection{Line: line, Field: field, Error: fmt.Sprintf(format, args...)}
	}
	fields := map[string]*yaml.Node{}
	var order []string
	for i := 0; i+1 < len(root.Content); i += 2 {
		k := root.Content[i].Value
		if _, dup := fields[k]; !dup {
			order = append(order, k)
		}
		fields[k] = root.Content[i+1]
	}
	str := func(name string) (string, *hindsight.Rejection) {
		n := resolveAlias(fields[name])
		if n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
			return "", nil
		}
		if n.Kind != yaml.ScalarNode {
			return "", &hindsight.Rejection{Line: n.Line, Field: name, Error: "must be a string, got " + nodeKind(n)}
		}
		return strings.TrimSpace(n.Value), nil
	}
	// strs accepts a list of strings or, as Sigma rules in the wild often have, a single string.
	strs := func(name string) ([]string, *hindsight.Rejection) {
		n := resolveAlias(fields[name])
		if n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
			return nil, nil
		}
		if n.Kind == yaml.ScalarNode {
			return []string{strings.TrimSpace(n.Value)}, nil
		}
		if n.Kind != yaml.SequenceNode {
			return nil, &hindsight.Rejection{Line: n.Line, Field: name, Error: "must be a list of strings, got " + nodeKind(n)}
		}
		out := make([]string, 0, len(n.Content))
		for i, c := range n.Content {
			c = resolveAlias(c)
			if c == nil || c.Kind != yaml.ScalarNode {
				return nil, &hindsight.Rejection{Line: n.Line, Field: fmt.Sprintf("%s[%d]", name, i), Error: "must be a string, got " + nodeKind(c)}
			}
			out = append(out, strings.TrimSpace(c.Value))
		}
		return out, nil
	}

	title, rej := str("title")
	if rej != nil {
		return nil, rej
	}
	id, rej := str("id")
	if rej != nil {
		return nil, rej
	}
	description, rej := str("description")
	if rej != nil {
		return nil, rej
	}
	level, rej := str("level")
	if rej != nil {
		return nil, rej
	}
	tags, rej := strs("tags")
	if rej != nil {
		return nil, rej
	}
	fps, rej := strs("falsepositives")
	if rej != nil {
		return nil, rej
	}
	switch {
	case id == "":
		return reject(line, "id", "is required (the rule's UUID)")
	case title == "":
		return reject(line, "title", "is required")
	}
	d := &hindsight.Document{Kind: hindsight.KindAnalytic, ID: "SIGMA-" + strings.ToLower(id), Title: title}
	if msg := checkID(d.ID); msg != "" {
		return reject(fields["id"].Line, "id", "%s", msg)
	}
	if level != "" {
		d.Severity = hindsight.Severity(strings.ToLower(level))
		if d.Severity.Rank() == 0 {
			return reject(fields["level"].Line, "level", "unknown level %q (want informational, low, medium, high or critical)", level)
		}
	}
	for i, tag := range tags {
		t := strings.ToLower(tag)
		rest, isAttack := strings.CutPrefix(t, "attack.")
		switch {
		case t == "":
		case isAttack && sigmaTechnique.MatchString(rest):
			tech := strings.ToUpper(rest)
			if !hindsight.ValidTechnique(tech) {
				return reject(itemLine(fields["tags"], i), fmt.Sprintf("tags[%d]", i), "%q is not an ATT&CK technique tag (want attack.t1234 or attack.t1234.567)", tag)
			}
			d.Techniques = append(d.Techniques, tech)
		case isAttack && sigmaTactic.MatchString(rest) && !sigmaOtherID.MatchString(rest):
			d.Tags = append(d.Tags, tacticTag(rest))
		default:
			d.Tags = append(d.Tags, tag)
		}
	}
	d.Techniques = dedupe(d.Techniques)
	d.Tags = dedupe(d.Tags)
	if ls := resolveAlias(fields["logsource"]); ls != nil && ls.Kind == yaml.MappingNode {
		if p := resolveAlias(mappingValue(ls, "product")); p != nil && p.Kind == yaml.ScalarNode {
			d.Platform = strings.ToLower(strings.TrimSpace(p.Value))
		}
	}
	d.Description = description
	if fp := falsePositiveText(fps); fp != "" {
		d.Description = strings.TrimSpace(d.Description + "\n\n" + fp)
	}
	for _, k := range order {
		switch k {
		case "title", "id", "description", "level", "tags":
			continue
		}
		v, err := json.Marshal(yamlValue(fields[k], 0))
		if err != nil {
			continue // a value JSON cannot hold (it never happens with yamlValue's output)
		}
		if d.Metadata == nil {
			d.Metadata = map[string]json.RawMessage{}
		}
		d.Metadata[k] = v
	}
	return d, nil
}

// maxYAMLDepth bounds yamlValue's recursion, which also stops alias cycles and alias bombs from
// growing the metadata without end.
const maxYAMLDepth = 32

// yamlValue turns a node into plain values for JSON: mappings become objects (keys as written),
// sequences arrays, numbers and booleans themselves, and every other scalar its text as written
// (dates stay "2022-09-27", not a time).
func yamlValue(n *yaml.Node, depth int) any {
	n = resolveAlias(n)
	if n == nil || depth > maxYAMLDepth {
		return nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			m[n.Content[i].Value] = yamlValue(n.Content[i+1], depth+1)
		}
		return m
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			s = append(s, yamlValue(c, depth+1))
		}
		return s
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return nil
		case "!!bool":
			if b, err := strconv.ParseBool(n.Value); err == nil {
				return b
			}
		case "!!int":
			if i, err := strconv.ParseInt(n.Value, 0, 64); err == nil {
				return i
			}
		case "!!float":
			if f, err := strconv.ParseFloat(n.Value, 64); err == nil && !isInfOrNaN(f) {
				return f
			}
		}
		return n.Value
	}
	return nil
}

func isInfOrNaN(f float64) bool { return f != f || f > 1e308 || f < -1e308 }

// resolveAlias follows alias nodes to what they name; nil stays nil.
func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < maxYAMLDepth; i++ {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.AliasNode {
		return nil
	}
	return n
}

// itemLine returns the line of the i-th item of a list node, or of the node itself when it is a
// single scalar.
func itemLine(n *yaml.Node, i int) int {
	n = resolveAlias(n)
	if n == nil {
		return 1
	}
	if n.Kind == yaml.SequenceNode && i < len(n.Content) {
		return n.Content[i].Line
	}
	return n.Line
}

// mappingValue returns the value of key in a mapping node, or nil.
func mappingValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// withoutKey returns a copy of a mapping node without key.
func withoutKey(m *yaml.Node, key string) *yaml.Node {
	out := *m
	out.Content = nil
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value != key {
			out.Content = append(out.Content, m.Content[i], m.Content[i+1])
		}
	}
	return &out
}

// mergeNodes returns base with over laid on top: mappings are merged key by key, recursively (a
// collection's global logsource gains the rule's category); anything else in over replaces base.
func mergeNodes(base, over *yaml.Node) *yaml.Node {
	base, over = resolveAlias(base), resolveAlias(over)
	if base == nil || base.Kind != yaml.MappingNode || over == nil || over.Kind != yaml.MappingNode {
		return over
	}
	out := *over
	out.Content = nil
	for i := 0; i+1 < len(base.Content); i += 2 {
		k, v := base.Content[i], base.Content[i+1]
		if ov := mappingValue(over, k.Value); ov != nil {
			v = mergeNodes(v, ov)
		}
		out.Content = append(out.Content, k, v)
	}
	for i := 0; i+1 < len(over.Content); i += 2 {
		if mappingValue(base, over.Content[i].Value) == nil {
			out.Content = append(out.Content, over.Content[i], over.Content[i+1])
		}
	}
	return &out
}

func nodeKind(n *yaml.Node) string {
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("the scalar %q", firstWord([]byte(n.Value)))
	}
	return "an alias"
}

// yamlError splits a parser error into its line (1 when it names none) and message.
func yamlError(err error) (int, string) {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return max(line, 1), strings.TrimPrefix(msg, m[0])
	}
	return 1, strings.TrimPrefix(msg, "yaml: ")
}
