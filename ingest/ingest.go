// Package ingest reads sources (canonical JSONL records, the ATT&CK STIX bundle, Sigma and Elastic
// rules, eval pairs), validates them with errors that name the file, line and field, splits
// documents into chunks, embeds what changed and stores it. Runs are incremental and idempotent:
// content hashes decide what is new, changed or unchanged, and an unchanged document costs no
// embedding. Eval pairs are not documents: they are stored as drafts with their reviews. With
// Options.Reviews, a run also turns the latest review of every draft into a document, approved
// grounding for later drafts (ReviewedDocument), kept in step like a file's records.
//
// # The pipeline
//
// A run reads, prepares (looks up stored state, hashes, chunks), embeds and writes at the same
// time, each stage handing batches to the next through bounded channels, so a slow stage holds
// the others back instead of letting batches pile up in memory. Embedding goes in calls of
// Options.EmbedBatch texts, Options.EmbedConcurrency calls at once, so that a remote embedder is
// never idle while the store writes. Batches are written in the order they were read, each in one
// transaction: after a crash every document is stored whole or not at all, and the next run picks
// up where the crash left off, because what was stored is then unchanged.
//
// # Re-runs
//
// A nightly run finds most records unchanged, and what it costs is reading them. Line-oriented
// inputs are decoded a batch of lines at a time on every CPU. Into a store that keeps the hash of
// the JSONL line each document was stored from (LineStore), a line stored before byte for byte,
// from the same source into the same embedding space, is unchanged without being decoded; any
// other line is decoded, and a record that is the same as the stored one however it is written
// (key order, spacing) is unchanged by its record hash, and its new line is remembered. Rejected
// lines are never stored, so a re-run reports them again, the same way.
//
// Failures are isolated per document where they can be: a document the embedder keeps failing
// on, or that the store refuses, is reported as a rejection with its file and line, and the run
// goes on. A failure that no document causes (the embedder or the store down, the model missing)
// fails the run, whose record then says why; a cancelled context stops the run promptly and
// records it as failed, "interrupted".
//
// # One writer at a time
//
// A run holds the store's writer lock (Store.LockWriter) from before it records itself until it
// has recorded its end, so runs never interleave their writes. The lock dies with its process;
// a run record still "running" when its lock is free belongs to a process that died, and is
// marked failed, interrupted, by the next run and by the listings (Runs, RunByID).
package ingest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/eval"
	"golang.org/x/sync/errgroup"
)

// Store is what ingest needs of a store.
type Store interface {
	DocumentStates(ctx context.Context, keys []hindsight.DocKey) (map[hindsight.DocKey]hindsight.DocState, error)
	WriteDocuments(ctx context.Context, ws []hindsight.DocumentWrite) error
	DocumentsBySource(ctx context.Context, source string) ([]hindsight.DocKey, error)
	DeleteDocuments(ctx context.Context, keys []hindsight.DocKey) (int, error)
	SaveRun(ctx context.Context, run *hindsight.Run) error
	FindRunByID(ctx context.Context, id string) (*hindsight.Run, error)
	FindRuns(ctx context.Context, limit int) ([]*hindsight.Run, error)
	// ImportPairs stores eval pairs as drafts, each with one imported review, idempotently: a pair
	// stored before and unchanged changes nothing; a changed one replaces its draft and imported
	// review, never a review made through the API. It returns ECONFLICT and stores nothing when a
	// pair's ID is that of a different draft made through the API or of another tenant's draft.
	ImportPairs(ctx context.Context, pairs []hindsight.Pair) (inserted, updated, unchanged int, err error)
	// FindPairsPage returns one page of reviewed drafts, each with its latest review, in order of
	// draft ID; a page shorter than its limit is the last.
	FindPairsPage(ctx context.Context, p eval.PairPage) ([]eval.StoredPair, error)
	// LockWriter takes the store's writer lock for holder (shown to whoever finds the lock taken,
	// e.g. "run RUN-…"). Without wait, a lock held by anyone else is an ECONFLICT error that names
	// the holder; with wait, it blocks until the lock is free or ctx is done. unlock releases the
	// lock; so does the end of the holder's process (or, for a database server, its session).
	LockWriter(ctx context.Context, holder string, wait bool) (unlock func(), err error)
}

// Options configure a run. The zero value picks each file's reader from the file, keeps documents
// that are no longer in their source, writes in batches of 256, embeds 64 texts a call with two
// calls at once, retries a transiently failing embed call four times, fails at once when another
// run holds the store's writer lock, logs progress every 5 seconds, and leaves reviewed finals
// out.
type Options struct {
	Format string // one of Formats; "" means "auto"
	Tenant string // fills the tenant of threats that have none; rejects records of other tenants
	// TenantOnly also rejects global knowledge (analytics, notes, profiles, ATT&CK): what every
	// tenant shares is not for one tenant's upload to change. It needs Tenant.
	TenantOnly bool
	Prune      bool // delete documents that a source read whole no longer has
	BatchSize  int  // documents written per transaction; 0 means 256
	// Reviews also syncs the reviewed finals of Tenant's drafts (every tenant's when Tenant is
	// empty) into the index as approved grounding, after the inputs: see ReviewedDocument. With
	// it, a run needs no input.
	Reviews bool
	// ReviewDrafts, when not empty, narrows Reviews to these drafts' finals (those of them that
	// are reviewed, within Tenant), as right after their reviews; the other finals, and the prune
	// of those whose drafts are gone, wait for a run without it.
	ReviewDrafts []string
	// EmbedBatch is the most texts sent in one embed call; 0 means 64.
	EmbedBatch int
	// EmbedConcurrency is how many embed calls may be under way at once; 0 means 2.
	EmbedConcurrency int
	// Retries is how many times an embed call that failed transiently (an EUNAVAILABLE error
	// other than a missing model) is tried again; 0 means 4, a negative number none.
	Retries int
	// Backoff is the wait before the first retry, doubled for each next one up to 30 seconds,
	// each wait drawn at random from its upper half so that concurrent calls do not retry in
	// step; 0 means 1 second.
	Backoff time.Duration
	// Wait is how long to wait for the store's writer lock when another run holds it; 0 fails at
	// once with an ECONFLICT error naming the holder.
	Wait time.Duration
	// Progress, when not nil, receives the run's progress every ProgressEvery and once more when
	// the run ends (Done set); nil logs a progress line every ProgressEvery instead.
	Progress func(Progress)
	// ProgressEvery is how often progress is reported; 0 means every 5 seconds.
	ProgressEvery time.Duration
}

// maxBackoff caps the wait between retries of an embed call.
const maxBackoff = 30 * time.Second

func (o Options) withDefaults() (Options, error) {
	if o.Format == "" {
		o.Format = "auto"
	}
	if !slices.Contains(Formats, o.Format) {
		return o, hindsight.Invalid("format", "unknown format %q (want one of %s)", o.Format, strings.Join(Formats, ", "))
	}
	if o.TenantOnly && o.Tenant == "" {
		return o, hindsight.Invalid("tenant", "is required to accept only a tenant's records")
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 256
	}
	if o.EmbedBatch <= 0 {
		o.EmbedBatch = 64
	}
	if o.EmbedConcurrency <= 0 {
		o.EmbedConcurrency = 2
	}
	switch {
	case o.Retries == 0:
		o.Retries = 4
	case o.Retries < 0:
		o.Retries = 0
	}
	if o.Backoff <= 0 {
		o.Backoff = time.Second
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = 5 * time.Second
	}
	return o, nil
}

// Ingester runs ingests into one store with one embedder. It is safe for concurrent use; the
// store's writer lock lets one run at a time write.
type Ingester struct {
	store    Store
	embedder hindsight.Embedder
	logger   *slog.Logger
}

// New returns an Ingester. A nil logger discards logs. The embedder may be nil for an Ingester
// that only lists runs.
func New(store Store, embedder hindsight.Embedder, logger *slog.Logger) *Ingester {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Ingester{store: store, embedder: embedder, logger: logger}
}

// Input is one file to read.
type Input struct {
	Path string // the file
	// Format is the reader to read it with, one of Formats; "" or "auto" picks it from the file's
	// name and first bytes.
	Format string
	// Name, when not empty, is what rejections call the input and the source the store records
	// for its documents (prune works per source), in place of the path: an upload spooled to a
	// temporary file keeps its own name from one upload to the next.
	Name string
}

// Run ingests every path (files, or directories walked for the files of the format, every
// recognised file with "auto") and returns the run's record, which is also saved in the store.
// Rejected records are listed in the run and do not fail it; the error is non-nil only when the run
// as a whole failed (unreadable input, a STIX bundle that is not well-formed, the store or the
// embedder failing, ctx cancelled), in which case the run is saved as failed and documents written
// before the failure stay written, each whole. When another run holds the store's writer lock (and
// Options.Wait does not outlast it), Run returns a nil run and an ECONFLICT error naming it.
func (in *Ingester) Run(ctx context.Context, paths []string, opts Options) (*hindsight.Run, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	var found []input
	if len(paths) > 0 || !opts.Reviews {
		if found, err = expand(paths, opts.Format, in.logger); err != nil {
			return nil, err
		}
	}
	inputs := make([]Input, len(found))
	for i, f := range found {
		inputs[i] = Input{Path: f.path, Format: f.format}
	}
	return in.run(ctx, inputs, paths, opts)
}

// RunInputs is Run over files named one by one, each with its reader and, if it has one, its
// own name.
func (in *Ingester) RunInputs(ctx context.Context, inputs []Input, opts Options) (*hindsight.Run, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if len(inputs) == 0 && !opts.Reviews {
		return nil, hindsight.Invalid("path", "no input given")
	}
	var names []string
	out := make([]Input, len(inputs))
	for i, x := range inputs {
		if x.Format == "" {
			x.Format = "auto"
		}
		if x.Format == "auto" {
			if x.Format, err = detect(x.Path, true); err != nil {
				return nil, err
			}
		} else if !slices.Contains(Formats, x.Format) {
			return nil, hindsight.Invalid("format", "unknown format %q (want one of %s)", x.Format, strings.Join(Formats, ", "))
		}
		out[i] = x
		names = append(names, x.name())
	}
	return in.run(ctx, out, names, opts)
}

func (x Input) name() string {
	if x.Name != "" {
		return x.Name
	}
	return x.Path
}

// source is what the store records as the input's source.
func (x Input) source() (string, error) {
	if x.Name != "" {
		return x.Name, nil
	}
	return filepath.Abs(x.Path)
}

func (in *Ingester) run(ctx context.Context, inputs []Input, paths []string, opts Options) (*hindsight.Run, error) {
	if in.embedder == nil {
		return nil, errors.New("ingest: no embedder")
	}
	if opts.Reviews {
		paths = append(slices.Clip(paths), ReviewsSource)
	}
	run := &hindsight.Run{ID: newRunID(), StartedAt: time.Now().UTC(), Status: hindsight.RunRunning, Paths: paths,
		Tenant: opts.Tenant, Rejected: []hindsight.Rejection{}}
	unlock, err := in.lock(ctx, "run "+run.ID, opts.Wait)
	if err != nil {
		return nil, err
	}
	defer unlock()
	run.StartedAt = time.Now().UTC() // the wait for the lock is not part of the run
	// Holding the lock, no other run is under way: a record still "running" is a dead run's.
	if _, err := in.markInterrupted(ctx, "run "+run.ID, true); err != nil {
		in.logger.Warn("ingest could not mark interrupted runs", "error", err)
	}
	if err := in.store.SaveRun(ctx, run); err != nil {
		return nil, fmt.Errorf("record run: %w", err)
	}
	in.logger.Info("ingest started", "run", run.ID, "files", len(inputs))
	r := newRunner(in, run, inputs, opts)
	err = r.all(ctx)
	r.finish()
	run.FinishedAt = time.Now().UTC()
	switch {
	case err != nil && ctx.Err() != nil:
		// Whatever stage noticed first, the run stopped because it was told to.
		run.Status, run.Error = hindsight.RunFailed, Interrupted
		err = fmt.Errorf("ingest interrupted: %w", context.Cause(ctx))
	case err != nil:
		run.Status, run.Error = hindsight.RunFailed, runError(run, err)
	case len(run.Rejected) > 0:
		run.Status = hindsight.RunPartial
	default:
		run.Status = hindsight.RunSucceeded
	}
	r.report(true)
	// The run's record is saved even when ctx was cancelled, so an interrupted run is not left
	// looking as if it were still going.
	saveCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if serr := in.store.SaveRun(saveCtx, run); serr != nil && err == nil {
		err = fmt.Errorf("record run: %w", serr)
	}
	in.logger.Info("ingest finished", "run", run.ID, "status", run.Status, "read", run.Read, "inserted", run.Inserted,
		"updated", run.Updated, "unchanged", run.Unchanged, "deleted", run.Deleted, "rejected", len(run.Rejected),
		"seconds", run.FinishedAt.Sub(run.StartedAt).Seconds())
	return run, err
}

// runError is what a failed run's record says of its error. A run with a tenant is listed to
// that tenant's admins (GET /v1/ingest/runs), so it says only what the error says to users (an
// *hindsight.Error's message) and points to the log for the rest: the full error can name the
// server's files and the store's internals. The caller has the full error, and logs it.
func runError(run *hindsight.Run, err error) string {
	if run.Tenant == "" {
		return err.Error()
	}
	var e *hindsight.Error
	if errors.As(err, &e) && e.Code != hindsight.EINTERNAL && e.Message != "" {
		return e.Message
	}
	return "internal error; the server's log has its details under run " + run.ID
}

// lock takes the store's writer lock, waiting up to wait for it.
func (in *Ingester) lock(ctx context.Context, holder string, wait time.Duration) (func(), error) {
	if wait <= 0 {
		return in.store.LockWriter(ctx, holder, false)
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	unlock, err := in.store.LockWriter(wctx, holder, true)
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return nil, &hindsight.Error{Code: hindsight.ECONFLICT, Err: err,
			Message: fmt.Sprintf("waited %s for another ingest to finish: %s", wait, hindsight.ErrorMessage(err))}
	}
	return unlock, err
}

// runner is one run under way: its inputs, what its stages share, and its tallies. The reader
// stage alone touches read and readRejected; the writer stage alone touches the counts and
// rejections of what it writes; both are merged into the run by finish, after every stage has
// stopped. The atomic counters feed progress reports while the run goes on.
type runner struct {
	*Ingester
	run    *hindsight.Run
	inputs []Input
	opts   Options
	space  string
	start  time.Time

	// reader stage
	read         int
	readRejected []hindsight.Rejection
	seen         map[hindsight.DocKey]string // key → file:line where first read in this run
	keep         []map[hindsight.DocKey]bool // per input: the documents read from it
	whole        []bool                      // per input: read to its end

	// writer stage
	inserted, updated, unchanged, deleted int
	wrote                                 []hindsight.Rejection

	// reviewed finals (reader stage, then prune)
	reviews reviewsRead

	// embed workers
	leafFailures atomic.Int64 // documents failed in a row by the embedder; reset by any success

	progress struct {
		filesDone, read, stored, unchanged, rejected atomic.Int64
		bytes                                        atomic.Int64
		bytesTotal                                   int64
	}
	reportMu sync.Mutex
}

func newRunner(in *Ingester, run *hindsight.Run, inputs []Input, opts Options) *runner {
	r := &runner{Ingester: in, run: run, inputs: inputs, opts: opts, space: in.embedder.Space().String(), start: time.Now(),
		seen: map[hindsight.DocKey]string{}, keep: make([]map[hindsight.DocKey]bool, len(inputs)), whole: make([]bool, len(inputs))}
	for _, x := range inputs {
		if info, err := os.Stat(x.Path); err == nil {
			r.progress.bytesTotal += info.Size()
		}
	}
	return r
}

// all runs the stages until every input is read and written, or one of them fails.
func (r *runner) all(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	// The channels are what bounds the memory of a run: a few batches read ahead, a few prepared
	// and waiting for their embeddings, and embed calls queued for the workers.
	read := make(chan *item, 1)
	ordered := make(chan *item, r.opts.EmbedConcurrency+2)
	jobs := make(chan job, 2*r.opts.EmbedConcurrency)
	g.Go(func() error {
		defer close(read)
		return r.readAll(gctx, read)
	})
	g.Go(func() error {
		defer close(ordered)
		defer close(jobs)
		return r.prepareAll(gctx, read, ordered, jobs)
	})
	for range r.opts.EmbedConcurrency {
		g.Go(func() error { return r.embedAll(gctx, jobs) })
	}
	g.Go(func() error { return r.writeAll(gctx, ordered) })

	stop, stopped := make(chan struct{}), make(chan struct{})
	ticker := time.NewTicker(r.opts.ProgressEvery)
	go func() {
		defer close(stopped)
		defer ticker.Stop()
		for {
			select {
			case <-ticker.C:
				r.report(false)
			case <-stop:
				return
			}
		}
	}()
	err := g.Wait()
	// Stopped for good before the last report, which must be the last.
	close(stop)
	<-stopped
	if err != nil {
		return err
	}
	if err := r.pruneReviews(ctx); err != nil {
		return err
	}
	if r.opts.Prune {
		return r.pruneAll(ctx)
	}
	return nil
}

// finish merges the stages' tallies into the run, rejections in input order and, within an
// input, in line order.
func (r *runner) finish() {
	r.run.Read = r.read
	r.run.Inserted, r.run.Updated, r.run.Unchanged, r.run.Deleted = r.inserted, r.updated, r.unchanged, r.deleted
	order := map[string]int{}
	for i, x := range r.inputs {
		if _, ok := order[x.name()]; !ok {
			order[x.name()] = i
		}
	}
	rej := append(r.readRejected, r.wrote...)
	sort.SliceStable(rej, func(i, j int) bool {
		a, b := rej[i], rej[j]
		if oa, ob := order[a.File], order[b.File]; oa != ob {
			return oa < ob
		}
		return a.Line < b.Line
	})
	r.run.Rejected = append(r.run.Rejected, rej...)
}

// pruneAll deletes, for each source read whole, the documents last read from it that this run did
// not read from it. It runs after every batch is written, so a document that moved to another
// source in this run already names that source and is never deleted. A source given twice (a
// file, and the folder it is in) keeps what either reading read: the second reading's records
// are all duplicates, rejected, and must not count as gone.
func (r *runner) pruneAll(ctx context.Context) error {
	var sources []string
	keep := map[string]map[hindsight.DocKey]bool{}
	for i, x := range r.inputs {
		if !r.whole[i] {
			continue
		}
		source, err := x.source()
		if err != nil {
			return err
		}
		if keep[source] == nil {
			sources = append(sources, source)
			keep[source] = map[hindsight.DocKey]bool{}
		}
		for k := range r.keep[i] {
			keep[source][k] = true
		}
	}
	for _, source := range sources {
		kept := keep[source]
		if err := r.prune(ctx, source, func(k hindsight.DocKey) bool { return kept[k] }); err != nil {
			return err
		}
	}
	return nil
}

// prune deletes the documents last read from source that keep does not keep.
func (r *runner) prune(ctx context.Context, source string, keep func(hindsight.DocKey) bool) error {
	stored, err := r.store.DocumentsBySource(ctx, source)
	if err != nil {
		return fmt.Errorf("prune %s: %w", source, err)
	}
	var gone []hindsight.DocKey
	for _, k := range stored {
		if !keep(k) {
			gone = append(gone, k)
		}
	}
	if len(gone) == 0 {
		return nil
	}
	n, err := r.store.DeleteDocuments(ctx, gone)
	if err != nil {
		return fmt.Errorf("prune %s: %w", source, err)
	}
	r.deleted += n
	return nil
}

// readAll reads the inputs in order and sends their records in batches, each input's batches
// followed by an end-of-input marker.
func (r *runner) readAll(ctx context.Context, out chan<- *item) error {
	var before int64 // bytes of the inputs already read
	for i, x := range r.inputs {
		n, err := r.readInput(ctx, i, x, before, out)
		if err != nil {
			return err
		}
		before += n
	}
	if r.opts.Reviews {
		return r.readReviews(ctx, before, out)
	}
	return nil
}

// countingReader counts the bytes read through it, for progress.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (r *runner) readInput(ctx context.Context, idx int, x Input, before int64, out chan<- *item) (int64, error) {
	name := x.name()
	r.logger.Debug("ingest reads a file", "path", x.Path, "name", name, "format", x.Format)
	source, err := x.source()
	if err != nil {
		return 0, err
	}
	f, err := os.Open(x.Path)
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", name, err)
	}
	defer f.Close()
	cr := &countingReader{r: f}
	keep := map[hindsight.DocKey]bool{}
	r.keep[idx] = keep
	var docs, pairs []Record
	known := 0 // documents of this batch known unchanged by their line (not in docs)
	send := func(it *item) error {
		it.input, it.source, it.bytesAt = idx, source, before+cr.n.Load()
		select {
		case out <- it:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	reject := func(rec Record, field, format string, args ...any) {
		r.readRejected = append(r.readRejected, hindsight.Rejection{File: rec.File, Line: rec.Line, Field: field, Error: fmt.Sprintf(format, args...)})
		r.progress.rejected.Add(1)
	}
	fn := func(rec Record) error {
		r.read++
		r.progress.read.Add(1)
		if rec.Pair != nil {
			// A draft ID is unique in the whole store, so a second pair with the same ID in one
			// run is a duplicate whatever its tenant.
			k := hindsight.DocKey{Kind: "pair", ID: rec.Pair.ID}
			if first, dup := r.seen[k]; dup {
				reject(rec, "id", "duplicate of the pair %q first read at %s", k.ID, first)
				return nil
			}
			r.seen[k] = fmt.Sprintf("%s:%d", rec.File, rec.Line)
			pairs = append(pairs, rec)
			if len(pairs) >= r.opts.BatchSize {
				it := &item{kind: itemPairs, recs: pairs}
				pairs = nil
				return send(it)
			}
			return nil
		}
		k := rec.docKey()
		if r.opts.TenantOnly && k.Kind.Global() {
			reject(rec, "kind", "%s records are global knowledge, shared by every tenant: a tenant's upload may not change them (an operator ingests them with hindsight ingest)", k.Kind)
			return nil
		}
		if first, dup := r.seen[k]; dup {
			reject(rec, "id", "duplicate of the %s record %q first read at %s", k.Kind, k.ID, first)
			return nil
		}
		r.seen[k] = fmt.Sprintf("%s:%d", rec.File, rec.Line)
		keep[k] = true
		if rec.stored {
			known++
		} else {
			docs = append(docs, rec)
		}
		if len(docs)+known >= r.opts.BatchSize {
			it := &item{kind: itemDocs, recs: docs, unchanged: known}
			docs, known = nil, 0
			return send(it)
		}
		return nil
	}
	var rejected []hindsight.Rejection
	switch x.Format {
	case "stix":
		rejected, err = ReadSTIX(cr, name, fn)
	case "sigma":
		rejected, err = ReadSigma(cr, name, fn)
	case "elastic":
		rejected, err = ReadElastic(cr, name, fn)
	case "pairs":
		rejected, err = ReadPairs(cr, name, r.opts.Tenant, fn)
	default:
		if ls, ok := r.store.(LineStore); ok {
			rejected, err = readJSONLKnown(ctx, cr, name, source, r.space, r.opts.Tenant, ls, fn)
		} else {
			rejected, err = ReadJSONL(cr, name, r.opts.Tenant, fn)
		}
	}
	r.read += len(rejected)
	r.progress.read.Add(int64(len(rejected)))
	r.progress.rejected.Add(int64(len(rejected)))
	r.readRejected = append(r.readRejected, rejected...)
	if err != nil {
		return 0, err
	}
	if len(docs)+known > 0 {
		if err := send(&item{kind: itemDocs, recs: docs, unchanged: known}); err != nil {
			return 0, err
		}
	}
	if len(pairs) > 0 {
		if err := send(&item{kind: itemPairs, recs: pairs}); err != nil {
			return 0, err
		}
	}
	if err := send(&item{kind: itemInputEnd}); err != nil {
		return 0, err
	}
	r.whole[idx] = true
	return cr.n.Load(), nil
}

// recordHash returns the hash of the whole record: equal means nothing changed.
func recordHash(d *hindsight.Document) string {
	rec, _ := json.Marshal(d) // a Document always encodes: its fields are plain values
	h := sha256.Sum256(rec)
	return hex.EncodeToString(h[:16])
}

// contentHash returns the document's sections and the hash of what is embedded (the sections'
// names and texts): equal means the stored vectors are still right.
func contentHash(d *hindsight.Document) ([]Section, string) {
	sections := Sections(d)
	h := sha256.New()
	for _, s := range sections {
		fmt.Fprintf(h, "%s\x00%s\x00", s.Name, s.Text)
	}
	return sections, hex.EncodeToString(h.Sum(nil)[:16])
}

func newRunID() string {
	b := make([]byte, 3)
	rand.Read(b)
	return "RUN-" + time.Now().UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b)
}
