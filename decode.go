package hindsight

import (
	"encoding/json"
	"strconv"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// DecodeDocument decodes a document's JSON record, with the result json.Unmarshal gives. Records
// in the form json.Marshal writes them (the form stores keep) are decoded by a reader made for
// Document, several times faster than encoding/json's reflection, which was the largest part of
// loading a search's documents. Anything else — keys spelled otherwise, unknown or repeated keys,
// metadata, nulls, escapes that encode surrogates, invalid UTF-8 — goes to json.Unmarshal, which
// decides it.
func DecodeDocument(data []byte) (*Document, error) {
	d := new(Document)
	p, _ := readers.Get().(*docReader)
	if p == nil {
		p = new(docReader)
	}
	p.b, p.i = data, 0
	ok := p.document(d)
	p.b = nil
	readers.Put(p)
	if ok {
		return d, nil
	}
	*d = Document{}
	if err := json.Unmarshal(data, d); err != nil {
		return nil, err
	}
	return d, nil
}

// readers keeps docReaders, for the buffer each keeps for strings with escapes.
var readers sync.Pool

// decodeDocument decodes data into the zero d and reports whether it could; when it could not, d
// holds whatever was decoded before it gave up.
func decodeDocument(data []byte, d *Document) bool {
	p := docReader{b: data}
	return p.document(d)
}

// document reads a whole document into the zero d.
func (p *docReader) document(d *Document) bool {
	p.space()
	if !p.byte('{') {
		return false
	}
	p.space()
	if p.byte('}') {
		return p.end()
	}
	var seen uint32
	for {
		key, ok := p.key()
		if !ok {
			return false
		}
		f, known := documentFields[string(key)]
		if !known || seen&f.bit != 0 {
			return false
		}
		seen |= f.bit
		p.space()
		if !p.byte(':') {
			return false
		}
		p.space()
		if !f.read(p, d) {
			return false
		}
		p.space()
		if p.byte('}') {
			return p.end()
		}
		if !p.byte(',') {
			return false
		}
		p.space()
	}
}

// documentField is how the reader stores one field: bit marks it seen (a repeated key is left
// to encoding/json), read reads its value into the document.
type documentField struct {
	bit  uint32
	read func(p *docReader, d *Document) bool
}

// documentFields are the fields the reader decodes, by their JSON names. Metadata is left to
// encoding/json.
var documentFields = func() map[string]documentField {
	text := func(field func(*Document) *string) func(*docReader, *Document) bool {
		return func(p *docReader, d *Document) bool {
			s, ok := p.string()
			*field(d) = s
			return ok
		}
	}
	list := func(field func(*Document) *[]string) func(*docReader, *Document) bool {
		return func(p *docReader, d *Document) bool {
			l, ok := p.strings()
			*field(d) = l
			return ok
		}
	}
	readers := map[string]func(*docReader, *Document) bool{
		"kind":        text(func(d *Document) *string { return (*string)(&d.Kind) }),
		"id":          text(func(d *Document) *string { return &d.ID }),
		"tenant":      text(func(d *Document) *string { return &d.Tenant }),
		"title":       text(func(d *Document) *string { return &d.Title }),
		"severity":    text(func(d *Document) *string { return (*string)(&d.Severity) }),
		"disposition": text(func(d *Document) *string { return (*string)(&d.Disposition) }),
		"summary":     text(func(d *Document) *string { return &d.Summary }),
		"remediation": text(func(d *Document) *string { return &d.Remediation }),
		"hunting":     text(func(d *Document) *string { return &d.Hunting }),
		"hardening":   text(func(d *Document) *string { return &d.Hardening }),
		"description": text(func(d *Document) *string { return &d.Description }),
		"body":        text(func(d *Document) *string { return &d.Body }),
		"platform":    text(func(d *Document) *string { return &d.Platform }),
		"techniques":  list(func(d *Document) *[]string { return &d.Techniques }),
		"analytics":   list(func(d *Document) *[]string { return &d.Analytics }),
		"events":      list(func(d *Document) *[]string { return &d.Events }),
		"tags":        list(func(d *Document) *[]string { return &d.Tags }),
		"occurred_at": func(p *docReader, d *Document) bool {
			start := p.i
			if _, ok := p.string(); !ok {
				return false
			}
			// encoding/json hands a time its quoted text; so does this.
			return d.OccurredAt.UnmarshalJSON(p.b[start:p.i]) == nil
		},
		"conversion_rate": func(p *docReader, d *Document) bool {
			v, ok := p.number()
			if ok {
				d.ConversionRate = &v
			}
			return ok
		},
	}
	fields := map[string]documentField{}
	for name, read := range readers {
		fields[name] = documentField{bit: 1 << len(fields), read: read}
	}
	return fields
}()

// docReader reads JSON from b at i. Each method reports false for input it does not handle, which
// may be valid JSON that encoding/json then decodes.
type docReader struct {
	b   []byte
	i   int
	buf []byte // for strings with escapes
}

func (p *docReader) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *docReader) byte(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// end reports whether only white space follows.
func (p *docReader) end() bool {
	p.space()
	return p.i == len(p.b)
}

// key reads an object key without escapes.
func (p *docReader) key() ([]byte, bool) {
	if !p.byte('"') {
		return nil, false
	}
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		if c == '"' {
			p.i++
			return p.b[start : p.i-1], true
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			return nil, false
		}
		p.i++
	}
	return nil, false
}

// strings reads an array of strings. An empty array is an empty slice, not nil, as encoding/json
// has it.
func (p *docReader) strings() ([]string, bool) {
	if !p.byte('[') {
		return nil, false
	}
	out := []string{}
	p.space()
	if p.byte(']') {
		return out, true
	}
	for {
		s, ok := p.string()
		if !ok {
			return nil, false
		}
		out = append(out, s)
		p.space()
		if p.byte(']') {
			return out, true
		}
		if !p.byte(',') {
			return nil, false
		}
		p.space()
	}
}

// string reads a string. Escapes are decoded, except \u escapes of surrogates; a string with
// invalid UTF-8, which encoding/json would repair, is not handled.
func (p *docReader) string() (string, bool) {
	if !p.byte('"') {
		return "", false
	}
	start := p.i
	ascii := true
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			raw := p.b[start:p.i]
			p.i++
			if !ascii && !utf8.Valid(raw) {
				return "", false
			}
			return string(raw), true
		case c == '\\':
			return p.escaped(start)
		case c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
		p.i++
	}
	return "", false
}

// escaped finishes reading a string that starts at start and has an escape at p.i.
func (p *docReader) escaped(start int) (string, bool) {
	buf := append(p.buf[:0], p.b[start:p.i]...)
	defer func() { p.buf = buf }()
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			if !utf8.Valid(buf) {
				return "", false
			}
			return string(buf), true
		case c < 0x20:
			return "", false
		case c != '\\':
			buf = append(buf, c)
			p.i++
			continue
		}
		if p.i+1 >= len(p.b) {
			return "", false
		}
		e := p.b[p.i+1]
		p.i += 2
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			if p.i+4 > len(p.b) {
				return "", false
			}
			r, err := strconv.ParseUint(string(p.b[p.i:p.i+4]), 16, 32)
			if err != nil || utf16.IsSurrogate(rune(r)) {
				return "", false
			}
			p.i += 4
			buf = utf8.AppendRune(buf, rune(r))
		default:
			return "", false
		}
	}
	return "", false
}

// number reads a JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?.
func (p *docReader) number() (float64, bool) {
	start := p.i
	p.byte('-')
	switch {
	case p.byte('0'):
	case p.digits() == 0:
		return 0, false
	}
	if p.byte('.') && p.digits() == 0 {
		return 0, false
	}
	if p.byte('e') || p.byte('E') {
		if !p.byte('+') {
			p.byte('-')
		}
		if p.digits() == 0 {
			return 0, false
		}
	}
	v, err := strconv.ParseFloat(string(p.b[start:p.i]), 64)
	return v, err == nil
}

func (p *docReader) digits() int {
	n := 0
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
		n++
	}
	return n
}
