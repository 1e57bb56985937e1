package eval

import (
	"slices"
	"testing"
)

// TestPyLower pins Python 3's str.lower on the cases where it differs from
// Go's strings.ToLower. The expected values were printed by CPython 3.11.
func TestPyLower(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"ΟΔΟΣ ΣΟΦΟΣ.", "οδος σοφος."},
		{"ΣΑ", "σα"},
		{"Σ", "σ"},
		{"AΣ'Β", "aσ'β"},
		{"İstanbul", "i\u0307stanbul"},
		{"KELVIN \u212a", "kelvin k"},
		{"ß ǅ Ꭰ", "ß ǆ ꭰ"},
		{"a\u00adΣ", "a\u00adς"},
		{"ΑΣ\u0301 x", "ας\u0301 x"},
		{"Plain ASCII", "plain ascii"},
	} {
		if got := pyLower(c.in); got != c.want {
			t.Errorf("pyLower(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestPyFields pins Python's str.split(): the ASCII separators 0x1C–0x1F
// split, the zero-width space does not.
func TestPyFields(t *testing.T) {
	got := pyFields("a\x1cb\x1dc\u2028d\u00a0e\u200bf g\u3000h")
	want := []string{"a", "b", "c", "d", "e\u200bf", "g", "h"}
	if !slices.Equal(got, want) {
		t.Errorf("pyFields = %q, want %q", got, want)
	}
}
