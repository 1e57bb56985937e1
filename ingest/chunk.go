package ingest

import (
	"strings"
	"unicode/utf8"

	"github.com/hindsightsec/hindsight"
)

// maxChunk is the longest chunk text, in bytes, before a section is split.
const maxChunk = 1500

// Section is a piece of a document to embed and index.
type Section struct {
	Name string
	Text string
}

// Sections splits a document into the pieces that are embedded and indexed. A threat's case (title,
// summary, timeline, techniques, analytics, tags) stays one unit; its guidance sections and long
// bodies are split on lines (list items, paragraphs) with one line of overlap, never mid-word. Each
// piece starts with the document's title so it stands on its own.
func Sections(d *hindsight.Document) []Section {
	var out []Section
	add := func(name, text string) {
		text = strings.TrimSpace(text)
		if text == "" {
			return
		}
		for _, part := range split(text, maxChunk) {
			out = append(out, Section{Name: name, Text: d.Title + "\n" + part})
		}
	}
	meta := func() string {
		var b strings.Builder
		if len(d.Techniques) > 0 {
			b.WriteString("\nTechniques: " + strings.Join(d.Techniques, ", "))
		}
		if len(d.Analytics) > 0 {
			b.WriteString("\nAnalytics: " + strings.Join(d.Analytics, ", "))
		}
		if d.Platform != "" {
			b.WriteString("\nPlatform: " + d.Platform)
		}
		if len(d.Tags) > 0 {
			b.WriteString("\nTags: " + strings.Join(d.Tags, ", "))
		}
		return b.String()
	}
	switch d.Kind {
	case hindsight.KindThreat:
		// The case is one unit even when long: it is what "a similar past case" is matched on.
		caseText := strings.TrimSpace(d.Summary + "\n" + strings.Join(d.Events, "\n") + meta())
		out = append(out, Section{Name: hindsight.SectionCase, Text: d.Title + "\n" + caseText})
		add(hindsight.SectionRemediation, d.Remediation)
		add(hindsight.SectionHunting, d.Hunting)
		add(hindsight.SectionHardening, d.Hardening)
	case hindsight.KindNote, hindsight.KindProfile:
		add(hindsight.SectionBody, d.Body+meta())
	default:
		add(hindsight.SectionDescription, d.Description+meta())
	}
	if len(out) == 0 {
		out = append(out, Section{Name: hindsight.SectionTitle, Text: d.Title + meta()})
	}
	return out
}

// split cuts text into pieces of at most max bytes on line boundaries, repeating the last line of a
// piece at the start of the next. A single line longer than max is cut at spaces.
func split(text string, max int) []string {
	if len(text) <= max {
		return []string{text}
	}
	var lines []string
	for _, l := range strings.Split(text, "\n") {
		for len(l) > max {
			cut := strings.LastIndexByte(l[:max], ' ')
			if cut <= 0 {
				cut = max
				for cut > 0 && !utf8.RuneStart(l[cut]) {
					cut--
				}
			}
			lines = append(lines, l[:cut])
			l = strings.TrimLeft(l[cut:], " ")
		}
		lines = append(lines, l)
	}
	var out []string
	var cur []string
	size := 0
	for _, l := range lines {
		if size+len(l)+1 > max && len(cur) > 0 {
			out = append(out, strings.Join(cur, "\n"))
			last := cur[len(cur)-1]
			cur, size = nil, 0
			if len(last)+len(l)+1 <= max {
				cur, size = []string{last}, len(last)+1
			}
		}
		cur = append(cur, l)
		size += len(l) + 1
	}
	if len(cur) > 0 {
		out = append(out, strings.Join(cur, "\n"))
	}
	return out
}
