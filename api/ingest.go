package api

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/ingest"
	"github.com/labstack/echo/v4"
)

// DefaultUploadLimit is the largest upload POST /v1/ingest accepts when Config.UploadLimit is 0.
const DefaultUploadLimit = 64 << 20

// DefaultUploadTimeout bounds an upload's ingest when Config.UploadTimeout is 0.
const DefaultUploadTimeout = 30 * time.Minute

// uploadRoute is the route of uploads, whose body and time limits are their own.
const uploadRoute = "/v1/ingest"

// uploads is what the ingest routes use: the ingester (nil when the server does not ingest) and
// the upload's limits.
type uploads struct {
	in      *ingest.Ingester
	limit   int64
	timeout time.Duration
}

func newUploads(cfg Config) uploads {
	u := uploads{in: cfg.Ingest, limit: cfg.UploadLimit, timeout: cfg.UploadTimeout}
	if u.limit <= 0 {
		u.limit = DefaultUploadLimit
	}
	if u.timeout <= 0 {
		u.timeout = DefaultUploadTimeout
	}
	return u
}

// routeLimits returns the body limit and the time limit of the request's route: an upload is a
// file, larger and slower to ingest than any JSON request, so it has limits of its own.
func (s *Server) routeLimits(c echo.Context) (int64, time.Duration) {
	if c.Path() == uploadRoute && c.Request().Method == http.MethodPost {
		return s.uploads.limit, s.uploads.timeout
	}
	return MaxBody, s.timeout
}

// limitBody rejects bodies larger than the route's limit.
func (s *Server) limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		n, _ := s.routeLimits(c)
		return bodyLimit(n)(next)(c)
	}
}

// uploadName is what an upload may be called: it becomes the source of its documents.
var uploadName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)

// postIngest ingests the request body, a file of JSON lines (canonical records or eval pairs), for
// the key's tenant, synchronously, and answers the run's record. Only the tenant's threats and
// eval pairs are accepted: global knowledge is shared by every tenant, and records of another
// tenant are not the key's to write. The upload's documents are recorded as coming from
// "upload:TENANT/NAME", so that uploading NAME again with prune=true removes what it no longer
// holds, and nothing else. On a server whose reviews are grounding (Config.Reviews), the run also
// syncs the tenant's reviewed finals, eval pairs of the upload included.
func (s *Server) postIngest(c echo.Context) error {
	if s.uploads.in == nil {
		return hindsight.Errorf(hindsight.ENOTFOUND, "this server does not ingest")
	}
	key := keyOf(c)
	req := c.Request()
	ct, _, err := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType))
	if err != nil || (ct != "application/x-ndjson" && ct != echo.MIMEApplicationJSON) {
		return hindsight.Invalid("Content-Type", "want application/x-ndjson or application/json (one JSON object a line), got %q", req.Header.Get(echo.HeaderContentType))
	}
	format := c.QueryParam("format")
	switch format {
	case "":
		format = "auto"
	case "auto", "jsonl", "pairs":
	default:
		return hindsight.Invalid("format", "want auto, jsonl or pairs (an upload holds a tenant's records or eval pairs), got %q", format)
	}
	name := c.QueryParam("name")
	if name == "" {
		name = "upload"
	}
	if !uploadName.MatchString(name) {
		return hindsight.Invalid("name", "want 1 to 100 letters, digits, '.', '_' or '-', got %q", name)
	}
	prune := false
	if p := c.QueryParam("prune"); p != "" {
		if prune, err = strconv.ParseBool(p); err != nil {
			return hindsight.Invalid("prune", "want true or false, got %q", p)
		}
	}
	// The server's read and write deadlines suit JSON requests; an upload may take longer to send
	// and to ingest. A connection that cannot move its deadlines keeps them.
	rc := http.NewResponseController(c.Response().Writer)
	deadline := time.Now().Add(s.uploads.timeout + time.Minute)
	rc.SetReadDeadline(deadline)
	rc.SetWriteDeadline(deadline)

	// Spooled to a file rather than held in memory, since the limit may be large; the run reads it
	// like any other file, under the upload's name.
	f, err := os.CreateTemp("", "hindsight-upload-*.jsonl")
	if err != nil {
		return fmt.Errorf("spool upload: %w", err)
	}
	defer os.Remove(f.Name())
	n, err := io.Copy(f, req.Body)
	if cerr := f.Close(); err == nil && cerr != nil {
		return fmt.Errorf("spool upload: %w", cerr)
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return tooLarge(mbe.Limit)
	} else if err != nil {
		return hindsight.Invalid("body", "cannot read the request body: %v", err)
	}
	if n == 0 {
		return hindsight.Invalid("body", "is empty; want JSON lines: one record or eval pair a line")
	}
	run, err := s.uploads.in.RunInputs(req.Context(), []ingest.Input{{Path: f.Name(), Format: format, Name: "upload:" + key.Tenant + "/" + name}},
		ingest.Options{Tenant: key.Tenant, TenantOnly: true, Prune: prune, Reviews: s.reviews != nil})
	if run == nil {
		return err
	}
	if err != nil {
		// The run is recorded as failed with its reason, and answered as such: the upload was
		// taken and a run made of it, which did not finish.
		s.logger.Error("upload ingest failed", "run", run.ID, "tenant", key.Tenant, "error", err)
	}
	c.Response().Header().Set("Location", "/v1/ingest/runs/"+run.ID)
	return c.JSON(http.StatusCreated, run)
}

// RunsResponse is the body of GET /v1/ingest/runs.
type RunsResponse struct {
	Runs []ingest.RunSummary `json:"runs"`
}

// getRuns lists the key's tenant's ingest runs, newest first: the runs made with that tenant as
// their tenant option (uploads through the API, hindsight ingest --tenant). Runs without a tenant
// option write global knowledge and any tenant's records; they are an operator's, and no tenant's
// key lists them.
func (s *Server) getRuns(c echo.Context) error {
	if s.uploads.in == nil {
		return hindsight.Errorf(hindsight.ENOTFOUND, "this server does not ingest")
	}
	limit := 20
	if q := c.QueryParam("limit"); q != "" {
		n, err := strconv.Atoi(q)
		if err != nil || n < 1 || n > 200 {
			return hindsight.Invalid("limit", "want an integer from 1 to 200, got %q", q)
		}
		limit = n
	}
	runs, err := s.uploads.in.Runs(c.Request().Context(), ingest.RunFilter{Tenant: keyOf(c).Tenant, Limit: limit})
	if err != nil {
		return err
	}
	out := RunsResponse{Runs: []ingest.RunSummary{}}
	now := time.Now()
	for _, r := range runs {
		out.Runs = append(out.Runs, ingest.Summarize(r, now))
	}
	return c.JSON(http.StatusOK, out)
}

// getRun returns one of the key's tenant's runs with its rejections; any other run is not found.
func (s *Server) getRun(c echo.Context) error {
	if s.uploads.in == nil {
		return hindsight.Errorf(hindsight.ENOTFOUND, "this server does not ingest")
	}
	id := c.Param("id")
	run, err := s.uploads.in.RunByID(c.Request().Context(), id)
	if err != nil {
		return err
	}
	if run.Tenant != keyOf(c).Tenant {
		return hindsight.Errorf(hindsight.ENOTFOUND, "no ingest run %q", id)
	}
	return c.JSON(http.StatusOK, run)
}
