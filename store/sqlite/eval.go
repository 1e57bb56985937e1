package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/eval"
)

// FindPairs returns the reviewed drafts that f selects, each with its latest review (the text that
// was shipped last; a later review supersedes an earlier one), oldest draft first. Drafts without a
// review are left out: there is nothing to score them against. An empty f.Tenant selects every
// tenant's drafts: eval is an operator's tool, and its reports keep tenants apart (see
// SaveEvalReport).
func (db *DB) FindPairs(ctx context.Context, f eval.PairFilter) ([]eval.StoredPair, error) {
	q := pairsSelect
	var args []any
	if f.Tenant != "" {
		q += " AND d.tenant = ?"
		args = append(args, f.Tenant)
	}
	if len(f.Kinds) > 0 {
		q += " AND d.kind IN (?" + strings.Repeat(", ?", len(f.Kinds)-1) + ")"
		for _, k := range f.Kinds {
			args = append(args, string(k))
		}
	}
	if !f.Since.IsZero() {
		q += " AND d.created_at >= ?"
		args = append(args, f.Since.UnixNano())
	}
	if !f.Until.IsZero() {
		q += " AND d.created_at < ?"
		args = append(args, f.Until.UnixNano())
	}
	q += " ORDER BY d.created_at, d.id"
	out, err := db.queryPairs(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("find pairs: %w", err)
	}
	return out, nil
}

// FindPairsPage returns one page of reviewed drafts in order of draft ID, each with its latest
// review, as FindPairs does: the drafts of p.Tenant (every tenant's when empty), of p.DraftIDs
// when given, whose IDs sort after p.After, at most p.Limit of them. A page shorter than its
// limit is the last.
func (db *DB) FindPairsPage(ctx context.Context, p eval.PairPage) ([]eval.StoredPair, error) {
	if p.Limit <= 0 {
		p.Limit = eval.DefaultPageLimit
	}
	q := pairsSelect + " AND d.id > ?"
	args := []any{p.After}
	if p.Tenant != "" {
		q += " AND d.tenant = ?"
		args = append(args, p.Tenant)
	}
	if len(p.DraftIDs) > 0 {
		q += " AND d.id IN (?" + strings.Repeat(", ?", len(p.DraftIDs)-1) + ")"
		for _, id := range p.DraftIDs {
			args = append(args, id)
		}
	}
	q += " ORDER BY d.id LIMIT ?"
	args = append(args, p.Limit)
	out, err := db.queryPairs(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("find pairs page: %w", err)
	}
	return out, nil
}

// pairsSelect selects every reviewed draft with its latest review, the newest and, of reviews
// stored at the same time, the last stored; conditions follow as " AND ...".
const pairsSelect = `SELECT d.draft, r.id, r.reviewer, r.final, r.accuracy, r.clarity, r.completeness, r.comment, r.created_at
		FROM drafts d JOIN reviews r ON r.draft_id = d.id AND r.tenant = d.tenant
		WHERE r.rowid = (SELECT r2.rowid FROM reviews r2 WHERE r2.draft_id = d.id AND r2.tenant = d.tenant
			ORDER BY r2.created_at DESC, r2.rowid DESC LIMIT 1)`

// queryPairs runs a query built on pairsSelect and decodes its rows.
func (db *DB) queryPairs(ctx context.Context, q string, args ...any) ([]eval.StoredPair, error) {
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []eval.StoredPair
	for rows.Next() {
		var raw string
		var r hindsight.Review
		var created sql.NullInt64
		if err := rows.Scan(&raw, &r.ID, &r.Reviewer, &r.Final, &r.Ratings.Accuracy, &r.Ratings.Clarity,
			&r.Ratings.Completeness, &r.Comment, &created); err != nil {
			return nil, err
		}
		var d hindsight.Draft
		if err := json.Unmarshal([]byte(raw), &d); err != nil {
			return nil, fmt.Errorf("decode draft: %w", err)
		}
		r.DraftID, r.Tenant, r.CreatedAt = d.ID, d.Tenant, fromNanos(created)
		out = append(out, eval.StoredPair{Draft: &d, Review: &r})
	}
	return out, rows.Err()
}

// SaveEvalReport stores an eval report. A report over one tenant's drafts is stored under that
// tenant, and FindLatestEvalReport serves it to the tenant; a report over several tenants (or none)
// is stored under the empty tenant and served to no tenant, because it shows every tenant's drafts.
// Saving a report with the same ID and scope again replaces it.
func (db *DB) SaveEvalReport(ctx context.Context, r *eval.Report) error {
	if r.ID == "" {
		return hindsight.Invalid("id", "an eval report needs an ID")
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("save eval report: %w", err)
	}
	tenant := ""
	if len(r.Tenants) == 1 {
		tenant = r.Tenants[0]
	}
	return db.withTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO eval_reports (id, tenant, kind, created_at, drafts, report) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (id, tenant) DO UPDATE SET kind = excluded.kind, created_at = excluded.created_at,
				drafts = excluded.drafts, report = excluded.report`,
			r.ID, tenant, r.Kind, r.CreatedAt.UnixNano(), len(r.Drafts), string(b))
		if err != nil {
			return fmt.Errorf("save eval report: %w", err)
		}
		return nil
	})
}

// FindLatestEvalReport returns, as stored JSON, the newest eval report over only the tenant's
// drafts. It is ENOTFOUND when there is none, and for the empty tenant: reports over several
// tenants are never served.
func (db *DB) FindLatestEvalReport(ctx context.Context, tenant string) (json.RawMessage, error) {
	if tenant == "" {
		return nil, hindsight.Errorf(hindsight.ENOTFOUND, "no eval report")
	}
	var b string
	err := db.r.QueryRowContext(ctx, `SELECT report FROM eval_reports WHERE tenant = ?
		ORDER BY created_at DESC, rowid DESC LIMIT 1`, tenant).Scan(&b)
	if err == sql.ErrNoRows {
		return nil, hindsight.Errorf(hindsight.ENOTFOUND, "no eval report for this tenant yet")
	} else if err != nil {
		return nil, fmt.Errorf("find latest eval report: %w", err)
	}
	return json.RawMessage(b), nil
}
