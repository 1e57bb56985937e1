package api

import (
	"encoding/json"
	"fmt"
	"net/http"
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
	hits, err := s.search.Search(c.Request().Context(), retrieval.Query{
		Text: req.Text, Techniques: techniques, K: k,
		Filter: hindsight.Filter{Tenant: keyOf(c).Tenant, Kinds: req.Kinds},
	})
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
	key := keyOf(c)
	d, err := s.drafter.Draft(c.Request().Context(), draft.Request{Tenant: key.Tenant, Kind: req.Kind, Threat: threat, K: k})
	if err != nil {
		return err
	}
	if err := s.store.CreateDraft(c.Request().Context(), d); err != nil {
		return err
	}
	c.Response().Header().Set("Location", "/v1/drafts/"+d.ID)
	return c.JSON(http.StatusCreated, d)
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
