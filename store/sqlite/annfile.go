package sqlite

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hindsightsec/hindsight/retrieval/hnsw"
)

// The vector graph of the in-memory index is saved beside the database (the database's path with
// ".ann" added), so that a process opening a large store loads the graph instead of building it
// again: at 100,000 threats building takes minutes, loading seconds. The file is a cache of what
// the database holds, never the only copy of anything: a missing, damaged or foreign file is
// ignored and the graph built from the chunks.
//
// The file is a header followed by the graph in retrieval/hnsw's format, which carries its own
// checksum:
//
//	magic "hindsight-ann\n", version uint32
//	store ID, space: each a uint16 length and that many bytes
//	the change-log position the graph was saved at: int64
//	the graph (hnsw.Index.WriteTo)
//
// The graph is keyed by chunk row IDs, which are never reused, and a chunk's vector never changes
// (a document whose text changes gets new chunks), so a graph saved at any earlier moment is right
// for every chunk it holds: loading it, deleting the chunks that are gone and adding the ones it
// lacks gives the graph of the store as it is now.
const (
	annMagic   = "hindsight-ann\n"
	annVersion = 1
	annSuffix  = ".ann"
)

// annHeader identifies what a saved graph belongs to.
type annHeader struct {
	storeID string
	space   string
	seq     int64
}

// saveANN writes the graph to path through a temporary file renamed into place, so that a reader
// never sees half a file and a crash leaves the previous file whole.
func saveANN(path string, h annHeader, ann *hnsw.Index) (err error) {
	b := make([]byte, 4)
	rand.Read(b)
	tmp := fmt.Sprintf("%s.tmp-%s", path, hex.EncodeToString(b))
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString(annMagic)
	binary.Write(w, binary.LittleEndian, uint32(annVersion))
	for _, s := range []string{h.storeID, h.space} {
		binary.Write(w, binary.LittleEndian, uint16(len(s)))
		w.WriteString(s)
	}
	binary.Write(w, binary.LittleEndian, h.seq)
	if _, err := ann.WriteTo(w); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	// The rename is durable once the directory is synced; without it a crash may bring back the
	// old file, which is still a valid cache.
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// errANNMismatch is returned by loadANN for a file that belongs to another store or space, or to a
// later state of the change log than the database's (the database was restored from a backup).
var errANNMismatch = errors.New("saved vector graph is of another store, space or state")

// loadANN reads a graph saved by saveANN, checking that it is of want's store and space and not
// ahead of want's change-log position.
func loadANN(path string, want annHeader) (*hnsw.Index, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// The graph is read from the file itself, not through a buffer, so that it can check its
	// sizes against the file's and allocate each slice once.
	r := f
	magic := make([]byte, len(annMagic))
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != annMagic {
		return nil, fmt.Errorf("%w: not a saved vector graph", hnsw.ErrFormat)
	}
	var version uint32
	if err := binary.Read(r, binary.LittleEndian, &version); err != nil || version != annVersion {
		return nil, fmt.Errorf("%w: unknown version", hnsw.ErrFormat)
	}
	var got annHeader
	for _, s := range []*string{&got.storeID, &got.space} {
		var n uint16
		if err := binary.Read(r, binary.LittleEndian, &n); err != nil {
			return nil, fmt.Errorf("%w: %v", hnsw.ErrFormat, err)
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, fmt.Errorf("%w: %v", hnsw.ErrFormat, err)
		}
		*s = string(b)
	}
	if err := binary.Read(r, binary.LittleEndian, &got.seq); err != nil {
		return nil, fmt.Errorf("%w: %v", hnsw.ErrFormat, err)
	}
	if got.storeID != want.storeID || got.space != want.space || got.seq > want.seq {
		return nil, errANNMismatch
	}
	ann := new(hnsw.Index)
	if _, err := ann.ReadFrom(r); err != nil {
		return nil, err
	}
	return ann, nil
}
