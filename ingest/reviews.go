package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/eval"
)

// ReviewsSource is the source the store records for the documents made of reviewed finals. No
// file or upload has this name (files are recorded by absolute path, uploads as
// "upload:TENANT/NAME"), so pruning a file's documents never deletes them.
const ReviewsSource = "hindsight:reviews"

// ReviewedPrefix starts the ID of every document made of a reviewed final. Threat records whose
// IDs start with it are rejected on input (ParseRecord), so such a document can never replace,
// or be replaced by, an ingested threat of the same tenant.
const ReviewedPrefix = "REVIEWED-"

// ReviewedID returns the ID of the document made of a draft's reviewed final. Draft IDs are unique
// in a store, so each reviewed draft has one such document, and a newer review replaces it.
func ReviewedID(draftID string) string { return ReviewedPrefix + draftID }

// ReviewedDocument turns a stored draft and its latest review into grounding for later drafts: a
// threat of the draft's tenant (so tenant scoping and cross-tenant anonymisation apply to it as to
// any case) whose case is the draft's threat (title, summary or else description, events,
// techniques, analytics, severity, disposition, platform, tags) and whose guidance, in the section
// of the draft's kind, is the final text the reviewer approved. It occurred when the threat did or,
// when that is unknown, when it was reviewed.
//
// Its metadata marks it: status "approved" (the retriever's approved-guidance prior), draft_id,
// draft_kind, threat_id (when the threat had one), review_id, reviewer, reviewed_at and ratings. A
// final is approved guidance whatever its ratings: they rate the draft, and the final is the text
// the reviewer rewrote it into and sent. So low ratings are kept for whoever reads the document
// and change nothing else.
func ReviewedDocument(d *hindsight.Draft, r *hindsight.Review) *hindsight.Document {
	t := &d.Threat
	doc := &hindsight.Document{
		Kind: hindsight.KindThreat, ID: ReviewedID(d.ID), Tenant: d.Tenant, Title: reviewedTitle(d),
		OccurredAt: t.OccurredAt.UTC(), Severity: t.Severity, Disposition: t.Disposition,
		Techniques: slices.Clone(t.Techniques), Analytics: slices.Clone(t.Analytics),
		Summary: t.Summary, Events: slices.Clone(t.Events), Platform: t.Platform, Tags: slices.Clone(t.Tags),
	}
	if t.OccurredAt.IsZero() {
		doc.OccurredAt = r.CreatedAt.UTC()
	}
	if strings.TrimSpace(doc.Summary) == "" {
		doc.Summary = t.Description
	}
	switch d.Kind {
	case hindsight.DraftRemediation:
		doc.Remediation = r.Final
	case hindsight.DraftHunting:
		doc.Hunting = r.Final
	case hindsight.DraftHardening:
		doc.Hardening = r.Final
	}
	meta := map[string]any{
		"status": "approved", "draft_id": d.ID, "draft_kind": d.Kind, "review_id": r.ID, "reviewer": r.Reviewer,
		"reviewed_at": r.CreatedAt.UTC().Format(time.RFC3339Nano), "ratings": r.Ratings,
	}
	if t.ID != "" {
		meta["threat_id"] = t.ID
	}
	doc.Metadata = make(map[string]json.RawMessage, len(meta))
	for k, v := range meta {
		b, _ := json.Marshal(v) // strings, a kind and ratings: always encode
		doc.Metadata[k] = b
	}
	return doc
}

// reviewedTitle says what the document is: reviewed guidance of the draft's kind for its threat,
// named by its title, or else by its techniques, or else by the draft (a draft imported from an
// eval pair knows only its techniques).
func reviewedTitle(d *hindsight.Draft) string {
	what := "Reviewed " + string(d.Kind) + " guidance"
	switch {
	case strings.TrimSpace(d.Threat.Title) != "":
		return what + ": " + strings.TrimSpace(d.Threat.Title)
	case len(d.Threat.Techniques) > 0:
		return what + " for " + strings.Join(d.Threat.Techniques, ", ")
	}
	return what + " of draft " + d.ID
}

// reviewsRead is what the reader stage learns of the reviewed finals, for their prune.
type reviewsRead struct {
	keep  map[hindsight.DocKey]bool // the documents made of this run's reviewed drafts
	whole bool                      // every page was read
}

// readReviews reads the reviewed drafts within the run's tenant (or those of them that
// Options.ReviewDrafts names) a page at a time and sends the documents made of them down the
// pipeline, as a file's records are: hashed, chunked, embedded
// only when their text changed, written in batches. It first waits for the writer to store what
// the run read before, so that eval pairs imported by this very run become grounding too.
func (r *runner) readReviews(ctx context.Context, bytesAt int64, out chan<- *item) error {
	send := func(it *item) error {
		it.input, it.source, it.bytesAt = -1, ReviewsSource, bytesAt
		select {
		case out <- it:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	barrier := &item{kind: itemBarrier, written: make(chan struct{})}
	if err := send(barrier); err != nil {
		return err
	}
	select {
	case <-barrier.written:
	case <-ctx.Done():
		return ctx.Err()
	}
	r.reviews.keep = map[hindsight.DocKey]bool{}
	page := eval.PairPage{Tenant: r.opts.Tenant, Limit: r.opts.BatchSize}
	only := slices.Compact(slices.Sorted(slices.Values(r.opts.ReviewDrafts)))
	for {
		if len(r.opts.ReviewDrafts) > 0 {
			if len(only) == 0 {
				return nil // not every final was read: no prune
			}
			n := min(len(only), page.Limit)
			page.DraftIDs, only = only[:n], only[n:]
		}
		pairs, err := r.store.FindPairsPage(ctx, page)
		if err != nil {
			return fmt.Errorf("read reviewed drafts: %w", err)
		}
		recs := make([]Record, len(pairs))
		for i, p := range pairs {
			doc := ReviewedDocument(p.Draft, p.Review)
			r.reviews.keep[doc.Key()] = true
			// A rejection names the draft whose final it is.
			recs[i] = Record{Doc: doc, File: ReviewsSource + "/" + p.Draft.ID}
		}
		r.read += len(recs)
		r.progress.read.Add(int64(len(recs)))
		if len(recs) > 0 {
			if err := send(&item{kind: itemDocs, recs: recs}); err != nil {
				return err
			}
		}
		if len(page.DraftIDs) > 0 {
			continue
		}
		if len(pairs) < page.Limit {
			break
		}
		page.After = pairs[len(pairs)-1].Draft.ID
	}
	r.reviews.whole = true
	return nil
}

// pruneReviews deletes the documents of reviewed finals, within the run's tenant, whose drafts
// the run did not read: drafts no longer in the store. It runs only when every page was read.
func (r *runner) pruneReviews(ctx context.Context) error {
	if !r.reviews.whole {
		return nil
	}
	// Another tenant's finals are not this run's to judge.
	return r.prune(ctx, ReviewsSource, func(k hindsight.DocKey) bool {
		return (r.opts.Tenant != "" && k.Tenant != r.opts.Tenant) || r.reviews.keep[k]
	})
}
