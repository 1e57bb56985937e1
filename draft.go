package hindsight

import (
	"slices"
	"time"
)

// DraftKind is what a draft recommends.
type DraftKind string

// The kinds of drafts.
const (
	DraftRemediation DraftKind = "remediation" // contain, eradicate, recover
	DraftHunting     DraftKind = "hunting"     // where to look for more of the same
	DraftHardening   DraftKind = "hardening"   // what to change so it cannot happen again
)

// DraftKinds lists every draft kind.
var DraftKinds = []DraftKind{DraftRemediation, DraftHunting, DraftHardening}

// Valid reports whether k is one of DraftKinds.
func (k DraftKind) Valid() bool {
	for _, v := range DraftKinds {
		if k == v {
			return true
		}
	}
	return false
}

// Draft is a grounded draft of recommendations for one threat. Every recommendation cites the IDs of
// sources in Sources.
type Draft struct {
	ID              string           `json:"id"`
	Tenant          string           `json:"tenant"`
	Kind            DraftKind        `json:"kind"`
	Text            string           `json:"text"`
	Recommendations []Recommendation `json:"recommendations"`
	Sources         []Source         `json:"sources"`
	Model           string           `json:"model"`          // "extractive" or the LLM's name
	PromptVersion   string           `json:"prompt_version"` // the version of the template or drafter
	Threat          Document         `json:"threat"`         // the threat the draft is for
	CreatedAt       time.Time        `json:"created_at"`
	// Fallback is true when the configured model failed and the extractive drafter wrote the
	// draft instead.
	Fallback bool `json:"fallback,omitempty"`
	// Warnings lists what the grounding checks changed or found, e.g. removed citations.
	Warnings []string `json:"warnings,omitempty"`
	// PromptTokens and OutputTokens are the model's token counts; zero for extractive drafts.
	PromptTokens int `json:"prompt_tokens,omitempty"`
	OutputTokens int `json:"output_tokens,omitempty"`
}

// Recommendation is one recommendation of a draft.
type Recommendation struct {
	Text      string   `json:"text"`
	Citations []string `json:"citations"` // IDs of sources of the draft
	Supported bool     `json:"supported"` // the cited sources' text supports it
	Support   float64  `json:"support"`   // 0..1: how much of it the cited text covers
	// Removed lists citations the model made to IDs that were not among the sources; they were
	// taken out of Citations.
	Removed []string `json:"removed_citations,omitempty"`
}

// Source is a retrieved document that grounded a draft.
type Source struct {
	ID     string   `json:"id"`
	Kind   Kind     `json:"kind"`
	Tenant string   `json:"tenant"`
	Title  string   `json:"title"`
	Score  float64  `json:"score"`
	Flags  []string `json:"flags"` // FlagInstructions: its text looks like instructions to a model
}

// FlagInstructions marks a source whose text looks like instructions to a language model (text
// an attacker may have planted in telemetry). Such a source is fenced as data like every other,
// and its recommendations are never copied into a draft verbatim.
const FlagInstructions = "instructions"

// Ratings are a reviewer's marks of a draft, each 1 (poor) to 5 (excellent).
type Ratings struct {
	Accuracy     int `json:"accuracy"`
	Clarity      int `json:"clarity"`
	Completeness int `json:"completeness"`
}

// Validate checks that each rating is within 1..5 and names the first field that is not.
func (r Ratings) Validate() error {
	for _, f := range []struct {
		name string
		v    int
	}{{"ratings.accuracy", r.Accuracy}, {"ratings.clarity", r.Clarity}, {"ratings.completeness", r.Completeness}} {
		if f.v < 1 || f.v > 5 {
			return Invalid(f.name, "must be an integer from 1 to 5, got %d", f.v)
		}
	}
	return nil
}

// Review is what a reviewer did with a draft: the final text that was sent and the ratings. A draft
// may have several reviews; none is ever overwritten.
type Review struct {
	ID        string    `json:"id"`
	DraftID   string    `json:"draft_id"`
	Tenant    string    `json:"tenant"`
	Reviewer  string    `json:"reviewer"` // the API key's ID or a name
	Final     string    `json:"final"`
	Ratings   Ratings   `json:"ratings"`
	Comment   string    `json:"comment,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// Pair is a draft together with the final text its reviewer shipped: the unit that eval scores. Its
// JSON form is the eval-pairs record of the design; drafts and reviews made through the API are
// exported in this shape.
type Pair struct {
	ID            string    `json:"id"`
	Kind          DraftKind `json:"kind"`
	Model         string    `json:"model"`
	PromptVersion string    `json:"prompt_version"`
	Tenant        string    `json:"tenant"`
	Techniques    []string  `json:"techniques,omitempty"`
	Draft         string    `json:"draft"`
	Final         string    `json:"final"`
	Ratings       Ratings   `json:"ratings"`
	CreatedAt     time.Time `json:"created_at"`
}

// ImportedReviewer is the reviewer of every review stored by importing an eval pair, so that
// imported reviews can be told from reviews made through the API.
const ImportedReviewer = "import"

// ImportedReviewID is the ID of the one review a store keeps for an imported pair. Reviews made
// through the API have IDs of hex digits after "REV-", so the two never meet.
func ImportedReviewID(pairID string) string { return "REV-IMPORT-" + pairID }

// AsDraft returns the draft a pair is stored as: its ID, tenant, kind, model, prompt version, text
// and time; its threat holds only the pair's techniques; it has no recommendations or sources.
func (p *Pair) AsDraft() *Draft {
	return &Draft{
		ID: p.ID, Tenant: p.Tenant, Kind: p.Kind, Text: p.Draft, Model: p.Model, PromptVersion: p.PromptVersion,
		Recommendations: []Recommendation{}, Sources: []Source{},
		Threat:    Document{Kind: KindThreat, Tenant: p.Tenant, Techniques: slices.Clone(p.Techniques)},
		CreatedAt: p.CreatedAt.UTC(),
	}
}

// Matches reports whether a stored draft and one of its reviews say what the pair says. Created
// times are compared for the draft only: a review made through the API is later than its draft.
func (p *Pair) Matches(d *Draft, r *Review) bool {
	return d.Tenant == p.Tenant && d.Kind == p.Kind && d.Text == p.Draft && d.Model == p.Model &&
		d.PromptVersion == p.PromptVersion && d.CreatedAt.Equal(p.CreatedAt) &&
		slices.Equal(d.Threat.Techniques, p.Techniques) &&
		r.Final == p.Final && r.Ratings == p.Ratings
}
