package eval

import (
	"slices"
	"strings"
	"unicode"

	"github.com/hindsightsec/hindsight/draft"
)

// StripCitations removes the bracketed citation lists that drafts append to
// their recommendations ("Reset the password [THR-2022-0036, NOTE-0011].")
// with the spaces or tabs before them. Reviewers' finals rarely keep them,
// so the text metrics would otherwise count every citation as an edit;
// eval strips them from both texts before any text metric. A citation list
// is a bracket holding one or more source IDs separated by commas,
// semicolons or white space; an ID starts with a capital letter, holds a
// digit, and is letters and digits in runs joined by single - . _ or :
// ("THR-2022-0036", "T1003.001", "M1026"). Any other bracket
// ("[optional]", "[THR-1, later]") is kept.
func StripCitations(s string) string {
	if strings.IndexByte(s, '[') < 0 {
		return s
	}
	var b strings.Builder
	last := 0
	scanCitations(s, func(start, end int, _ []string) {
		if b.Len() == 0 {
			b.Grow(len(s))
		}
		b.WriteString(s[last:start])
		last = end
	})
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// Citations returns the source IDs cited in a text's bracketed citation
// lists (see StripCitations), in order of appearance, each once.
func Citations(s string) []string {
	var out []string
	scanCitations(s, func(_, _ int, ids []string) {
		for _, id := range ids {
			if !slices.Contains(out, id) {
				out = append(out, id)
			}
		}
	})
	return out
}

// scanCitations calls fn for each citation list in s, in order, with its
// span — from the spaces and tabs before the bracket to just after it — and
// its IDs. It is a scanner rather than a regular expression because eval
// strips every draft and every recommendation, and Go's backtracking
// matcher made that a tenth of the whole metric set's time.
func scanCitations(s string, fn func(start, end int, ids []string)) {
	for i := 0; i < len(s); {
		j := strings.IndexByte(s[i:], '[')
		if j < 0 {
			return
		}
		open := i + j
		k := strings.IndexAny(s[open+1:], "[]")
		if k < 0 {
			return
		}
		end := open + 1 + k
		if s[end] == '[' { // "[b [THR-1]]": the inner bracket may still be a list
			i = end
			continue
		}
		if ids := sourceIDs(s[open+1 : end]); ids != nil {
			start := open
			for start > 0 && (s[start-1] == ' ' || s[start-1] == '\t') {
				start--
			}
			fn(start, end+1, ids)
		}
		i = end + 1
	}
}

// sourceIDs returns the IDs of a bracket's contents, or nil when it holds
// anything else.
func sourceIDs(inner string) []string {
	ids := strings.FieldsFunc(inner, func(r rune) bool { return r == ',' || r == ';' || unicode.IsSpace(r) })
	if len(ids) == 0 {
		return nil
	}
	for _, id := range ids {
		if !isSourceID(id) {
			return nil
		}
	}
	return ids
}

// isSourceID reports whether id looks like a document ID: a capital
// letter, then letters and digits in runs joined by single - . _ or :,
// with at least one digit.
func isSourceID(id string) bool {
	if id == "" || id[0] < 'A' || id[0] > 'Z' {
		return false
	}
	digit, sep := false, false
	for i := 1; i < len(id); i++ {
		switch c := id[i]; {
		case c >= '0' && c <= '9':
			digit, sep = true, false
		case c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z':
			sep = false
		case c == '-' || c == '.' || c == '_' || c == ':':
			if sep {
				return false
			}
			sep = true
		default:
			return false
		}
	}
	return digit && !sep
}

// NormalizeSpace collapses every run of white space to one space and trims
// the ends, the comparison ShippedUnchanged makes.
func NormalizeSpace(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// SplitRecommendations splits a draft or a final into its recommendations
// with draft.SplitItems (one per list item, or one per line when the text
// has no list), after dropping what comes before the first list item when
// the text has a list: a rendered draft's heading ("Remediation
// recommendations for …") or a reviewer's opening sentence is context, not
// a recommendation. Citations are left in place; callers strip them.
func SplitRecommendations(text string) []string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if isListItem(strings.TrimSpace(l)) {
			if i > 0 {
				text = strings.Join(lines[i:], "\n")
			}
			break
		}
	}
	return draft.SplitItems(text)
}

// hasListItem reports whether some line of text is a list item.
func hasListItem(text string) bool {
	for _, l := range strings.Split(text, "\n") {
		if isListItem(strings.TrimSpace(l)) {
			return true
		}
	}
	return false
}

// isListItem reports whether a trimmed line starts with a list marker that
// draft.SplitItems recognises: "- ", "* ", "• ", "– ", or up to three
// digits followed by ". " or ") ".
func isListItem(line string) bool {
	for _, m := range []string{"- ", "* ", "• ", "– "} {
		if strings.HasPrefix(line, m) {
			return true
		}
	}
	i := 0
	for i < len(line) && i < 3 && line[i] >= '0' && line[i] <= '9' {
		i++
	}
	return i > 0 && i+1 < len(line) && (line[i] == '.' || line[i] == ')') && line[i+1] == ' '
}

// hedgeOpenings are openings that turn a recommendation into a suggestion.
// They are matched at the start of the lowercased recommendation.
var hedgeOpenings = []string{
	"consider ", "you may ", "you might ", "you could ", "may want to ", "might want to ",
	"it may be worth", "it might be worth", "it would be prudent", "it may be prudent",
	"if possible", "where possible", "if feasible", "where feasible", "when possible", "optionally",
	"we suggest", "we recommend that you ", "we recommend considering", "it is recommended",
	"perhaps ", "possibly ", "ideally",
}

// hedgeWords are hedges anywhere in a recommendation, matched as whole
// words of the lowercased text.
var hedgeWords = []string{"could", "might", "may want to", "might want to", "if possible", "where possible", "if feasible", "consider"}

// IsHedged reports whether a recommendation is hedged rather than
// imperative: it opens with a suggestion ("Consider …", "You may want to
// …", "If feasible, …", "We recommend that you …", "Optionally …") or holds
// "could", "might", "may want to", "if possible", "where possible", "if
// feasible" or "consider" as words anywhere. "Please" is not a hedge: it is
// polite, not optional.
func IsHedged(rec string) bool {
	l := strings.ToLower(strings.TrimSpace(StripCitations(rec)))
	for _, h := range hedgeOpenings {
		if strings.HasPrefix(l, h) {
			return true
		}
	}
	for _, w := range hedgeWords {
		for i := 0; ; {
			j := strings.Index(l[i:], w)
			if j < 0 {
				break
			}
			j += i
			end := j + len(w)
			if (j == 0 || !isWordRune(rune(l[j-1]))) && (end == len(l) || !isWordRune(rune(l[end]))) {
				return true
			}
			i = j + 1
		}
	}
	return false
}

func isWordRune(r rune) bool {
	return r == '_' || r == '\'' || unicode.IsLetter(r) || unicode.IsDigit(r)
}
