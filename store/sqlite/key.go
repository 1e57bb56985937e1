package sqlite

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/hindsightsec/hindsight"
)

// keyPrefix starts every API key, so that a leaked key is recognisable in logs and scanners.
const keyPrefix = "hsk_"

// CreateKey creates an API key for a tenant and role and returns the secret, which is shown once:
// only its SHA-256 is stored. The secret is hsk_<id>_<random>, so a lookup needs no scan.
func (db *DB) CreateKey(ctx context.Context, tenant string, role hindsight.Role) (string, *hindsight.Key, error) {
	if tenant == "" {
		return "", nil, hindsight.Invalid("tenant", "is required")
	}
	if !role.Valid() {
		return "", nil, hindsight.Invalid("role", "must be reader, reviewer or admin, got %q", role)
	}
	id, secret := randomHex(6), randomHex(24)
	full := keyPrefix + id + "_" + secret
	sum := sha256.Sum256([]byte(full))
	k := &hindsight.Key{ID: id, Tenant: tenant, Role: role, CreatedAt: db.now().UTC()}
	err := db.withTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO api_keys (id, tenant, role, hash, created_at) VALUES (?, ?, ?, ?, ?)",
			k.ID, k.Tenant, string(k.Role), sum[:], k.CreatedAt.UnixNano())
		return err
	})
	if err != nil {
		return "", nil, fmt.Errorf("create key: %w", err)
	}
	return full, k, nil
}

// FindKeyBySecret returns the key whose secret this is, comparing hashes in constant time. Any
// mismatch, malformed or unknown secret is EUNAUTHORIZED with the same message.
func (db *DB) FindKeyBySecret(ctx context.Context, secret string) (*hindsight.Key, error) {
	unauthorized := hindsight.Errorf(hindsight.EUNAUTHORIZED, "invalid API key")
	rest, ok := strings.CutPrefix(secret, keyPrefix)
	id, _, ok2 := strings.Cut(rest, "_")
	if !ok || !ok2 {
		return nil, unauthorized
	}
	var k hindsight.Key
	var role string
	var hash []byte
	var created sql.NullInt64
	stmt, err := db.prepared(ctx, "SELECT id, tenant, role, hash, created_at FROM api_keys WHERE id = ?")
	if err == nil {
		err = stmt.QueryRowContext(ctx, id).Scan(&k.ID, &k.Tenant, &role, &hash, &created)
	}
	if err == sql.ErrNoRows {
		return nil, unauthorized
	} else if err != nil {
		return nil, &hindsight.Error{Code: hindsight.EUNAVAILABLE, Message: "store does not answer", Err: err}
	}
	sum := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(sum[:], hash) != 1 {
		return nil, unauthorized
	}
	k.Role, k.CreatedAt = hindsight.Role(role), fromNanos(created)
	return &k, nil
}

// FindKeys returns the keys of a tenant (all tenants when tenant is empty), without secrets.
func (db *DB) FindKeys(ctx context.Context, tenant string) ([]*hindsight.Key, error) {
	rows, err := db.r.QueryContext(ctx, "SELECT id, tenant, role, created_at FROM api_keys WHERE ? = '' OR tenant = ? ORDER BY created_at", tenant, tenant)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*hindsight.Key
	for rows.Next() {
		var k hindsight.Key
		var role string
		var created sql.NullInt64
		if err := rows.Scan(&k.ID, &k.Tenant, &role, &created); err != nil {
			return nil, err
		}
		k.Role, k.CreatedAt = hindsight.Role(role), fromNanos(created)
		out = append(out, &k)
	}
	return out, rows.Err()
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails: crypto/rand panics rather than return an error
	return hex.EncodeToString(b)
}
