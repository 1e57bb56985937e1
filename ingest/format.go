package ingest

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode"

	"github.com/hindsightsec/hindsight"
)

// Formats the reader accepts for Options.Format. "auto" picks a reader for each file from its name
// and first bytes; the others read every file with one reader.
var Formats = []string{"auto", "jsonl", "stix", "sigma", "elastic", "pairs"}

// formatExts are the file name endings a directory is walked for, per format.
var formatExts = map[string][]string{
	"jsonl":   {".jsonl", ".ndjson"},
	"pairs":   {".jsonl", ".ndjson"},
	"stix":    {".json"},
	"sigma":   {".yml", ".yaml"},
	"elastic": {".toml"},
}

// maxFile is the largest rule file (Sigma, Elastic) read; a larger one is rejected whole. Rules are a
// few kilobytes; the limit keeps a stray huge file from costing memory.
const maxFile = maxLine

// sniffSize is how much of a file auto-detection looks at.
const sniffSize = 64 << 10

// input is one file to read and the format to read it with.
type input struct {
	path   string
	format string
}

// expand turns paths into the files to read, in a stable order, each with its format. A file named
// directly is always read: with format "auto" by what its name and first bytes say, falling back to
// JSONL as before other formats existed. A directory is walked (skipping hidden directories such as
// .git) for the files of the format; with "auto", every file whose type is recognised is read with
// its reader and the others are skipped with a debug log.
func expand(paths []string, format string, logger *slog.Logger) ([]input, error) {
	if len(paths) == 0 {
		return nil, hindsight.Invalid("path", "no input path given")
	}
	var out []input
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, hindsight.Invalid("path", "%v", err)
		}
		if !info.IsDir() {
			f := format
			if f == "auto" {
				if f, err = detect(p, true); err != nil {
					return nil, err
				}
			}
			out = append(out, input{path: p, format: f})
			continue
		}
		var found []input
		err = filepath.WalkDir(p, func(path string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if e.IsDir() {
				if path != p && strings.HasPrefix(e.Name(), ".") {
					return filepath.SkipDir
				}
				return nil
			}
			if !e.Type().IsRegular() {
				return nil
			}
			if format != "auto" {
				if hasExt(path, formatExts[format]) {
					found = append(found, input{path: path, format: format})
				}
				return nil
			}
			f, err := detect(path, false)
			if err != nil {
				return err
			}
			if f == "" {
				logger.Debug("ingest skips a file of unknown type", "path", path)
				return nil
			}
			found = append(found, input{path: path, format: f})
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("walk %s: %w", p, err)
		}
		sort.Slice(found, func(i, j int) bool { return found[i].path < found[j].path })
		out = append(out, found...)
	}
	return out, nil
}

func hasExt(path string, exts []string) bool {
	lower := strings.ToLower(path)
	for _, e := range exts {
		if strings.HasSuffix(lower, e) {
			return true
		}
	}
	return false
}

// detect picks the reader for a file from its extension, checked against its first bytes:
// .jsonl/.ndjson are canonical records unless the first record has both "draft" and "final" (eval
// pairs) or both "query" and "relevant" (the relevance judgments `hindsight gen` writes next to its
// records, which eval reads and ingest does not); .json is a STIX bundle when it is one;
// .yml/.yaml are Sigma rules when they have a top-level title, logsource, detection or action key;
// .toml is an Elastic rule when it has a [rule] table. For a file found by walking, "" means "not recognised": skip it. A file named directly is
// read by its extension's reader even when its content does not look the part, so that its problems
// are reported instead of silently skipped; a name with no known extension is read as JSONL.
func detect(path string, named bool) (string, error) {
	head, err := readHead(path)
	if err != nil {
		return "", err
	}
	orSkip := func(f string) string {
		if named {
			return f
		}
		return ""
	}
	switch {
	case hasExt(path, formatExts["jsonl"]):
		if f := jsonlOrPairs(head); f != "" {
			return f, nil
		}
		return orSkip("jsonl"), nil
	case hasExt(path, formatExts["stix"]):
		if isBundle(head) {
			return "stix", nil
		}
		return orSkip(cmp.Or(jsonlOrPairs(head), "jsonl")), nil
	case hasExt(path, formatExts["sigma"]):
		if looksLikeSigma(head) {
			return "sigma", nil
		}
		return orSkip("sigma"), nil
	case hasExt(path, formatExts["elastic"]):
		if hasTOMLTable(head, "rule") {
			return "elastic", nil
		}
		return orSkip("elastic"), nil
	}
	if !named {
		return "", nil
	}
	if isBundle(head) {
		return "stix", nil
	}
	return cmp.Or(jsonlOrPairs(head), "jsonl"), nil
}

func readHead(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, sniffSize))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return b, nil
}

// jsonlOrPairs looks at the first non-blank line: eval pairs have both a draft and a final;
// relevance judgments, a query and its relevant documents ("" for them).
func jsonlOrPairs(head []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(head))
	sc.Buffer(make([]byte, 0, 4096), len(head)+1)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		keys := topLevelKeys(line)
		switch {
		case keys["draft"] && keys["final"]:
			return "pairs"
		case keys["query"] && keys["relevant"] && !keys["kind"]:
			return ""
		}
		return "jsonl"
	}
	return "jsonl"
}

// topLevelKeys returns the keys of the JSON object that b starts with, as far as b goes: a line cut
// short by the sniff still tells its first keys.
func topLevelKeys(b []byte) map[string]bool {
	keys := map[string]bool{}
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return keys
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return keys
		}
		k, _ := tok.(string)
		keys[k] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return keys
		}
	}
	return keys
}

// isBundle reports whether head starts a JSON object whose type is "bundle" or that has an
// "objects" array, as far as the head shows.
func isBundle(head []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(head))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return false
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		switch tok {
		case "type":
			v, err := dec.Token()
			return err == nil && v == "bundle"
		case "objects":
			v, err := dec.Token()
			return err == nil && v == json.Delim('[')
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return false
		}
	}
	return false
}

// looksLikeSigma reports whether a YAML head has a top-level key that every Sigma rule or
// collection has. Other YAML (Atomic Red Team tests, CI files) has none of them.
func looksLikeSigma(head []byte) bool {
	for _, line := range strings.Split(string(head), "\n") {
		for _, k := range []string{"title:", "logsource:", "detection:", "action:"} {
			if strings.HasPrefix(line, k) {
				return true
			}
		}
	}
	return false
}

// hasTOMLTable reports whether a TOML head has the table header [name] on a line of its own.
func hasTOMLTable(head []byte, name string) bool {
	for _, line := range strings.Split(string(head), "\n") {
		if strings.TrimSpace(line) == "["+name+"]" {
			return true
		}
	}
	return false
}

// readFile reads a whole rule file. A file larger than maxFile is returned as a rejection, not read.
func readFile(r io.Reader, file string) ([]byte, *hindsight.Rejection, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxFile+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", file, err)
	}
	if len(b) > maxFile {
		return nil, &hindsight.Rejection{File: file, Line: 1, Error: fmt.Sprintf("file is larger than %d bytes", maxFile)}, nil
	}
	return b, nil, nil
}

// checkID returns what is wrong with a document or draft ID, or "" when it is valid: the same rule
// as for canonical records.
func checkID(id string) string {
	switch {
	case id == "":
		return "is required"
	case len(id) > 200:
		return "is longer than 200 characters"
	case strings.IndexFunc(id, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return fmt.Sprintf("must not contain spaces or control characters, got %q", id)
	}
	return ""
}

// falsePositiveText renders a rule's false positives as a list for its retrieval text, leaving out
// the placeholders ("Unknown", "None") that say nothing.
func falsePositiveText(fps []string) string {
	var items []string
	for _, fp := range fps {
		fp = strings.TrimSpace(fp)
		switch strings.ToLower(strings.TrimRight(fp, ". ")) {
		case "", "unknown", "unlikely", "none", "n/a", "none known", "no known false positives":
			continue
		}
		items = append(items, "- "+fp)
	}
	if len(items) == 0 {
		return ""
	}
	return "False positives:\n" + strings.Join(items, "\n")
}

// tacticTag turns a tactic's name as a rule spells it ("Credential Access", "credential_access")
// into its TacticTagPrefix tag ("tactic:credential-access").
func tacticTag(name string) string {
	name = strings.ToLower(strings.TrimSpace(name))
	name = strings.Join(strings.FieldsFunc(name, func(r rune) bool { return r == ' ' || r == '_' || r == '-' }), "-")
	return TacticTagPrefix + name
}
