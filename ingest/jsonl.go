package ingest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hindsightsec/hindsight"
)

// maxLine is the longest JSONL line accepted; a longer one is rejected, not truncated.
const maxLine = 8 << 20

// Record is one document or eval pair read from an input, with where it came from. Exactly one of
// Doc and Pair is set: readers of knowledge and threats set Doc, the eval-pairs reader sets Pair.
type Record struct {
	Doc  *hindsight.Document
	Pair *hindsight.Pair
	File string
	Line int // the line the record starts on, from 1

	// Set by a run's JSONL reader when the store keeps line hashes (LineStore). A record whose
	// line is the one its document was last stored from, in the same source and embedding space,
	// is not decoded: stored is set, Doc is nil, and key is the stored document's key.
	lineHash string
	stored   bool
	key      hindsight.DocKey
}

// docKey returns the key of the record's document.
func (rec Record) docKey() hindsight.DocKey {
	if rec.stored {
		return rec.key
	}
	return rec.Doc.Key()
}

// LineStore is what a store offers, beyond Store, to let a re-run skip decoding the JSONL lines
// that did not change: it keeps with each document the hash of the line it was last stored from
// (DocumentWrite.LineHash) and finds documents by it. A store without it is asked for every
// record's state by key, which gives the same outcome more slowly.
type LineStore interface {
	// DocumentStatesByLine returns, for each of the hashes that a stored document was last stored
	// from, that document's key and state; other hashes are absent from the map.
	DocumentStatesByLine(ctx context.Context, hashes []string) (map[string]hindsight.LineState, error)
	// SetDocumentLineHashes records new line hashes for documents whose record did not change
	// (LineState.RecordHash is the record hash found stored; a document whose record hash is
	// another is left alone). It is not a change of the documents.
	SetDocumentLineHashes(ctx context.Context, states []hindsight.LineState) error
}

// lineHashVersion is part of every line hash. Change it whenever ParseRecord could decode a line
// that it decoded before into another document, or reject a line it accepted: stored line hashes
// then no longer match, and every line is decoded again once.
const lineHashVersion = "1"

// lineHash returns the hash of a JSONL line together with what else decides what ParseRecord
// makes of it: equal line hashes mean equal documents.
func lineHash(defaultTenant string, b []byte) string {
	h := sha256.New()
	h.Write([]byte("jsonl/" + lineHashVersion + "\x00"))
	h.Write([]byte(defaultTenant))
	h.Write([]byte{0})
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// ReadJSONL reads canonical JSONL records (one JSON object a line; blank lines are skipped) and
// calls fn for each valid one, in order. Invalid lines are returned as rejections naming the file,
// line and field; they never stop the read. defaultTenant fills the tenant of threat records that
// have none; when it is set, records for any other tenant are rejected. The error is non-nil only
// when the input cannot be read or fn fails.
func ReadJSONL(r io.Reader, file, defaultTenant string, fn func(Record) error) ([]hindsight.Rejection, error) {
	return readLines(r, file, parseJSONL(defaultTenant), fn)
}

func parseJSONL(defaultTenant string) func([]byte) (Record, *hindsight.Rejection) {
	return func(b []byte) (Record, *hindsight.Rejection) {
		doc, rej := ParseRecord(b, defaultTenant)
		return Record{Doc: doc}, rej
	}
}

// readJSONLKnown is ReadJSONL for a run into a store that keeps line hashes: a line whose hash
// belongs to a document last stored from source in space is passed on undecoded, as stored; every
// other line is decoded and passed on with its hash, which the store keeps when it writes it.
func readJSONLKnown(ctx context.Context, r io.Reader, file, source, space, defaultTenant string, store LineStore, fn func(Record) error) ([]hindsight.Rejection, error) {
	parse := parseJSONL(defaultTenant)
	var rejected []hindsight.Rejection
	err := scanLines(r, file, func(lines []rawLine) error {
		out := make([]parsed, len(lines))
		// Each CPU hashes, looks up and decodes a part of the batch: on a re-run the lookups
		// are most of the work.
		err := spread(len(lines), func(from, to int) error {
			hashes := make([]string, 0, to-from)
			for _, l := range lines[from:to] {
				if !l.long {
					hashes = append(hashes, lineHash(defaultTenant, l.b))
				}
			}
			states, err := store.DocumentStatesByLine(ctx, hashes)
			if err != nil {
				return fmt.Errorf("read stored state: %w", err)
			}
			for i := from; i < to; i++ {
				if lines[i].long {
					out[i] = parseLine(lines[i], parse)
					continue
				}
				h := hashes[0]
				hashes = hashes[1:]
				if st, ok := states[h]; ok && st.Source == source && st.Space == space {
					out[i].rec = Record{stored: true, key: st.Key, lineHash: h}
					continue
				}
				out[i] = parseLine(lines[i], parse)
				out[i].rec.lineHash = h
			}
			return nil
		})
		if err != nil {
			return err
		}
		return emit(file, lines, out, fn, &rejected)
	})
	return rejected, err
}

// rawLine is one non-blank line of a line-oriented input, without its line end.
type rawLine struct {
	n    int // its number, from 1
	b    []byte
	long bool // longer than maxLine; b is nil
}

// parsed is what a line decoded into: a record, or why not.
type parsed struct {
	rec Record
	rej *hindsight.Rejection
}

// The line loop hands lines on in batches of up to linesPerBatch lines or linesBytes bytes, so
// that they can be decoded on every CPU at once and looked up in one query.
const (
	linesPerBatch = 256
	linesBytes    = 4 << 20
)

// readLines is the loop of the line-oriented readers: it parses each non-blank line with parse
// and hands valid records to fn, with their file and line, in order. Lines that do not parse, or
// are longer than maxLine, become rejections naming the file and line; they never stop the read.
// Lines are parsed a batch at a time on every CPU; parse must be safe for concurrent use.
func readLines(r io.Reader, file string, parse func([]byte) (Record, *hindsight.Rejection), fn func(Record) error) ([]hindsight.Rejection, error) {
	var rejected []hindsight.Rejection
	err := scanLines(r, file, func(lines []rawLine) error {
		return emit(file, lines, parseLines(lines, parse), fn, &rejected)
	})
	return rejected, err
}

// scanLines reads r and calls each with its non-blank lines, in order, a batch at a time. A
// batch is each's to keep. An error reading r is returned after each has had the lines read
// before it.
func scanLines(r io.Reader, file string, each func([]rawLine) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var batch []rawLine
	size := 0
	for n := 1; ; n++ {
		b, err := readLine(br)
		if len(b) > maxLine {
			batch = append(batch, rawLine{n: n, long: true})
		} else if len(bytes.TrimSpace(b)) > 0 {
			batch = append(batch, rawLine{n: n, b: b})
			size += len(b)
		}
		if len(batch) > 0 && (len(batch) == linesPerBatch || size >= linesBytes || err != nil) {
			if err := each(batch); err != nil {
				return err
			}
			batch, size = nil, 0
		}
		if err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("read %s: %w", file, err)
		}
	}
}

// parseLines parses lines with parse, spread over the CPUs; out[i] is what lines[i] became.
func parseLines(lines []rawLine, parse func([]byte) (Record, *hindsight.Rejection)) []parsed {
	out := make([]parsed, len(lines))
	spread(len(lines), func(from, to int) error {
		for i := from; i < to; i++ {
			out[i] = parseLine(lines[i], parse)
		}
		return nil
	})
	return out
}

func parseLine(l rawLine, parse func([]byte) (Record, *hindsight.Rejection)) parsed {
	if l.long {
		return parsed{rej: &hindsight.Rejection{Error: fmt.Sprintf("line is longer than %d bytes (%d MiB); split the record or shorten its fields", maxLine, maxLine>>20)}}
	}
	rec, rej := parse(l.b)
	return parsed{rec: rec, rej: rej}
}

// spread calls do for [0, n) cut into consecutive ranges, one per CPU and all at once, and
// returns the first error. Ranges are of 16 items at least: fewer would cost more to hand to
// another goroutine than they save.
func spread(n int, do func(from, to int) error) error {
	workers := min(runtime.GOMAXPROCS(0), n/16)
	if workers <= 1 {
		return do(0, n)
	}
	var wg sync.WaitGroup
	per := (n + workers - 1) / workers
	errs := make([]error, 0, workers)
	for from := 0; from < n; from += per {
		errs = append(errs, nil)
		err := &errs[len(errs)-1]
		wg.Go(func() { *err = do(from, min(from+per, n)) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// emit hands the records of lines to fn, in order, and appends the rejections to rejected, with
// their file and line.
func emit(file string, lines []rawLine, out []parsed, fn func(Record) error, rejected *[]hindsight.Rejection) error {
	for i, p := range out {
		if p.rej != nil {
			p.rej.File, p.rej.Line = file, lines[i].n
			*rejected = append(*rejected, *p.rej)
			continue
		}
		p.rec.File, p.rec.Line = file, lines[i].n
		if err := fn(p.rec); err != nil {
			return err
		}
	}
	return nil
}

// readLine reads one line without its newline. Past maxLine it keeps reading to the end of the line
// but returns only maxLine+1 bytes, so that a huge line costs no memory and is reported.
func readLine(br *bufio.Reader) ([]byte, error) {
	var out []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(out) <= maxLine {
			out = append(out, frag[:min(len(frag), maxLine+1-len(out))]...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		out = bytes.TrimRight(out, "\r\n")
		if err == nil || (err == io.EOF && len(out) == 0) {
			return out, err
		}
		return out, err
	}
}

// fields of the canonical record; anything else goes to Metadata.
var knownFields = map[string]bool{
	"kind": true, "id": true, "tenant": true, "title": true, "occurred_at": true, "severity": true,
	"disposition": true, "techniques": true, "analytics": true, "summary": true, "events": true,
	"remediation": true, "hunting": true, "hardening": true, "description": true, "body": true,
	"conversion_rate": true, "platform": true, "tags": true, "metadata": true,
}

// ParseRecord decodes and validates one canonical record. On failure it returns a rejection whose
// Field names the offending JSON field (File and Line are left for the caller).
func ParseRecord(b []byte, defaultTenant string) (*hindsight.Document, *hindsight.Rejection) {
	reject := func(field, format string, args ...any) (*hindsight.Document, *hindsight.Rejection) {
		return nil, &hindsight.Rejection{Field: field, Error: fmt.Sprintf(format, args...)}
	}
	raw, rej := decodeObject(b)
	if rej != nil {
		return nil, rej
	}
	d := &hindsight.Document{}
	str := func(name string, dst *string) *hindsight.Rejection {
		v, ok := raw[name]
		if !ok || string(v) == "null" {
			return nil
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return &hindsight.Rejection{Field: name, Error: "must be a string, got " + firstWord(v)}
		}
		*dst = strings.TrimSpace(*dst)
		return nil
	}
	strs := func(name string, dst *[]string) *hindsight.Rejection {
		v, ok := raw[name]
		if !ok || string(v) == "null" {
			return nil
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return &hindsight.Rejection{Field: name, Error: "must be an array of strings, got " + firstWord(v)}
		}
		return nil
	}
	var kind, severity, disposition, occurred string
	for _, f := range []struct {
		name string
		dst  *string
	}{
		{"kind", &kind}, {"id", &d.ID}, {"tenant", &d.Tenant}, {"title", &d.Title}, {"occurred_at", &occurred},
		{"severity", &severity}, {"disposition", &disposition}, {"summary", &d.Summary}, {"remediation", &d.Remediation},
		{"hunting", &d.Hunting}, {"hardening", &d.Hardening}, {"description", &d.Description}, {"body", &d.Body},
		{"platform", &d.Platform},
	} {
		if rej := str(f.name, f.dst); rej != nil {
			return nil, rej
		}
	}
	for _, f := range []struct {
		name string
		dst  *[]string
	}{{"techniques", &d.Techniques}, {"analytics", &d.Analytics}, {"events", &d.Events}, {"tags", &d.Tags}} {
		if rej := strs(f.name, f.dst); rej != nil {
			return nil, rej
		}
	}

	d.Kind = hindsight.Kind(kind)
	switch {
	case kind == "":
		return reject("kind", "is required (one of %s)", kindList())
	case !d.Kind.Valid():
		return reject("kind", "unknown kind %q (want one of %s)", kind, kindList())
	case d.ID == "":
		return reject("id", "is required")
	case len(d.ID) > 200:
		return reject("id", "is longer than 200 characters")
	case strings.IndexFunc(d.ID, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return reject("id", "must not contain spaces or control characters, got %q", d.ID)
	case d.Title == "":
		return reject("title", "is required")
	}
	if d.Kind.Global() {
		if d.Tenant != "" {
			return reject("tenant", "must be empty: %s records are global knowledge, shared by every tenant", kind)
		}
	} else {
		if strings.HasPrefix(d.ID, ReviewedPrefix) {
			return reject("id", "%q starts with %q, which is reserved for the reviewed finals Hindsight indexes itself", d.ID, ReviewedPrefix)
		}
		switch {
		case d.Tenant == "" && defaultTenant == "":
			return reject("tenant", "is required for %s records (or give --tenant)", kind)
		case d.Tenant == "":
			d.Tenant = defaultTenant
		case defaultTenant != "" && d.Tenant != defaultTenant:
			return reject("tenant", "record is for tenant %q, but this ingest is for tenant %q", d.Tenant, defaultTenant)
		}
	}
	if occurred != "" {
		t, err := time.Parse(time.RFC3339, occurred)
		if err != nil {
			return reject("occurred_at", "must be an RFC 3339 time such as 2023-05-04T10:22:00Z, got %q", occurred)
		}
		d.OccurredAt = t.UTC()
	}
	if severity != "" {
		d.Severity = hindsight.Severity(strings.ToLower(severity))
		if d.Severity.Rank() == 0 {
			return reject("severity", "unknown severity %q (want informational, low, medium, high or critical)", severity)
		}
	}
	if disposition != "" {
		d.Disposition = hindsight.Disposition(strings.ToLower(disposition))
		if !d.Disposition.Valid() {
			return reject("disposition", "unknown disposition %q (want true_positive, benign_positive, false_positive or inconclusive)", disposition)
		}
	}
	for i, t := range d.Techniques {
		t = strings.ToUpper(strings.TrimSpace(t))
		if !hindsight.ValidTechnique(t) {
			return reject(fmt.Sprintf("techniques[%d]", i), "%q is not an ATT&CK technique ID (want T1234 or T1234.567)", d.Techniques[i])
		}
		d.Techniques[i] = t
	}
	d.Techniques = dedupe(d.Techniques)
	if v, ok := raw["conversion_rate"]; ok && string(v) != "null" {
		var f float64
		if err := json.Unmarshal(v, &f); err != nil {
			return reject("conversion_rate", "must be a number, got %s", firstWord(v))
		}
		if f < 0 || f > 1 {
			return reject("conversion_rate", "must be between 0 and 1, got %v", f)
		}
		d.ConversionRate = &f
	}
	if v, ok := raw["metadata"]; ok && string(v) != "null" {
		if err := json.Unmarshal(v, &d.Metadata); err != nil {
			return reject("metadata", "must be an object, got %s", firstWord(v))
		}
	}
	for name, v := range raw {
		if !knownFields[name] {
			if d.Metadata == nil {
				d.Metadata = map[string]json.RawMessage{}
			}
			d.Metadata[name] = v
		}
	}
	return d, nil
}

// decodeObject decodes a line that must hold one JSON object, in UTF-8, into its fields, each
// left undecoded. Invalid UTF-8 is rejected, not repaired: decoding would silently turn each bad
// byte into U+FFFD, storing a garbled ID or text that no longer matches its source system, when
// the likely cause is an export in another encoding that the exporter should fix.
func decodeObject(b []byte) (map[string]json.RawMessage, *hindsight.Rejection) {
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] != '{' && json.Valid(t) {
		return nil, &hindsight.Rejection{Error: "want a JSON object, got " + firstWord(b)}
	}
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&raw); err != nil {
		return nil, &hindsight.Rejection{Error: "invalid JSON: " + jsonError(err)}
	}
	if dec.More() {
		return nil, &hindsight.Rejection{Error: "more than one JSON value on the line"}
	}
	if !utf8.Valid(b) {
		return nil, invalidUTF8(b, raw)
	}
	return raw, nil
}

// invalidUTF8 is the rejection of a line that is not valid UTF-8: it names the first field whose
// value holds an invalid byte (none when the only invalid bytes are in field names) and the line's
// first invalid byte, counted from 1.
func invalidUTF8(b []byte, raw map[string]json.RawMessage) *hindsight.Rejection {
	at := 0
	for at < len(b) {
		r, size := utf8.DecodeRune(b[at:])
		if r == utf8.RuneError && size <= 1 {
			break
		}
		at += size
	}
	field, first := "", len(b)
	for name, v := range raw {
		if utf8.Valid(v) {
			continue
		}
		if i := bytes.Index(b, v); i >= 0 && (i < first || (i == first && name < field)) {
			field, first = name, i
		}
	}
	what := "is not valid UTF-8"
	if field == "" {
		what = "a field name is not valid UTF-8"
	}
	return &hindsight.Rejection{Field: field, Error: fmt.Sprintf("%s (byte 0x%02X at byte %d of the line): records must be UTF-8 text; convert the export (e.g. from Latin-1 or Windows-1252)", what, b[at], at+1)}
}

func kindList() string {
	var s []string
	for _, k := range hindsight.Kinds {
		s = append(s, string(k))
	}
	return strings.Join(s, ", ")
}

func dedupe(ss []string) []string {
	seen := make(map[string]bool, len(ss))
	out := ss[:0]
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// firstWord shows the start of a JSON value in an error message.
func firstWord(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return s
}

func jsonError(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s (at byte %d)", se.Error(), se.Offset)
	}
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		return "unexpected end of line"
	}
	return err.Error()
}
