package main

import (
	"math"
	"slices"
	"time"
)

func sortDurations(d []time.Duration) { slices.Sort(d) }

// pct returns the p-th percentile (0..100) of sorted, nearest rank; 0 for
// none.
func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// median returns the median of xs (the mean of the middle two for an even
// count), NaN for none. xs is not modified.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

func medianInt(xs []int64) int64 {
	f := make([]float64, len(xs))
	for i, x := range xs {
		f[i] = float64(x)
	}
	return int64(median(f))
}

func maxInt(xs []int64) int64 {
	if len(xs) == 0 {
		return 0
	}
	return slices.Max(xs)
}

// series collects one value per run under each key, so that every figure
// can be reported as the median over runs.
type series map[string][]float64

func (s series) add(key string, v float64) { s[key] = append(s[key], v) }

// med is the median over runs of key; NaN when it was never measured.
func (s series) med(key string) float64 { return median(s[key]) }

// us converts a duration to microseconds.
func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// span returns the smallest and largest value of key over runs; NaN when
// it was never measured.
func (s series) span(key string) (lo, hi float64) {
	v := s[key]
	if len(v) == 0 {
		return math.NaN(), math.NaN()
	}
	return slices.Min(v), slices.Max(v)
}
