package sample

import (
	"bufio"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// The files WriteDir writes, one JSON object per line.
const (
	ThreatsFile   = "threats.jsonl"   // the threats, as canonical records
	KnowledgeFile = "knowledge.jsonl" // analytics, notes and profiles, as canonical records
	PairsFile     = "pairs.jsonl"     // the eval pairs
	JudgmentsFile = "judgments.jsonl" // the relevance judgments
)

// WriteDir writes the corpus to dir as ThreatsFile, KnowledgeFile, PairsFile and JudgmentsFile,
// creating dir if needed. Each file is written to a temporary file in dir and renamed into place,
// so a reader never sees a half-written file; a failed write leaves the previous file as it was.
func (c *Corpus) WriteDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create output directory: %w", err)
	}
	if err := writeJSONL(dir, ThreatsFile, c.Threats); err != nil {
		return err
	}
	if err := writeJSONL(dir, KnowledgeFile, c.Knowledge); err != nil {
		return err
	}
	if err := writeJSONL(dir, PairsFile, c.Pairs); err != nil {
		return err
	}
	return writeJSONL(dir, JudgmentsFile, c.Judgments)
}

func writeJSONL[T any](dir, name string, records []T) (err error) {
	f, err := os.CreateTemp(dir, "."+name+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	w := bufio.NewWriterSize(f, 1<<16)
	for i := range records {
		b, err := json.Marshal(&records[i])
		if err != nil {
			return fmt.Errorf("write %s: record %d: %w", name, i+1, err)
		}
		w.Write(b)
		if err := w.WriteByte('\n'); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := os.Rename(f.Name(), filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

// committedConfig is the Config of the committed sample that Files returns.
func committedConfig() Config { return Config{Threats: 240, Seed: 1} }

//go:embed data/*.jsonl
var data embed.FS

// Files returns the committed sample, generated with Config{Threats: 240, Seed: 1}: ThreatsFile,
// KnowledgeFile, PairsFile and JudgmentsFile at the root of the returned file system.
func Files() fs.FS {
	sub, err := fs.Sub(data, "data")
	if err != nil {
		panic(err) // "data" is a valid path; fs.Sub cannot fail on it
	}
	return sub
}
