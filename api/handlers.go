package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/draft"
	"github.com/hindsightsec/hindsight/retrieval"
	"github.com/labstack/echo/v4"
)

// SearchRequest is the body of POST /v1/search.
type SearchRequest struct {
	Text       string           `json:"text"`
	Techniques []string         `json:"techniques"`
	Kinds      []hindsight.Kind `json:"kinds"`
	K          *int             `json:"k"`
	// Since and Until bound when a case occurred (RFC 3339, inclusive); MinSeverity keeps cases
	// at least this severe. Documents with no time pass only when neither bound is given.
	Since       string             `json:"since"`
	Until       string             `json:"until"`
	MinSeverity hindsight.Severity `json:"min_severity"`
	// Sections keeps matches in these sections of documents (hindsight.Sections): "hunting"
	// finds how similar threats were hunted.
	Sections []string `json:"sections"`
}

// SearchResponse is the body of a search's answer.
type SearchResponse struct {
	Hits []hindsight.Hit `json:"hits"`
}

func (s *Server) postSearch(c echo.Context) error {
	var req SearchRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	k, err := kParam(req.K, 10)
	if err != nil {
		return err
	}
	techniques, err := normaliseTechniques(req.Techniques, "techniques")
	if err != nil {
		return err
	}
	f := hindsight.Filter{Tenant: keyOf(c).Tenant, Kinds: req.Kinds, MinSeverity: req.MinSeverity, Sections: req.Sections}
	for i, sec := range req.Sections {
		if !slices.Contains(hindsight.Sections, sec) {
			return hindsight.Invalid(fmt.Sprintf("sections[%d]", i), "unknown section %q (want %s)", sec, strings.Join(hindsight.Sections, ", "))
		}
	}
	if req.MinSeverity != "" && req.MinSeverity.Rank() == 0 {
		return hindsight.Invalid("min_severity", "must be informational, low, medium, high or critical, got %q", req.MinSeverity)
	}
	for _, b := range []struct {
		field, v string
		dst      *time.Time
	}{{"since", req.Since, &f.Since}, {"until", req.Until, &f.Until}} {
		if b.v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, b.v)
		if err != nil {
			return hindsight.Invalid(b.field, "must be an RFC 3339 time such as 2024-01-31T00:00:00Z, got %q", b.v)
		}
		*b.dst = t
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && f.Until.Before(f.Since) {
		return hindsight.Invalid("until", "is before since")
	}
	hits, err := s.search.Search(c.Request().Context(), retrieval.Query{Text: req.Text, Techniques: techniques, K: k, Filter: f})
	if err != nil {
		return err
	}
	if hits == nil {
		hits = []hindsight.Hit{}
	}
	return c.JSON(http.StatusOK, SearchResponse{Hits: hits})
}

// DraftRequest is the body of POST /v1/drafts.
type DraftRequest struct {
	Kind   hindsight.DraftKind `json:"kind"`
	Threat json.RawMessage     `json:"threat"`
	K      *int                `json:"k"`
}

func (s *Server) postDraft(c echo.Context) error {
	var req DraftRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	if req.Kind == "" {
		return hindsight.Invalid("kind", "is required: remediation, hunting or hardening")
	}
	if !req.Kind.Valid() {
		return hindsight.Invalid("kind", "must be remediation, hunting or hardening, got %q", req.Kind)
	}
	if len(req.Threat) == 0 || string(req.Threat) == "null" {
		return hindsight.Invalid("threat", "is required: a threat record")
	}
	k, err := kParam(req.K, 8)
	if err != nil {
		return err
	}
	threat, err := draft.ParseThreat(req.Threat, "threat")
	if err != nil {
		return err
	}
	dreq := draft.Request{Tenant: keyOf(c).Tenant, Kind: req.Kind, Threat: threat, K: k}
	if wantsStream(c) {
		return s.streamDraft(c, dreq)
	}
	d, err := s.writeDraft(c.Request().Context(), dreq)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Location", "/v1/drafts/"+d.ID)
	return c.JSON(http.StatusCreated, d)
}

// writeDraft drafts, stores the draft and records its measurements.
func (s *Server) writeDraft(ctx context.Context, req draft.Request) (*hindsight.Draft, error) {
	start := time.Now()
	d, err := s.drafter.Draft(ctx, req)
	if err != nil {
		return nil, err
	}
	if err := s.store.CreateDraft(ctx, d); err != nil {
		return nil, err
	}
	s.metrics.Observe("hindsight_draft_duration_seconds", time.Since(start).Seconds(), "model", d.Model)
	s.metrics.Add("hindsight_drafts_total", 1, "model", d.Model, "fallback", strconv.FormatBool(d.Fallback))
	if d.PromptTokens > 0 || d.OutputTokens > 0 {
		s.metrics.Add("hindsight_model_tokens_total", float64(d.PromptTokens), "model", d.Model, "direction", "prompt")
		s.metrics.Add("hindsight_model_tokens_total", float64(d.OutputTokens), "model", d.Model, "direction", "output")
	}
	return d, nil
}

func wantsStream(c echo.Context) bool {
	return strings.Contains(c.Request().Header.Get("Accept"), "text/event-stream")
}

// streamDraft answers with server-sent events: "token" events carry the model's answer as it is
// written ({"text": "..."}), then one "draft" event carries the stored draft, as the JSON answer
// would; an "error" event carries an error body if drafting fails after the stream began.
func (s *Server) streamDraft(c echo.Context, req draft.Request) error {
	w := c.Response()
	w.Header().Set(echo.HeaderContentType, "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(event string, v any) {
		b, _ := json.Marshal(v)
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b)
		w.Flush()
	}
	req.OnToken = func(piece string) { send("token", map[string]string{"text": piece}) }
	d, err := s.writeDraft(c.Request().Context(), req)
	if err != nil {
		code := hindsight.ErrorCode(err)
		if code == hindsight.EINTERNAL {
			s.logger.Error("draft failed", "error", err)
		}
		send("error", ErrorBody{ErrorDetail{Code: code, Message: hindsight.ErrorMessage(err), Field: hindsight.ErrorField(err)}})
		return nil
	}
	send("draft", d)
	return nil
}

// getDocument returns a document the key's tenant may see: its own threats and global knowledge.
// Several documents may share an ID across kinds; ?kind= picks one, else the first of Kinds' order.
func (s *Server) getDocument(c echo.Context) error {
	tenant, id := keyOf(c).Tenant, c.Param("id")
	kinds := hindsight.Kinds
	if k := c.QueryParam("kind"); k != "" {
		if !hindsight.Kind(k).Valid() {
			return hindsight.Invalid("kind", "unknown kind %q", k)
		}
		kinds = []hindsight.Kind{hindsight.Kind(k)}
	}
	var keys []hindsight.DocKey
	for _, k := range kinds {
		if k.Global() {
			keys = append(keys, hindsight.DocKey{Kind: k, ID: id})
		} else {
			keys = append(keys, hindsight.DocKey{Tenant: tenant, Kind: k, ID: id})
		}
	}
	docs, err := s.store.FindDocuments(c.Request().Context(), keys)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if d := docs[k]; d != nil {
			return c.JSON(http.StatusOK, d)
		}
	}
	return hindsight.Errorf(hindsight.ENOTFOUND, "no document %q", id)
}

// DraftResponse is a stored draft with its reviews, oldest first.
type DraftResponse struct {
	*hindsight.Draft
	Reviews []*hindsight.Review `json:"reviews"`
}

func (s *Server) getDraft(c echo.Context) error {
	ctx, tenant := c.Request().Context(), keyOf(c).Tenant
	d, err := s.store.FindDraftByID(ctx, tenant, c.Param("id"))
	if err != nil {
		return err
	}
	rs, err := s.store.FindReviews(ctx, tenant, d.ID)
	if err != nil {
		return err
	}
	if rs == nil {
		rs = []*hindsight.Review{}
	}
	return c.JSON(http.StatusOK, DraftResponse{Draft: d, Reviews: rs})
}

// ReviewRequest is the body of POST /v1/drafts/{id}/reviews.
type ReviewRequest struct {
	Final   *string            `json:"final"`
	Ratings *hindsight.Ratings `json:"ratings"`
	Comment string             `json:"comment"`
}

func (s *Server) postReview(c echo.Context) error {
	var req ReviewRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	if req.Final == nil || strings.TrimSpace(*req.Final) == "" {
		return hindsight.Invalid("final", "is required: the text that was finally sent")
	}
	if req.Ratings == nil {
		return hindsight.Invalid("ratings", "is required: accuracy, clarity and completeness, each 1 to 5")
	}
	if err := req.Ratings.Validate(); err != nil {
		return err
	}
	key := keyOf(c)
	r := &hindsight.Review{ID: "REV-" + strings.TrimPrefix(draft.NewID(), "DRF-"), DraftID: c.Param("id"), Tenant: key.Tenant,
		Reviewer: key.ID, Final: *req.Final, Ratings: *req.Ratings, Comment: req.Comment, CreatedAt: time.Now().UTC()}
	if err := s.store.CreateReview(c.Request().Context(), r); err != nil {
		return err
	}
	if s.reviews != nil {
		// The final becomes searchable once the background sync has indexed it; the reviewer
		// does not wait for the embedding.
		s.reviews.Trigger(key.Tenant, r.DraftID)
	}
	return c.JSON(http.StatusCreated, r)
}

func kParam(k *int, def int) (int, error) {
	if k == nil {
		return def, nil
	}
	if *k < 1 || *k > retrieval.MaxK {
		return 0, hindsight.Invalid("k", "must be between 1 and %d, got %d", retrieval.MaxK, *k)
	}
	return *k, nil
}

func normaliseTechniques(ts []string, field string) ([]string, error) {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = strings.ToUpper(strings.TrimSpace(t))
		if !hindsight.ValidTechnique(out[i]) {
			return nil, hindsight.Invalid(fmt.Sprintf("%s[%d]", field, i), "%q is not an ATT&CK technique ID (want T1234 or T1234.567)", t)
		}
	}
	return out, nil
}
