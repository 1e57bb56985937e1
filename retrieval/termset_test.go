package retrieval_test

import (
	"testing"

	"github.com/hindsightsec/hindsight/retrieval"
)

func TestTermSet(t *testing.T) {
	a := retrieval.NewTermSet("Revoke the sessions; revoked sessions, rundll32.exe")
	b := retrieval.NewTermSet("rundll32.exe beacon sessions")
	// a: revok, session, rundll32.exe, rundll32; b: rundll32.exe, rundll32, beacon, session.
	if len(a) != 4 || len(b) != 4 {
		t.Fatalf("sets of %d and %d terms, want 4 and 4", len(a), len(b))
	}
	if got := retrieval.Dice(a, b); got != 0.75 {
		t.Errorf("Dice = %v, want 0.75", got)
	}
	for _, h := range b {
		if !b.Has(h) {
			t.Errorf("b lacks its own term %x", h)
		}
	}
	if n := countHas(a, b); n != 3 {
		t.Errorf("a has %d of b's terms, want 3", n)
	}
	if retrieval.Dice(a, nil) != 0 || retrieval.Dice(nil, nil) != 0 {
		t.Error("Dice with an empty set is not 0")
	}
}

func countHas(s, of retrieval.TermSet) int {
	n := 0
	for _, h := range of {
		if s.Has(h) {
			n++
		}
	}
	return n
}
