package eval

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// textGen generates reference texts of remediation-like prose and drafts
// derived from them by the kinds of edits a reviewer makes: replaced,
// dropped and added words, moved phrases, changed case and punctuation.
// It is deterministic for a given seed.
type textGen struct {
	rng   *rand.Rand
	zipf  *rand.Zipf
	vocab []string
}

func newTextGen(seed uint64) *textGen {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	common := strings.Fields(`the a to of and in is for on that with by be this
		it as are or from at an not should update patch version upgrade
		configure disable enable server client access token secret key
		vulnerability attacker request input validate sanitize escape
		library dependency package release fixed affected remote code
		execution injection authentication authorization session cookie
		header policy firewall rule network port service user admin
		privilege least file path directory log monitor alert restrict`)
	syllables := strings.Fields("ra ve to mi sec on al ex pa tri cor den ul is ka fo ne bri st an")
	vocab := append([]string(nil), common...)
	for len(vocab) < 3000 {
		var b strings.Builder
		for range 2 + rng.IntN(3) {
			b.WriteString(syllables[rng.IntN(len(syllables))])
		}
		vocab = append(vocab, b.String())
	}
	return &textGen{
		rng:   rng,
		zipf:  rand.NewZipf(rng, 1.15, 3, uint64(len(vocab)-1)),
		vocab: vocab,
	}
}

func (g *textGen) word() string {
	w := g.vocab[g.zipf.Uint64()]
	switch r := g.rng.IntN(200); {
	case r < 2:
		return fmt.Sprintf("CVE-20%02d-%d", 10+g.rng.IntN(15), 1000+g.rng.IntN(50000))
	case r < 4:
		return fmt.Sprintf("%d.%d.%d", g.rng.IntN(10), g.rng.IntN(30), g.rng.IntN(100))
	}
	return w
}

// reference returns a text of between minWords and maxWords words, split
// into sentences.
func (g *textGen) reference(minWords, maxWords int) []string {
	n := minWords + g.rng.IntN(maxWords-minWords+1)
	words := make([]string, 0, n)
	for len(words) < n {
		sl := min(n-len(words), 6+g.rng.IntN(20))
		for i := range sl {
			w := g.word()
			if i == 0 {
				w = strings.ToUpper(w[:1]) + w[1:]
			}
			if i == sl-1 {
				w += "."
			} else if g.rng.IntN(12) == 0 {
				w += ","
			}
			words = append(words, w)
		}
	}
	return words
}

// draft derives a hypothesis from ref words with reviewer-like edits.
func (g *textGen) draft(ref []string) []string {
	out := make([]string, 0, len(ref)+len(ref)/8)
	for _, w := range ref {
		switch r := g.rng.IntN(100); {
		case r < 7:
			out = append(out, g.word())
		case r < 11:
		case r < 15:
			out = append(out, w, g.word())
		case r < 17:
			out = append(out, strings.ToLower(w))
		default:
			out = append(out, w)
		}
	}
	// Move a few phrases, as a reviewer reordering clauses would.
	for range g.rng.IntN(4) {
		if len(out) < 30 {
			break
		}
		l := 2 + g.rng.IntN(7)
		from := g.rng.IntN(len(out) - l)
		phrase := append([]string(nil), out[from:from+l]...)
		rest := append(append([]string(nil), out[:from]...), out[from+l:]...)
		to := min(len(rest), max(0, from+g.rng.IntN(31)-15))
		out = append(append(rest[:to:to], phrase...), rest[to:]...)
	}
	return out
}

// pairs returns n hypothesis-reference pairs of 200–400-word texts.
func (g *textGen) pairs(n int) (hyps []string, refs [][]string) {
	for range n {
		ref := g.reference(200, 400)
		hyps = append(hyps, strings.Join(g.draft(ref), " "))
		refs = append(refs, []string{strings.Join(ref, " ")})
	}
	return hyps, refs
}

// benchPairs is the corpus size the performance target is stated for.
const benchPairs = 10000

// sink keeps the compiler from discarding benchmark results.
var sink float64

// BenchmarkMetrics scores 10,000 generated pairs of 200–400-word texts
// with each metric through CorpusScore, one corpus per iteration, and
// reports the time per pair.
func BenchmarkMetrics(b *testing.B) {
	hyps, segRefs := newTextGen(1).pairs(benchPairs)
	stream := make([]string, len(segRefs))
	for i, r := range segRefs {
		stream[i] = r[0]
	}
	refs := [][]string{stream}
	for _, metric := range MetricNames() {
		b.Run(metric, func(b *testing.B) {
			start := time.Now()
			for b.Loop() {
				s, err := CorpusScore(metric, hyps, refs)
				if err != nil {
					b.Fatal(err)
				}
				sink += s
			}
			b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(b.N*len(hyps)), "ns/pair")
		})
	}
}
