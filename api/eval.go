package api

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// getLatestReport serves the newest eval report over only the key's tenant's drafts, as it was
// stored. Reports over several tenants are never served: each of their tenants gets its own report
// of only its drafts (hindsight eval stores both), so no tenant sees another's drafts or slices.
func (s *Server) getLatestReport(c echo.Context) error {
	raw, err := s.store.FindLatestEvalReport(c.Request().Context(), keyOf(c).Tenant)
	if err != nil {
		return err
	}
	return c.JSONBlob(http.StatusOK, raw)
}
