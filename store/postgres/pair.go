package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/jackc/pgx/v5"
)

// ImportPairs stores eval pairs (hindsight.Pair) as drafts, each with one imported review, in one
// transaction. The draft has the pair's ID, tenant, kind, model, prompt version, created_at and the
// draft text (its threat holds only the pair's techniques; it has no recommendations or sources);
// the review, by hindsight.ImportedReviewer, has the final text, the ratings and created_at.
//
// It is idempotent. A pair already imported with the same content is unchanged. A changed pair
// replaces its draft and its imported review, and leaves every review made through the API alone.
// A pair whose ID is that of a draft made through the API is unchanged when the draft and one of its
// reviews say exactly what the pair says (a pair exported from this store and read back), and
// otherwise a conflict. A pair whose ID is another tenant's draft is a conflict: a pair never moves
// a draft between tenants. On a conflict it returns an ECONFLICT error naming the pair and stores
// nothing, so a caller can retry the other pairs.
func (db *DB) ImportPairs(ctx context.Context, pairs []hindsight.Pair) (inserted, updated, unchanged int, err error) {
	if len(pairs) == 0 {
		return 0, 0, 0, nil
	}
	err = db.withTx(ctx, func(tx pgx.Tx) error {
		inserted, updated, unchanged = 0, 0, 0
		for i := range pairs {
			outcome, err := importPair(ctx, tx, &pairs[i])
			if err != nil {
				return err
			}
			switch outcome {
			case pairInserted:
				inserted++
			case pairUpdated:
				updated++
			default:
				unchanged++
			}
		}
		return nil
	})
	if err != nil {
		return 0, 0, 0, err
	}
	return inserted, updated, unchanged, nil
}

type pairOutcome int

const (
	pairUnchanged pairOutcome = iota
	pairInserted
	pairUpdated
)

func importPair(ctx context.Context, tx pgx.Tx, p *hindsight.Pair) (pairOutcome, error) {
	if p.ID == "" {
		return 0, hindsight.Invalid("id", "a pair needs an ID")
	}
	d := p.AsDraft()
	b, err := json.Marshal(d)
	if err != nil {
		return 0, err
	}
	var tenant string
	var stored []byte
	// FOR UPDATE: two imports of the same pair at once take turns, and the second sees the first.
	err = tx.QueryRow(ctx, "SELECT tenant, draft::text FROM drafts WHERE id = $1 FOR UPDATE", p.ID).Scan(&tenant, &stored)
	if errors.Is(err, pgx.ErrNoRows) {
		if _, err := tx.Exec(ctx, `INSERT INTO drafts (id, tenant, kind, model, prompt_version, created_at, draft)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, d.ID, d.Tenant, string(d.Kind), d.Model, d.PromptVersion, d.CreatedAt, string(b)); err != nil {
			return 0, fmt.Errorf("import pair %s: %w", p.ID, err)
		}
		if err := insertImportedReview(ctx, tx, p); err != nil {
			return 0, err
		}
		return pairInserted, nil
	} else if err != nil {
		return 0, fmt.Errorf("import pair %s: %w", p.ID, err)
	}
	if tenant != p.Tenant {
		return 0, &hindsight.Error{Code: hindsight.ECONFLICT, Field: "id",
			Message: fmt.Sprintf("draft %q belongs to another tenant; a pair cannot move it to tenant %q", p.ID, p.Tenant)}
	}
	var old hindsight.Draft
	if err := json.Unmarshal(stored, &old); err != nil {
		return 0, fmt.Errorf("decode draft %s: %w", p.ID, err)
	}
	reviews, err := draftReviews(ctx, tx, p.ID)
	if err != nil {
		return 0, err
	}
	var imported *hindsight.Review
	for _, r := range reviews {
		if r.ID == hindsight.ImportedReviewID(p.ID) {
			imported = r
		}
	}
	if imported == nil {
		// A draft made through the API: the pair may only be its own export.
		for _, r := range reviews {
			if p.Matches(&old, r) {
				return pairUnchanged, nil
			}
		}
		return 0, &hindsight.Error{Code: hindsight.ECONFLICT, Field: "id",
			Message: fmt.Sprintf("draft %q was made through the API and differs from the pair; pairs never overwrite it", p.ID)}
	}
	if p.Matches(&old, imported) {
		return pairUnchanged, nil
	}
	if _, err := tx.Exec(ctx, `UPDATE drafts SET kind = $1, model = $2, prompt_version = $3, created_at = $4, draft = $5 WHERE id = $6`,
		string(d.Kind), d.Model, d.PromptVersion, d.CreatedAt, string(b), d.ID); err != nil {
		return 0, fmt.Errorf("import pair %s: %w", p.ID, err)
	}
	if _, err := tx.Exec(ctx, "DELETE FROM reviews WHERE id = $1", hindsight.ImportedReviewID(p.ID)); err != nil {
		return 0, fmt.Errorf("import pair %s: %w", p.ID, err)
	}
	if err := insertImportedReview(ctx, tx, p); err != nil {
		return 0, err
	}
	return pairUpdated, nil
}

func insertImportedReview(ctx context.Context, tx pgx.Tx, p *hindsight.Pair) error {
	_, err := tx.Exec(ctx, `INSERT INTO reviews (id, draft_id, tenant, reviewer, final, accuracy, clarity, completeness, comment, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '', $9)`, hindsight.ImportedReviewID(p.ID), p.ID, p.Tenant, hindsight.ImportedReviewer, clean(p.Final),
		p.Ratings.Accuracy, p.Ratings.Clarity, p.Ratings.Completeness, p.CreatedAt)
	if err != nil {
		return fmt.Errorf("import pair %s: review: %w", p.ID, err)
	}
	return nil
}

func draftReviews(ctx context.Context, tx pgx.Tx, draftID string) ([]*hindsight.Review, error) {
	rows, err := tx.Query(ctx, `SELECT id, final, accuracy, clarity, completeness, created_at FROM reviews
		WHERE draft_id = $1 ORDER BY created_at, seq`, draftID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*hindsight.Review
	for rows.Next() {
		var r hindsight.Review
		var created time.Time
		if err := rows.Scan(&r.ID, &r.Final, &r.Ratings.Accuracy, &r.Ratings.Clarity, &r.Ratings.Completeness, &created); err != nil {
			return nil, err
		}
		r.CreatedAt = created.UTC()
		out = append(out, &r)
	}
	return out, rows.Err()
}
