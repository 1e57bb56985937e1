package hnsw

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hindsightsec/hindsight/retrieval/hnsw/hnswtest"
)

func TestPersistRoundTrip(t *testing.T) {
	t.Parallel()
	c := clusteredCorpus(t)
	data := save(t, c.x)

	var y Index
	n, err := y.ReadFrom(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(len(data)) {
		t.Errorf("ReadFrom reported %d bytes, the file has %d", n, len(data))
	}
	if y.Dim() != c.dim || y.Len() != c.x.Len() || y.Deleted() != c.x.Deleted() {
		t.Errorf("loaded Dim, Len, Deleted = %d, %d, %d, want %d, %d, %d", y.Dim(), y.Len(), y.Deleted(), c.dim, c.x.Len(), c.x.Deleted())
	}
	checkGraph(t, &y)
	for i := range c.nq() {
		if got, want := y.Search(c.query(i), 10, 64, nil), c.x.Search(c.query(i), 10, 64, nil); !slices.Equal(got, want) {
			t.Fatalf("query %d: loaded index found %v, the original %v", i, got, want)
		}
	}
	if again := save(t, &y); !bytes.Equal(again, data) {
		t.Error("saving the loaded index gives different bytes")
	}
	// Raw vectors are most of the file: the graph is stored compactly.
	if raw := c.n() * c.dim * 4; len(data) > raw*12/10 {
		t.Errorf("file of %d bytes for %d bytes of vectors", len(data), raw)
	}
}

// TestPersistContinues checks that an index saved and loaded goes on as the original would: the
// level generator's state is part of the file.
func TestPersistContinues(t *testing.T) {
	t.Parallel()
	const dim = 16
	vecs := hnswtest.Uniform(2000, dim, 6)
	a := New(dim, Options{Seed: 3, Workers: 1, EfConstruction: 40})
	a.AddBatch(seq(1000), vecs[:1000*dim])
	a.Delete(10)
	a.Add(11, vecs[1999*dim:])

	dir := t.TempDir()
	path := filepath.Join(dir, "index")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	f, err = os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := New(3, Options{Workers: 1})
	if _, err := b.ReadFrom(f); err != nil {
		t.Fatal(err)
	}
	for _, x := range []*Index{a, b} {
		x.AddBatch(seq(2000)[1000:1999], vecs[1000*dim:1999*dim])
		x.Delete(1500)
	}
	if !bytes.Equal(save(t, a), save(t, b)) {
		t.Error("an index saved and loaded grows differently from the original")
	}
}

// smallIndexFile is a valid file of a small index with tombstones and several layers, small
// enough (7 KB) to be truncated at every offset.
func smallIndexFile(t testing.TB) []byte {
	const dim = 4
	vecs := hnswtest.Uniform(120, dim, 12)
	x := New(dim, Options{M: 4, Seed: 2, Workers: 1, EfConstruction: 20})
	x.AddBatch(seq(120), vecs)
	x.Delete(3)
	x.Add(5, vecs[:dim])
	return save(t, x)
}

// opaqueReader hides the length of the data, so that ReadFrom takes its path for streams.
type opaqueReader struct{ r io.Reader }

func (o opaqueReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func TestReadFromCorrupt(t *testing.T) {
	t.Parallel()
	data := smallIndexFile(t)
	var probe Index
	if _, err := probe.ReadFrom(bytes.NewReader(data)); err != nil {
		t.Fatalf("the intact file: %v", err)
	}
	if probe.top < 2 {
		t.Fatalf("the test file has %d layers, want several", probe.top+1)
	}

	readers := map[string]func([]byte) io.Reader{
		"Sized":  func(b []byte) io.Reader { return bytes.NewReader(b) },
		"Stream": func(b []byte) io.Reader { return opaqueReader{bytes.NewReader(b)} },
	}
	for name, reader := range readers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			x := New(4, Options{})
			x.Add(1, []float32{1, 0, 0, 0})
			before := save(t, x)
			reject := func(what string, b []byte) {
				t.Helper()
				if _, err := x.ReadFrom(reader(b)); err == nil {
					t.Fatalf("%s: no error", what)
				} else if !errors.Is(err, ErrFormat) {
					t.Fatalf("%s: error %v does not wrap ErrFormat", what, err)
				}
			}
			for cut := range len(data) {
				reject("truncated", data[:cut])
			}
			for i := range data {
				b := slices.Clone(data)
				b[i] ^= 0x5a
				reject("flipped byte", b)
			}
			if after := save(t, x); !bytes.Equal(before, after) {
				t.Error("a failed ReadFrom changed the index")
			}
		})
	}

	// Damage the checksum cannot see: the body is changed and the checksum recomputed.
	t.Run("ValidChecksum", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			name string
			at   int
			val  uint32
		}{
			{"version", 8, 2},
			{"dim", 12, 0},
			{"M", 16, 1},
			{"slots", 28, 1 << 31},
			{"live", 32, 118},
			{"entry", 36, 121},
			{"top", 40, 9},
		} {
			b := slices.Clone(data)
			binary.LittleEndian.PutUint32(b[tc.at:], tc.val)
			if _, err := new(Index).ReadFrom(bytes.NewReader(fixChecksum(b))); !errors.Is(err, ErrFormat) {
				t.Errorf("%s = %d: error %v, want one wrapping ErrFormat", tc.name, tc.val, err)
			}
		}
		// A neighbour out of range, in the first layer 0 list.
		const dim, slots = 4, 121
		at := 64 + slots*(4+1+dim*4) + (slots+7)/8 + slots
		b := slices.Clone(data)
		binary.LittleEndian.PutUint32(b[at:], slots)
		if _, err := new(Index).ReadFrom(bytes.NewReader(fixChecksum(b))); !errors.Is(err, ErrFormat) {
			t.Errorf("neighbour out of range: error %v", err)
		}
	})
}

// fixChecksum returns b with its trailing checksum made to match its body.
func fixChecksum(b []byte) []byte {
	if len(b) < 4 {
		return b
	}
	b = slices.Clone(b)
	binary.LittleEndian.PutUint32(b[len(b)-4:], crc32.Checksum(b[:len(b)-4], castagnoli))
	return b
}

// FuzzReadFrom feeds ReadFrom arbitrary bytes, and the same bytes with a matching checksum so
// that the structural checks are reached. It must never panic, and an index it accepts must be
// usable.
func FuzzReadFrom(f *testing.F) {
	f.Add(smallIndexFile(f))
	f.Add(save(f, New(3, Options{})))
	one := New(2, Options{})
	one.Add(9, []float32{1, 0})
	f.Add(save(f, one))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, b := range [][]byte{data, fixChecksum(data)} {
			var x Index
			if _, err := x.ReadFrom(bytes.NewReader(b)); err != nil {
				if !errors.Is(err, ErrFormat) {
					t.Fatalf("error %v does not wrap ErrFormat", err)
				}
				continue
			}
			q := make([]float32, x.Dim())
			q[0] = 1
			x.Search(q, 3, 10, nil)
			x.Search(q, 3, 10, func(id uint32) bool { return id%2 == 0 })
			x.Add(12345, q)
			if _, err := x.WriteTo(io.Discard); err != nil {
				t.Fatal(err)
			}
		}
	})
}
