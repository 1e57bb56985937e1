package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/hindsightsec/hindsight"
)

// TacticTagPrefix starts the tag that names an ATT&CK tactic on a document, followed by the
// tactic's short name as ATT&CK spells it ("tactic:credential-access"). The STIX reader puts one on
// every technique for each tactic it belongs to; the Sigma and Elastic readers put one on a rule for
// each tactic it is mapped to. Retrieval reads tactics from these tags, so that two documents can be
// related by tactic without a second source of truth.
const TacticTagPrefix = "tactic:"

// maxUseText is how long the technique-specific text of a group's "uses" relationship may be before
// it is shortened: a few groups use more than a hundred techniques, and their whole procedure texts
// would drown the group's own description in its chunks.
const maxUseText = 400

// ReadSTIX reads an ATT&CK bundle in STIX 2.0 or 2.1 (an object with an "objects" array) and calls
// fn with one global document for each active technique or sub-technique (KindTechnique), mitigation
// (KindMitigation) and group (KindGroup), in that order and by ATT&CK ID within each kind.
//
//   - A technique's ID is its ATT&CK ID (T1003.001). Its title is its name, prefixed by its parent's
//     name for a sub-technique ("OS Credential Dumping: LSASS Memory"), as ATT&CK itself shows it,
//     so the title carries the parent's words. Techniques holds its own ID; Tags hold one
//     TacticTagPrefix tag per tactic (kill chain phase) in bundle order; Platform lists its
//     platforms, comma-separated ("Linux, macOS, Windows").
//   - A mitigation (M1043) lists, under its description, each technique it mitigates with the
//     relationship's technique-specific text ("- T1003.001 (OS Credential Dumping: LSASS Memory):
//     …"); Techniques holds those techniques.
//   - A group (G0007) lists its aliases and each technique it uses with the relationship's text,
//     shortened to about 400 characters; Techniques holds those techniques.
//
// Revoked and deprecated objects, and relationships that are revoked, deprecated or touch such an
// object, are skipped. "(Citation: …)" markers, Markdown links and inline HTML tags are removed from
// every text: they are references, not content, and they add noise to search terms and embeddings.
// The STIX ID, the ATT&CK URL, version and modification time go to Metadata.
//
// The bundle is read as a stream, one object at a time; only the fields that are kept are held,
// because relationships may come before the objects they join. An object that cannot be used (no
// ATT&CK ID, a field of the wrong type) is returned as a rejection naming objects[i] and its STIX ID.
// A bundle that is not well-formed JSON, or not a bundle at all, makes the error non-nil and no
// document is passed to fn: a release is one consistent set, and half of one would store mitigations
// without the techniques they mitigate. The error is also non-nil when fn fails.
func ReadSTIX(r io.Reader, file string, fn func(Record) error) ([]hindsight.Rejection, error) {
	b := &stixBuilder{file: file, techniques: map[string]*stixTechnique{}, mitigations: map[string]*stixMitigation{},
		groups: map[string]*stixGroup{}, attackIDs: map[string]string{}}
	if err := b.read(r); err != nil {
		return b.rejected, err
	}
	return b.rejected, b.emit(fn)
}

// stixObject holds the fields of a STIX object that the reader uses; encoding/json skips the rest
// without keeping them.
type stixObject struct {
	Type               string `json:"type"`
	ID                 string `json:"id"`
	Name               string `json:"name"`
	Description        string `json:"description"`
	Modified           string `json:"modified"`
	Revoked            bool   `json:"revoked"`
	Deprecated         bool   `json:"x_mitre_deprecated"`
	Version            string `json:"x_mitre_version"`
	ExternalReferences []struct {
		SourceName string `json:"source_name"`
		ExternalID string `json:"external_id"`
		URL        string `json:"url"`
	} `json:"external_references"`
	KillChainPhases []struct {
		KillChainName string `json:"kill_chain_name"`
		PhaseName     string `json:"phase_name"`
	} `json:"kill_chain_phases"`
	Platforms        []string `json:"x_mitre_platforms"`
	Detection        string   `json:"x_mitre_detection"`
	Aliases          []string `json:"aliases"`
	RelationshipType string   `json:"relationship_type"`
	SourceRef        string   `json:"source_ref"`
	TargetRef        string   `json:"target_ref"`
}

// stixCommon is what every kept object has.
type stixCommon struct {
	attackID, stixID, name, description, url, version, modified string
	line                                                        int
}

type stixTechnique struct {
	stixCommon
	tactics, platforms []string
}

type stixMitigation struct{ stixCommon }

type stixGroup struct {
	stixCommon
	aliases []string
}

// stixRelation is a kept relationship: mitigates (course-of-action → attack-pattern) or uses
// (intrusion-set → attack-pattern).
type stixRelation struct {
	kind, source, target, text string
}

type stixBuilder struct {
	file        string
	techniques  map[string]*stixTechnique // by STIX ID
	mitigations map[string]*stixMitigation
	groups      map[string]*stixGroup
	relations   []stixRelation
	attackIDs   map[string]string // ATT&CK ID → STIX ID, to catch two active objects with one ID
	rejected    []hindsight.Rejection
}

// read streams the bundle's objects into the builder.
func (b *stixBuilder) read(r io.Reader) error {
	lc := &lineCounter{r: r}
	dec := json.NewDecoder(lc)
	syntax := func(err error) error {
		if lc.err != nil {
			return fmt.Errorf("read %s: %w", b.file, lc.err)
		}
		line := lc.lineAt(dec.InputOffset())
		msg := jsonError(err)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			msg = "the file ends inside the bundle"
		}
		return hindsight.Invalid(fmt.Sprintf("%s:%d", b.file, line), "not a well-formed STIX bundle: %s", msg)
	}
	if tok, err := dec.Token(); err != nil {
		return syntax(err)
	} else if d, ok := tok.(json.Delim); !ok || d != '{' {
		return hindsight.Invalid(b.file+":1", "not a STIX bundle: want a JSON object with an \"objects\" array")
	}
	sawObjects := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return syntax(err)
		}
		key, _ := tok.(string)
		if key != "objects" {
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				return syntax(err)
			}
			if key == "type" && string(v) != `"bundle"` {
				return hindsight.Invalid(b.file+":1", "not a STIX bundle: type is %s", firstWord(v))
			}
			continue
		}
		sawObjects = true
		if tok, err := dec.Token(); err != nil {
			return syntax(err)
		} else if d, ok := tok.(json.Delim); !ok || d != '[' {
			return hindsight.Invalid(b.file+":1", "not a STIX bundle: objects is not an array")
		}
		for i := 0; dec.More(); i++ {
			line := lc.lineAt(dec.InputOffset())
			var o stixObject
			err := dec.Decode(&o)
			var te *json.UnmarshalTypeError
			switch {
			case errors.As(err, &te):
				// A field of the wrong type spoils only its object: the decoder has read past it.
				b.reject(i, line, te.Field, "%s: must be %s, got a JSON %s", o.ID, te.Type, te.Value)
				continue
			case err != nil:
				return syntax(err)
			}
			b.add(i, line, &o)
		}
		if _, err := dec.Token(); err != nil {
			return syntax(err)
		}
	}
	if _, err := dec.Token(); err != nil {
		return syntax(err)
	}
	if _, err := dec.Token(); err == nil {
		return hindsight.Invalid(fmt.Sprintf("%s:%d", b.file, lc.lineAt(dec.InputOffset())), "not a well-formed STIX bundle: more than one JSON value")
	} else if err != io.EOF {
		return syntax(err)
	}
	if !sawObjects {
		return hindsight.Invalid(b.file+":1", "not a STIX bundle: no \"objects\" array")
	}
	return nil
}

func (b *stixBuilder) reject(i, line int, field, format string, args ...any) {
	f := fmt.Sprintf("objects[%d]", i)
	if field != "" {
		f += "." + field
	}
	b.rejected = append(b.rejected, hindsight.Rejection{File: b.file, Line: line, Field: f, Error: fmt.Sprintf(format, args...)})
}

// add keeps what an object contributes, if it is active and of a kind that is read.
func (b *stixBuilder) add(i, line int, o *stixObject) {
	if o.Revoked || o.Deprecated {
		return
	}
	switch o.Type {
	case "relationship":
		// The kinds of both ends are in their STIX IDs, so relationships can be filtered before the
		// objects are seen.
		switch {
		case o.RelationshipType == "mitigates" && strings.HasPrefix(o.SourceRef, "course-of-action--") && strings.HasPrefix(o.TargetRef, "attack-pattern--"),
			o.RelationshipType == "uses" && strings.HasPrefix(o.SourceRef, "intrusion-set--") && strings.HasPrefix(o.TargetRef, "attack-pattern--"):
			b.relations = append(b.relations, stixRelation{kind: o.RelationshipType, source: o.SourceRef, target: o.TargetRef, text: cleanSTIXText(o.Description)})
		}
		return
	case "attack-pattern", "course-of-action", "intrusion-set":
	default:
		return
	}
	c := stixCommon{stixID: o.ID, name: strings.TrimSpace(o.Name), description: cleanSTIXText(o.Description),
		version: o.Version, modified: o.Modified, line: line}
	for _, ref := range o.ExternalReferences {
		if ref.SourceName == "mitre-attack" && ref.ExternalID != "" {
			c.attackID, c.url = strings.TrimSpace(ref.ExternalID), ref.URL
			break
		}
	}
	want, valid := "", false
	switch o.Type {
	case "attack-pattern":
		want, valid = "T1234 or T1234.567", hindsight.ValidTechnique(c.attackID)
	case "course-of-action":
		want, valid = "M1234", validAttackID(c.attackID, 'M')
	case "intrusion-set":
		want, valid = "G1234", validAttackID(c.attackID, 'G')
	}
	switch {
	case c.attackID == "":
		b.reject(i, line, "external_references", "%s: no mitre-attack external_id", o.ID)
		return
	case !valid:
		b.reject(i, line, "external_references", "%s: ATT&CK ID %q is not of the form %s", o.ID, c.attackID, want)
		return
	case c.name == "":
		b.reject(i, line, "name", "%s (%s): is required", o.ID, c.attackID)
		return
	}
	if first, dup := b.attackIDs[c.attackID]; dup {
		b.reject(i, line, "external_references", "%s: ATT&CK ID %s is also the ID of the active object %s", o.ID, c.attackID, first)
		return
	}
	b.attackIDs[c.attackID] = o.ID
	switch o.Type {
	case "attack-pattern":
		t := &stixTechnique{stixCommon: c, platforms: o.Platforms}
		if d := cleanSTIXText(o.Detection); d != "" {
			t.description = strings.TrimSpace(t.description + "\n\nDetection: " + d)
		}
		for _, p := range o.KillChainPhases {
			// Enterprise phases are "mitre-attack"; mobile and ICS bundles use "mitre-mobile-attack"
			// and "mitre-ics-attack". Other kill chains (Lockheed's) are not ATT&CK tactics.
			if strings.HasPrefix(p.KillChainName, "mitre-") && p.PhaseName != "" {
				t.tactics = append(t.tactics, p.PhaseName)
			}
		}
		b.techniques[o.ID] = t
	case "course-of-action":
		b.mitigations[o.ID] = &stixMitigation{c}
	case "intrusion-set":
		b.groups[o.ID] = &stixGroup{stixCommon: c, aliases: o.Aliases}
	}
}

// validAttackID reports whether id is the letter followed by four digits (M1043, G0007).
func validAttackID(id string, letter byte) bool {
	return len(id) == 5 && id[0] == letter && digitsOnly(id[1:])
}

func digitsOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// emit builds the documents once every object and relationship has been read.
func (b *stixBuilder) emit(fn func(Record) error) error {
	byAttackID := map[string]*stixTechnique{}
	for _, t := range b.techniques {
		byAttackID[t.attackID] = t
	}
	title := func(t *stixTechnique) string {
		if p := byAttackID[hindsight.ParentTechnique(t.attackID)]; p != nil && p != t {
			return p.name + ": " + t.name
		}
		return t.name
	}
	// Relationships grouped by source, each list sorted by technique so that documents are stable
	// whatever the bundle's order.
	links := map[string][]stixRelation{}
	for _, rel := range b.relations {
		if b.techniques[rel.target] == nil {
			continue // the technique is revoked, deprecated or absent
		}
		links[rel.source] = append(links[rel.source], rel)
	}
	for _, ls := range links {
		sort.SliceStable(ls, func(i, j int) bool {
			return b.techniques[ls[i].target].attackID < b.techniques[ls[j].target].attackID
		})
	}
	// techniqueList renders linked techniques as list items and returns their IDs.
	techniqueList := func(ls []stixRelation, limit int) (string, []string) {
		var sb strings.Builder
		var ids []string
		for _, rel := range ls {
			t := b.techniques[rel.target]
			ids = append(ids, t.attackID)
			fmt.Fprintf(&sb, "\n- %s (%s)", t.attackID, title(t))
			if text := shorten(rel.text, limit); text != "" {
				sb.WriteString(": " + strings.ReplaceAll(text, "\n", " "))
			}
		}
		return sb.String(), dedupe(ids)
	}
	var docs []*hindsight.Document
	var lines []int
	for _, t := range b.techniques {
		d := b.document(hindsight.KindTechnique, &t.stixCommon)
		d.Title = title(t)
		d.Description = t.description
		d.Techniques = []string{t.attackID}
		d.Platform = strings.Join(t.platforms, ", ")
		for _, tac := range dedupe(append([]string(nil), t.tactics...)) {
			d.Tags = append(d.Tags, TacticTagPrefix+tac)
		}
		if d.Title != t.name {
			d.Metadata["name"] = mustJSON(t.name)
		}
		if len(t.platforms) > 0 {
			d.Metadata["platforms"] = mustJSON(t.platforms)
		}
		docs, lines = append(docs, d), append(lines, t.line)
	}
	for _, m := range b.mitigations {
		d := b.document(hindsight.KindMitigation, &m.stixCommon)
		list, ids := techniqueList(links[m.stixID], 0)
		d.Description = m.description
		if list != "" {
			d.Description = strings.TrimSpace(d.Description + "\n\nMitigates:" + list)
		}
		d.Techniques = ids
		docs, lines = append(docs, d), append(lines, m.line)
	}
	for _, g := range b.groups {
		d := b.document(hindsight.KindGroup, &g.stixCommon)
		list, ids := techniqueList(links[g.stixID], maxUseText)
		d.Description = g.description
		if aliases := otherAliases(g.name, g.aliases); len(aliases) > 0 {
			d.Description = strings.TrimSpace(d.Description + "\n\nAlso known as: " + strings.Join(aliases, ", ") + ".")
			d.Metadata["aliases"] = mustJSON(aliases)
		}
		if list != "" {
			d.Description = strings.TrimSpace(d.Description + "\n\nTechniques used:" + list)
		}
		d.Techniques = ids
		docs, lines = append(docs, d), append(lines, g.line)
	}
	order := make([]int, len(docs))
	for i := range order {
		order[i] = i
	}
	kindRank := map[hindsight.Kind]int{hindsight.KindTechnique: 0, hindsight.KindMitigation: 1, hindsight.KindGroup: 2}
	sort.Slice(order, func(i, j int) bool {
		a, c := docs[order[i]], docs[order[j]]
		if a.Kind != c.Kind {
			return kindRank[a.Kind] < kindRank[c.Kind]
		}
		return a.ID < c.ID
	})
	for _, i := range order {
		if err := fn(Record{Doc: docs[i], File: b.file, Line: lines[i]}); err != nil {
			return err
		}
	}
	return nil
}

// document starts a global document of kind k from an object's common fields.
func (b *stixBuilder) document(k hindsight.Kind, c *stixCommon) *hindsight.Document {
	d := &hindsight.Document{Kind: k, ID: c.attackID, Title: c.name, Metadata: map[string]json.RawMessage{"stix_id": mustJSON(c.stixID)}}
	if c.url != "" {
		d.Metadata["url"] = mustJSON(c.url)
	}
	if c.version != "" {
		d.Metadata["version"] = mustJSON(c.version)
	}
	if c.modified != "" {
		d.Metadata["modified"] = mustJSON(c.modified)
	}
	return d
}

// otherAliases returns a group's aliases other than its name, which ATT&CK lists first.
func otherAliases(name string, aliases []string) []string {
	var out []string
	for _, a := range aliases {
		if a = strings.TrimSpace(a); a != "" && !strings.EqualFold(a, name) {
			out = append(out, a)
		}
	}
	return dedupe(out)
}

// TechniqueTactics returns the tactics of each technique document among docs, keyed by technique
// ID, as the short names of their TacticTagPrefix tags ("T1003.001" → ["credential-access"]).
// Documents of other kinds are ignored; a technique with no tactic tag is absent. The map is what
// retrieval needs to relate two techniques by tactic; a sub-technique's parent is
// hindsight.ParentTechnique.
func TechniqueTactics(docs []*hindsight.Document) map[string][]string {
	out := map[string][]string{}
	for _, d := range docs {
		if d == nil || d.Kind != hindsight.KindTechnique {
			continue
		}
		for _, tag := range d.Tags {
			if tac, ok := strings.CutPrefix(tag, TacticTagPrefix); ok && tac != "" {
				out[d.ID] = append(out[d.ID], tac)
			}
		}
	}
	return out
}

var (
	markdownLink = regexp.MustCompile(`\[([^\[\]]*)\]\((?:https?://[^()\s]*|[^()\s]*)\)`)
	htmlTag      = regexp.MustCompile(`(?i)</?(?:code|b|i|em|strong|sub|sup|br|p)\s*/?>`)
	spaceRun     = regexp.MustCompile(`[ \t]{2,}`)
	spaceBefore  = regexp.MustCompile(` +([.,;:])`)
)

// cleanSTIXText turns an ATT&CK description into retrieval text: citation markers removed, Markdown
// links reduced to their text, inline HTML tags removed, runs of spaces collapsed. Paragraphs stay.
func cleanSTIXText(s string) string {
	if s == "" {
		return ""
	}
	s = stripCitations(s)
	s = markdownLink.ReplaceAllString(s, "$1")
	s = htmlTag.ReplaceAllString(s, "")
	s = spaceRun.ReplaceAllString(s, " ")
	s = spaceBefore.ReplaceAllString(s, "$1")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

// stripCitations removes every "(Citation: …)" marker, allowing parentheses nested inside one.
func stripCitations(s string) string {
	const marker = "(Citation:"
	if !strings.Contains(s, marker) {
		return s
	}
	var sb strings.Builder
	for {
		i := strings.Index(s, marker)
		if i < 0 {
			sb.WriteString(s)
			return sb.String()
		}
		sb.WriteString(s[:i])
		depth, j := 0, i
		for ; j < len(s); j++ {
			if s[j] == '(' {
				depth++
			} else if s[j] == ')' {
				depth--
				if depth == 0 {
					break
				}
			}
		}
		if j >= len(s) {
			return sb.String() // an unclosed marker runs to the end: drop it
		}
		s = s[j+1:]
	}
}

// shorten cuts s to about limit bytes at a word boundary, marking the cut with an ellipsis. A limit
// of 0 keeps s whole.
func shorten(s string, limit int) string {
	s = strings.TrimSpace(s)
	if limit <= 0 || len(s) <= limit {
		return s
	}
	cut := strings.LastIndexAny(s[:limit], " \n")
	if cut <= limit/2 {
		cut = limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
	}
	return strings.TrimRight(s[:cut], " ,;:") + " …"
}

// mustJSON encodes a value that always encodes (strings, string slices, numbers).
func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("encode %T: %v", v, err))
	}
	return b
}

// lineCounter passes bytes through to a JSON decoder and answers which line a byte offset is on.
// Offsets are asked in increasing order, so it keeps only the bytes the decoder has read ahead.
type lineCounter struct {
	r     io.Reader
	buf   []byte // bytes from offset base on, not yet passed by a lineAt
	base  int64
	lines int   // newlines before base
	err   error // the first read error other than io.EOF: the input, not its syntax, failed
}

func (lc *lineCounter) Read(p []byte) (int, error) {
	n, err := lc.r.Read(p)
	lc.buf = append(lc.buf, p[:n]...)
	if err != nil && err != io.EOF && lc.err == nil {
		lc.err = err
	}
	return n, err
}

// lineAt returns the line (from 1) of the first byte that is not white space at or after off, which
// is where the decoder's next value starts.
func (lc *lineCounter) lineAt(off int64) int {
	if k := int(off - lc.base); k > 0 {
		k = min(k, len(lc.buf))
		lc.lines += bytes.Count(lc.buf[:k], []byte{'\n'})
		lc.buf = lc.buf[k:]
		lc.base += int64(k)
		if cap(lc.buf) > 1<<20 && len(lc.buf) < cap(lc.buf)/4 {
			lc.buf = append([]byte(nil), lc.buf...) // let a large read-ahead go
		}
	}
	line := lc.lines + 1
	for _, c := range lc.buf {
		if c == '\n' {
			line++
		} else if c != ' ' && c != '\t' && c != '\r' && c != ',' {
			break
		}
	}
	return line
}
