package hindsight

import (
	"slices"
	"time"
)

// Filter narrows a search. Tenant is required: a search sees that tenant's own documents and global
// knowledge, never another tenant's. Every backend applies the filter inside its query.
type Filter struct {
	Tenant string
	// OtherTenants turns the scope around: the documents of every tenant but Tenant, and no
	// global knowledge. Only anonymised cross-tenant precedent uses it; its results must never
	// reach a caller unredacted.
	OtherTenants bool
	// Kinds keeps documents of these kinds; empty keeps all.
	Kinds []Kind
	// Techniques keeps documents with at least one of these techniques; a technique also matches
	// its sub-techniques (T1059 matches T1059.001). Empty keeps all.
	Techniques []string
	// Since and Until bound OccurredAt (inclusive); zero means unbounded. Documents with no time
	// are kept only when both are zero.
	Since, Until time.Time
	// MinSeverity keeps documents at least this severe; empty keeps all.
	MinSeverity Severity
	// Sections keeps the chunks of these sections (Chunk.Section: see DescriptiveSections);
	// empty keeps all. It applies to chunks, not documents, so Matches leaves it out: a document
	// is found through its chunks of these sections only.
	Sections []string
}

// The sections documents are cut into (Chunk.Section): a threat's case (what happened) and its
// guidance, a note's or profile's body, an analytic's or technique's description, and the title
// alone of a document with no text.
const (
	SectionCase        = "case"
	SectionRemediation = "remediation"
	SectionHunting     = "hunting"
	SectionHardening   = "hardening"
	SectionBody        = "body"
	SectionDescription = "description"
	SectionTitle       = "title"
)

// Sections lists every section, in the order a document is cut into them.
var Sections = []string{SectionCase, SectionRemediation, SectionHunting, SectionHardening, SectionBody, SectionDescription, SectionTitle}

// DescriptiveSections are every section but a threat's guidance: what each document says it is
// about, which a new threat is compared with when the words of past guidance would only blur the
// comparison.
var DescriptiveSections = []string{SectionCase, SectionBody, SectionDescription, SectionTitle}

// Matches reports whether a document passes the filter, Sections aside. It states in Go what every backend
// applies inside its query, so that tests and benchmarks can compute the right answer (an exact
// search) without a backend. Times compare at full precision; backends that store microseconds
// may differ for bounds within a microsecond of a document's time.
func (f *Filter) Matches(d *Document) bool {
	if f.OtherTenants {
		if d.Tenant == "" || d.Tenant == f.Tenant {
			return false
		}
	} else if d.Tenant != "" && d.Tenant != f.Tenant {
		return false
	}
	if len(f.Kinds) > 0 && !slices.Contains(f.Kinds, d.Kind) {
		return false
	}
	if len(f.Techniques) > 0 && !slices.ContainsFunc(d.Techniques, func(t string) bool {
		return slices.Contains(f.Techniques, t) || slices.Contains(f.Techniques, ParentTechnique(t))
	}) {
		return false
	}
	if !f.Since.IsZero() && (d.OccurredAt.IsZero() || d.OccurredAt.Before(f.Since)) {
		return false
	}
	if !f.Until.IsZero() && (d.OccurredAt.IsZero() || d.OccurredAt.After(f.Until)) {
		return false
	}
	return f.MinSeverity.Rank() == 0 || d.Severity.Rank() >= f.MinSeverity.Rank()
}

// Candidate is one chunk a backend found for a query, with the backend's own score (higher is
// better; cosine similarity for vectors, BM25 for text).
type Candidate struct {
	Doc     DocKey
	Section string
	Score   float64
}

// Chunk is a retrievable piece of a document: a section, or part of a long one.
type Chunk struct {
	Seq     int       // position within the document, from 0
	Section string    // e.g. "case", "remediation", "body"
	Text    string    // what is embedded and shown
	Terms   []string  // the text's search terms, as the full-text index stores them
	Vector  []float32 // the text's embedding
}
