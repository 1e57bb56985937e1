package draft

import (
	"regexp"
	"sort"
	"strings"
)

// An indicator is a case-specific value in text: an address, a host, an account, a file.
type indicator struct {
	typ   string // ip, hash, email, domain, path, host, user
	value string
}

// indicatorPattern is an expression for one type of indicator.
type indicatorPattern struct {
	typ string
	// re never matches across white space, so it runs on each white-space-delimited field of
	// the text that passes may, rather than on the whole text: most fields fail the quick check,
	// which is far cheaper than the expression.
	re  *regexp.Regexp
	may func(string) bool
}

var indicatorPatterns = []indicatorPattern{
	{"email", regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}`), has("@")},
	// A path's (?:^|[\s(]) holds within a field too: a field starts at the text's start or
	// after white space.
	{"path", regexp.MustCompile(`[A-Za-z]:\\[^\s,;"'()\[\]]+|(?:^|[\s(])(/(?:[\w.-]+/)+[\w.-]+)`), has(`:\`, "/")},
	{"ip", regexp.MustCompile(`\b(?:\d{1,3}\.){3}\d{1,3}\b`), digitDotDigit},
	{"hash", regexp.MustCompile(`\b(?:[a-fA-F0-9]{64}|[a-fA-F0-9]{40}|[a-fA-F0-9]{32})\b`), hexRun32},
	{"domain", regexp.MustCompile(`\b(?:[a-z0-9-]+\.)+(?:com|net|org|io|test|local|example|invalid|info|biz|co|xyz|top|ru|cn|de|uk)\b`), dotBefore(isLower)},
	{"host", regexp.MustCompile(`\b[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+\b`), hyphenBetween(isUpperOrDigit)},
	{"user", regexp.MustCompile(`\b[a-z]+\.[a-z]+\b|\bsvc[_-][a-z0-9_]+\b`), func(f string) bool { return lowerDotLower(f) || strings.Contains(f, "svc") }},
}

// find returns the pattern's matches in text, as regexp's FindAllStringSubmatchIndex does.
func (p *indicatorPattern) find(text string) [][]int {
	var out [][]int
	for i := 0; i < len(text); {
		for i < len(text) && isSpace(text[i]) {
			i++
		}
		start := i
		for i < len(text) && !isSpace(text[i]) {
			i++
		}
		field := text[start:i]
		if field == "" || !p.may(field) {
			continue
		}
		for _, m := range p.re.FindAllStringSubmatchIndex(field, -1) {
			for j := range m {
				if m[j] >= 0 {
					m[j] += start
				}
			}
			out = append(out, m)
		}
	}
	return out
}

// isSpace reports whether c is white space as regexp's \s has it, so that a field starts where
// a path's (?:^|[\s(]) can. A vertical tab is not \s and stays inside a field: a Windows path
// goes on through one, over the whole text as in a field.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
}

// has returns a check that text contains one of subs.
func has(subs ...string) func(string) bool {
	return func(text string) bool {
		for _, s := range subs {
			if strings.Contains(text, s) {
				return true
			}
		}
		return false
	}
}

// dotBefore returns a check that text has a dot followed by a byte that next accepts, as every
// domain name has before its top-level label.
func dotBefore(next func(byte) bool) func(string) bool {
	return func(text string) bool {
		for i := 0; i+1 < len(text); i++ {
			if text[i] == '.' && next(text[i+1]) {
				return true
			}
		}
		return false
	}
}

// lowerDotLower reports whether text has a lower-case letter, a dot and a lower-case letter in a
// row, as a dotted account name has.
func lowerDotLower(text string) bool {
	for i := 1; i+1 < len(text); i++ {
		if text[i] == '.' && isLower(text[i-1]) && isLower(text[i+1]) {
			return true
		}
	}
	return false
}

// hyphenBetween returns a check that text has a hyphen between two bytes that ok accepts, as a
// host name such as WS-0042 has.
func hyphenBetween(ok func(byte) bool) func(string) bool {
	return func(text string) bool {
		for i := 1; i+1 < len(text); i++ {
			if text[i] == '-' && ok(text[i-1]) && ok(text[i+1]) {
				return true
			}
		}
		return false
	}
}

func isLower(c byte) bool        { return 'a' <= c && c <= 'z' }
func isUpperOrDigit(c byte) bool { return 'A' <= c && c <= 'Z' || isDigit(c) }

// digitDotDigit reports whether text has a digit, a dot and a digit in a row, as an IP address does.
func digitDotDigit(text string) bool {
	for i := strings.IndexByte(text, '.'); i >= 0; {
		if i > 0 && i+1 < len(text) && isDigit(text[i-1]) && isDigit(text[i+1]) {
			return true
		}
		j := strings.IndexByte(text[i+1:], '.')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return false
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// hexRun32 reports whether text has 32 hexadecimal digits in a row, as every hash pattern needs.
func hexRun32(text string) bool {
	run := 0
	for i := 0; i < len(text); i++ {
		c := text[i]
		if isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' {
			if run++; run >= 32 {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}

// fileExtensions are second labels that make "name.ext" a file, not an account.
var fileExtensions = map[string]bool{"exe": true, "dll": true, "ps1": true, "bat": true, "cmd": true, "vbs": true,
	"js": true, "hta": true, "lnk": true, "zip": true, "iso": true, "doc": true, "docm": true, "xls": true, "xlsm": true,
	"pdf": true, "txt": true, "log": true, "sys": true, "msi": true, "py": true, "sh": true, "so": true, "dit": true,
	"json": true, "yaml": true, "yml": true, "conf": true, "db": true, "dmp": true, "evtx": true, "tmp": true, "dat": true}

// notHostPrefixes start names of standards and algorithms that look like host names (AES-256).
var notHostPrefixes = map[string]bool{"AES": true, "SHA": true, "RSA": true, "TLS": true, "SSL": true, "CVE": true, "CWE": true,
	"KB": true, "MS": true, "ISO": true, "UTF": true, "RFC": true, "NIST": true, "PCI": true, "HTTP": true, "SMB": true,
	"NTLM": true, "RC": true, "ECDSA": true, "MD": true, "X": true, "IPV": true, "WPA": true, "TCP": true, "UDP": true}

// indicators returns the indicators in text, each value once, in order of first appearance.
// Values inside a longer indicator (the domain of an e-mail address) are not repeated.
func indicators(text string) []indicator {
	return indicatorsFound(text, (*indicatorPattern).find)
}

// indicatorsFound is indicators with the matches of each pattern found by find.
func indicatorsFound(text string, find func(*indicatorPattern, string) [][]int) []indicator {
	type span struct {
		start, end int
		ind        indicator
	}
	var spans []span
	for i := range indicatorPatterns {
		p := &indicatorPatterns[i]
		for _, m := range find(p, text) {
			start, end := m[0], m[1]
			if len(m) > 2 && m[2] >= 0 { // a pattern with a group: the group is the value
				start, end = m[2], m[3]
			}
			v := strings.TrimRight(text[start:end], ".")
			if !plausible(p.typ, v) {
				continue
			}
			spans = append(spans, span{start, start + len(v), indicator{p.typ, v}})
		}
	}
	sort.SliceStable(spans, func(i, j int) bool {
		if spans[i].start != spans[j].start {
			return spans[i].start < spans[j].start
		}
		return spans[i].end > spans[j].end
	})
	var out []indicator
	seen := map[string]bool{}
	end := -1
	for _, s := range spans {
		if s.start < end {
			continue // inside a longer indicator
		}
		end = s.end
		if !seen[s.ind.value] {
			seen[s.ind.value] = true
			out = append(out, s.ind)
		}
	}
	return out
}

func plausible(typ, v string) bool {
	switch typ {
	case "host":
		// A host name has a digit: WS-17, GLOBEX-LT-6631; "AES-CBC" or "MFA-PUSH" are not hosts.
		prefix, _, _ := strings.Cut(v, "-")
		return strings.ContainsAny(v, "0123456789") && !notHostPrefixes[prefix]
	case "user":
		if strings.HasPrefix(v, "svc") {
			return true
		}
		first, second, _ := strings.Cut(v, ".")
		return !fileExtensions[second] && len(first) > 1 && len(second) > 1 && first != "e" && first != "i"
	}
	return true
}

// adapter rewrites recommendations taken from a past case for the new threat: the past case's own
// indicators become the new threat's indicators of the same type (the first past host becomes the
// first new host, and so on), or a placeholder such as <host> when the new threat has none. Values
// that the new threat also mentions are kept, and placeholders a playbook was written with are
// filled when the new threat has a value of their type.
type adapter struct {
	current map[string][]string // type → the new threat's values, in order
	has     map[string]bool     // every value the new threat mentions
}

func newAdapter(threatText string) *adapter {
	a := &adapter{current: map[string][]string{}, has: map[string]bool{}}
	for _, ind := range indicators(threatText) {
		a.current[ind.typ] = append(a.current[ind.typ], ind.value)
		a.has[ind.value] = true
	}
	return a
}

// rewrite adapts text taken from a document whose own indicators are past.
func (a *adapter) rewrite(text string, past []indicator) string {
	// A playbook's own placeholders (<host>, <user>) take the new threat's first value of their
	// type, when it has one; placeholders the rewriting below leaves stay.
	if strings.Contains(text, "<") {
		for typ, vs := range a.current {
			text = strings.ReplaceAll(text, "<"+typ+">", vs[0])
		}
	}
	// A new value that the past text already names stays where it is; the others are free to
	// take the place of the past case's own values.
	kept := map[string]bool{}
	for _, ind := range past {
		if a.has[ind.value] {
			kept[ind.value] = true
		}
	}
	free := map[string][]string{}
	for typ, vs := range a.current {
		for _, v := range vs {
			if !kept[v] {
				free[typ] = append(free[typ], v)
			}
		}
	}
	index := map[string]int{}
	type repl struct{ from, to string }
	var repls []repl
	for _, ind := range past {
		if kept[ind.value] {
			continue
		}
		i := index[ind.typ]
		index[ind.typ]++
		to := "<" + ind.typ + ">"
		if f := free[ind.typ]; i < len(f) {
			to = f[i]
		}
		repls = append(repls, repl{ind.value, to})
	}
	// Longest first, so that a host name is not rewritten inside a longer value.
	sort.SliceStable(repls, func(i, j int) bool { return len(repls[i].from) > len(repls[j].from) })
	for _, r := range repls {
		text = strings.ReplaceAll(text, r.from, r.to)
	}
	return text
}
