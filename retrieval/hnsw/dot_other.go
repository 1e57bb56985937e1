//go:build !amd64 || purego

package hnsw

func dot(a, b []float32) float32 { return dotGeneric(a, b) }

func dotInt8(q []float32, c []int8) float32 { return dotInt8Generic(q, c) }

// Prefetch asks the processor to start bringing c into its caches; without the assembly kernels
// it does nothing.
func Prefetch(c []int8) {}
