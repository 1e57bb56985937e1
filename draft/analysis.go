package draft

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/retrieval"
)

// analysis is what drafting needs of a source document, worked out once: its text, its terms
// (for support scores), its indicators (to adapt its guidance) and whether it reads like
// instructions to a model. Regular expressions and tokenising over whole documents were most of a
// draft's time.
type analysis struct {
	text         string
	terms        retrieval.TermSet
	indicators   []indicator
	instructions bool
}

// analysisCacheSize bounds the memo; it is emptied when full.
const analysisCacheSize = 4096

// analyzer memoises analyses by document. Stores hand out documents that nobody modifies (the
// embedded store shares decoded documents between searches), so a document's pointer identifies
// its content; a store that decodes afresh each time only misses the memo. A Drafter keeps one for
// its lifetime; the zero value is ready to use.
type analyzer struct {
	mu sync.Mutex
	m  map[*hindsight.Document]*analysis
}

func (an *analyzer) analyze(d *hindsight.Document) *analysis {
	an.mu.Lock()
	a := an.m[d]
	an.mu.Unlock()
	if a != nil {
		return a
	}
	text := retrieval.DocumentText(d)
	a = &analysis{text: text, terms: retrieval.NewTermSet(text), instructions: LooksLikeInstructions(text)}
	if d.Kind == hindsight.KindThreat {
		a.indicators = indicators(text)
	}
	an.mu.Lock()
	if an.m == nil || len(an.m) >= analysisCacheSize {
		an.m = map[*hindsight.Document]*analysis{}
	}
	an.m[d] = a
	an.mu.Unlock()
	return a
}

// analyzeAll analyses the sources of hits that are not memoised yet, on as many goroutines as
// there are processors, so that a draft waits for its slowest source rather than for all of them
// in turn.
func (an *analyzer) analyzeAll(hits []hindsight.Hit) {
	var todo []*hindsight.Document
	an.mu.Lock()
	for _, h := range hits {
		if h.Document != nil && an.m[h.Document] == nil {
			todo = append(todo, h.Document)
		}
	}
	an.mu.Unlock()
	workers := min(len(todo), runtime.GOMAXPROCS(0))
	if workers < 2 {
		return // compose analyses the one or none left as it goes
	}
	var next atomic.Int32
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < len(todo); i = int(next.Add(1)) - 1 {
				an.analyze(todo[i])
			}
		}()
	}
	wg.Wait()
}
