package eval

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"unicode/utf8"
)

// MetricNames returns the metric names CorpusScore accepts, in the order a
// command line should list them.
func MetricNames() []string {
	return []string{"ter", "chrf", "chrf++", "bleu", "rouge-l"}
}

// CorpusScore scores hypotheses against reference streams with one metric
// at its reference implementation's defaults, on the 0–100 scale:
//
//   - "ter": sacrebleu TER (lower is better);
//   - "chrf": sacrebleu chrF2 (character 6-grams);
//   - "chrf++": sacrebleu chrF2++ (character 6-grams and word bigrams);
//   - "bleu": sacrebleu corpus BLEU (13a tokenizer, exponential smoothing);
//   - "rouge-l": the mean over segments of rouge-score's ROUGE-L F-measure
//     × 100, without stemming, taking for each segment the reference with
//     the highest F-measure as rouge-score's score_multi does.
//
// refs[j] is the j-th reference stream: refs[j][i] is a reference of
// hyps[i]. Every stream must be as long as hyps, there must be at least one
// hypothesis and one stream, and all text must be valid UTF-8. An empty
// reference line is scored as an empty reference, as sacrebleu does.
func CorpusScore(metric string, hyps []string, refs [][]string) (float64, error) {
	if len(hyps) == 0 {
		return 0, errors.New("no hypotheses to score")
	}
	if len(refs) == 0 {
		return 0, errors.New("no reference streams")
	}
	for j, stream := range refs {
		if len(stream) != len(hyps) {
			return 0, fmt.Errorf("reference %d has %d lines, hypotheses have %d", j+1, len(stream), len(hyps))
		}
	}
	// The reference implementations read their inputs as strict UTF-8;
	// Go would silently read invalid bytes as U+FFFD instead.
	for i, h := range hyps {
		if !utf8.ValidString(h) {
			return 0, fmt.Errorf("hypothesis %d is not valid UTF-8", i+1)
		}
	}
	for j, stream := range refs {
		for i, r := range stream {
			if !utf8.ValidString(r) {
				return 0, fmt.Errorf("reference %d, line %d is not valid UTF-8", j+1, i+1)
			}
		}
	}
	segRefs := make([][]string, len(hyps))
	for i := range hyps {
		segRefs[i] = make([]string, len(refs))
		for j := range refs {
			segRefs[i][j] = refs[j][i]
		}
	}
	switch metric {
	case "ter":
		s, err := CorpusTER(hyps, segRefs, TERConfig{})
		return s.Score, err
	case "chrf":
		return CorpusChrF(hyps, segRefs, ChrFConfig{})
	case "chrf++":
		return CorpusChrF(hyps, segRefs, ChrFConfig{WordOrder: 2})
	case "bleu":
		s, err := CorpusBLEU(hyps, segRefs, BLEUConfig{})
		return s.Score, err
	case "rouge-l":
		return CorpusRougeL(hyps, segRefs, RougeConfig{})
	}
	return 0, fmt.Errorf("unknown metric %q (known: ter, chrf, chrf++, bleu, rouge-l)", metric)
}

// checkSegments validates the per-segment layout the metric functions take:
// refs[i] holds the references of hypothesis i.
func checkSegments(numHyps int, refs [][]string) error {
	if len(refs) != numHyps {
		return fmt.Errorf("%d hypotheses but references for %d segments", numHyps, len(refs))
	}
	for i, r := range refs {
		if len(r) == 0 {
			return fmt.Errorf("segment %d has no reference", i+1)
		}
	}
	return nil
}

// parallelSegments calls a worker's function for every index in [0, n),
// spreading indexes over at most GOMAXPROCS goroutines. newWorker runs once
// per goroutine, so each can own its scratch buffers. Each index is
// visited exactly once; callers write results by index and combine them in
// order afterwards, which keeps sums independent of scheduling.
func parallelSegments(n int, newWorker func() func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	// Small inputs are not worth a goroutine.
	if workers <= 1 || n < 8 {
		f := newWorker()
		for i := range n {
			f(i)
		}
		return
	}
	const chunk = 16
	var mu sync.Mutex
	next := 0
	take := func() (int, int) {
		mu.Lock()
		defer mu.Unlock()
		lo := next
		next = min(n, next+chunk)
		return lo, next
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := newWorker()
			for {
				lo, hi := take()
				if lo >= hi {
					return
				}
				for i := lo; i < hi; i++ {
					f(i)
				}
			}
		}()
	}
	wg.Wait()
}
