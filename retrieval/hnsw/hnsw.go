// Package hnsw is an approximate nearest-neighbour index over L2-normalised float32 vectors
// compared by dot product (cosine similarity): a Hierarchical Navigable Small World graph
// (Malkov and Yashunin, 2016), kept in memory and persisted with WriteTo and ReadFrom.
//
// Vectors are stored once, in one flat slice; the graph is fixed-stride uint32 neighbour lists.
// At one million 384-dimensional vectors the whole index takes about 1.1 times the memory of
// the raw vectors.
//
// Deleting or replacing a vector leaves a tombstone: it is never returned, but the graph keeps
// routing through it, so deletions do not cut paths between the vectors that remain. Tombstones
// cost memory and search time; rebuild the index when Deleted grows large compared with Len.
//
// All methods are safe for concurrent use. Searches share a read lock and run in parallel;
// writes take the write lock one at a time, and AddBatch releases it every 1024 vectors so that
// searches are not held up for a whole bulk load.
package hnsw

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
)

// Default values of Options.
const (
	DefaultM              = 16
	DefaultEfConstruction = 200
	// DefaultEfSearch reaches recall@10 0.986 on a million clustered 384-dimensional vectors
	// (0.948 at 64) in 0.7 ms.
	DefaultEfSearch = 96
)

const (
	// maxM bounds M so that neighbour counts fit a byte in the file format.
	maxM = 127
	// maxLevel bounds the layers of a vector. With M = 2, the smallest allowed, a level above
	// 31 has a probability below 1e-9 per vector; clamping it costs nothing measurable.
	maxLevel = 31
	// maxDim bounds the dimension accepted by New and ReadFrom.
	maxDim = 1 << 16
	// pageBits sizes the pages of the id-to-slot table: ids are dense-ish, so a page of 4096
	// slots is usually full, while a sparse id costs one page rather than a table up to it.
	pageBits = 12
	pageSize = 1 << pageBits
	// batchChunk is how many vectors AddBatch inserts per hold of the write lock, so that
	// searches wait for at most one chunk (a fraction of a second) during a bulk load.
	batchChunk = 1024
)

// Options tunes an Index. The zero value gives the defaults.
type Options struct {
	// M is how many neighbours a vector is linked to when inserted, and the most it keeps on
	// each layer above the bottom one; the bottom layer keeps up to 2M. A larger M gives better
	// recall at a given search effort, slower insertion, and costs 8 bytes per vector per unit.
	// Zero means DefaultM; otherwise it must be between 2 and 127.
	M int
	// EfConstruction is the width of the search that finds a new vector's neighbours. Larger
	// builds a better graph, more slowly. Zero means DefaultEfConstruction.
	EfConstruction int
	// EfSearch is the search width Search uses when its ef argument is zero or negative.
	// Zero means DefaultEfSearch.
	EfSearch int
	// Seed seeds the random draw of each vector's top layer. The same Options, including the
	// seed, and the same sequence of Add, AddBatch (with Workers = 1) and Delete calls build the
	// same graph and the same WriteTo bytes. Zero is a seed like any other.
	Seed uint64
	// Workers is how many goroutines AddBatch inserts with. Zero means runtime.GOMAXPROCS(0).
	// With more than one the graph depends on scheduling, so it is not reproducible; its
	// quality is the same.
	Workers int
}

// Result is one vector found by a search.
type Result struct {
	ID uint32
	// Score is the dot product of the query and the vector: the cosine similarity when both
	// are normalised. Higher is closer.
	Score float32
}

// Index is an HNSW index. Create one with New, or load one with ReadFrom into a zero Index. A
// zero Index has no dimension: ReadFrom is the only method that may be called on it.
type Index struct {
	mu sync.RWMutex

	dim            int
	m, m0          int
	efConstruction int
	efSearch       int
	workers        int
	ml             float64   // level multiplier, 1/ln(M)
	rng            *rand.PCG // draws levels; its state is persisted

	// Each vector lives in a slot. Slots are numbered in insertion order and never reused: a
	// replaced or deleted vector keeps its slot as a tombstone.
	vecs    []float32 // slot s at [s*dim, (s+1)*dim)
	ids     []uint32  // caller's id of each slot
	levels  []uint8   // top layer of each slot
	dead    []bool    // tombstones
	links0  []uint32  // layer 0 of slot s at [s*(m0+1)]: a count, then up to m0 slots
	upperAt []uint32  // where slot s's layer 1 list starts in upper, when levels[s] > 0
	upper   []uint32  // layers 1..levels[s], each a count then up to m slots
	idSlot  [][]uint32
	live    int

	entry    uint32 // slot searches start from
	top      int    // its level
	hasEntry bool

	searchers sync.Pool // of *searcher
}

// New returns an empty index of dim-dimensional vectors. It panics if dim is below 1 or above
// 65536, or if an option is negative or M is out of range, because those are programming
// errors.
func New(dim int, opts Options) *Index {
	if dim < 1 || dim > maxDim {
		panic(fmt.Sprintf("hnsw: dimension %d is not between 1 and %d", dim, maxDim))
	}
	if opts.M < 0 || opts.EfConstruction < 0 || opts.EfSearch < 0 || opts.Workers < 0 {
		panic("hnsw: negative option")
	}
	if opts.M == 1 || opts.M > maxM {
		panic(fmt.Sprintf("hnsw: M %d is not between 2 and %d", opts.M, maxM))
	}
	x := &Index{dim: dim}
	x.configure(cmpOr(opts.M, DefaultM), cmpOr(opts.EfConstruction, DefaultEfConstruction), cmpOr(opts.EfSearch, DefaultEfSearch))
	x.workers = opts.Workers
	x.rng = rand.NewPCG(opts.Seed, 0x9e3779b97f4a7c15)
	return x
}

func cmpOr(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func (x *Index) configure(m, efc, efs int) {
	x.m, x.m0 = m, 2*m
	x.efConstruction, x.efSearch = efc, efs
	x.ml = 1 / math.Log(float64(m))
}

// Dim returns the dimension of the index's vectors; zero for a zero Index.
func (x *Index) Dim() int { return x.dim }

// Len returns how many ids the index holds, tombstones excluded.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.live
}

// Deleted returns how many tombstones the index holds: vectors deleted or replaced since it was
// built. They still take memory and search time; rebuilding from the live vectors drops them.
func (x *Index) Deleted() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.ids) - x.live
}

// Contains reports whether id is in the index.
func (x *Index) Contains(id uint32) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	_, ok := x.slotOf(id)
	return ok
}

// Vector appends id's vector to dst and reports whether id is in the index.
func (x *Index) Vector(dst []float32, id uint32) ([]float32, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	s, ok := x.slotOf(id)
	if !ok {
		return dst, false
	}
	return append(dst, x.vec(s)...), true
}

// IDs returns the ids the index holds, tombstones excluded, in the order they were added.
func (x *Index) IDs() []uint32 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	out := make([]uint32, 0, x.live)
	for s, id := range x.ids {
		if !x.dead[s] {
			out = append(out, id)
		}
	}
	return out
}

// Grow makes room for n more vectors, so that a caller who knows how many it will add pays for
// one allocation of the exact size instead of repeated doubling. AddBatch grows by itself.
func (x *Index) Grow(n int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.grow(n)
}

func (x *Index) grow(n int) {
	if n <= 0 {
		return
	}
	x.vecs = slices.Grow(x.vecs, n*x.dim)
	x.ids = slices.Grow(x.ids, n)
	x.levels = slices.Grow(x.levels, n)
	x.dead = slices.Grow(x.dead, n)
	x.upperAt = slices.Grow(x.upperAt, n)
	x.links0 = slices.Grow(x.links0, n*(x.m0+1))
}

// Add inserts vec under id, replacing the vector id had: the old one becomes a tombstone. vec
// must be L2-normalised (scores are dot products) and is copied. Add panics if len(vec) is not
// Dim().
func (x *Index) Add(id uint32, vec []float32) {
	x.checkDim(len(vec), "Add")
	x.mu.Lock()
	defer x.mu.Unlock()
	s := x.place(id, vec)
	sc := x.searcher()
	x.insert(s, sc, nil)
	x.searchers.Put(sc)
}

// AddBatch adds ids[i] with the vector vecs[i*Dim():(i+1)*Dim()], as Add would one after the
// other, but inserting with Options.Workers goroutines. If an id appears twice, the later
// vector wins. It panics if len(vecs) is not len(ids)*Dim().
func (x *Index) AddBatch(ids []uint32, vecs []float32) {
	if len(vecs) != len(ids)*x.dim {
		panic(fmt.Sprintf("hnsw: AddBatch of %d ids with %d values, want %d", len(ids), len(vecs), len(ids)*x.dim))
	}
	if len(ids) == 0 {
		return
	}
	x.mu.Lock()
	x.grow(len(ids))
	workers := x.workers
	x.mu.Unlock()
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	var b *builder
	if workers > 1 {
		b = new(builder)
	}
	for lo := 0; lo < len(ids); lo += batchChunk {
		hi := min(lo+batchChunk, len(ids))
		x.mu.Lock()
		first := uint32(len(x.ids))
		for i := lo; i < hi; i++ {
			x.place(ids[i], vecs[i*x.dim:(i+1)*x.dim])
		}
		x.insertSlots(first, uint32(len(x.ids)), workers, b)
		x.mu.Unlock()
	}
}

// Delete removes id, leaving a tombstone, and reports whether it was there.
func (x *Index) Delete(id uint32) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	s, ok := x.slotOf(id)
	if !ok {
		return false
	}
	x.dead[s] = true
	x.setSlot(id, 0)
	x.live--
	return true
}

func (x *Index) checkDim(n int, op string) {
	if n != x.dim {
		panic(fmt.Sprintf("hnsw: %s of a %d-dimensional vector into a %d-dimensional index", op, n, x.dim))
	}
}

// slotOf returns the live slot of id.
func (x *Index) slotOf(id uint32) (uint32, bool) {
	p := int(id >> pageBits)
	if p >= len(x.idSlot) || x.idSlot[p] == nil {
		return 0, false
	}
	s := x.idSlot[p][id&(pageSize-1)]
	return s - 1, s != 0
}

// setSlot records plus1, a slot plus one, for id; zero removes id.
func (x *Index) setSlot(id, plus1 uint32) {
	p := int(id >> pageBits)
	if p >= len(x.idSlot) {
		if plus1 == 0 {
			return
		}
		x.idSlot = append(x.idSlot, make([][]uint32, p+1-len(x.idSlot))...)
	}
	if x.idSlot[p] == nil {
		if plus1 == 0 {
			return
		}
		x.idSlot[p] = make([]uint32, pageSize)
	}
	x.idSlot[p][id&(pageSize-1)] = plus1
}

// place gives id a new slot holding a copy of vec, with no links yet, and tombstones the slot it
// had.
func (x *Index) place(id uint32, vec []float32) uint32 {
	if old, ok := x.slotOf(id); ok {
		x.dead[old] = true
		x.live--
	}
	s := uint32(len(x.ids))
	level := x.drawLevel()
	x.vecs = append(x.vecs, vec...)
	x.ids = append(x.ids, id)
	x.levels = append(x.levels, uint8(level))
	x.dead = append(x.dead, false)
	x.links0 = append(x.links0, make([]uint32, x.m0+1)...)
	if level > 0 {
		x.upperAt = append(x.upperAt, uint32(len(x.upper)))
		x.upper = append(x.upper, make([]uint32, level*(x.m+1))...)
	} else {
		x.upperAt = append(x.upperAt, 0)
	}
	x.setSlot(id, s+1)
	x.live++
	return s
}

// drawLevel draws a top layer from the exponential distribution of the paper, so that each layer
// holds about 1/M of the vectors of the layer below.
func (x *Index) drawLevel() int {
	u := 1 - float64(x.rng.Uint64()>>11)/(1<<53) // in (0, 1]
	return min(int(-math.Log(u)*x.ml), maxLevel)
}

func (x *Index) vec(s uint32) []float32 {
	o := int(s) * x.dim
	return x.vecs[o : o+x.dim : o+x.dim]
}

// list returns slot s's neighbour list on layer l: a count followed by room for the maximum.
func (x *Index) list(s uint32, l int) []uint32 {
	if l == 0 {
		o := int(s) * (x.m0 + 1)
		return x.links0[o : o+x.m0+1 : o+x.m0+1]
	}
	o := int(x.upperAt[s]) + (l-1)*(x.m+1)
	return x.upper[o : o+x.m+1 : o+x.m+1]
}

func (x *Index) maxLinks(l int) int {
	if l == 0 {
		return x.m0
	}
	return x.m
}
