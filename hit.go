package hindsight

// Hit is one retrieved document, best first in a result list.
type Hit struct {
	ID     string  `json:"id"`
	Kind   Kind    `json:"kind"`
	Tenant string  `json:"tenant"`
	Title  string  `json:"title"`
	Score  float64 `json:"score"`
	Why    Why     `json:"why"`

	// Document is the whole document, for callers that need more than the title (drafting). It is
	// not part of the JSON form.
	Document *Document `json:"-"`
}

// Why explains a hit: how each retrieval signal scored it and what it shares with the query.
type Why struct {
	// Signals holds each signal's raw score ("vector": cosine similarity, "text": BM25) for the
	// signals that found the document.
	Signals map[string]float64 `json:"signals"`
	// Ranks holds the document's rank (1 = best) in each signal's list.
	Ranks map[string]int `json:"ranks"`
	// Section names the part of the document that matched best (e.g. "case", "remediation").
	Section string `json:"section,omitempty"`
	// Techniques are the ATT&CK techniques the document shares with the query.
	Techniques []string `json:"techniques,omitempty"`
	// Terms are query terms found in the document's best-matching section.
	Terms []string `json:"terms,omitempty"`
}
