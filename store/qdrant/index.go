// Package qdrant is Hindsight's store for deployments whose vectors outgrow one machine: Qdrant
// (through its official Go client, over gRPC) holds and searches the vectors, and a catalog store
// (store/sqlite, or PostgreSQL) keeps everything else: documents, their chunks' text and full-text
// index, ingest runs, drafts, reviews and API keys. Index pairs the two and has the whole method set
// of a store, so ingest, the retriever, the API and the commands use it like any other backend.
//
// # Collections
//
// Each embedding space has its own collection, named from a prefix and the space
// (hindsight_builtin_1_384 for builtin@1/384), created on first write with cosine distance and
// payload indexes: tenant (keyword, marked as the tenant key so Qdrant keeps each tenant's points
// together), doc, kind and techniques (keyword), occurred_at (datetime) and severity (integer).
// Each point is one chunk; its ID is a UUID derived from the space, the document's key and the
// chunk's position, so writing the same document again overwrites the same points. Every search is
// filtered inside Qdrant, tenant first (tenant == T or tenant == ""), and grouped by document so
// that each document comes back once, with its best chunk.
//
// # Consistency between Qdrant and the catalog
//
// There is no transaction across the two stores, so the order of the steps is what keeps them
// consistent, with the catalog as the record of what is stored:
//
//   - WriteDocuments upserts the points first (idempotent, waiting until Qdrant has applied them),
//     then deletes each document's points beyond its new chunk count (for a record without new
//     chunks, it updates the fields its points are filtered on), and only then writes the
//     catalog in one transaction. If the process dies in between, the catalog still has the old
//     record and content hashes (or no record), so the next ingest sees the documents as changed
//     and writes them again, overwriting the same points. Until then a new document's points are
//     ignored (below) and a changed document may be ranked by its new text. Writing the catalog
//     first would be wrong: a crash would leave the catalog saying the new vectors are stored
//     while Qdrant lacks them, and ingest would never send them again.
//   - DeleteDocuments deletes from the catalog first, then the documents' points; a document
//     embedded in a new space loses its old space's points after the catalog records the new
//     space. A crash in between leaves points of documents the catalog does not hold in that
//     space: SearchVectors checks every document Qdrant returns against the catalog, drops those
//     and asks Qdrant for the next best instead, and the retriever skips any document the catalog
//     cannot load.
//
// The catalog receives the writes unchanged, vectors included, so it stays a complete store on its
// own: its vectors could refill a lost collection without embedding again, and opening the
// catalog without Qdrant still works.
package qdrant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/eval"
	qc "github.com/qdrant/go-client/qdrant"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Catalog is the store that keeps everything but Qdrant's share: *sqlite.DB and *postgres.DB
// implement it. The methods mean what they mean on those stores; the index never uses a catalog's
// own vector search.
type Catalog interface {
	Ping(ctx context.Context) error
	Close() error

	DocumentStates(ctx context.Context, keys []hindsight.DocKey) (map[hindsight.DocKey]hindsight.DocState, error)
	WriteDocuments(ctx context.Context, ws []hindsight.DocumentWrite) error
	DeleteDocuments(ctx context.Context, keys []hindsight.DocKey) (int, error)
	FindDocuments(ctx context.Context, keys []hindsight.DocKey) (map[hindsight.DocKey]*hindsight.Document, error)
	CountDocuments(ctx context.Context, tenant string) (map[hindsight.Kind]int, error)
	DocumentsBySource(ctx context.Context, source string) ([]hindsight.DocKey, error)
	SearchText(ctx context.Context, terms []string, f hindsight.Filter, n int) ([]hindsight.Candidate, error)

	SaveRun(ctx context.Context, run *hindsight.Run) error
	FindRunByID(ctx context.Context, id string) (*hindsight.Run, error)
	FindRuns(ctx context.Context, limit int) ([]*hindsight.Run, error)

	CreateDraft(ctx context.Context, d *hindsight.Draft) error
	FindDraftByID(ctx context.Context, tenant, id string) (*hindsight.Draft, error)
	CreateReview(ctx context.Context, r *hindsight.Review) error
	FindReviews(ctx context.Context, tenant, draftID string) ([]*hindsight.Review, error)
	ImportPairs(ctx context.Context, pairs []hindsight.Pair) (inserted, updated, unchanged int, err error)

	CreateKey(ctx context.Context, tenant string, role hindsight.Role) (string, *hindsight.Key, error)
	FindKeyBySecret(ctx context.Context, secret string) (*hindsight.Key, error)
	FindKeys(ctx context.Context, tenant string) ([]*hindsight.Key, error)

	FindPairs(ctx context.Context, f eval.PairFilter) ([]eval.StoredPair, error)
	FindPairsPage(ctx context.Context, p eval.PairPage) ([]eval.StoredPair, error)
	SaveEvalReport(ctx context.Context, r *eval.Report) error
	FindLatestEvalReport(ctx context.Context, tenant string) (json.RawMessage, error)
}

// Index is a store whose vectors live in Qdrant and whose everything else lives in a catalog. Open
// returns one; it is safe for concurrent use.
type Index struct {
	catalog Catalog
	client  *qc.Client
	opts    Options // with defaults applied
	logger  *slog.Logger

	// ensureMu serialises the creation of collections, so that concurrent writers of a new space
	// do not race each other to create it.
	ensureMu sync.Mutex
	mu       sync.Mutex
	ready    map[string]bool // collections known to exist with their payload indexes
}

// Open validates the options, connects to Qdrant and checks that it answers. On success the Index
// owns the catalog and closes it in Close; on error the caller still owns it. A nil logger discards
// logs.
func Open(ctx context.Context, catalog Catalog, opts Options, logger *slog.Logger) (*Index, error) {
	if catalog == nil {
		return nil, errors.New("qdrant.Open: nil catalog")
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	opts = opts.withDefaults()
	host := opts.Host
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		// The client joins host and port with a colon, which needs brackets around IPv6.
		host = "[" + host + "]"
	}
	cfg := &qc.Config{
		Host:   host,
		Port:   opts.Port,
		UseTLS: opts.TLS,
		// The client's own check logs through slog's default logger; Open checks the version
		// itself and logs through the injected one.
		SkipCompatibilityCheck: true,
	}
	if opts.APIKey != "" {
		// Sent by an interceptor of our own rather than Config.APIKey, whose warning about a key
		// without TLS goes to slog's default logger instead of the injected one.
		cfg.GrpcOptions = append(cfg.GrpcOptions, grpc.WithChainUnaryInterceptor(apiKeyInterceptor(opts.APIKey)))
		if !opts.TLS {
			logger.Warn("qdrant API key sent without TLS: anyone on the network path can read it", "host", opts.Host)
		}
	}
	client, err := qc.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("qdrant client for %s: %w", net.JoinHostPort(opts.Host, strconv.Itoa(opts.Port)), err)
	}
	ix := &Index{catalog: catalog, client: client, opts: opts, logger: logger, ready: map[string]bool{}}
	reply, err := client.HealthCheck(ctx)
	if err != nil {
		client.Close()
		return nil, ix.qdrantError("health check", err)
	}
	ix.checkVersion(reply.GetVersion())
	return ix, nil
}

// apiKeyInterceptor adds the API key to every call, in the header Qdrant reads it from.
func apiKeyInterceptor(key string) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		return invoker(metadata.AppendToOutgoingContext(ctx, "api-key", key), method, req, reply, cc, opts...)
	}
}

// checkVersion warns when the server's version is one the client does not promise to speak to: a
// different major version, or a minor version more than one apart.
func (ix *Index) checkVersion(server string) {
	client := clientVersion()
	sv, err1 := qc.ParseVersion(server)
	cv, err2 := qc.ParseVersion(client)
	if err1 != nil || err2 != nil {
		ix.logger.Debug("qdrant connected", "server_version", server, "client_version", client)
		return
	}
	if sv.Major != cv.Major || sv.Minor-cv.Minor > 1 || cv.Minor-sv.Minor > 1 {
		ix.logger.Warn("qdrant server and client versions may be incompatible", "server_version", server, "client_version", client)
		return
	}
	ix.logger.Debug("qdrant connected", "server_version", server, "client_version", client)
}

// clientVersion returns the version of the Qdrant Go client module this binary was built with.
func clientVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/qdrant/go-client" {
				return d.Version
			}
		}
	}
	return "unknown"
}

// Close closes the connection to Qdrant and the catalog.
func (ix *Index) Close() error {
	return errors.Join(ix.client.Close(), ix.catalog.Close())
}

// Ping checks that both the catalog and Qdrant answer.
func (ix *Index) Ping(ctx context.Context) error {
	if err := ix.catalog.Ping(ctx); err != nil {
		return err
	}
	if _, err := ix.client.HealthCheck(ctx); err != nil {
		return ix.qdrantError("health check", err)
	}
	return nil
}

// qdrantError wraps an error of a Qdrant call. Failures to reach Qdrant, or to be let in, become
// EUNAVAILABLE errors whose message is safe to show; anything else stays internal.
func (ix *Index) qdrantError(op string, err error) error {
	addr := net.JoinHostPort(ix.opts.Host, strconv.Itoa(ix.opts.Port))
	wrapped := fmt.Errorf("qdrant %s: %w", op, err)
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted:
		return &hindsight.Error{Code: hindsight.EUNAVAILABLE, Message: "vector index (qdrant at " + addr + ") does not answer", Err: wrapped}
	case codes.Unauthenticated, codes.PermissionDenied:
		return &hindsight.Error{Code: hindsight.EUNAVAILABLE, Message: "vector index (qdrant at " + addr + ") refused the API key", Err: wrapped}
	}
	return wrapped
}

// isNotFound reports whether Qdrant answered that the collection does not exist.
func isNotFound(err error) bool { return status.Code(err) == codes.NotFound }

// The rest of the store's methods belong to the catalog alone.

// DocumentStates returns the catalog's states of the keys it holds.
func (ix *Index) DocumentStates(ctx context.Context, keys []hindsight.DocKey) (map[hindsight.DocKey]hindsight.DocState, error) {
	return ix.catalog.DocumentStates(ctx, keys)
}

// lineCatalog is a catalog that keeps the JSONL line each document was stored from, as
// *sqlite.DB does.
type lineCatalog interface {
	DocumentStatesByLine(ctx context.Context, hashes []string) (map[string]hindsight.LineState, error)
	SetDocumentLineHashes(ctx context.Context, states []hindsight.LineState) error
}

// DocumentStatesByLine returns the catalog's states of the documents last stored from the lines
// that hashes name, or none when the catalog keeps no line hashes. As for DocumentStates, the
// catalog is the record: it gets a document's line hash only after Qdrant has its points.
func (ix *Index) DocumentStatesByLine(ctx context.Context, hashes []string) (map[string]hindsight.LineState, error) {
	if lc, ok := ix.catalog.(lineCatalog); ok {
		return lc.DocumentStatesByLine(ctx, hashes)
	}
	return map[string]hindsight.LineState{}, nil
}

// SetDocumentLineHashes records new line hashes of unchanged documents in the catalog, when it
// keeps them; otherwise it does nothing.
func (ix *Index) SetDocumentLineHashes(ctx context.Context, states []hindsight.LineState) error {
	if lc, ok := ix.catalog.(lineCatalog); ok {
		return lc.SetDocumentLineHashes(ctx, states)
	}
	return nil
}

// FindDocuments returns the catalog's documents among keys.
func (ix *Index) FindDocuments(ctx context.Context, keys []hindsight.DocKey) (map[hindsight.DocKey]*hindsight.Document, error) {
	return ix.catalog.FindDocuments(ctx, keys)
}

// CountDocuments counts the catalog's documents for a tenant (with global knowledge), by kind.
func (ix *Index) CountDocuments(ctx context.Context, tenant string) (map[hindsight.Kind]int, error) {
	return ix.catalog.CountDocuments(ctx, tenant)
}

// DocumentsBySource returns the keys of the documents last read from source.
func (ix *Index) DocumentsBySource(ctx context.Context, source string) ([]hindsight.DocKey, error) {
	return ix.catalog.DocumentsBySource(ctx, source)
}

// SearchText runs the catalog's full-text search.
func (ix *Index) SearchText(ctx context.Context, terms []string, f hindsight.Filter, n int) ([]hindsight.Candidate, error) {
	return ix.catalog.SearchText(ctx, terms, f, n)
}

// SaveRun inserts or updates an ingest run's record.
func (ix *Index) SaveRun(ctx context.Context, run *hindsight.Run) error {
	return ix.catalog.SaveRun(ctx, run)
}

// FindRunByID returns a run, or an ENOTFOUND error.
func (ix *Index) FindRunByID(ctx context.Context, id string) (*hindsight.Run, error) {
	return ix.catalog.FindRunByID(ctx, id)
}

// FindRuns returns up to limit runs, newest first.
func (ix *Index) FindRuns(ctx context.Context, limit int) ([]*hindsight.Run, error) {
	return ix.catalog.FindRuns(ctx, limit)
}

// CreateDraft stores a draft.
func (ix *Index) CreateDraft(ctx context.Context, d *hindsight.Draft) error {
	return ix.catalog.CreateDraft(ctx, d)
}

// FindDraftByID returns a tenant's draft.
func (ix *Index) FindDraftByID(ctx context.Context, tenant, id string) (*hindsight.Draft, error) {
	return ix.catalog.FindDraftByID(ctx, tenant, id)
}

// CreateReview stores a review of a draft.
func (ix *Index) CreateReview(ctx context.Context, r *hindsight.Review) error {
	return ix.catalog.CreateReview(ctx, r)
}

// FindReviews returns the reviews of a tenant's draft.
func (ix *Index) FindReviews(ctx context.Context, tenant, draftID string) ([]*hindsight.Review, error) {
	return ix.catalog.FindReviews(ctx, tenant, draftID)
}

// ImportPairs stores eval pairs as drafts with their imported reviews, idempotently.
func (ix *Index) ImportPairs(ctx context.Context, pairs []hindsight.Pair) (inserted, updated, unchanged int, err error) {
	return ix.catalog.ImportPairs(ctx, pairs)
}

// CreateKey creates an API key and returns its secret and record.
func (ix *Index) CreateKey(ctx context.Context, tenant string, role hindsight.Role) (string, *hindsight.Key, error) {
	return ix.catalog.CreateKey(ctx, tenant, role)
}

// FindKeyBySecret returns the key with this secret.
func (ix *Index) FindKeyBySecret(ctx context.Context, secret string) (*hindsight.Key, error) {
	return ix.catalog.FindKeyBySecret(ctx, secret)
}

// FindKeys returns a tenant's keys.
func (ix *Index) FindKeys(ctx context.Context, tenant string) ([]*hindsight.Key, error) {
	return ix.catalog.FindKeys(ctx, tenant)
}

// FindPairs returns the drafts with the final text their reviewers shipped, for eval.
func (ix *Index) FindPairs(ctx context.Context, f eval.PairFilter) ([]eval.StoredPair, error) {
	return ix.catalog.FindPairs(ctx, f)
}

// FindPairsPage returns one page of reviewed drafts with their latest reviews, in order of draft ID.
func (ix *Index) FindPairsPage(ctx context.Context, p eval.PairPage) ([]eval.StoredPair, error) {
	return ix.catalog.FindPairsPage(ctx, p)
}

// SaveEvalReport stores an eval report.
func (ix *Index) SaveEvalReport(ctx context.Context, r *eval.Report) error {
	return ix.catalog.SaveEvalReport(ctx, r)
}

// FindLatestEvalReport returns, as stored JSON, the newest eval report over only the tenant's
// drafts, or ENOTFOUND.
func (ix *Index) FindLatestEvalReport(ctx context.Context, tenant string) (json.RawMessage, error) {
	return ix.catalog.FindLatestEvalReport(ctx, tenant)
}
