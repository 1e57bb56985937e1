// Package ingest reads sources (canonical JSONL records, the ATT&CK STIX bundle, Sigma and Elastic
// rules, eval pairs), validates them with errors that name the file, line and field, splits
// documents into chunks, embeds what changed and stores it. Runs are incremental and idempotent:
// content hashes decide what is new, changed or unchanged, and an unchanged document costs no
// embedding. Eval pairs are not documents: they are stored as drafts with their reviews.
package ingest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/retrieval"
)

// Store is what ingest needs of a store.
type Store interface {
	DocumentStates(ctx context.Context, keys []hindsight.DocKey) (map[hindsight.DocKey]hindsight.DocState, error)
	WriteDocuments(ctx context.Context, ws []hindsight.DocumentWrite) error
	DocumentsBySource(ctx context.Context, source string) ([]hindsight.DocKey, error)
	DeleteDocuments(ctx context.Context, keys []hindsight.DocKey) (int, error)
	SaveRun(ctx context.Context, run *hindsight.Run) error
	// ImportPairs stores eval pairs as drafts, each with one imported review, idempotently: a pair
	// stored before and unchanged changes nothing; a changed one replaces its draft and imported
	// review, never a review made through the API. It returns ECONFLICT and stores nothing when a
	// pair's ID is that of a different draft made through the API or of another tenant's draft.
	ImportPairs(ctx context.Context, pairs []hindsight.Pair) (inserted, updated, unchanged int, err error)
}

// Options configure a run. The zero value picks each file's reader from the file, keeps documents
// that are no longer in their source, and writes in batches of 256.
type Options struct {
	Format    string // one of Formats; "" means "auto"
	Tenant    string // fills the tenant of threats that have none; rejects records of other tenants
	Prune     bool   // delete documents that a read source no longer has
	BatchSize int    // documents written per transaction; 0 means 256
	// ProgressEvery is how often a progress line is logged; 0 means every 5 seconds.
	ProgressEvery time.Duration
}

// Ingester runs ingests into one store with one embedder.
type Ingester struct {
	store    Store
	embedder hindsight.Embedder
	logger   *slog.Logger
}

// New returns an Ingester. A nil logger discards logs.
func New(store Store, embedder hindsight.Embedder, logger *slog.Logger) *Ingester {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Ingester{store: store, embedder: embedder, logger: logger}
}

// Run ingests every path (files, or directories walked for the files of the format, every
// recognised file with "auto") and returns the run's record, which is also saved in the store.
// Rejected records are listed in the run and do not fail it; the error is non-nil only when the run
// as a whole failed (unreadable input, a STIX bundle that is not well-formed, the store or the
// embedder failing), in which case the run is saved as failed and documents written before the
// failure stay written, each whole.
func (in *Ingester) Run(ctx context.Context, paths []string, opts Options) (*hindsight.Run, error) {
	if opts.Format == "" {
		opts.Format = "auto"
	}
	if !slices.Contains(Formats, opts.Format) {
		return nil, hindsight.Invalid("format", "unknown format %q (want one of %s)", opts.Format, strings.Join(Formats, ", "))
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 256
	}
	if opts.ProgressEvery <= 0 {
		opts.ProgressEvery = 5 * time.Second
	}
	files, err := expand(paths, opts.Format, in.logger)
	if err != nil {
		return nil, err
	}
	run := &hindsight.Run{ID: newRunID(), StartedAt: time.Now().UTC(), Status: hindsight.RunRunning, Paths: paths, Rejected: []hindsight.Rejection{}}
	if err := in.store.SaveRun(ctx, run); err != nil {
		return nil, fmt.Errorf("record run: %w", err)
	}
	r := &runner{Ingester: in, run: run, opts: opts, lastLog: time.Now()}
	in.logger.Info("ingest started", "run", run.ID, "files", len(files))
	err = r.all(ctx, files)
	run.FinishedAt = time.Now().UTC()
	switch {
	case err != nil:
		run.Status, run.Error = hindsight.RunFailed, err.Error()
	case len(run.Rejected) > 0:
		run.Status = hindsight.RunPartial
	default:
		run.Status = hindsight.RunSucceeded
	}
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

type runner struct {
	*Ingester
	run     *hindsight.Run
	opts    Options
	batch   []Record
	pairs   []Record                    // eval pairs waiting to be imported
	seen    map[hindsight.DocKey]string // key → file:line where first read in this run
	lastLog time.Time
}

func (r *runner) all(ctx context.Context, files []input) error {
	r.seen = map[hindsight.DocKey]string{}
	for _, in := range files {
		if err := r.file(ctx, in); err != nil {
			return err
		}
	}
	return nil
}

// read reads one file with the reader of its format.
func (r *runner) read(f *os.File, in input, fn func(Record) error) ([]hindsight.Rejection, error) {
	switch in.format {
	case "stix":
		return ReadSTIX(f, in.path, fn)
	case "sigma":
		return ReadSigma(f, in.path, fn)
	case "elastic":
		return ReadElastic(f, in.path, fn)
	case "pairs":
		return ReadPairs(f, in.path, r.opts.Tenant, fn)
	}
	return ReadJSONL(f, in.path, r.opts.Tenant, fn)
}

func (r *runner) file(ctx context.Context, in input) error {
	file := in.path
	r.logger.Debug("ingest reads a file", "path", file, "format", in.format)
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("open %s: %w", file, err)
	}
	defer f.Close()
	source, err := filepath.Abs(file)
	if err != nil {
		return err
	}
	keys := map[hindsight.DocKey]bool{}
	from := len(r.run.Rejected)
	rejected, err := r.read(f, in, func(rec Record) error {
		r.run.Read++
		if rec.Pair != nil {
			return r.addPair(ctx, rec)
		}
		k := rec.Doc.Key()
		if first, dup := r.seen[k]; dup {
			r.run.Rejected = append(r.run.Rejected, hindsight.Rejection{File: rec.File, Line: rec.Line, Field: "id",
				Error: fmt.Sprintf("duplicate of the %s record %q first read at %s", k.Kind, k.ID, first)})
			return nil
		}
		r.seen[k] = fmt.Sprintf("%s:%d", rec.File, rec.Line)
		keys[k] = true
		r.batch = append(r.batch, rec)
		if len(r.batch) >= r.opts.BatchSize {
			return r.flush(ctx, source)
		}
		return nil
	})
	r.run.Read += len(rejected)
	r.run.Rejected = append(r.run.Rejected, rejected...)
	if err == nil {
		err = r.flush(ctx, source)
	}
	if err == nil {
		err = r.flushPairs(ctx)
	}
	// Duplicates and conflicts were reported while reading, the rest after: list this file's in
	// line order.
	sort.SliceStable(r.run.Rejected[from:], func(i, j int) bool {
		return r.run.Rejected[from+i].Line < r.run.Rejected[from+j].Line
	})
	if err != nil {
		return err
	}
	if r.opts.Prune {
		return r.prune(ctx, source, keys)
	}
	return nil
}

// addPair queues an eval pair for import. A draft ID is unique in the whole store, so a second pair
// with the same ID in one run is a duplicate whatever its tenant.
func (r *runner) addPair(ctx context.Context, rec Record) error {
	k := hindsight.DocKey{Kind: "pair", ID: rec.Pair.ID}
	if first, dup := r.seen[k]; dup {
		r.run.Rejected = append(r.run.Rejected, hindsight.Rejection{File: rec.File, Line: rec.Line, Field: "id",
			Error: fmt.Sprintf("duplicate of the pair %q first read at %s", k.ID, first)})
		return nil
	}
	r.seen[k] = fmt.Sprintf("%s:%d", rec.File, rec.Line)
	r.pairs = append(r.pairs, rec)
	if len(r.pairs) >= r.opts.BatchSize {
		return r.flushPairs(ctx)
	}
	return nil
}

// flushPairs imports the queued pairs. A batch that conflicts with drafts made through the API is
// imported again one pair at a time, so that only the conflicting pairs are rejected.
func (r *runner) flushPairs(ctx context.Context) error {
	if len(r.pairs) == 0 {
		return nil
	}
	defer func() { r.pairs = r.pairs[:0] }()
	if err := ctx.Err(); err != nil {
		return err
	}
	pairs := make([]hindsight.Pair, len(r.pairs))
	for i, rec := range r.pairs {
		pairs[i] = *rec.Pair
	}
	ins, upd, same, err := r.store.ImportPairs(ctx, pairs)
	if hindsight.ErrorCode(err) == hindsight.ECONFLICT {
		ins, upd, same = 0, 0, 0
		for _, rec := range r.pairs {
			i, u, s, err := r.store.ImportPairs(ctx, []hindsight.Pair{*rec.Pair})
			if hindsight.ErrorCode(err) == hindsight.ECONFLICT {
				r.run.Rejected = append(r.run.Rejected, hindsight.Rejection{File: rec.File, Line: rec.Line, Field: "id", Error: hindsight.ErrorMessage(err)})
				continue
			} else if err != nil {
				return fmt.Errorf("import pairs: %w", err)
			}
			ins, upd, same = ins+i, upd+u, same+s
		}
	} else if err != nil {
		return fmt.Errorf("import pairs: %w", err)
	}
	r.run.Inserted += ins
	r.run.Updated += upd
	r.run.Unchanged += same
	return nil
}

// prune deletes the documents last read from source that this run did not read from it.
func (r *runner) prune(ctx context.Context, source string, keep map[hindsight.DocKey]bool) error {
	stored, err := r.store.DocumentsBySource(ctx, source)
	if err != nil {
		return fmt.Errorf("prune %s: %w", source, err)
	}
	var gone []hindsight.DocKey
	for _, k := range stored {
		if !keep[k] {
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
	r.run.Deleted += n
	return nil
}

// flush stores the pending batch: unchanged documents are skipped, documents whose embedded text
// and space are unchanged are rewritten without embedding, the rest are chunked and embedded.
func (r *runner) flush(ctx context.Context, source string) error {
	if len(r.batch) == 0 {
		return nil
	}
	defer func() { r.batch = r.batch[:0] }()
	if err := ctx.Err(); err != nil {
		return err
	}
	keys := make([]hindsight.DocKey, len(r.batch))
	for i, rec := range r.batch {
		keys[i] = rec.Doc.Key()
	}
	states, err := r.store.DocumentStates(ctx, keys)
	if err != nil {
		return fmt.Errorf("read stored state: %w", err)
	}
	space := r.embedder.Space().String()
	var writes []hindsight.DocumentWrite
	var texts []string
	var owners []int // owners[i]: index in writes of texts[i]
	inserted, updated := 0, 0
	for _, rec := range r.batch {
		d := rec.Doc
		recordHash, sections, contentHash := hashes(d)
		st, exists := states[d.Key()]
		if exists && st.RecordHash == recordHash && st.Space == space && st.Source == source {
			r.run.Unchanged++
			continue
		}
		w := hindsight.DocumentWrite{Document: d, Source: source, RecordHash: recordHash, ContentHash: contentHash, Space: space}
		if !exists || st.ContentHash != contentHash || st.Space != space {
			w.Chunks = make([]hindsight.Chunk, len(sections))
			for i, s := range sections {
				w.Chunks[i] = hindsight.Chunk{Seq: i, Section: s.Name, Text: s.Text, Terms: retrieval.Tokenize(s.Text)}
				texts = append(texts, s.Text)
				owners = append(owners, len(writes))
			}
		}
		if exists {
			updated++
		} else {
			inserted++
		}
		writes = append(writes, w)
	}
	if len(texts) > 0 {
		vecs, err := r.embedder.Embed(ctx, texts)
		if err != nil {
			return fmt.Errorf("embed: %w", err)
		}
		next := make([]int, len(writes))
		for i, v := range vecs {
			w := owners[i]
			writes[w].Chunks[next[w]].Vector = v
			next[w]++
		}
	}
	if err := r.store.WriteDocuments(ctx, writes); err != nil {
		return fmt.Errorf("store documents: %w", err)
	}
	r.run.Inserted += inserted
	r.run.Updated += updated
	if time.Since(r.lastLog) >= r.opts.ProgressEvery {
		r.lastLog = time.Now()
		r.logger.Info("ingest progress", "run", r.run.ID, "read", r.run.Read, "inserted", r.run.Inserted,
			"updated", r.run.Updated, "unchanged", r.run.Unchanged, "rejected", len(r.run.Rejected))
	}
	return nil
}

// hashes returns the hash of the whole record, the document's sections, and the hash of what is
// embedded (the sections' names and texts).
func hashes(d *hindsight.Document) (string, []Section, string) {
	rec, _ := json.Marshal(d) // a Document always encodes: its fields are plain values
	rh := sha256.Sum256(rec)
	sections := Sections(d)
	h := sha256.New()
	for _, s := range sections {
		fmt.Fprintf(h, "%s\x00%s\x00", s.Name, s.Text)
	}
	return hex.EncodeToString(rh[:16]), sections, hex.EncodeToString(h.Sum(nil)[:16])
}

func newRunID() string {
	b := make([]byte, 3)
	rand.Read(b)
	return "RUN-" + time.Now().UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b)
}
