package retrieval

import "strings"

// IndicatorTerms returns the terms of text that are indicators an analyst matches exactly: IP
// addresses, hashes, e-mail addresses, domains, URLs, file paths, file and process names, and
// command-line flags. Technique IDs are left out: the ATT&CK signal handles them.
func IndicatorTerms(text string) []string {
	var out []string
	seen := map[string]bool{}
	for _, t := range Tokenize(text) {
		if !seen[t] && isIndicator(t) {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}

func isIndicator(t string) bool {
	switch {
	case isTechnique(t):
		return false
	case isIPv4(t), isHash(t), strings.Contains(t, "@"), strings.Contains(t, "://"):
		return true
	case strings.ContainsAny(t, `\/`) && len(t) > 3:
		return true // a path
	case strings.Contains(t, ".") && !isDigits(strings.ReplaceAll(t, ".", "")):
		return true // a domain or a file name: rundll32.exe, evil.example.net
	case strings.HasPrefix(t, "-") && len(t) > 2:
		return true // a flag such as -enc
	}
	return false
}
