package eval

import "strings"

// porterStem stems a lowercase word as NLTK's PorterStemmer does in its
// default NLTK_EXTENSIONS mode, the stemmer rouge-score uses. The mode adds
// to Porter's published algorithm a table of irregular forms, special cases
// for -ies/-ied words of four letters, a gentler y → i rule, the alli → al
// and fulli/logi rules, and a relaxed *o condition for two-letter stems.
func porterStem(word string) string {
	if s, ok := porterIrregular(word); ok {
		return s
	}
	if len(word) <= 2 {
		return word
	}
	w := []byte(word)
	w = porterStep1a(w)
	w = porterStep1b(w)
	w = porterStep1c(w)
	w = porterStep2(w)
	w = porterStep3(w)
	w = porterStep4(w)
	w = porterStep5a(w)
	w = porterStep5b(w)
	return string(w)
}

// porterIrregular looks word up in NLTK's pool of irregular forms.
func porterIrregular(word string) (string, bool) {
	switch word {
	case "sky", "skies":
		return "sky", true
	case "dying":
		return "die", true
	case "lying":
		return "lie", true
	case "tying":
		return "tie", true
	case "news":
		return "news", true
	case "innings", "inning":
		return "inning", true
	case "outings", "outing":
		return "outing", true
	case "cannings", "canning":
		return "canning", true
	case "howe", "proceed", "exceed", "succeed":
		return word, true
	}
	return "", false
}

// porterCons reports whether w[i] is a consonant in Porter's sense: not a
// vowel, and a y only when it follows a vowel or starts the word.
func porterCons(w []byte, i int) bool {
	switch w[i] {
	case 'a', 'e', 'i', 'o', 'u':
		return false
	case 'y':
		return i == 0 || !porterCons(w, i-1)
	}
	return true
}

// porterMeasure is m, the number of vowel-consonant sequences in w.
func porterMeasure(w []byte) int {
	m := 0
	prevVowel := false
	for i := range w {
		c := porterCons(w, i)
		if c && prevVowel {
			m++
		}
		prevVowel = !c
	}
	return m
}

func porterHasVowel(w []byte) bool {
	for i := range w {
		if !porterCons(w, i) {
			return true
		}
	}
	return false
}

// porterDoubleCons is condition *d: w ends in a doubled consonant.
func porterDoubleCons(w []byte) bool {
	n := len(w)
	return n >= 2 && w[n-1] == w[n-2] && porterCons(w, n-1)
}

// porterCVC is condition *o: w ends consonant-vowel-consonant and the last
// consonant is not w, x or y; NLTK also accepts a two-letter
// vowel-consonant word.
func porterCVC(w []byte) bool {
	n := len(w)
	if n >= 3 && porterCons(w, n-3) && !porterCons(w, n-2) && porterCons(w, n-1) {
		switch w[n-1] {
		case 'w', 'x', 'y':
		default:
			return true
		}
	}
	return n == 2 && !porterCons(w, 0) && porterCons(w, 1)
}

// porterRule replaces suffix by repl when cond holds for the stem; a nil
// cond always holds.
type porterRule struct {
	suffix, repl string
	cond         func(stem []byte) bool
}

func porterPositive(stem []byte) bool { return porterMeasure(stem) > 0 }
func porterAbove1(stem []byte) bool   { return porterMeasure(stem) > 1 }

// porterApply is NLTK's _apply_rule_list: the first rule whose suffix
// matches decides, and when its condition fails the word is left alone.
func porterApply(w []byte, rules []porterRule) []byte {
	for _, r := range rules {
		if !strings.HasSuffix(string(w), r.suffix) {
			continue
		}
		stem := w[:len(w)-len(r.suffix)]
		if r.cond == nil || r.cond(stem) {
			return append(stem[:len(stem):len(stem)], r.repl...)
		}
		return w
	}
	return w
}

func porterStep1a(w []byte) []byte {
	if len(w) == 4 && strings.HasSuffix(string(w), "ies") {
		return append(w[:1:1], "ie"...)
	}
	return porterApply(w, []porterRule{
		{"sses", "ss", nil},
		{"ies", "i", nil},
		{"ss", "ss", nil},
		{"s", "", nil},
	})
}

func porterStep1b(w []byte) []byte {
	s := string(w)
	if strings.HasSuffix(s, "ied") {
		if len(w) == 4 {
			return append(w[:1:1], "ie"...)
		}
		return append(w[:len(w)-3:len(w)-3], 'i')
	}
	if strings.HasSuffix(s, "eed") {
		stem := w[:len(w)-3]
		if porterMeasure(stem) > 0 {
			return append(stem[:len(stem):len(stem)], "ee"...)
		}
		return w
	}
	var stem []byte
	switch {
	case strings.HasSuffix(s, "ed") && porterHasVowel(w[:len(w)-2]):
		stem = w[:len(w)-2]
	case strings.HasSuffix(s, "ing") && porterHasVowel(w[:len(w)-3]):
		stem = w[:len(w)-3]
	default:
		return w
	}
	stem = stem[:len(stem):len(stem)]
	for _, r := range []porterRule{{"at", "ate", nil}, {"bl", "ble", nil}, {"iz", "ize", nil}} {
		if strings.HasSuffix(string(stem), r.suffix) {
			return append(stem[:len(stem)-len(r.suffix):len(stem)-len(r.suffix)], r.repl...)
		}
	}
	if porterDoubleCons(stem) {
		switch stem[len(stem)-1] {
		case 'l', 's', 'z':
			return stem
		}
		return stem[:len(stem)-1]
	}
	if porterMeasure(stem) == 1 && porterCVC(stem) {
		return append(stem, 'e')
	}
	return stem
}

func porterStep1c(w []byte) []byte {
	return porterApply(w, []porterRule{{"y", "i", func(stem []byte) bool {
		return len(stem) > 1 && porterCons(stem, len(stem)-1)
	}}})
}

func porterStep2(w []byte) []byte {
	if strings.HasSuffix(string(w), "alli") && porterPositive(w[:len(w)-4]) {
		return porterStep2(append(w[:len(w)-4:len(w)-4], "al"...))
	}
	// NLTK checks the measure of the word minus "gi" for logi → log, so
	// that short stems such as geo- and theo- are handled like philo-.
	logi := func([]byte) bool { return porterPositive(w[:len(w)-3]) }
	return porterApply(w, []porterRule{
		{"ational", "ate", porterPositive},
		{"tional", "tion", porterPositive},
		{"enci", "ence", porterPositive},
		{"anci", "ance", porterPositive},
		{"izer", "ize", porterPositive},
		{"bli", "ble", porterPositive},
		{"alli", "al", porterPositive},
		{"entli", "ent", porterPositive},
		{"eli", "e", porterPositive},
		{"ousli", "ous", porterPositive},
		{"ization", "ize", porterPositive},
		{"ation", "ate", porterPositive},
		{"ator", "ate", porterPositive},
		{"alism", "al", porterPositive},
		{"iveness", "ive", porterPositive},
		{"fulness", "ful", porterPositive},
		{"ousness", "ous", porterPositive},
		{"aliti", "al", porterPositive},
		{"iviti", "ive", porterPositive},
		{"biliti", "ble", porterPositive},
		{"fulli", "ful", porterPositive},
		{"logi", "log", logi},
	})
}

func porterStep3(w []byte) []byte {
	return porterApply(w, []porterRule{
		{"icate", "ic", porterPositive},
		{"ative", "", porterPositive},
		{"alize", "al", porterPositive},
		{"iciti", "ic", porterPositive},
		{"ical", "ic", porterPositive},
		{"ful", "", porterPositive},
		{"ness", "", porterPositive},
	})
}

func porterStep4(w []byte) []byte {
	return porterApply(w, []porterRule{
		{"al", "", porterAbove1},
		{"ance", "", porterAbove1},
		{"ence", "", porterAbove1},
		{"er", "", porterAbove1},
		{"ic", "", porterAbove1},
		{"able", "", porterAbove1},
		{"ible", "", porterAbove1},
		{"ant", "", porterAbove1},
		{"ement", "", porterAbove1},
		{"ment", "", porterAbove1},
		{"ent", "", porterAbove1},
		{"ion", "", func(stem []byte) bool {
			return porterAbove1(stem) && (stem[len(stem)-1] == 's' || stem[len(stem)-1] == 't')
		}},
		{"ou", "", porterAbove1},
		{"ism", "", porterAbove1},
		{"ate", "", porterAbove1},
		{"iti", "", porterAbove1},
		{"ous", "", porterAbove1},
		{"ive", "", porterAbove1},
		{"ize", "", porterAbove1},
	})
}

// porterStep5a removes a final e when m > 1, or when m = 1 and the stem
// does not end cvc. Both conditions are tried, unlike a rule list.
func porterStep5a(w []byte) []byte {
	if len(w) == 0 || w[len(w)-1] != 'e' {
		return w
	}
	stem := w[:len(w)-1]
	if m := porterMeasure(stem); m > 1 || (m == 1 && !porterCVC(stem)) {
		return stem
	}
	return w
}

// porterStep5b turns a final ll into l when the measure of the word
// without its last letter exceeds 1.
func porterStep5b(w []byte) []byte {
	if strings.HasSuffix(string(w), "ll") && porterAbove1(w[:len(w)-1]) {
		return w[:len(w)-1]
	}
	return w
}
