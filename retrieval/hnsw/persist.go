package hnsw

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"math"
	"math/rand/v2"
	"os"
)

// The file format, version 1, all integers little-endian:
//
//	magic "hnswidx\n", version uint32
//	dim, M, EfConstruction, EfSearch, slots, live, entry, top: uint32 each
//	level generator state: 20 bytes (rand.PCG's MarshalBinary)
//	ids: slots × uint32
//	levels: slots × uint8
//	tombstones: a bit per slot, ceil(slots/8) bytes, lowest bit first
//	vectors: slots × dim × float32
//	layer 0: slots × uint8 neighbour counts, then all the neighbours, uint32 each
//	upper layers: for each slot in order, for each of its layers 1..level, a uint8 count
//	  then that many uint32 neighbours
//	CRC-32C (Castagnoli) of all the bytes above, uint32
//
// Lists are written without their unused room, and the id-to-slot table is rebuilt on reading.
// Reading checks every count and neighbour against the header as well as the checksum, so that
// a file that was damaged and happens to keep its checksum, or was made by hand, cannot make a
// later search index out of range.
const (
	magic   = "hnswidx\n"
	version = 1
)

// ErrFormat is wrapped by the errors ReadFrom returns for data that is not a whole, valid index
// file: truncated, damaged, or of an unknown version.
var ErrFormat = errors.New("hnsw: not a valid index")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// WriteTo writes the index, vectors and graph, to w, and returns how many bytes it wrote. It
// holds the read lock throughout, so writes to the index wait for it while searches do not.
// It implements io.WriterTo.
func (x *Index) WriteTo(w io.Writer) (int64, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.dim == 0 {
		return 0, errors.New("hnsw: write index: a zero Index has nothing to write")
	}
	cw := &countWriter{w: w}
	crc := crc32.New(castagnoli)
	e := encoder{w: io.MultiWriter(cw, crc), buf: make([]byte, 0, 1<<16)}

	e.bytes([]byte(magic))
	e.u32(version)
	for _, v := range []int{x.dim, x.m, x.efConstruction, x.efSearch, len(x.ids), x.live, int(x.entry), x.top} {
		e.u32(uint32(v))
	}
	state, err := x.rng.MarshalBinary()
	if err != nil {
		return 0, fmt.Errorf("hnsw: save level generator: %w", err)
	}
	e.bytes(state)
	for _, id := range x.ids {
		e.u32(id)
	}
	e.bytes(x.levels)
	bits := make([]byte, (len(x.dead)+7)/8)
	for s, d := range x.dead {
		if d {
			bits[s/8] |= 1 << (s % 8)
		}
	}
	e.bytes(bits)
	for _, v := range x.vecs {
		e.u32(math.Float32bits(v))
	}
	for s := range uint32(len(x.ids)) {
		e.u8(uint8(x.list(s, 0)[0]))
	}
	for s := range uint32(len(x.ids)) {
		list := x.list(s, 0)
		for _, n := range list[1 : 1+list[0]] {
			e.u32(n)
		}
	}
	for s := range uint32(len(x.ids)) {
		for l := 1; l <= int(x.levels[s]); l++ {
			list := x.list(s, l)
			e.u8(uint8(list[0]))
			for _, n := range list[1 : 1+list[0]] {
				e.u32(n)
			}
		}
	}
	e.flush()
	if e.err == nil {
		_, e.err = cw.Write(binary.LittleEndian.AppendUint32(nil, crc.Sum32()))
	}
	if e.err != nil {
		return cw.n, fmt.Errorf("hnsw: write index: %w", e.err)
	}
	return cw.n, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// encoder buffers little-endian values and keeps the first error, so that WriteTo checks once.
// It is its own buffer rather than a bufio.Writer: a method call per byte written would double
// the time to save a million vectors.
type encoder struct {
	w   io.Writer
	buf []byte
	err error
}

func (e *encoder) flush() {
	if e.err == nil && len(e.buf) > 0 {
		_, e.err = e.w.Write(e.buf)
	}
	e.buf = e.buf[:0]
}

func (e *encoder) room(n int) {
	if len(e.buf)+n > cap(e.buf) {
		e.flush()
	}
}

func (e *encoder) bytes(b []byte) {
	for len(b) > 0 {
		e.room(1)
		n := min(len(b), cap(e.buf)-len(e.buf))
		e.buf = append(e.buf, b[:n]...)
		b = b[n:]
	}
}

func (e *encoder) u8(v uint8) {
	e.room(1)
	e.buf = append(e.buf, v)
}

func (e *encoder) u32(v uint32) {
	e.room(4)
	e.buf = binary.LittleEndian.AppendUint32(e.buf, v)
}

// ReadFrom replaces the index with one that WriteTo wrote to r, and returns how many bytes it
// read. Data that is truncated, damaged or of another version gives an error wrapping ErrFormat
// and leaves the index as it was. Options.Workers is kept; everything else comes from r.
//
// When r can tell how much it holds (an *os.File, a *bytes.Reader), sizes are checked against it
// before anything is allocated, and every slice is allocated once at its exact size. From other
// readers, slices grow as data arrives, so a lying header cannot allocate much more than the
// data it comes with, at the cost of some unused capacity. It implements io.ReaderFrom.
func (x *Index) ReadFrom(r io.Reader) (int64, error) {
	d := &decoder{r: r, crc: crc32.New(castagnoli), left: remaining(r)}
	n, err := d.index()
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("%w: truncated after %d bytes", ErrFormat, d.n)
		}
		return d.n, fmt.Errorf("hnsw: read index: %w", err)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.dim, x.m, x.m0, x.efConstruction, x.efSearch, x.ml = n.dim, n.m, n.m0, n.efConstruction, n.efSearch, n.ml
	x.rng = n.rng
	x.vecs, x.ids, x.levels, x.dead = n.vecs, n.ids, n.levels, n.dead
	x.links0, x.upperAt, x.upper, x.idSlot = n.links0, n.upperAt, n.upper, n.idSlot
	x.live, x.entry, x.top, x.hasEntry = n.live, n.entry, n.top, n.hasEntry
	return d.n, nil
}

// remaining returns how many bytes r has left to read, or -1 if it cannot tell.
func remaining(r io.Reader) int64 {
	switch r := r.(type) {
	case interface{ Len() int }: // bytes.Reader, bytes.Buffer, strings.Reader
		return int64(r.Len())
	case *os.File:
		fi, err := r.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			return -1
		}
		at, err := r.Seek(0, io.SeekCurrent)
		if err != nil {
			return -1
		}
		return fi.Size() - at
	}
	return -1
}

// decoder reads little-endian values through a checksum.
type decoder struct {
	r    io.Reader
	crc  hash.Hash32
	n    int64 // bytes read
	left int64 // bytes r held at the start, or -1 if unknown
	buf  []byte
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrFormat, fmt.Sprintf(format, args...))
}

// read returns the next n bytes, valid until the next call.
func (d *decoder) read(n int) ([]byte, error) {
	if cap(d.buf) < n {
		d.buf = make([]byte, n)
	}
	b := d.buf[:n]
	k, err := io.ReadFull(d.r, b)
	d.n += int64(k)
	if err != nil {
		return nil, err
	}
	d.crc.Write(b)
	return b, nil
}

// need fails early if r is known to hold fewer than n more bytes, before the caller allocates
// for them.
func (d *decoder) need(n int64) error {
	if d.left >= 0 && d.n+n > d.left {
		return corrupt("truncated: needs %d more bytes, has %d", n, d.left-d.n)
	}
	return nil
}

// capacity is how much of n values of size bytes each to allocate up front: all of them when
// the reader is known to hold them, otherwise at most a megabyte's worth, grown as they arrive.
func (d *decoder) capacity(n, size int) int {
	if d.left >= 0 {
		return n
	}
	return min(n, (1<<20)/size)
}

const chunk = 1 << 16 // bytes decoded per read

func (d *decoder) uint32s(dst []uint32, n int) ([]uint32, error) {
	for n > 0 {
		c := min(n, chunk/4)
		b, err := d.read(c * 4)
		if err != nil {
			return dst, err
		}
		for i := range c {
			dst = append(dst, binary.LittleEndian.Uint32(b[4*i:]))
		}
		n -= c
	}
	return dst, nil
}

func (d *decoder) float32s(dst []float32, n int) ([]float32, error) {
	for n > 0 {
		c := min(n, chunk/4)
		b, err := d.read(c * 4)
		if err != nil {
			return dst, err
		}
		for i := range c {
			dst = append(dst, math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])))
		}
		n -= c
	}
	return dst, nil
}

func (d *decoder) bytes(dst []byte, n int) ([]byte, error) {
	for n > 0 {
		c := min(n, chunk)
		b, err := d.read(c)
		if err != nil {
			return dst, err
		}
		dst = append(dst, b...)
		n -= c
	}
	return dst, nil
}

// index reads and checks a whole index.
func (d *decoder) index() (*Index, error) {
	b, err := d.read(len(magic) + 4)
	if err != nil {
		return nil, err
	}
	if string(b[:len(magic)]) != magic {
		return nil, corrupt("no index header")
	}
	if v := binary.LittleEndian.Uint32(b[len(magic):]); v != version {
		return nil, corrupt("version %d, this build reads version %d", v, version)
	}
	hdr, err := d.uint32s(nil, 8)
	if err != nil {
		return nil, err
	}
	dim, m, efc, efs, slots, live, entry, top := int(hdr[0]), int(hdr[1]), int(hdr[2]), int(hdr[3]), int(hdr[4]), int(hdr[5]), hdr[6], int(hdr[7])
	switch {
	case dim < 1 || dim > maxDim:
		return nil, corrupt("dimension %d", dim)
	case m < 2 || m > maxM:
		return nil, corrupt("M %d", m)
	case efc < 1 || efs < 1 || efc > math.MaxInt32 || efs > math.MaxInt32:
		return nil, corrupt("ef %d/%d", efc, efs)
	case slots > math.MaxInt32:
		return nil, corrupt("%d vectors", slots)
	case live > slots:
		return nil, corrupt("%d live of %d vectors", live, slots)
	case slots == 0 && (entry != 0 || top != 0):
		return nil, corrupt("entry point in an empty index")
	case slots > 0 && (int(entry) >= slots || top > maxLevel):
		return nil, corrupt("entry point %d at level %d", entry, top)
	}
	x := &Index{dim: dim}
	x.configure(m, efc, efs)
	state, err := d.read(20)
	if err != nil {
		return nil, err
	}
	x.rng = new(rand.PCG)
	if err := x.rng.UnmarshalBinary(state); err != nil {
		return nil, corrupt("level generator: %v", err)
	}

	// Each slot takes at least its id, level, tombstone bit, vector and layer 0 count.
	if err := d.need(int64(slots)*(4+1+4*int64(dim)+1) + int64(slots+7)/8 + 4); err != nil {
		return nil, err
	}
	if x.ids, err = d.uint32s(make([]uint32, 0, d.capacity(slots, 4)), slots); err != nil {
		return nil, err
	}
	if x.levels, err = d.bytes(make([]byte, 0, d.capacity(slots, 1)), slots); err != nil {
		return nil, err
	}
	bits, err := d.bytes(nil, (slots+7)/8)
	if err != nil {
		return nil, err
	}
	x.dead = make([]bool, slots)
	for s := range x.dead {
		x.dead[s] = bits[s/8]&(1<<(s%8)) != 0
		if !x.dead[s] {
			x.live++
		}
	}
	if slots%8 != 0 && bits[len(bits)-1]>>(slots%8) != 0 {
		return nil, corrupt("tombstone padding")
	}
	if x.live != live {
		return nil, corrupt("%d live vectors, header says %d", x.live, live)
	}
	if x.vecs, err = d.float32s(make([]float32, 0, d.capacity(slots*dim, 4)), slots*dim); err != nil {
		return nil, err
	}

	// Layer 0.
	counts, err := d.bytes(make([]byte, 0, d.capacity(slots, 1)), slots)
	if err != nil {
		return nil, err
	}
	total := 0
	for s, c := range counts {
		if int(c) > x.m0 {
			return nil, corrupt("vector %d has %d neighbours", s, c)
		}
		total += int(c)
	}
	if err := d.need(4 * int64(total)); err != nil {
		return nil, err
	}
	x.links0 = make([]uint32, 0, d.capacity(slots*(x.m0+1), 4))
	for s, c := range counts {
		x.links0 = append(x.links0, uint32(c))
		if x.links0, err = d.uint32s(x.links0, int(c)); err != nil {
			return nil, err
		}
		if err := x.checkList(uint32(s), 0, x.links0[len(x.links0)-int(c)-1:]); err != nil {
			return nil, err
		}
		x.links0 = append(x.links0, make([]uint32, x.m0-int(c))...)
	}

	// Upper layers.
	x.upperAt = make([]uint32, slots)
	for s := range uint32(slots) {
		level := int(x.levels[s])
		if level > maxLevel || level > top {
			return nil, corrupt("vector %d at level %d, top is %d", s, level, top)
		}
		if level == 0 {
			continue
		}
		x.upperAt[s] = uint32(len(x.upper))
		for range level {
			b, err := d.read(1)
			if err != nil {
				return nil, err
			}
			c := int(b[0])
			if c > x.m {
				return nil, corrupt("vector %d has %d neighbours", s, c)
			}
			x.upper = append(x.upper, uint32(c))
			if x.upper, err = d.uint32s(x.upper, c); err != nil {
				return nil, err
			}
			x.upper = append(x.upper, make([]uint32, x.m-c)...)
		}
		for l := 1; l <= level; l++ {
			if err := x.checkList(s, l, x.list(s, l)); err != nil {
				return nil, err
			}
		}
	}
	if slots > 0 {
		if int(x.levels[entry]) != top {
			return nil, corrupt("entry point at level %d, header says %d", x.levels[entry], top)
		}
		x.entry, x.top, x.hasEntry = entry, top, true
	}

	sum := d.crc.Sum32()
	b, err = d.read(4)
	if err != nil {
		return nil, err
	}
	if binary.LittleEndian.Uint32(b) != sum {
		return nil, corrupt("checksum mismatch")
	}

	// The id table last: only now is the data known to be what was written.
	for s, id := range x.ids {
		if x.dead[s] {
			continue
		}
		if _, dup := x.slotOf(id); dup {
			return nil, corrupt("id %d in two live slots", id)
		}
		x.setSlot(id, uint32(s)+1)
	}
	return x, nil
}

// checkList checks that slot s's list on layer l names other slots that reach that layer.
func (x *Index) checkList(s uint32, l int, list []uint32) error {
	for _, n := range list[1 : 1+list[0]] {
		if int(n) >= len(x.ids) || n == s || int(x.levels[n]) < l {
			return corrupt("vector %d links to %d on layer %d", s, n, l)
		}
	}
	return nil
}
