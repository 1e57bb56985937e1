package eval

import (
	"hash/fnv"
	"math"
	"math/rand/v2"
	"sort"
)

// Confidence is the level of every interval eval reports.
const Confidence = 0.95

// DefaultBootstrap is the number of bootstrap resamples when none is asked
// for.
const DefaultBootstrap = 1000

// Stat is a mean with its percentile-bootstrap confidence interval.
type Stat struct {
	// N counts the values the mean is over.
	N    int     `json:"n"`
	Mean float64 `json:"mean"`
	// Lo and Hi bound the Confidence interval of the mean. They equal Mean
	// when there was no resampling (zero resamples, or one value).
	Lo float64 `json:"lo"`
	Hi float64 `json:"hi"`
}

// bootstrapper computes means and their intervals over the rows of a
// table of values (rows × metrics; NaN marks a missing value).
type bootstrapper struct {
	values   [][]float64
	resample int
	seed     uint64
}

// stats returns, for each metric column, the mean over rows and its
// percentile-bootstrap interval: rows are drawn with replacement as many
// times as there are rows, resample times, the mean of each draw is taken
// (over the drawn rows that have the metric), and the interval is the
// (1−Confidence)/2 and (1+Confidence)/2 quantiles of those means, with
// linear interpolation between order statistics as NumPy's percentile
// does. Every metric is resampled with the same draws. The random stream
// is seeded by the seed and the stream name alone, so a group's interval
// does not depend on which other groups are computed, or in what order.
func (b bootstrapper) stats(rows []int, metrics int, stream string) []Stat {
	out := make([]Stat, metrics)
	sums := make([]float64, metrics)
	for _, r := range rows {
		for m, v := range b.values[r] {
			if !math.IsNaN(v) {
				sums[m] += v
				out[m].N++
			}
		}
	}
	for m := range out {
		if out[m].N > 0 {
			out[m].Mean = sums[m] / float64(out[m].N)
		}
		out[m].Lo, out[m].Hi = out[m].Mean, out[m].Mean
	}
	if b.resample <= 0 || len(rows) < 2 {
		return out
	}
	h := fnv.New64a()
	h.Write([]byte(stream))
	rng := rand.New(rand.NewPCG(b.seed, h.Sum64()))
	means := make([][]float64, metrics)
	for m := range means {
		means[m] = make([]float64, 0, b.resample)
	}
	counts := make([]int, metrics)
	n := len(rows)
	for range b.resample {
		clear(sums)
		clear(counts)
		for range n {
			for m, v := range b.values[rows[rng.IntN(n)]] {
				if !math.IsNaN(v) {
					sums[m] += v
					counts[m]++
				}
			}
		}
		for m := range metrics {
			if counts[m] > 0 {
				means[m] = append(means[m], sums[m]/float64(counts[m]))
			}
		}
	}
	alpha := (1 - Confidence) / 2
	for m := range metrics {
		if len(means[m]) == 0 || out[m].N < 2 {
			continue
		}
		sort.Float64s(means[m])
		out[m].Lo = quantile(means[m], alpha)
		out[m].Hi = quantile(means[m], 1-alpha)
	}
	return out
}

// quantile is NumPy's default (linear) percentile of sorted values, q in
// [0, 1].
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 1 {
		return sorted[0]
	}
	pos := q * float64(len(sorted)-1)
	i := int(math.Floor(pos))
	if i >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	f := pos - float64(i)
	return sorted[i] + f*(sorted[i+1]-sorted[i])
}

// BootstrapMean returns the mean of values and its percentile-bootstrap
// Confidence interval from resample resamples, deterministic for a seed.
// NaN values are left out. It is the computation behind every interval of
// a report, for one list of values.
func BootstrapMean(values []float64, resample int, seed uint64) Stat {
	table := make([][]float64, len(values))
	rows := make([]int, len(values))
	for i, v := range values {
		table[i] = []float64{v}
		rows[i] = i
	}
	return bootstrapper{values: table, resample: resample, seed: seed}.stats(rows, 1, "")[0]
}
