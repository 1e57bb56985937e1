package ingest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"

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
}

// ReadJSONL reads canonical JSONL records (one JSON object a line; blank lines are skipped) and
// calls fn for each valid one, in order. Invalid lines are returned as rejections naming the file,
// line and field; they never stop the read. defaultTenant fills the tenant of threat records that
// have none; when it is set, records for any other tenant are rejected. The error is non-nil only
// when the input cannot be read or fn fails.
func ReadJSONL(r io.Reader, file, defaultTenant string, fn func(Record) error) ([]hindsight.Rejection, error) {
	return readLines(r, file, func(b []byte) (Record, *hindsight.Rejection) {
		doc, rej := ParseRecord(b, defaultTenant)
		return Record{Doc: doc}, rej
	}, fn)
}

// readLines is the loop of the line-oriented readers: it parses each non-blank line with parse
// and hands valid records to fn, with their file and line, in order. Lines that do not parse, or
// are longer than maxLine, become rejections naming the file and line; they never stop the read.
func readLines(r io.Reader, file string, parse func([]byte) (Record, *hindsight.Rejection), fn func(Record) error) ([]hindsight.Rejection, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var rejected []hindsight.Rejection
	for line := 1; ; line++ {
		b, err := readLine(br)
		if len(b) > maxLine {
			rejected = append(rejected, hindsight.Rejection{File: file, Line: line, Error: fmt.Sprintf("line is longer than %d bytes", maxLine)})
		} else if len(bytes.TrimSpace(b)) > 0 {
			rec, rej := parse(b)
			if rej != nil {
				rej.File, rej.Line = file, line
				rejected = append(rejected, *rej)
			} else {
				rec.File, rec.Line = file, line
				if err := fn(rec); err != nil {
					return rejected, err
				}
			}
		}
		if err == io.EOF {
			return rejected, nil
		} else if err != nil {
			return rejected, fmt.Errorf("read %s: %w", file, err)
		}
	}
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
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] != '{' && json.Valid(t) {
		return reject("", "want a JSON object, got %s", firstWord(b))
	}
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&raw); err != nil {
		return reject("", "invalid JSON: %s", jsonError(err))
	}
	if dec.More() {
		return reject("", "more than one JSON value on the line")
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
