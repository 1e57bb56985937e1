//go:build !purego

package hnsw

// hasAVX2FMA reports whether the processor has AVX2 and FMA and the operating system saves the
// YMM registers on a context switch; all three are needed for dotAVX2.
var hasAVX2FMA = detectAVX2FMA()

func detectAVX2FMA() bool {
	maxLeaf, _, _, _ := cpuid(0, 0)
	if maxLeaf < 7 {
		return false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const fma, osxsave, avx = 1 << 12, 1 << 27, 1 << 28
	if ecx1&(fma|osxsave|avx) != fma|osxsave|avx {
		return false
	}
	if xcr0, _ := xgetbv(); xcr0&6 != 6 { // XMM and YMM state enabled by the OS
		return false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	return ebx7&(1<<5) != 0
}

func dot(a, b []float32) float32 {
	if hasAVX2FMA {
		return dotAVX2(a, b)
	}
	return dotGeneric(a, b)
}

func dotInt8(q []float32, c []int8) float32 {
	if hasAVX2FMA {
		return dotInt8AVX2(q, c)
	}
	return dotInt8Generic(q, c)
}

// dotInt8AVX2 requires len(c) >= len(q).
//
//go:noescape
func dotInt8AVX2(q []float32, c []int8) float32

// dotAVX2 requires len(b) >= len(a).
//
//go:noescape
func dotAVX2(a, b []float32) float32

func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)

func xgetbv() (eax, edx uint32)

// Prefetch asks the processor to start bringing c into its caches, so that a scan over vectors
// scattered in memory can work on one while the next arrives.
func Prefetch(c []int8) { prefetchInt8(c) }

//go:noescape
func prefetchInt8(c []int8)
