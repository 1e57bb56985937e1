package ingest

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/hindsightsec/hindsight"
)

// ReadPairs reads eval pairs (DESIGN.md "Eval pairs": one JSON object a line; blank lines are
// skipped) and calls fn with a Record whose Pair is set for each valid one, in order. Invalid lines
// are returned as rejections naming the file, line and field; they never stop the read.
// defaultTenant fills the tenant of pairs that have none; when it is set, pairs for any other tenant
// are rejected. The error is non-nil only when the input cannot be read or fn fails.
func ReadPairs(r io.Reader, file, defaultTenant string, fn func(Record) error) ([]hindsight.Rejection, error) {
	return readLines(r, file, func(b []byte) (Record, *hindsight.Rejection) {
		p, rej := ParsePair(b, defaultTenant)
		return Record{Pair: p}, rej
	}, fn)
}

// ParsePair decodes and validates one eval pair: id (the draft's ID), kind (remediation, hunting or
// hardening), tenant, draft and final (non-empty), ratings (accuracy, clarity and completeness, each
// an integer from 1 to 5), created_at (RFC 3339) are required; model, prompt_version and techniques
// (ATT&CK IDs, upper-cased and deduplicated) are optional. Fields the shape does not have are
// ignored: exports may carry more (a comment, a reviewer) than a pair stores. On failure it returns
// a rejection whose Field names the offending JSON field (File and Line are left for the caller).
func ParsePair(b []byte, defaultTenant string) (*hindsight.Pair, *hindsight.Rejection) {
	reject := func(field, format string, args ...any) (*hindsight.Pair, *hindsight.Rejection) {
		return nil, &hindsight.Rejection{Field: field, Error: fmt.Sprintf(format, args...)}
	}
	raw, rej := decodeObject(b)
	if rej != nil {
		return nil, rej
	}
	p := &hindsight.Pair{}
	var kind, created string
	for _, f := range []struct {
		name string
		dst  *string
	}{
		{"id", &p.ID}, {"kind", &kind}, {"tenant", &p.Tenant}, {"model", &p.Model}, {"prompt_version", &p.PromptVersion},
		{"draft", &p.Draft}, {"final", &p.Final}, {"created_at", &created},
	} {
		v, ok := raw[f.name]
		if !ok || string(v) == "null" {
			continue
		}
		if err := json.Unmarshal(v, f.dst); err != nil {
			return reject(f.name, "must be a string, got %s", firstWord(v))
		}
		if f.name != "draft" && f.name != "final" {
			*f.dst = strings.TrimSpace(*f.dst)
		}
	}
	if v, ok := raw["techniques"]; ok && string(v) != "null" {
		if err := json.Unmarshal(v, &p.Techniques); err != nil {
			return reject("techniques", "must be an array of strings, got %s", firstWord(v))
		}
	}
	p.Kind = hindsight.DraftKind(kind)
	if msg := checkID(p.ID); msg != "" {
		return reject("id", "%s", msg)
	}
	switch {
	case kind == "":
		return reject("kind", "is required (remediation, hunting or hardening)")
	case !p.Kind.Valid():
		return reject("kind", "unknown kind %q (want remediation, hunting or hardening)", kind)
	case p.Tenant == "" && defaultTenant == "":
		return reject("tenant", "is required (or give --tenant)")
	case p.Tenant == "":
		p.Tenant = defaultTenant
	case defaultTenant != "" && p.Tenant != defaultTenant:
		return reject("tenant", "pair is for tenant %q, but this ingest is for tenant %q", p.Tenant, defaultTenant)
	}
	switch {
	case strings.TrimSpace(p.Draft) == "":
		return reject("draft", "is required")
	case strings.TrimSpace(p.Final) == "":
		return reject("final", "is required")
	}
	v, ok := raw["ratings"]
	if !ok || string(v) == "null" {
		return reject("ratings", "is required: {\"accuracy\", \"clarity\", \"completeness\"}, each 1 to 5")
	}
	var ratings map[string]json.RawMessage
	if err := json.Unmarshal(v, &ratings); err != nil {
		return reject("ratings", "must be an object, got %s", firstWord(v))
	}
	for _, r := range []struct {
		name string
		dst  *int
	}{{"accuracy", &p.Ratings.Accuracy}, {"clarity", &p.Ratings.Clarity}, {"completeness", &p.Ratings.Completeness}} {
		rv, ok := ratings[r.name]
		if !ok || string(rv) == "null" {
			return reject("ratings."+r.name, "is required: an integer from 1 to 5")
		}
		if err := json.Unmarshal(rv, r.dst); err != nil {
			return reject("ratings."+r.name, "must be an integer from 1 to 5, got %s", firstWord(rv))
		}
	}
	if err := p.Ratings.Validate(); err != nil {
		return reject(hindsight.ErrorField(err), "%s", hindsight.ErrorMessage(err))
	}
	if created == "" {
		return reject("created_at", "is required: an RFC 3339 time such as 2024-02-01T09:00:00Z")
	}
	t, err := time.Parse(time.RFC3339, created)
	if err != nil {
		return reject("created_at", "must be an RFC 3339 time such as 2024-02-01T09:00:00Z, got %q", created)
	}
	p.CreatedAt = t.UTC()
	for i, tech := range p.Techniques {
		tech = strings.ToUpper(strings.TrimSpace(tech))
		if !hindsight.ValidTechnique(tech) {
			return reject(fmt.Sprintf("techniques[%d]", i), "%q is not an ATT&CK technique ID (want T1234 or T1234.567)", p.Techniques[i])
		}
		p.Techniques[i] = tech
	}
	p.Techniques = dedupe(p.Techniques)
	if len(p.Techniques) == 0 {
		p.Techniques = nil
	}
	return p, nil
}
