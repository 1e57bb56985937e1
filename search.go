package hindsight

import "time"

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
