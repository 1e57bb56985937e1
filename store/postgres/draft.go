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

// CreateDraft stores a new draft. The draft's ID and CreatedAt must be set.
func (db *DB) CreateDraft(ctx context.Context, d *hindsight.Draft) error {
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	_, err = db.pool.Exec(ctx, `INSERT INTO drafts (id, tenant, kind, model, prompt_version, created_at, draft)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, d.ID, d.Tenant, string(d.Kind), d.Model, d.PromptVersion, d.CreatedAt, string(b))
	if err != nil {
		return fmt.Errorf("create draft: %w", err)
	}
	return nil
}

// FindDraftByID returns the tenant's draft with that ID. Another tenant's draft is ENOTFOUND, exactly
// like a draft that does not exist.
func (db *DB) FindDraftByID(ctx context.Context, tenant, id string) (*hindsight.Draft, error) {
	var b []byte
	err := db.pool.QueryRow(ctx, "SELECT draft::text FROM drafts WHERE id = $1 AND tenant = $2", id, tenant).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, hindsight.Errorf(hindsight.ENOTFOUND, "no draft %q", id)
	} else if err != nil {
		return nil, fmt.Errorf("find draft: %w", err)
	}
	var d hindsight.Draft
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("decode draft %s: %w", id, err)
	}
	return &d, nil
}

// CreateReview stores a new review of a draft of the review's tenant. Reviews are never replaced:
// each is kept, in order. A draft that the tenant cannot see is ENOTFOUND.
func (db *DB) CreateReview(ctx context.Context, r *hindsight.Review) error {
	// One statement checks the draft and inserts: no row inserted means no such draft for the
	// tenant, and no other transaction can slip between the check and the insert.
	tag, err := db.pool.Exec(ctx, `INSERT INTO reviews (id, draft_id, tenant, reviewer, final, accuracy, clarity, completeness, comment, created_at)
		SELECT $1, id, tenant, $4, $5, $6, $7, $8, $9, $10 FROM drafts WHERE id = $2 AND tenant = $3`,
		r.ID, r.DraftID, r.Tenant, r.Reviewer, clean(r.Final), r.Ratings.Accuracy, r.Ratings.Clarity, r.Ratings.Completeness,
		clean(r.Comment), r.CreatedAt)
	if err != nil {
		return fmt.Errorf("create review: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return hindsight.Errorf(hindsight.ENOTFOUND, "no draft %q", r.DraftID)
	}
	return nil
}

// FindReviews returns the reviews of the tenant's draft, oldest first.
func (db *DB) FindReviews(ctx context.Context, tenant, draftID string) ([]*hindsight.Review, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, draft_id, tenant, reviewer, final, accuracy, clarity, completeness, comment, created_at
		FROM reviews WHERE draft_id = $1 AND tenant = $2 ORDER BY created_at, seq`, draftID, tenant)
	if err != nil {
		return nil, fmt.Errorf("find reviews: %w", err)
	}
	defer rows.Close()
	var out []*hindsight.Review
	for rows.Next() {
		var r hindsight.Review
		var created time.Time
		if err := rows.Scan(&r.ID, &r.DraftID, &r.Tenant, &r.Reviewer, &r.Final, &r.Ratings.Accuracy, &r.Ratings.Clarity,
			&r.Ratings.Completeness, &r.Comment, &created); err != nil {
			return nil, err
		}
		r.CreatedAt = created.UTC()
		out = append(out, &r)
	}
	return out, rows.Err()
}
