package sqlite

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/hindsightsec/hindsight"
)

// keyBatch is how many keys one lookup query names: three parameters each, far below SQLite's
// limit, and few enough statements that a batch of an ingest costs one or two queries.
const keyBatch = 300

// DocumentStates returns what the store knows of each of the keys that it holds; keys it does not
// hold are absent from the map.
func (db *DB) DocumentStates(ctx context.Context, keys []hindsight.DocKey) (map[hindsight.DocKey]hindsight.DocState, error) {
	out := make(map[hindsight.DocKey]hindsight.DocState, len(keys))
	for i := 0; i < len(keys); i += keyBatch {
		part := keys[i:min(i+keyBatch, len(keys))]
		args := make([]any, 0, 3*len(part))
		for _, k := range part {
			args = append(args, k.Tenant, string(k.Kind), k.ID)
		}
		err := db.queryStates(ctx, `WHERE (tenant, kind, doc_id) IN (VALUES `+
			strings.TrimSuffix(strings.Repeat("(?,?,?),", len(part)), ",")+")", args, func(s hindsight.LineState) {
			out[s.Key] = s.DocState
		})
		if err != nil {
			return nil, fmt.Errorf("document states: %w", err)
		}
	}
	return out, nil
}

// DocumentStatesByLine returns, for each of the line hashes that a stored document was last
// stored from (DocumentWrite.LineHash), that document's key and state; other hashes are absent
// from the map. A hash that two documents claim, which one line cannot produce, is left out too,
// so the caller decodes that line rather than trust either.
func (db *DB) DocumentStatesByLine(ctx context.Context, hashes []string) (map[string]hindsight.LineState, error) {
	out := make(map[string]hindsight.LineState, len(hashes))
	claimed := map[string]bool{}
	for i := 0; i < len(hashes); i += 3 * keyBatch {
		part := hashes[i:min(i+3*keyBatch, len(hashes))]
		args := make([]any, len(part))
		for j, h := range part {
			args[j] = h
		}
		err := db.queryStates(ctx, "WHERE line_hash IN ("+strings.TrimSuffix(strings.Repeat("?,", len(part)), ",")+")", args,
			func(s hindsight.LineState) {
				if claimed[s.LineHash] {
					delete(out, s.LineHash)
					return
				}
				claimed[s.LineHash] = true
				out[s.LineHash] = s
			})
		if err != nil {
			return nil, fmt.Errorf("document states by line: %w", err)
		}
	}
	return out, nil
}

// queryStates runs one query for the states of the documents that where selects, calling fn for
// each.
func (db *DB) queryStates(ctx context.Context, where string, args []any, fn func(hindsight.LineState)) error {
	if len(args) == 0 {
		return nil
	}
	rows, err := db.r.QueryContext(ctx, `SELECT tenant, kind, doc_id, record_hash, content_hash, space, source,
		coalesce(line_hash, '') FROM documents `+where, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var s hindsight.LineState
		var kind string
		if err := rows.Scan(&s.Key.Tenant, &kind, &s.Key.ID, &s.RecordHash, &s.ContentHash, &s.Space, &s.Source, &s.LineHash); err != nil {
			return err
		}
		s.Key.Kind = hindsight.Kind(kind)
		fn(s)
	}
	return rows.Err()
}

// SetDocumentLineHashes records, for documents whose record is unchanged, the line they were
// read from this time (the same record written differently: other key order or spacing), so
// that the next run recognises that line without decoding it. Each state names the key, the
// record hash the caller found stored and the new line hash; a document whose record hash is no
// longer that one is left alone. It changes no record and is not a change of the documents.
func (db *DB) SetDocumentLineHashes(ctx context.Context, states []hindsight.LineState) error {
	if len(states) == 0 {
		return nil
	}
	return db.withTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `UPDATE documents SET line_hash = ?
			WHERE tenant = ? AND kind = ? AND doc_id = ? AND record_hash = ?`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, s := range states {
			if _, err := stmt.ExecContext(ctx, nullString(s.LineHash), s.Key.Tenant, string(s.Key.Kind), s.Key.ID, s.RecordHash); err != nil {
				return fmt.Errorf("set line hash of %s: %w", s.Key, err)
			}
		}
		return nil
	})
}

func nullString(s string) sql.NullString {
	return sql.NullString{String: s, Valid: s != ""}
}

// WriteDocuments inserts or replaces documents, all in one transaction: after a crash either all of
// them are stored with all their chunks, or none is.
func (db *DB) WriteDocuments(ctx context.Context, ws []hindsight.DocumentWrite) error {
	if len(ws) == 0 {
		return nil
	}
	now := db.now().UnixNano()
	return db.withTx(ctx, func(tx *sql.Tx) error {
		upsert, err := tx.PrepareContext(ctx, `INSERT INTO documents
			(tenant, kind, doc_id, title, source, severity, occurred_at, record_hash, content_hash, space, line_hash, record, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (tenant, kind, doc_id) DO UPDATE SET
				title = excluded.title, source = excluded.source, severity = excluded.severity,
				occurred_at = excluded.occurred_at, record_hash = excluded.record_hash,
				content_hash = excluded.content_hash, space = excluded.space, line_hash = excluded.line_hash,
				record = excluded.record, updated_at = excluded.updated_at
			RETURNING id`)
		if err != nil {
			return err
		}
		defer upsert.Close()
		insChunk, err := tx.PrepareContext(ctx, "INSERT INTO chunks (doc, seq, section, text, terms, vector) VALUES (?, ?, ?, ?, ?, ?)")
		if err != nil {
			return err
		}
		defer insChunk.Close()
		insTech, err := tx.PrepareContext(ctx, "INSERT OR IGNORE INTO doc_techniques (technique, doc) VALUES (?, ?)")
		if err != nil {
			return err
		}
		defer insTech.Close()
		// Every statement of the loop is prepared once: preparing it again for each document
		// cost a tenth of a first run's CPU.
		delTech, err := tx.PrepareContext(ctx, "DELETE FROM doc_techniques WHERE doc = ?")
		if err != nil {
			return err
		}
		defer delTech.Close()
		delChunks, err := tx.PrepareContext(ctx, "DELETE FROM chunks WHERE doc = ?")
		if err != nil {
			return err
		}
		defer delChunks.Close()

		ids := make([]int64, 0, len(ws))
		for _, w := range ws {
			d := w.Document
			rec, err := json.Marshal(d)
			if err != nil {
				return fmt.Errorf("encode %s: %w", d.Key(), err)
			}
			var id int64
			if err := upsert.QueryRowContext(ctx, d.Tenant, string(d.Kind), d.ID, d.Title, w.Source, d.Severity.Rank(),
				nanos(d.OccurredAt), w.RecordHash, w.ContentHash, w.Space, nullString(w.LineHash), string(rec), now).Scan(&id); err != nil {
				return fmt.Errorf("store %s: %w", d.Key(), err)
			}
			ids = append(ids, id)
			if _, err := delTech.ExecContext(ctx, id); err != nil {
				return err
			}
			for _, t := range techniqueKeys(d.Techniques) {
				if _, err := insTech.ExecContext(ctx, t, id); err != nil {
					return err
				}
			}
			if w.Chunks == nil {
				continue
			}
			if _, err := delChunks.ExecContext(ctx, id); err != nil {
				return fmt.Errorf("replace chunks of %s: %w", d.Key(), err)
			}
			for _, c := range w.Chunks {
				if _, err := insChunk.ExecContext(ctx, id, c.Seq, c.Section, c.Text, strings.Join(c.Terms, " "), encodeVector(c.Vector)); err != nil {
					return fmt.Errorf("store chunk %d of %s: %w", c.Seq, d.Key(), err)
				}
			}
		}
		return recordChanges(ctx, tx, ids)
	})
}

// DeleteDocuments removes documents with their chunks; keys it does not hold are ignored. It
// returns how many it removed.
func (db *DB) DeleteDocuments(ctx context.Context, keys []hindsight.DocKey) (int, error) {
	var n int
	err := db.withTx(ctx, func(tx *sql.Tx) error {
		var ids []int64
		for _, k := range keys {
			var id int64
			err := tx.QueryRowContext(ctx, "DELETE FROM documents WHERE tenant = ? AND kind = ? AND doc_id = ? RETURNING id", k.Tenant, string(k.Kind), k.ID).Scan(&id)
			if err == sql.ErrNoRows {
				continue
			} else if err != nil {
				return fmt.Errorf("delete %s: %w", k, err)
			}
			ids = append(ids, id)
		}
		n = len(ids)
		return recordChanges(ctx, tx, ids)
	})
	return n, err
}

// FindDocuments returns the stored documents for the keys it holds. The documents may be shared
// with other callers (they come from a cache of decoded documents): read them, never modify them.
func (db *DB) FindDocuments(ctx context.Context, keys []hindsight.DocKey) (map[hindsight.DocKey]*hindsight.Document, error) {
	out := make(map[hindsight.DocKey]*hindsight.Document, len(keys))
	seq, err := db.lastChange(ctx)
	if err != nil {
		return nil, fmt.Errorf("find documents: %w", err)
	}
	keys = db.cache.get(seq, keys, out)
	fetched := make(map[hindsight.DocKey]*hindsight.Document, len(keys))
	defer db.cache.put(seq, fetched)
	// One query per batch of keys: row values (tenant, kind, doc_id) IN (VALUES ...), prepared
	// for batches of 1, 2, 4 … findBatch keys; a batch between two sizes repeats its last key.
	args := make([]any, 0, 3*findBatch)
	for len(keys) > 0 {
		part := keys[:min(findBatch, len(keys))]
		keys = keys[len(part):]
		size := 1
		for size < len(part) {
			size *= 2
		}
		args = args[:0]
		for i := range size {
			k := part[min(i, len(part)-1)]
			args = append(args, k.Tenant, string(k.Kind), k.ID)
		}
		stmt, err := db.prepared(ctx, findQueries[size])
		if err != nil {
			return nil, fmt.Errorf("find documents: %w", err)
		}
		rows, err := stmt.QueryContext(ctx, args...)
		if err != nil {
			return nil, fmt.Errorf("find documents: %w", err)
		}
		var rec sql.RawBytes // valid until the next row: the decoded document keeps nothing of it
		for rows.Next() {
			var k hindsight.DocKey
			var kind string
			if err := rows.Scan(&k.Tenant, &kind, &k.ID, &rec); err != nil {
				rows.Close()
				return nil, err
			}
			k.Kind = hindsight.Kind(kind)
			d, err := hindsight.DecodeDocument(rec)
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("decode %s: %w", k, err)
			}
			out[k], fetched[k] = d, d
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// findBatch is the most keys one FindDocuments query names.
const findBatch = 64

// findQueries are FindDocuments' queries by how many keys they name: 1, 2, 4 … findBatch.
var findQueries = func() map[int]string {
	qs := map[int]string{}
	for size := 1; size <= findBatch; size *= 2 {
		qs[size] = "SELECT tenant, kind, doc_id, record FROM documents WHERE (tenant, kind, doc_id) IN (VALUES " +
			strings.TrimSuffix(strings.Repeat("(?,?,?),", size), ",") + ")"
	}
	return qs
}()

// lastChange returns the change log's position.
func (db *DB) lastChange(ctx context.Context) (int64, error) {
	stmt, err := db.prepared(ctx, "SELECT coalesce(max(seq), 0) FROM changes")
	if err != nil {
		return 0, err
	}
	var seq int64
	err = stmt.QueryRowContext(ctx).Scan(&seq)
	return seq, err
}

// CountDocuments returns how many documents the store holds for a tenant (with global knowledge), by
// kind.
func (db *DB) CountDocuments(ctx context.Context, tenant string) (map[hindsight.Kind]int, error) {
	rows, err := db.r.QueryContext(ctx, "SELECT kind, count(*) FROM documents WHERE tenant IN ('', ?) GROUP BY kind", tenant)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[hindsight.Kind]int{}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return nil, err
		}
		out[hindsight.Kind(k)] = n
	}
	return out, rows.Err()
}

// techniqueKeys returns the techniques with each sub-technique's parent added, without duplicates,
// so that a filter on T1059 finds T1059.001.
func techniqueKeys(ts []string) []string {
	seen := make(map[string]bool, len(ts)*2)
	var out []string
	for _, t := range ts {
		for _, k := range []string{t, hindsight.ParentTechnique(t)} {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	return out
}

func encodeVector(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func decodeVector(dst []float32, b []byte) []float32 {
	for i := 0; i+4 <= len(b); i += 4 {
		dst = append(dst, math.Float32frombits(binary.LittleEndian.Uint32(b[i:])))
	}
	return dst
}

// DocumentsBySource returns the keys of the documents last read from source.
func (db *DB) DocumentsBySource(ctx context.Context, source string) ([]hindsight.DocKey, error) {
	rows, err := db.r.QueryContext(ctx, "SELECT tenant, kind, doc_id FROM documents WHERE source = ?", source)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []hindsight.DocKey
	for rows.Next() {
		var k hindsight.DocKey
		var kind string
		if err := rows.Scan(&k.Tenant, &kind, &k.ID); err != nil {
			return nil, err
		}
		k.Kind = hindsight.Kind(kind)
		out = append(out, k)
	}
	return out, rows.Err()
}
