package eval

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// The reference implementations are Python programs, and their results
// depend on Python's own string semantics, which differ from Go's in small
// ways: str.split and the regular-expression class \s treat the ASCII
// separators 0x1C–0x1F as whitespace, and str.lower uses the full Unicode
// case mapping (U+0130 becomes two code points) and applies the context
// rule for a word-final capital sigma. The helpers below reproduce those
// semantics so that tokenisation, and with it every score, agrees exactly.

// isPySpace reports whether Python's str.isspace holds for r.
func isPySpace(r rune) bool {
	if r < utf8.RuneSelf {
		return r == ' ' || (r >= '\t' && r <= '\r') || (r >= 0x1c && r <= 0x1f)
	}
	return unicode.IsSpace(r)
}

// pyFields splits s as Python's str.split() with no argument does.
func pyFields(s string) []string {
	return strings.FieldsFunc(s, isPySpace)
}

// pyStrip trims leading and trailing whitespace as str.strip() does.
func pyStrip(s string) string {
	return strings.TrimFunc(s, isPySpace)
}

// pyRStrip trims trailing whitespace as str.rstrip() does.
func pyRStrip(s string) string {
	return strings.TrimRightFunc(s, isPySpace)
}

// pyLower lowercases s as Python's str.lower does.
func pyLower(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(s)
	}
	rs := []rune(s)
	var b strings.Builder
	b.Grow(len(s) + 2)
	for i, r := range rs {
		switch r {
		case 0x130:
			// The only unconditional full lowercase mapping that differs
			// from the simple one: LATIN CAPITAL LETTER I WITH DOT ABOVE.
			b.WriteString("i\u0307")
		case 0x3a3:
			if finalSigma(rs, i) {
				b.WriteRune(0x3c2)
			} else {
				b.WriteRune(0x3c3)
			}
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// finalSigma reports whether the capital sigma at rs[i] stands in the
// Final_Sigma context, the test CPython's str.lower applies: a cased letter
// before it and none after it, skipping case-ignorable characters.
func finalSigma(rs []rune, i int) bool {
	j := i - 1
	for j >= 0 && isCaseIgnorable(rs[j]) {
		j--
	}
	if j < 0 || !isCased(rs[j]) {
		return false
	}
	j = i + 1
	for j < len(rs) && isCaseIgnorable(rs[j]) {
		j++
	}
	return j == len(rs) || !isCased(rs[j])
}

// isCased reports the Unicode Cased property.
func isCased(r rune) bool {
	return unicode.In(r, unicode.Lu, unicode.Ll, unicode.Lt, unicode.Other_Lowercase, unicode.Other_Uppercase)
}

// isCaseIgnorable reports the Unicode Case_Ignorable property: marks,
// format characters, modifier letters and symbols, and the characters
// whose Word_Break value is MidLetter, MidNumLet or Single_Quote.
func isCaseIgnorable(r rune) bool {
	switch r {
	case '\'', '.', ':', 0x5e, 0x60, 0xa8, 0xad, 0xaf, 0xb4, 0xb7, 0xb8,
		0x387, 0x55f, 0x5f4, 0x2018, 0x2019, 0x2024, 0x2027,
		0xfe13, 0xfe52, 0xfe55, 0xff07, 0xff0e, 0xff1a:
		return true
	}
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Lm, unicode.Sk)
}
