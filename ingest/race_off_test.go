//go:build !race

package ingest_test

// raceDetector says whether the race detector is on: it slows the CPU-bound stages several
// times over, so timing assertions are left out under it.
const raceDetector = false
