package hnsw

import "math"

// Quantized vectors: one signed byte per dimension and a scale per vector. A quantized vector
// takes a quarter of the memory of its float32 one, so a scan that must read thousands of
// vectors scattered over a large index (a filtered exact search) reads a quarter of the bytes,
// and memory, not arithmetic, is what such a scan waits on. Scores of quantized vectors are
// approximate with a known bound (QuantBound), so an exact answer can be had by rescoring only
// the vectors the bound leaves in doubt.

// Quantize writes v quantized into dst, which must be as long as v, and returns the scale:
// v[i] ≈ scale·dst[i], with an error of at most scale/2 in each dimension. A zero vector has scale
// 0; a vector with a value that is not finite has scale NaN, which marks it as not scoreable.
func Quantize(dst []int8, v []float32) float32 {
	dst = dst[:len(v)]
	var m float32
	for _, x := range v {
		if x < 0 {
			x = -x
		}
		if !(x <= math.MaxFloat32) { // NaN or infinite
			clear(dst)
			return float32(math.NaN())
		}
		m = max(m, x)
	}
	if m == 0 {
		clear(dst)
		return 0
	}
	scale := m / 127
	for i, x := range v {
		// Rounded half away from zero, as math.Round; |x/scale| ≤ 127.
		q := x / scale
		if q < 0 {
			dst[i] = -int8(min(127, -q+0.5))
		} else {
			dst[i] = int8(min(127, q+0.5))
		}
	}
	return scale
}

// DotInt8 returns the dot product of q with the quantized vector c, unscaled: multiplied by c's
// scale it approximates q·v for the vector v that c quantizes. It panics if c is shorter than q.
func DotInt8(q []float32, c []int8) float32 {
	if len(c) < len(q) {
		panic("hnsw: DotInt8 with c shorter than q")
	}
	return dotInt8(q, c[:len(q)])
}

// QuantBound returns, for a query q, the factor f such that scale·DotInt8(q, c) is within
// scale·f of Dot(q, v) for any vector v that Quantize turned into c with that scale. The
// quantization error is at most scale/2 per dimension, so at most scale/2·‖q‖₁ in all; the
// rest covers the rounding of both sums in float32 (n terms of at most 127·scale·|qᵢ| each).
func QuantBound(q []float32) float32 {
	var l1 float64
	for _, x := range q {
		l1 += math.Abs(float64(x))
	}
	const u = 1.0 / (1 << 23) // float32's unit roundoff, doubled for headroom
	return float32(l1 * (0.5 + 2*127*float64(len(q)+2)*u))
}

// dotInt8Generic is the portable kernel, with eight accumulators as dotGeneric.
func dotInt8Generic(q []float32, c []int8) float32 {
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	c = c[:len(q)]
	for len(q) >= 8 {
		qq, cc := q[:8:8], c[:8:8]
		s0 += qq[0] * float32(cc[0])
		s1 += qq[1] * float32(cc[1])
		s2 += qq[2] * float32(cc[2])
		s3 += qq[3] * float32(cc[3])
		s4 += qq[4] * float32(cc[4])
		s5 += qq[5] * float32(cc[5])
		s6 += qq[6] * float32(cc[6])
		s7 += qq[7] * float32(cc[7])
		q, c = q[8:], c[8:]
	}
	for i := range q {
		s0 += q[i] * float32(c[i])
	}
	return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
}
