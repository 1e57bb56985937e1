package hindsight

import (
	"encoding/json"
	"time"
)

// Kind is the kind of a document. It decides which fields of the canonical record matter.
type Kind string

// The kinds of documents Hindsight stores. Threats belong to a tenant; every other kind is global
// knowledge and has an empty tenant.
const (
	KindThreat     Kind = "threat"     // a worked threat (a case) of one tenant
	KindAnalytic   Kind = "analytic"   // a detection analytic (rule)
	KindNote       Kind = "note"       // a knowledge note, e.g. how to revert a change
	KindProfile    Kind = "profile"    // a threat-actor profile
	KindTechnique  Kind = "technique"  // an ATT&CK technique or sub-technique
	KindMitigation Kind = "mitigation" // an ATT&CK mitigation
	KindGroup      Kind = "group"      // an ATT&CK group
)

// Kinds lists every kind, in the order they are documented.
var Kinds = []Kind{KindThreat, KindAnalytic, KindNote, KindProfile, KindTechnique, KindMitigation, KindGroup}

// Valid reports whether k is one of Kinds.
func (k Kind) Valid() bool {
	for _, v := range Kinds {
		if k == v {
			return true
		}
	}
	return false
}

// Global reports whether documents of this kind are global knowledge (no tenant).
func (k Kind) Global() bool { return k != KindThreat }

// Severity is how severe a threat or analytic is. The zero value means unknown.
type Severity string

// Severities, lowest first.
const (
	SeverityInformational Severity = "informational"
	SeverityLow           Severity = "low"
	SeverityMedium        Severity = "medium"
	SeverityHigh          Severity = "high"
	SeverityCritical      Severity = "critical"
)

// Severities lists the valid severities, lowest first.
var Severities = []Severity{SeverityInformational, SeverityLow, SeverityMedium, SeverityHigh, SeverityCritical}

// Rank returns 1 (informational) to 5 (critical), or 0 for an unknown or empty severity.
func (s Severity) Rank() int {
	for i, v := range Severities {
		if s == v {
			return i + 1
		}
	}
	return 0
}

// Disposition is how a threat was closed. The zero value means not recorded.
type Disposition string

// Dispositions a threat can be closed with.
const (
	DispositionTruePositive   Disposition = "true_positive"
	DispositionBenignPositive Disposition = "benign_positive"
	DispositionFalsePositive  Disposition = "false_positive"
	DispositionInconclusive   Disposition = "inconclusive"
)

// Dispositions lists the valid dispositions.
var Dispositions = []Disposition{DispositionTruePositive, DispositionBenignPositive, DispositionFalsePositive, DispositionInconclusive}

// Valid reports whether d is one of Dispositions.
func (d Disposition) Valid() bool {
	for _, v := range Dispositions {
		if d == v {
			return true
		}
	}
	return false
}

// Document is one canonical record: a worked threat or a piece of knowledge. Its JSON form is the
// canonical JSONL record of the design; fields that do not apply to a kind are empty. The triple
// (Tenant, Kind, ID) identifies a document: storing it again replaces it.
type Document struct {
	Kind   Kind   `json:"kind"`
	ID     string `json:"id"`
	Tenant string `json:"tenant,omitempty"` // empty for global knowledge
	Title  string `json:"title"`

	OccurredAt  time.Time   `json:"occurred_at,omitzero"` // zero: unknown
	Severity    Severity    `json:"severity,omitempty"`
	Disposition Disposition `json:"disposition,omitempty"`
	Techniques  []string    `json:"techniques,omitempty"` // ATT&CK IDs, e.g. T1078.004
	Analytics   []string    `json:"analytics,omitempty"`  // IDs of the analytics that fired (threats) or that a note belongs to

	Summary     string   `json:"summary,omitempty"`     // threats: what happened
	Events      []string `json:"events,omitempty"`      // threats: timeline lines
	Remediation string   `json:"remediation,omitempty"` // threats: the guidance that was sent
	Hunting     string   `json:"hunting,omitempty"`     // threats: threat-hunting guidance
	Hardening   string   `json:"hardening,omitempty"`   // threats: hardening guidance
	Description string   `json:"description,omitempty"` // analytics, techniques, mitigations, groups
	Body        string   `json:"body,omitempty"`        // notes and profiles

	ConversionRate *float64 `json:"conversion_rate,omitempty"` // analytics: share of alerts that became true positives; nil: unknown
	Platform       string   `json:"platform,omitempty"`
	Tags           []string `json:"tags,omitempty"`

	// Metadata keeps every field of the input record that is not one of the above, verbatim.
	Metadata map[string]json.RawMessage `json:"metadata,omitempty"`
}

// Key returns the identity of the document.
func (d *Document) Key() DocKey { return DocKey{Tenant: d.Tenant, Kind: d.Kind, ID: d.ID} }

// Guidance returns the document's guidance text for a draft kind: a threat's remediation, hunting or
// hardening section. It is empty for other kinds of documents.
func (d *Document) Guidance(k DraftKind) string {
	switch k {
	case DraftRemediation:
		return d.Remediation
	case DraftHunting:
		return d.Hunting
	case DraftHardening:
		return d.Hardening
	}
	return ""
}

// DocKey is the identity of a document.
type DocKey struct {
	Tenant string
	Kind   Kind
	ID     string
}

// String renders the key as tenant/kind/id, with "-" for the empty (global) tenant.
func (k DocKey) String() string {
	t := k.Tenant
	if t == "" {
		t = "-"
	}
	return t + "/" + string(k.Kind) + "/" + k.ID
}
