// Package draft turns retrieved cases and knowledge into a draft of recommendations for a new
// threat, every recommendation citing the sources it came from. The extractive drafter needs no
// model: it takes the guidance that past cases and notes already contain, merges recommendations
// that say the same thing, and ranks them by how strongly the retrieved sources back them.
package draft

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/retrieval"
)

// ExtractiveVersion is the version of the extractive drafter, recorded as a draft's prompt version
// so that eval can tell its revisions apart.
const ExtractiveVersion = "extractive-1"

// Searcher finds the sources for a draft.
type Searcher interface {
	Search(ctx context.Context, q retrieval.Query) ([]hindsight.Hit, error)
}

// Request asks for a draft.
type Request struct {
	Tenant string
	Kind   hindsight.DraftKind
	Threat *hindsight.Document
	K      int // sources to retrieve, 1..retrieval.MaxK; 0 means 8
	// OnToken, when not nil, receives the model's answer piece by piece as it is written. The
	// extractive drafter writes no pieces.
	OnToken func(string)
}

// Drafter composes drafts from retrieved sources, with a language model or, without one, by
// extraction.
type Drafter struct {
	search Searcher
	gen    hindsight.Generator
	// Fallback makes the drafter answer with an extractive draft, marked as a fall-back, when the
	// model is unavailable; without it the model's error is returned.
	Fallback bool
	// CrossTenant lets other tenants' cases ground a draft as anonymised precedent: redacted of
	// every identifying detail and cited by opaque IDs. Off, no other tenant's case is ever used.
	CrossTenant bool
	// MaxRecommendations caps a draft's recommendations; 0 means 8.
	MaxRecommendations int
	// Now returns the current time; nil means time.Now.
	Now func() time.Time

	keyOnce      sync.Once
	precedentKey []byte
	analyzer     analyzer
}

// New returns a drafter that retrieves with search and writes with gen; a nil gen means the
// extractive drafter.
func New(search Searcher, gen hindsight.Generator) *Drafter {
	return &Drafter{search: search, gen: gen}
}

// Model names what writes the drafts: the generator's name, or "extractive".
func (d *Drafter) Model() string {
	if d.gen == nil {
		return "extractive"
	}
	return d.gen.Name()
}

// Draft retrieves sources for the threat within the request's tenant and composes a draft. The
// draft is not stored.
func (d *Drafter) Draft(ctx context.Context, req Request) (*hindsight.Draft, error) {
	if !req.Kind.Valid() {
		return nil, hindsight.Invalid("kind", "must be remediation, hunting or hardening, got %q", req.Kind)
	}
	if req.Threat == nil {
		return nil, hindsight.Invalid("threat", "is required")
	}
	if req.K == 0 {
		req.K = 8
	}
	t := req.Threat
	if t.Kind == "" {
		t.Kind = hindsight.KindThreat
	}
	if t.Tenant == "" {
		t.Tenant = req.Tenant
	} else if t.Tenant != req.Tenant {
		return nil, hindsight.Invalid("threat.tenant", "threat is for tenant %q, but the request is for tenant %q", t.Tenant, req.Tenant)
	}
	query := strings.Join(append([]string{t.Title, t.Summary, t.Description}, t.Events...), "\n")
	if strings.TrimSpace(query) == "" && len(t.Techniques) == 0 {
		return nil, hindsight.Invalid("threat", "has no title, summary, description, events or techniques to search with")
	}
	var exclude []hindsight.DocKey
	if t.ID != "" {
		exclude = append(exclude, t.Key())
	}
	// Ages are measured from the threat's time, so that a draft for an older threat (a replay)
	// weighs the cases of its own time as a draft written then would have. A draft's sources do
	// not show the terms each matched.
	q := retrieval.Query{Text: query, Techniques: t.Techniques, K: req.K, Exclude: exclude, Filter: hindsight.Filter{Tenant: req.Tenant},
		At: t.OccurredAt, SkipTerms: true}
	hits, err := d.search.Search(ctx, q)
	if err != nil {
		return nil, err
	}
	if d.CrossTenant {
		prec, err := d.precedent(ctx, q, max(2, req.K/2))
		if err != nil {
			return nil, err
		}
		hits = append(hits, prec...)
		sort.SliceStable(hits, func(i, j int) bool { return hits[i].Score > hits[j].Score })
	}
	d.analyzer.analyzeAll(hits)
	var dr *hindsight.Draft
	if d.gen == nil {
		dr = d.analyzer.compose(req.Kind, t, hits, d.maxRecs())
	} else {
		dr, err = d.generate(ctx, req, hits)
		if err != nil {
			if !d.Fallback || hindsight.ErrorCode(err) != hindsight.EUNAVAILABLE {
				return nil, err
			}
			dr = d.analyzer.compose(req.Kind, t, hits, d.maxRecs())
			dr.Fallback = true
			dr.Warnings = append(dr.Warnings, fmt.Sprintf("%s was unavailable (%s); the extractive drafter wrote this draft", d.gen.Name(), hindsight.ErrorMessage(err)))
		}
	}
	dr.ID = NewID()
	dr.Tenant = req.Tenant
	dr.CreatedAt = d.now().UTC()
	return dr, nil
}

func (d *Drafter) maxRecs() int {
	if d.MaxRecommendations > 0 {
		return d.MaxRecommendations
	}
	return 8
}

func (d *Drafter) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// NewID returns a new draft ID.
func NewID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return "DRF-" + hex.EncodeToString(b)
}

// cluster is one recommendation and the items from different sources that say the same thing.
type cluster struct {
	text      string // adapted to the new threat
	orig      string // as the source wrote it, for the support score
	terms     retrieval.TermSet
	hedged    bool
	citations []string
	weight    float64
	first     int // order of first appearance, to break ties stably
}

// mergeThreshold is the term overlap (Dice coefficient) above which two recommendations are taken
// to say the same thing.
const mergeThreshold = 0.5

// Compose builds a draft of the given kind from hits, best first: each hit's guidance for that kind
// is split into recommendations, recommendations that say the same thing are merged (citing every
// source that gave them), and the best-backed ones are kept, up to max.
func Compose(kind hindsight.DraftKind, threat *hindsight.Document, hits []hindsight.Hit, max int) *hindsight.Draft {
	var an analyzer
	return an.compose(kind, threat, hits, max)
}

func (an *analyzer) compose(kind hindsight.DraftKind, threat *hindsight.Document, hits []hindsight.Hit, max int) *hindsight.Draft {
	var clusters []*cluster
	adapt := newAdapter(retrieval.DocumentText(threat))
	for _, h := range hits {
		if h.Document == nil {
			continue
		}
		src := an.analyze(h.Document)
		for _, orig := range guidanceItems(kind, &h) {
			if src.instructions && LooksLikeInstructions(orig) {
				continue // planted text is never copied into a draft
			}
			item := adapt.rewrite(orig, src.indicators)
			terms := retrieval.NewTermSet(item)
			if len(terms) == 0 {
				continue
			}
			var best *cluster
			bestSim := 0.0
			for _, c := range clusters {
				if s := retrieval.Dice(terms, c.terms); s > bestSim {
					best, bestSim = c, s
				}
			}
			hedged := isHedged(item)
			if best == nil || bestSim < mergeThreshold {
				clusters = append(clusters, &cluster{text: item, orig: orig, terms: terms, hedged: hedged, citations: []string{h.ID}, weight: h.Score, first: len(clusters)})
				continue
			}
			if !slices.Contains(best.citations, h.ID) {
				best.citations = append(best.citations, h.ID)
				best.weight += h.Score
			}
			// Prefer the imperative wording a reviewer would ship over a hedged one.
			if best.hedged && !hedged {
				best.text, best.orig, best.hedged = item, orig, false
			}
		}
	}
	sort.SliceStable(clusters, func(i, j int) bool {
		if clusters[i].weight != clusters[j].weight {
			return clusters[i].weight > clusters[j].weight
		}
		return clusters[i].first < clusters[j].first
	})
	if len(clusters) > max {
		clusters = clusters[:max]
	}
	dr := an.newDraft(kind, threat, hits, "extractive", ExtractiveVersion)
	texts := an.sourceTerms(hits)
	for _, c := range clusters {
		r := hindsight.Recommendation{Text: c.text, Citations: c.citations}
		r.Support = support(retrieval.NewTermSet(c.orig), texts, c.citations, nil)
		r.Supported = r.Support >= SupportThreshold
		dr.Recommendations = append(dr.Recommendations, r)
	}
	dr.Text = Render(kind, threat, dr.Recommendations)
	return dr
}

// newDraft starts a draft with its sources, each flagged when its text looks like instructions
// to a model.
func (an *analyzer) newDraft(kind hindsight.DraftKind, threat *hindsight.Document, hits []hindsight.Hit, model, version string) *hindsight.Draft {
	dr := &hindsight.Draft{Kind: kind, Model: model, PromptVersion: version, Threat: *threat,
		Recommendations: []hindsight.Recommendation{}, Sources: []hindsight.Source{}}
	for _, h := range hits {
		s := hindsight.Source{ID: h.ID, Kind: h.Kind, Tenant: h.Tenant, Title: h.Title, Score: h.Score, Flags: []string{}}
		if strings.HasPrefix(h.ID, precedentPrefix) {
			s.Flags = append(s.Flags, FlagAnonymized)
		}
		if h.Document != nil && an.analyze(h.Document).instructions {
			s.Flags = append(s.Flags, hindsight.FlagInstructions)
		}
		dr.Sources = append(dr.Sources, s)
	}
	return dr
}

// sourceTerms returns each source's terms by ID.
func (an *analyzer) sourceTerms(hits []hindsight.Hit) map[string]retrieval.TermSet {
	m := map[string]retrieval.TermSet{}
	for _, h := range hits {
		if h.Document != nil {
			m[h.ID] = an.analyze(h.Document).terms
		}
	}
	return m
}

// generate asks the model for the draft and holds its answer to the grounding rules: citations
// only to retrieved sources (others removed and reported), a support score for each
// recommendation against the text it cites, and unsupported recommendations marked.
func (d *Drafter) generate(ctx context.Context, req Request, hits []hindsight.Hit) (*hindsight.Draft, error) {
	// A token is about four characters of English; keep a margin for the answer and the rules.
	budget := max(4000, (d.gen.ContextTokens()-1400)*3)
	prompt, used := BuildPrompt(req.Kind, req.Threat, hits, d.maxRecs(), budget)
	out, err := d.gen.Generate(ctx, prompt, req.OnToken)
	if err != nil {
		return nil, err
	}
	dr := d.analyzer.newDraft(req.Kind, req.Threat, hits[:used], d.gen.Name(), PromptVersion)
	dr.PromptTokens, dr.OutputTokens = out.PromptTokens, out.OutputTokens
	if used < len(hits) {
		dr.Warnings = append(dr.Warnings, fmt.Sprintf("%d of %d sources fit the model's context", used, len(hits)))
	}
	valid := map[string]bool{}
	for _, s := range dr.Sources {
		valid[s.ID] = true
	}
	texts := d.analyzer.sourceTerms(hits[:used])
	threatTerms := retrieval.NewTermSet(retrieval.DocumentText(req.Threat))
	for _, r := range ParseAnswer(out.Text, valid) {
		if len(r.Removed) > 0 {
			dr.Warnings = append(dr.Warnings, fmt.Sprintf("removed citations to %s, which are not among the sources, from %q", strings.Join(r.Removed, ", "), r.Text))
		}
		if len(r.Citations) == 0 {
			dr.Warnings = append(dr.Warnings, fmt.Sprintf("%q cites no source", r.Text))
		}
		r.Support = support(retrieval.NewTermSet(r.Text), texts, r.Citations, threatTerms)
		r.Supported = len(r.Citations) > 0 && r.Support >= SupportThreshold
		dr.Recommendations = append(dr.Recommendations, r)
		if len(dr.Recommendations) == d.maxRecs() {
			break
		}
	}
	dr.Text = Render(req.Kind, req.Threat, dr.Recommendations)
	return dr, nil
}

// guidanceItems returns the recommendations a hit offers for a draft kind: a past threat's
// guidance section of that kind, a note's list items, and for hunting, the analytic itself.
func guidanceItems(kind hindsight.DraftKind, h *hindsight.Hit) []string {
	d := h.Document
	switch d.Kind {
	case hindsight.KindThreat:
		return SplitItems(d.Guidance(kind))
	case hindsight.KindNote, hindsight.KindMitigation:
		if kind == hindsight.DraftHunting {
			return nil
		}
		text := d.Body
		if text == "" {
			text = d.Description
		}
		return listItems(text)
	case hindsight.KindAnalytic:
		if kind != hindsight.DraftHunting {
			return nil
		}
		return []string{fmt.Sprintf("Review recent alerts from analytic %s (%s) for the same activity on other hosts and accounts", d.ID, d.Title)}
	}
	return nil
}

// SplitItems splits guidance into recommendations: one per list item ("- ", "* ", "• ", "1. ",
// "1) "), or one per line when the text has no list markers. Continuation lines join their item.
func SplitItems(text string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		item, isItem := stripMarker(line)
		if !isItem && len(out) > 0 && hasMarkers(text) {
			out[len(out)-1] += " " + line
			continue
		}
		if item != "" {
			out = append(out, item)
		}
	}
	return out
}

// listItems returns only a text's list items: the prose around a note's list is context, not a
// recommendation.
func listItems(text string) []string {
	if !hasMarkers(text) {
		return nil
	}
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if item, ok := stripMarker(strings.TrimSpace(line)); ok && item != "" {
			out = append(out, item)
		}
	}
	return out
}

func hasMarkers(text string) bool {
	for _, line := range strings.Split(text, "\n") {
		if _, ok := stripMarker(strings.TrimSpace(line)); ok {
			return true
		}
	}
	return false
}

func stripMarker(line string) (string, bool) {
	for _, m := range []string{"- ", "* ", "• ", "– "} {
		if strings.HasPrefix(line, m) {
			return strings.TrimSpace(line[len(m):]), true
		}
	}
	i := 0
	for i < len(line) && i < 3 && line[i] >= '0' && line[i] <= '9' {
		i++
	}
	if i > 0 && i+1 < len(line) && (line[i] == '.' || line[i] == ')') && line[i+1] == ' ' {
		return strings.TrimSpace(line[i+2:]), true
	}
	return line, false
}

// hedges are openings that make a recommendation optional rather than an instruction.
var hedges = []string{"consider ", "you may want to ", "you might want to ", "it may be worth ", "it might be worth ",
	"if possible, ", "where possible, ", "optionally, ", "we suggest ", "we recommend considering "}

func isHedged(s string) bool {
	l := strings.ToLower(s)
	for _, h := range hedges {
		if strings.HasPrefix(l, h) {
			return true
		}
	}
	return strings.Contains(l, " could ") || strings.Contains(l, " might ")
}

// Render writes a draft's text: a heading, then one numbered recommendation a line with its
// citations in brackets.
func Render(kind hindsight.DraftKind, threat *hindsight.Document, recs []hindsight.Recommendation) string {
	var b strings.Builder
	title := threat.Title
	if title == "" {
		title = threat.ID
	}
	fmt.Fprintf(&b, "%s recommendations", strings.ToUpper(string(kind[:1]))+string(kind[1:]))
	if title != "" {
		fmt.Fprintf(&b, " for %s", title)
	}
	b.WriteString("\n\n")
	if len(recs) == 0 {
		fmt.Fprintf(&b, "No similar past case or knowledge note holds %s guidance for this threat.\n", kind)
		return b.String()
	}
	for i, r := range recs {
		fmt.Fprintf(&b, "%d. %s [%s]\n", i+1, r.Text, strings.Join(r.Citations, ", "))
	}
	return b.String()
}

// SupportThreshold is the support score from which a recommendation counts as supported.
const SupportThreshold = 0.5

// Support returns the share of a recommendation's terms that occur in the cited text, or in the
// new threat's own text (a host or account adapted to the new threat is not an invention): 1 when
// every term is there, 0 when none is or the recommendation has no terms.
func Support(rec, cited, threat string) float64 {
	return support(retrieval.NewTermSet(rec), map[string]retrieval.TermSet{"": retrieval.NewTermSet(cited)}, []string{""}, retrieval.NewTermSet(threat))
}

// support is Support over term sets already made: the recommendation's, each source's by ID, the
// cited IDs and the threat's.
func support(terms retrieval.TermSet, sources map[string]retrieval.TermSet, cited []string, threat retrieval.TermSet) float64 {
	if len(terms) == 0 {
		return 0
	}
	n := 0
	for _, t := range terms {
		found := threat.Has(t)
		for _, id := range cited {
			if found {
				break
			}
			found = sources[id].Has(t)
		}
		if found {
			n++
		}
	}
	return float64(n) / float64(len(terms))
}

// ParseThreat decodes the threat a draft is asked for: a canonical threat record, of which kind,
// id and tenant may be absent. field names the JSON field the threat came in ("threat" in the API,
// the file name on the command line) so that errors point at it.
func ParseThreat(raw []byte, field string) (*hindsight.Document, error) {
	var t hindsight.Document
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&t); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return nil, hindsight.Invalid(field+"."+te.Field, "must be %s, got %s", te.Type, te.Value)
		}
		return nil, hindsight.Invalid(field, "must be a JSON object with the fields of a threat record: %v", err)
	}
	if t.Kind != "" && t.Kind != hindsight.KindThreat {
		return nil, hindsight.Invalid(field+".kind", "must be threat (or absent), got %q", t.Kind)
	}
	for i, id := range t.Techniques {
		id = strings.ToUpper(strings.TrimSpace(id))
		if !hindsight.ValidTechnique(id) {
			return nil, hindsight.Invalid(fmt.Sprintf("%s.techniques[%d]", field, i), "%q is not an ATT&CK technique ID (want T1234 or T1234.567)", t.Techniques[i])
		}
		t.Techniques[i] = id
	}
	t.Kind = hindsight.KindThreat
	return &t, nil
}
