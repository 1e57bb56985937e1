package retrieval

import (
	"strings"
	"testing"
	"unicode"

	"github.com/google/go-cmp/cmp"

	"github.com/hindsightsec/hindsight/sample"
)

// referenceTokenize is the tokenizer's splitting and case folding written plainly, with
// strings.FieldsFunc over runes and strings.Map; the classification of pieces is shared, and
// isIPv4 is held to refIsIPv4 separately. The tokenizer must always agree with it.
func referenceTokenize(text string) []string {
	t := tokenizer{}
	for _, piece := range strings.FieldsFunc(text, isSeparator) {
		piece = strings.TrimRight(piece, ".:-~")
		piece = strings.TrimLeft(piece, ".:~")
		piece = strings.Map(func(r rune) rune {
			if isTermChar(r) {
				return unicode.ToLower(r)
			}
			return -1
		}, piece)
		if piece != "" {
			t.classify(piece)
		}
	}
	return t.out
}

// refIsIPv4 is isIPv4 written plainly.
func refIsIPv4(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		if i := strings.IndexAny(s, "/:"); i > 0 && refIsIPv4(s[:i]) && isDigits(s[i+1:]) {
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

// tokenizeSeeds are texts that exercise every branch of the tokenizer and the ways text can be
// malformed.
var tokenizeSeeds = []string{
	"Seen: T1059.001 and t1078.", "sign-in from 203.0.113.7 (new ASN) 10.0.0.0/8 10.1.2.3:443 1.2.3 1.2.3.4.5",
	`C:\Windows\System32\rundll32.exe spawned`, "powershell.exe -nop -enc SQBFAFgA", "cmd.exe /c whoami",
	"hash E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855.", "mail Jesse.Brown@Example.com",
	"NSG rule 'allow-any-3389' added", "hxxp://203.0.113.9:8080/payload.ps1", "Ünïcode Wörter ǅ K Å ſ",
	"e.g. the of and", "\xff\xfe broken \xc3 utf-8", "tab\tnew\nline\r\vform\ffeed\u0085next\u00a0nbsp\u2003em",
	"“quoted” ‘single’ «guillemets» a—b a–b", "--output=/tmp/x $env:TEMP %APPDATA% ~/.ssh/id_rsa 100%",
	"...leading trailing... ::colons:: ~tilde~ -dash- _under_", "ALLCAPS MiXeD 123ABC a1b2",
}

func TestTokenizeAgreesWithReference(t *testing.T) {
	c, err := sample.Generate(sample.Config{Threats: 300, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	texts := append([]string(nil), tokenizeSeeds...)
	for _, d := range append(c.Threats, c.Knowledge...) {
		texts = append(texts, DocumentText(&d))
	}
	for _, text := range texts {
		checkIPv4(t, text)
		if diff := cmp.Diff(referenceTokenize(text), Tokenize(text)); diff != "" {
			t.Fatalf("Tokenize(%.200q) (-reference +got):\n%s", text, diff)
		}
	}
}

func FuzzTokenize(f *testing.F) {
	for _, s := range tokenizeSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		checkIPv4(t, text)
		if diff := cmp.Diff(referenceTokenize(text), Tokenize(text)); diff != "" {
			t.Fatalf("Tokenize(%q) (-reference +got):\n%s", text, diff)
		}
	})
}

func checkIPv4(t *testing.T, text string) {
	t.Helper()
	for _, piece := range append(strings.FieldsFunc(text, isSeparator), text) {
		if got, want := isIPv4(piece), refIsIPv4(piece); got != want {
			t.Fatalf("isIPv4(%q) = %t, want %t", piece, got, want)
		}
	}
}
