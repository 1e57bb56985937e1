package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/eval"
	"github.com/jackc/pgx/v5"
)

// FindPairs returns the reviewed drafts that f selects, each with its latest review (the text that
// was shipped last; a later review supersedes an earlier one), oldest draft first. Drafts without a
// review are left out: there is nothing to score them against. An empty f.Tenant selects every
// tenant's drafts: eval is an operator's tool, and its reports keep tenants apart (see
// SaveEvalReport).
func (db *DB) FindPairs(ctx context.Context, f eval.PairFilter) ([]eval.StoredPair, error) {
	var args sqlArgs
	q := pairsSelect
	if f.Tenant != "" {
		q += " AND d.tenant = " + args.add(f.Tenant)
	}
	if len(f.Kinds) > 0 {
		kinds := make([]string, len(f.Kinds))
		for i, k := range f.Kinds {
			kinds[i] = string(k)
		}
		q += " AND d.kind = ANY (" + args.add(kinds) + "::text[])"
	}
	if !f.Since.IsZero() {
		q += " AND d.created_at >= " + args.add(f.Since)
	}
	if !f.Until.IsZero() {
		q += " AND d.created_at < " + args.add(f.Until)
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
	var args sqlArgs
	q := pairsSelect + " AND d.id > " + args.add(p.After)
	if p.Tenant != "" {
		q += " AND d.tenant = " + args.add(p.Tenant)
	}
	if len(p.DraftIDs) > 0 {
		q += " AND d.id = ANY (" + args.add(p.DraftIDs) + "::text[])"
	}
	q += " ORDER BY d.id LIMIT " + args.add(p.Limit)
	out, err := db.queryPairs(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("find pairs page: %w", err)
	}
	return out, nil
}

// pairsSelect selects every reviewed draft with its latest review: the newest, and of reviews
// stored in the same microsecond the last stored. Conditions follow as " AND ...".
const pairsSelect = `SELECT d.draft::text, r.id, r.reviewer, r.final, r.accuracy, r.clarity, r.completeness, r.comment, r.created_at
		FROM drafts d
		JOIN LATERAL (SELECT * FROM reviews r2 WHERE r2.draft_id = d.id AND r2.tenant = d.tenant
			ORDER BY r2.created_at DESC, r2.seq DESC LIMIT 1) r ON true
		WHERE true`

// queryPairs runs a query built on pairsSelect and decodes its rows.
func (db *DB) queryPairs(ctx context.Context, q string, args ...any) ([]eval.StoredPair, error) {
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []eval.StoredPair
	for rows.Next() {
		var raw []byte
		var r hindsight.Review
		var created time.Time
		if err := rows.Scan(&raw, &r.ID, &r.Reviewer, &r.Final, &r.Ratings.Accuracy, &r.Ratings.Clarity,
			&r.Ratings.Completeness, &r.Comment, &created); err != nil {
			return nil, err
		}
		var d hindsight.Draft
		if err := json.Unmarshal(raw, &d); err != nil {
			return nil, fmt.Errorf("decode draft: %w", err)
		}
		r.DraftID, r.Tenant, r.CreatedAt = d.ID, d.Tenant, created.UTC()
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
	_, err = db.pool.Exec(ctx, `INSERT INTO eval_reports (id, tenant, kind, created_at, drafts, report) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (id, tenant) DO UPDATE SET kind = excluded.kind, created_at = excluded.created_at,
			drafts = excluded.drafts, report = excluded.report`,
		r.ID, tenant, r.Kind, r.CreatedAt, len(r.Drafts), string(b))
	if err != nil {
		return fmt.Errorf("save eval report: %w", err)
	}
	return nil
}

// FindLatestEvalReport returns, as stored JSON, the newest eval report over only the tenant's
// drafts. It is ENOTFOUND when there is none, and for the empty tenant: reports over several
// tenants are never served.
func (db *DB) FindLatestEvalReport(ctx context.Context, tenant string) (json.RawMessage, error) {
	if tenant == "" {
		return nil, hindsight.Errorf(hindsight.ENOTFOUND, "no eval report")
	}
	var b []byte
	err := db.pool.QueryRow(ctx, `SELECT report::text FROM eval_reports WHERE tenant = $1
		ORDER BY created_at DESC, seq DESC LIMIT 1`, tenant).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, hindsight.Errorf(hindsight.ENOTFOUND, "no eval report for this tenant yet")
	} else if err != nil {
		return nil, fmt.Errorf("find latest eval report: %w", err)
	}
	return json.RawMessage(b), nil
}
