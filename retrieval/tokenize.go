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
	terms, _ := tokenize(text, false)
	return terms
}

// tokenize returns the terms of text and, when surfaces is true, the word each stemmed term came
// from (its first occurrence), for showing terms to people.
func tokenize(text string, surfaces bool) ([]string, map[string]string) {
	t := tokenizer{}
	if surfaces {
		t.surface = map[string]string{}
	}
	// The pieces between separators, as strings.FieldsFunc(text, isSeparator) finds them,
	// without decoding ASCII.
	start := -1
	for i := 0; i < len(text); {
		var sep bool
		size := 1
		if c := text[i]; c < utf8.RuneSelf {
			sep = asciiSeparator[c]
		} else {
			var r rune
			r, size = utf8.DecodeRuneInString(text[i:])
			sep = isSeparator(r)
		}
		switch {
		case sep && start >= 0:
			t.piece(text[start:i])
			start = -1
		case !sep && start < 0:
			start = i
		}
		i += size
	}
	if start >= 0 {
		t.piece(text[start:])
	}
	return t.out, t.surface
}

// asciiSeparator is isSeparator for the ASCII characters.
var asciiSeparator = func() (t [utf8.RuneSelf]bool) {
	for c := range utf8.RuneSelf {
		t[c] = isSeparator(rune(c))
	}
	return t
}()

// asciiTermChar is isTermChar for the ASCII characters.
var asciiTermChar = func() (t [utf8.RuneSelf]bool) {
	for c := range utf8.RuneSelf {
		t[c] = isTermChar(rune(c))
	}
	return t
}()

type tokenizer struct {
	out     []string
	surface map[string]string // nil: not wanted
	buf     []byte            // termCase's working memory
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

// piece classifies one whitespace-delimited piece and appends its terms.
func (t *tokenizer) piece(piece string) {
	// Trailing sentence punctuation and leading/trailing colons are not part of anything we keep.
	piece = strings.TrimRight(piece, ".:-~")
	piece = strings.TrimLeft(piece, ".:~")
	piece = t.termCase(piece)
	if piece != "" {
		t.classify(piece)
	}
}

// classify appends the terms of a piece already trimmed and lowercased.
func (t *tokenizer) classify(piece string) {
	switch {
	case isTechnique(piece):
		t.add(piece)
		if len(piece) > 5 {
			t.add(piece[:5])
		}
		return
	case isIPv4(piece), isHash(piece):
		t.add(piece)
		return
	case isFlag(piece):
		t.add(piece)
		return
	case strings.Contains(piece, "://"):
		// A URL: the whole, and its host.
		t.add(piece)
		host := piece[strings.Index(piece, "://")+3:]
		if i := strings.IndexAny(host, "/:"); i >= 0 {
			host = host[:i]
		}
		if host != "" {
			t.add(host)
		}
		return
	case strings.ContainsAny(piece, `\/`):
		// A path: the whole, and its base name (with and without extension).
		t.add(piece)
		base := piece[strings.LastIndexAny(piece, `\/`)+1:]
		if base != "" && base != piece {
			t.dotted(base)
		}
		return
	case strings.Contains(piece, "@"):
		t.add(piece)
		if d := piece[strings.LastIndex(piece, "@")+1:]; strings.Contains(d, ".") {
			t.add(d)
		}
		return
	case strings.Contains(piece, "."):
		t.dotted(piece)
		return
	case strings.ContainsAny(piece, "-_$%"):
		// A hyphenated or underscored name: the whole, and its word parts.
		t.add(piece)
		for _, w := range strings.FieldsFunc(piece, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
			t.word(w)
		}
		return
	}
	t.word(piece)
}

// termCase lowercases s and drops the characters a term cannot hold.
func (t *tokenizer) termCase(s string) string {
	same := true // s is already a term: ASCII, lowercase, only term characters
	for i := 0; i < len(s) && same; i++ {
		c := s[i]
		same = c < utf8.RuneSelf && asciiTermChar[c] && (c < 'A' || c > 'Z')
	}
	if same {
		return s
	}
	t.buf = t.buf[:0]
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= utf8.RuneSelf:
			return strings.Map(func(r rune) rune {
				if isTermChar(r) {
					return unicode.ToLower(r)
				}
				return -1
			}, s)
		case !asciiTermChar[c]:
		case c >= 'A' && c <= 'Z':
			t.buf = append(t.buf, c+'a'-'A')
		default:
			t.buf = append(t.buf, c)
		}
	}
	return string(t.buf)
}

// dotted handles a name with dots: a domain or a file name is kept whole; a file name also
// yields its stem (rundll32.exe → rundll32). Dotted abbreviations such as "e.g" become words.
func (t *tokenizer) dotted(s string) {
	parts := strings.Split(s, ".")
	if len(parts[0]) <= 1 {
		for _, p := range parts {
			t.word(p)
		}
		return
	}
	t.add(s)
	if len(parts) == 2 && len(parts[1]) <= 4 && !isDigits(parts[1]) {
		t.word(parts[0])
	}
}

func (t *tokenizer) word(w string) {
	if w == "" || stopWords[w] {
		return
	}
	if utf8.RuneCountInString(w) == 1 && !isDigits(w) {
		return
	}
	s := stem(w)
	t.add(s)
	if t.surface != nil && t.surface[s] == "" {
		t.surface[s] = w
	}
}

func (t *tokenizer) add(term string) { t.out = append(t.out, term) }

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
	if s == "" || s[0] < '0' || s[0] > '9' {
		return false // the common case, a word, without looking further
	}
	if strings.Count(s, ".") != 3 {
		// Allow a CIDR suffix or a port.
		if i := strings.IndexAny(s, "/:"); i > 0 && isIPv4(s[:i]) && isDigits(s[i+1:]) {
			return true
		}
		return false
	}
	for range 4 {
		p, rest, _ := strings.Cut(s, ".")
		if p == "" || len(p) > 3 || !isDigits(p) {
			return false
		}
		s = rest
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
