package hnsw

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestQuantize(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 1))
	for _, n := range []int{1, 7, 8, 33, 384} {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
		c := make([]int8, n)
		scale := Quantize(c, v)
		if !(scale > 0) {
			t.Fatalf("scale of a nonzero vector = %v", scale)
		}
		top := false
		for i := range v {
			if d := math.Abs(float64(v[i]) - float64(scale)*float64(c[i])); d > float64(scale)/2*(1+1e-6) {
				t.Errorf("n=%d: value %d quantized with error %v, more than scale/2 = %v", n, i, d, scale/2)
			}
			top = top || c[i] == 127 || c[i] == -127
		}
		if !top {
			t.Errorf("n=%d: no value uses the full range", n)
		}
	}
	c := []int8{1, 2, 3}
	if s := Quantize(c, make([]float32, 3)); s != 0 || c[0] != 0 || c[1] != 0 || c[2] != 0 {
		t.Errorf("zero vector: scale %v, bytes %v; want 0 and zeros", s, c)
	}
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
		if s := Quantize(c, []float32{1, bad, 0.5}); s == s {
			t.Errorf("vector with %v: scale %v, want NaN", bad, s)
		}
	}
}

// TestQuantBound holds the quantized score to within its bound of the exact one, for random
// vectors and for vectors built to make the error as large as it can be: every value half a step
// from the grid, with the query's signs matching the errors'.
func TestQuantBound(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 2))
	check := func(name string, q, v []float32) {
		t.Helper()
		c := make([]int8, len(v))
		scale := Quantize(c, v)
		exact := Dot(q, v)
		for kernel, got := range map[string]float32{"DotInt8": scale * DotInt8(q, c), "dotInt8Generic": scale * dotInt8Generic(q, c)} {
			if err, bound := math.Abs(float64(got-exact)), float64(scale*QuantBound(q)); err > bound {
				t.Errorf("%s, %s: quantized score %v, exact %v: error %v beyond bound %v", name, kernel, got, exact, err, bound)
			}
		}
	}
	for i := range 2000 {
		n := []int{5, 64, 383, 384, 385}[i%5]
		q, v := make([]float32, n), make([]float32, n)
		for j := range q {
			q[j], v[j] = float32(r.NormFloat64()), float32(r.NormFloat64())
		}
		check("random", q, v)
	}
	// Worst case: v's largest value sets the scale to 1/127; the rest lie halfway between two
	// steps, and q has the sign of each rounding error.
	for _, n := range []int{8, 384} {
		q, v := make([]float32, n), make([]float32, n)
		v[0] = 1
		for j := 1; j < n; j++ {
			v[j] = (float32(j%100) + 0.4999) / 127
			q[j] = -1 // rounding goes up by almost half a step: the error is negative
		}
		check("worst case", q, v)
	}
}

func TestDotInt8(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 3))
	for _, n := range append(seqInts(70), 383, 384, 385, 1536) {
		q, c := make([]float32, n), make([]int8, n+3)
		for i := range q {
			q[i] = r.Float32()*2 - 1
		}
		for i := range c {
			c[i] = int8(r.IntN(255) - 127)
		}
		var want float64
		for i := range q {
			want += float64(q[i]) * float64(c[i])
		}
		for name, f := range map[string]func([]float32, []int8) float32{"DotInt8": DotInt8, "dotInt8Generic": dotInt8Generic} {
			if got := f(q, c[:n]); abs(float64(got)-want) > 1e-4*127*float64(n+1) {
				t.Errorf("%s of %d values = %v, want %v", name, n, got, want)
			}
		}
		if got, want := DotInt8(q, c), DotInt8(q, c[:n]); got != want {
			t.Errorf("DotInt8 with a longer c = %v, want %v", got, want)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("DotInt8 with a shorter c did not panic")
		}
	}()
	DotInt8(make([]float32, 4), make([]int8, 3))
}

// TestPrefetch calls Prefetch, a hint without a visible effect, on slices of every length up to
// a few cache lines, nil included, which must neither fault nor change them.
func TestPrefetch(t *testing.T) {
	t.Parallel()
	Prefetch(nil)
	buf := make([]int8, 300)
	for i := range buf {
		buf[i] = int8(i)
	}
	for n := range len(buf) {
		Prefetch(buf[:n])
	}
	for i := range buf {
		if buf[i] != int8(i) {
			t.Fatalf("Prefetch changed byte %d", i)
		}
	}
}

func TestVector(t *testing.T) {
	t.Parallel()
	x := New(3, Options{})
	x.Add(7, []float32{0.6, 0.8, 0})
	got, ok := x.Vector([]float32{9}, 7)
	if !ok || len(got) != 4 || got[0] != 9 || got[1] != 0.6 || got[2] != 0.8 || got[3] != 0 {
		t.Errorf("Vector(7) = %v, %v; want [9 0.6 0.8 0], true", got, ok)
	}
	if _, ok := x.Vector(nil, 8); ok {
		t.Error("Vector of an id never added reported true")
	}
	x.Delete(7)
	if _, ok := x.Vector(nil, 7); ok {
		t.Error("Vector of a deleted id reported true")
	}
}
