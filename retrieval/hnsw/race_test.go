//go:build race

package hnsw

// raceEnabled shrinks the data of tests that build large indexes: the race detector makes
// insertion about twenty times slower.
const raceEnabled = true
