// Package api is Hindsight's HTTP API on echo: search, grounded drafts and their reviews, and
// health. Every /v1 route needs an API key (Authorization: Bearer KEY) that decides the tenant;
// errors are rendered in one place as {"error": {"code", "message", "field"}}.
package api

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/draft"
	"github.com/hindsightsec/hindsight/retrieval"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// Store is what the API needs of a store.
type Store interface {
	Ping(ctx context.Context) error
	FindKeyBySecret(ctx context.Context, secret string) (*hindsight.Key, error)
	CreateDraft(ctx context.Context, d *hindsight.Draft) error
	FindDraftByID(ctx context.Context, tenant, id string) (*hindsight.Draft, error)
	CreateReview(ctx context.Context, r *hindsight.Review) error
	FindReviews(ctx context.Context, tenant, draftID string) ([]*hindsight.Review, error)
}

// Searcher runs searches.
type Searcher interface {
	Search(ctx context.Context, q retrieval.Query) ([]hindsight.Hit, error)
}

// MaxBody is the largest request body accepted, in bytes.
const MaxBody = 1 << 20

// Server is the HTTP API.
type Server struct {
	echo    *echo.Echo
	store   Store
	search  Searcher
	drafter *draft.Drafter
	logger  *slog.Logger
}

// New returns a server over a store, a searcher and a drafter. A nil logger discards logs.
func New(store Store, search Searcher, drafter *draft.Drafter, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{echo: echo.New(), store: store, search: search, drafter: drafter, logger: logger}
	e := s.echo
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.Use(middleware.Recover())
	e.Use(s.logRequests)
	e.Use(bodyLimit(MaxBody))

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	v1 := e.Group("/v1", s.authenticate)
	v1.POST("/search", s.postSearch)
	v1.POST("/drafts", s.postDraft)
	v1.GET("/drafts/:id", s.getDraft)
	v1.POST("/drafts/:id/reviews", s.postReview, require(hindsight.RoleReviewer))
	return s
}

// ServeHTTP makes the server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }

// Serve serves on the listener until ctx is done, then shuts down gracefully: it stops accepting,
// lets requests in flight finish (up to grace) and returns.
func (s *Server) Serve(ctx context.Context, ln net.Listener, grace time.Duration) error {
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(c echo.Context) error {
	if err := s.store.Ping(c.Request().Context()); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		s.logger.Debug("request", "method", c.Request().Method, "path", c.Path(), "status", c.Response().Status,
			"ms", float64(time.Since(start).Microseconds())/1000)
		return nil
	}
}
