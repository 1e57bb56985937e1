package hnsw

// Dot returns the dot product of a and b, which is their cosine similarity when both are
// L2-normalised. It panics if b is shorter than a. On amd64 processors with AVX2 and FMA it runs
// a vector kernel, about eight times faster than the portable loop at 384 dimensions (15 ns
// against 116 ns in BenchmarkDot); the two can differ in the last bits because they add in a
// different order. Build with the purego tag to use the portable loop everywhere.
func Dot(a, b []float32) float32 {
	if len(b) < len(a) {
		panic("hnsw: Dot with b shorter than a")
	}
	return dot(a, b[:len(a)])
}

// dotGeneric is the portable kernel. Eight independent accumulators let the processor overlap
// the additions, which otherwise wait on each other; re-slicing by eight lets the compiler drop
// all but one bounds check per block.
func dotGeneric(a, b []float32) float32 {
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	b = b[:len(a)]
	for len(a) >= 8 {
		aa, bb := a[:8:8], b[:8:8]
		s0 += aa[0] * bb[0]
		s1 += aa[1] * bb[1]
		s2 += aa[2] * bb[2]
		s3 += aa[3] * bb[3]
		s4 += aa[4] * bb[4]
		s5 += aa[5] * bb[5]
		s6 += aa[6] * bb[6]
		s7 += aa[7] * bb[7]
		a, b = a[8:], b[8:]
	}
	for i := range a {
		s0 += a[i] * b[i]
	}
	return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
}
