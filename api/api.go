// Package api is Hindsight's HTTP API on echo: search, grounded drafts and their reviews, and
// health, with the review console (/console) that drives them from a browser. Every /v1 route
// needs an API key (Authorization: Bearer KEY) that decides the tenant;
// errors are rendered in one place as {"error": {"code", "message", "field"}}.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/draft"
	"github.com/hindsightsec/hindsight/ingest"
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
	FindDocuments(ctx context.Context, keys []hindsight.DocKey) (map[hindsight.DocKey]*hindsight.Document, error)
	// FindLatestEvalReport returns the newest eval report over only the tenant's drafts, as stored
	// JSON; ENOTFOUND when there is none.
	FindLatestEvalReport(ctx context.Context, tenant string) (json.RawMessage, error)
}

// Searcher runs searches.
type Searcher interface {
	Search(ctx context.Context, q retrieval.Query) ([]hindsight.Hit, error)
}

// MaxBody is the largest request body accepted, in bytes.
const MaxBody = 1 << 20

// Config is what a server is built from. Store, Search and Drafter are required.
type Config struct {
	Store   Store
	Search  Searcher
	Drafter *draft.Drafter
	// Ready, when not nil, is called by /readyz besides the store's Ping: e.g. the model's ping.
	Ready func(ctx context.Context) error
	// RateLimit is the sustained requests per second allowed per API key (bursts of twice as
	// many); 0 means 20.
	RateLimit float64
	// RequestTimeout bounds each /v1 request; 0 means 2 minutes (a model may take that long).
	RequestTimeout time.Duration
	// Metrics receives the server's measurements; nil means a new registry.
	Metrics *Metrics
	Logger  *slog.Logger // nil discards logs
	// Ingest, when not nil, serves uploads (POST /v1/ingest) and the ingest runs
	// (GET /v1/ingest/runs[/{id}]) to admin keys; nil: those routes answer 404.
	Ingest *ingest.Ingester
	// UploadLimit is the largest upload, in bytes; 0 means DefaultUploadLimit.
	UploadLimit int64
	// UploadTimeout bounds an upload's ingest instead of RequestTimeout; 0 means
	// DefaultUploadTimeout.
	UploadTimeout time.Duration
	// Reviews, when not nil, makes reviewed finals grounding for later drafts: each review stored
	// through POST /v1/drafts/{id}/reviews asks it for a background sync of the draft's final,
	// and each upload's run syncs the tenant's finals. nil: reviews stay out of the search index.
	Reviews *ingest.ReviewSync
}

// Server is the HTTP API.
type Server struct {
	echo    *echo.Echo
	store   Store
	search  Searcher
	drafter *draft.Drafter
	ready   func(ctx context.Context) error
	metrics *Metrics
	logger  *slog.Logger
	timeout time.Duration
	uploads uploads
	reviews *ingest.ReviewSync
}

// New returns a server.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RateLimit <= 0 {
		cfg.RateLimit = 20
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 2 * time.Minute
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics()
	}
	s := &Server{echo: echo.New(), store: cfg.Store, search: cfg.Search, drafter: cfg.Drafter, ready: cfg.Ready,
		metrics: cfg.Metrics, logger: cfg.Logger, timeout: cfg.RequestTimeout, reviews: cfg.Reviews}
	s.uploads = newUploads(cfg)
	e := s.echo
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.Use(middleware.Recover())
	e.Use(s.observe)
	e.Use(s.limitBody)

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", s.getMetrics)
	e.GET("/openapi.json", s.getOpenAPI)
	e.GET("/console", consoleFile("index.html", "text/html; charset=utf-8"))
	e.GET("/console/console.js", consoleFile("console.js", "text/javascript; charset=utf-8"))
	e.GET("/console/console.css", consoleFile("console.css", "text/css; charset=utf-8"))
	v1 := e.Group("/v1", s.authenticate, newKeyLimiter(cfg.RateLimit).limit, s.withTimeout)
	v1.POST("/search", s.postSearch)
	v1.POST("/drafts", s.postDraft)
	v1.GET("/drafts/:id", s.getDraft)
	v1.POST("/drafts/:id/reviews", s.postReview, require(hindsight.RoleReviewer))
	v1.GET("/documents/:id", s.getDocument)
	v1.GET("/eval/reports/latest", s.getLatestReport)
	v1.POST("/ingest", s.postIngest, require(hindsight.RoleAdmin))
	v1.GET("/ingest/runs", s.getRuns, require(hindsight.RoleAdmin))
	v1.GET("/ingest/runs/:id", s.getRun, require(hindsight.RoleAdmin))
	return s
}

// withTimeout bounds a request's context, so a slow model or store cannot hold a connection open
// for ever.
func (s *Server) withTimeout(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		_, timeout := s.routeLimits(c)
		ctx, cancel := context.WithTimeout(c.Request().Context(), timeout)
		defer cancel()
		c.SetRequest(c.Request().WithContext(ctx))
		return next(c)
	}
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

// readyz answers 200 when the store (and the model, when one is configured) answer, 503 otherwise.
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 10*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		return &hindsight.Error{Code: hindsight.EUNAVAILABLE, Message: "store: " + hindsight.ErrorMessage(err), Err: err}
	}
	if s.ready != nil {
		if err := s.ready(ctx); err != nil {
			return &hindsight.Error{Code: hindsight.EUNAVAILABLE, Message: "model: " + hindsight.ErrorMessage(err), Err: err}
		}
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) getMetrics(c echo.Context) error {
	c.Response().Header().Set(echo.HeaderContentType, "text/plain; version=0.0.4; charset=utf-8")
	c.Response().WriteHeader(http.StatusOK)
	_, err := s.metrics.WriteTo(c.Response())
	return err
}

// observe counts and times every request by its route pattern (never the raw path, whose IDs
// would make a series per draft) and logs it at debug level.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		if err := next(c); err != nil {
			c.Error(err)
		}
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		d := time.Since(start)
		status := c.Response().Status
		s.metrics.Add("hindsight_http_requests_total", 1, "method", c.Request().Method, "route", route, "status", strconv.Itoa(status))
		s.metrics.Observe("hindsight_http_request_duration_seconds", d.Seconds(), "route", route)
		s.logger.Debug("request", "method", c.Request().Method, "route", route, "status", status, "ms", float64(d.Microseconds())/1000)
		return nil
	}
}
