package retrieval

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Tokenize splits security text into search terms, lowercased. Unlike a generic word tokenizer it
// keeps the things analysts search for whole: ATT&CK technique IDs (t1059.001, and its parent
// t1059), IPv4 addresses, hashes, e-mail addresses, domains, file paths (and their base names),
// process names (rundll32.exe, and rundll32), command-line flags (-enc, /c, --output) and
// hyphenated names (allow-any-3389, and its parts). Ordinary words lose common English suffixes so
// that "revoke", "revoked" and "revoking" meet, and stop words are dropped. A term contains only
// letters, digits and the characters of TermChars.
func Tokenize(text string) []string {
	var out []string
	for _, piece := range strings.FieldsFunc(text, isSeparator) {
		out = appendPiece(out, piece)
	}
	return out
}

// TermChars are the punctuation characters a term may contain besides letters and digits. Full-text
// indexes are configured to treat them as part of a term.
const TermChars = `.-_\/:@$%~`

func isSeparator(r rune) bool {
	if unicode.IsSpace(r) {
		return true
	}
	switch r {
	case '"', '\'', '`', ',', ';', '(', ')', '[', ']', '{', '}', '<', '>', '|', '=', '!', '?', '*', '&', '^', '#', '+', '’', '‘', '“', '”':
		return true
	}
	return false
}

func isTermChar(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune(TermChars, r)
}

// appendPiece classifies one whitespace-delimited piece and appends its terms.
func appendPiece(out []string, piece string) []string {
	// Trailing sentence punctuation and leading/trailing colons are not part of anything we keep.
	piece = strings.TrimRight(piece, ".:-~")
	piece = strings.TrimLeft(piece, ".:~")
	piece = strings.Map(func(r rune) rune {
		if isTermChar(r) {
			return unicode.ToLower(r)
		}
		return -1
	}, piece)
	if piece == "" {
		return out
	}
	switch {
	case isTechnique(piece):
		out = append(out, piece)
		if len(piece) > 5 {
			out = append(out, piece[:5])
		}
		return out
	case isIPv4(piece), isHash(piece):
		return append(out, piece)
	case isFlag(piece):
		return append(out, piece)
	case strings.Contains(piece, "://"):
		// A URL: the whole, and its host.
		out = append(out, piece)
		host := piece[strings.Index(piece, "://")+3:]
		if i := strings.IndexAny(host, "/:"); i >= 0 {
			host = host[:i]
		}
		if host != "" {
			out = append(out, host)
		}
		return out
	case strings.ContainsAny(piece, `\/`):
		// A path: the whole, and its base name (with and without extension).
		out = append(out, piece)
		base := piece[strings.LastIndexAny(piece, `\/`)+1:]
		if base != "" && base != piece {
			out = appendDotted(out, base)
		}
		return out
	case strings.Contains(piece, "@"):
		out = append(out, piece)
		if d := piece[strings.LastIndex(piece, "@")+1:]; strings.Contains(d, ".") {
			out = append(out, d)
		}
		return out
	case strings.Contains(piece, "."):
		return appendDotted(out, piece)
	case strings.ContainsAny(piece, "-_$%"):
		// A hyphenated or underscored name: the whole, and its word parts.
		out = append(out, piece)
		for _, w := range strings.FieldsFunc(piece, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
			out = appendWord(out, w)
		}
		return out
	}
	return appendWord(out, piece)
}

// appendDotted handles a name with dots: a domain or a file name is kept whole; a file name also
// yields its stem (rundll32.exe → rundll32). Dotted abbreviations such as "e.g" become words.
func appendDotted(out []string, s string) []string {
	parts := strings.Split(s, ".")
	if len(parts[0]) <= 1 {
		for _, p := range parts {
			out = appendWord(out, p)
		}
		return out
	}
	out = append(out, s)
	if len(parts) == 2 && len(parts[1]) <= 4 && !isDigits(parts[1]) {
		out = appendWord(out, parts[0])
	}
	return out
}

func appendWord(out []string, w string) []string {
	if w == "" || stopWords[w] {
		return out
	}
	if utf8.RuneCountInString(w) == 1 && !isDigits(w) {
		return out
	}
	return append(out, stem(w))
}

// stem strips common English inflections. It is deliberately light: it must never merge words an
// analyst would keep apart, and it leaves anything with digits alone.
func stem(w string) string {
	if len(w) <= 4 || strings.IndexFunc(w, unicode.IsDigit) >= 0 {
		return w
	}
	switch {
	case strings.HasSuffix(w, "ies") && len(w) > 5:
		return w[:len(w)-3] + "y"
	case strings.HasSuffix(w, "sses"):
		return w[:len(w)-2]
	case strings.HasSuffix(w, "ss"), strings.HasSuffix(w, "us"), strings.HasSuffix(w, "is"):
		return w
	case strings.HasSuffix(w, "ing") && len(w) > 6:
		return undouble(strings.TrimSuffix(w, "ing"))
	case strings.HasSuffix(w, "ed") && len(w) > 5:
		return undouble(strings.TrimSuffix(w, "ed"))
	case strings.HasSuffix(w, "es") && len(w) > 5 && strings.ContainsRune("sxz", rune(w[len(w)-3])):
		return w[:len(w)-2]
	case strings.HasSuffix(w, "s"):
		w = w[:len(w)-1]
	}
	return strings.TrimSuffix(w, "e")
}

// undouble turns a doubled final consonant left by a stripped suffix back into one (resett → reset),
// and drops a silent final e the same way stem does (revok ← revoked, revoke).
func undouble(w string) string {
	n := len(w)
	if n >= 2 && w[n-1] == w[n-2] && !strings.ContainsRune("aeiouls", rune(w[n-1])) {
		return w[:n-1]
	}
	return strings.TrimSuffix(w, "e")
}

func isTechnique(s string) bool {
	if len(s) != 5 && len(s) != 9 {
		return false
	}
	return s[0] == 't' && isDigits(s[1:5]) && (len(s) == 5 || (s[5] == '.' && isDigits(s[6:])))
}

func isIPv4(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		// Allow a CIDR suffix or a port.
		if i := strings.IndexAny(s, "/:"); i > 0 && isIPv4(s[:i]) && isDigits(s[i+1:]) {
			return true
		}
		return false
	}
	for _, p := range parts {
		if p == "" || len(p) > 3 || !isDigits(p) {
			return false
		}
	}
	return true
}

func isHash(s string) bool {
	switch len(s) {
	case 32, 40, 64, 128:
	default:
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// isFlag reports whether s is a command-line switch: -x, -enc, --output, /c.
func isFlag(s string) bool {
	if len(s) < 2 {
		return false
	}
	body := s
	switch {
	case strings.HasPrefix(s, "--"):
		body = s[2:]
	case s[0] == '-' || s[0] == '/':
		body = s[1:]
	default:
		return false
	}
	if body == "" || len(body) > 24 || !unicode.IsLetter(rune(body[0])) {
		return false
	}
	return !strings.ContainsAny(body, `/\.`)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// stopWords are dropped from ordinary words; they carry no meaning for retrieval.
var stopWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a an and are as at be been but by can could did do does for from had has have he her
		his i if in into is it its may me might my no not of on or our she should so such than that the their them then
		there these they this those to too us was we were what when where which while who whom why will with would you
		your all any also each more most other some via per after before during about over under up out both only own
		same just now very been being within without upon`) {
		m[w] = true
	}
	return m
}()
