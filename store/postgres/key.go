package postgres

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hindsightsec/hindsight"
	"github.com/jackc/pgx/v5"
)

// keyPrefix starts every API key, so that a leaked key is recognisable in logs and scanners. It is
// the embedded store's: a key means the same whichever store issued it.
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
	// PostgreSQL keeps microseconds: the key returned says what a later FindKeys will.
	k := &hindsight.Key{ID: id, Tenant: tenant, Role: role, CreatedAt: db.now().UTC().Truncate(time.Microsecond)}
	_, err := db.pool.Exec(ctx, "INSERT INTO api_keys (id, tenant, role, hash, created_at) VALUES ($1, $2, $3, $4, $5)",
		k.ID, k.Tenant, string(k.Role), sum[:], k.CreatedAt)
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
	// PostgreSQL text holds neither NUL nor invalid UTF-8, and no key ID does either: such a
	// secret is merely wrong, not a reason for the query to fail.
	if !ok || !ok2 || strings.IndexByte(id, 0) >= 0 || !utf8.ValidString(id) {
		return nil, unauthorized
	}
	var k hindsight.Key
	var hash []byte
	var created time.Time
	err := db.pool.QueryRow(ctx, "SELECT id, tenant, role, hash, created_at FROM api_keys WHERE id = $1", id).
		Scan(&k.ID, &k.Tenant, &k.Role, &hash, &created)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, unauthorized
	} else if err != nil {
		return nil, unavailable(err)
	}
	sum := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(sum[:], hash) != 1 {
		return nil, unauthorized
	}
	k.CreatedAt = created.UTC()
	return &k, nil
}

// FindKeys returns the keys of a tenant (all tenants when tenant is empty), without secrets.
func (db *DB) FindKeys(ctx context.Context, tenant string) ([]*hindsight.Key, error) {
	rows, err := db.pool.Query(ctx, "SELECT id, tenant, role, created_at FROM api_keys WHERE $1 = '' OR tenant = $1 ORDER BY created_at, id", tenant)
	if err != nil {
		return nil, fmt.Errorf("find keys: %w", err)
	}
	defer rows.Close()
	var out []*hindsight.Key
	for rows.Next() {
		var k hindsight.Key
		var created time.Time
		if err := rows.Scan(&k.ID, &k.Tenant, &k.Role, &created); err != nil {
			return nil, err
		}
		k.CreatedAt = created.UTC()
		out = append(out, &k)
	}
	return out, rows.Err()
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails: crypto/rand panics rather than return an error
	return hex.EncodeToString(b)
}
