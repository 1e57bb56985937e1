package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/hindsightsec/hindsight"
)

// CreateDraft stores a new draft. The draft's ID and CreatedAt must be set.
func (db *DB) CreateDraft(ctx context.Context, d *hindsight.Draft) error {
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return db.withTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO drafts (id, tenant, kind, model, prompt_version, created_at, draft)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, d.ID, d.Tenant, string(d.Kind), d.Model, d.PromptVersion, d.CreatedAt.UnixNano(), string(b))
		if err != nil {
			return fmt.Errorf("create draft: %w", err)
		}
		return nil
	})
}

// FindDraftByID returns the tenant's draft with that ID. Another tenant's draft is ENOTFOUND, exactly
// like a draft that does not exist.
func (db *DB) FindDraftByID(ctx context.Context, tenant, id string) (*hindsight.Draft, error) {
	var b string
	err := db.r.QueryRowContext(ctx, "SELECT draft FROM drafts WHERE id = ? AND tenant = ?", id, tenant).Scan(&b)
	if err == sql.ErrNoRows {
		return nil, hindsight.Errorf(hindsight.ENOTFOUND, "no draft %q", id)
	} else if err != nil {
		return nil, fmt.Errorf("find draft: %w", err)
	}
	var d hindsight.Draft
	if err := json.Unmarshal([]byte(b), &d); err != nil {
		return nil, fmt.Errorf("decode draft %s: %w", id, err)
	}
	return &d, nil
}

// CreateReview stores a new review of a draft of the review's tenant. Reviews are never replaced:
// each is kept, in order. A draft that the tenant cannot see is ENOTFOUND.
func (db *DB) CreateReview(ctx context.Context, r *hindsight.Review) error {
	return db.withTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM drafts WHERE id = ? AND tenant = ?", r.DraftID, r.Tenant).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return hindsight.Errorf(hindsight.ENOTFOUND, "no draft %q", r.DraftID)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO reviews (id, draft_id, tenant, reviewer, final, accuracy, clarity, completeness, comment, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, r.ID, r.DraftID, r.Tenant, r.Reviewer, r.Final,
			r.Ratings.Accuracy, r.Ratings.Clarity, r.Ratings.Completeness, r.Comment, r.CreatedAt.UnixNano())
		if err != nil {
			return fmt.Errorf("create review: %w", err)
		}
		return nil
	})
}

// FindReviews returns the reviews of the tenant's draft, oldest first.
func (db *DB) FindReviews(ctx context.Context, tenant, draftID string) ([]*hindsight.Review, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, draft_id, tenant, reviewer, final, accuracy, clarity, completeness, comment, created_at
		FROM reviews WHERE draft_id = ? AND tenant = ? ORDER BY created_at, rowid`, draftID, tenant)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*hindsight.Review
	for rows.Next() {
		var r hindsight.Review
		var created sql.NullInt64
		if err := rows.Scan(&r.ID, &r.DraftID, &r.Tenant, &r.Reviewer, &r.Final, &r.Ratings.Accuracy, &r.Ratings.Clarity,
			&r.Ratings.Completeness, &r.Comment, &created); err != nil {
			return nil, err
		}
		r.CreatedAt = fromNanos(created)
		out = append(out, &r)
	}
	return out, rows.Err()
}
