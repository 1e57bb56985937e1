-- The embedded store: catalog, chunks with their terms and vectors, runs, drafts, reviews and API keys.
-- Full-text (BM25) and vector search run over an in-memory index built from chunks (store/sqlite/index.go).
-- Times are unix nanoseconds.

-- changes records, in commit order, every document written or deleted, so that each process can
-- bring its in-memory search index up to date by reading only what changed since it last looked.
-- Old entries are pruned; a process that fell further behind reloads its index whole.
CREATE TABLE changes (
	seq INTEGER PRIMARY KEY AUTOINCREMENT,
	doc INTEGER NOT NULL   -- documents.id, which is never reused
);

CREATE TABLE documents (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	tenant       TEXT    NOT NULL DEFAULT '',
	kind         TEXT    NOT NULL,
	doc_id       TEXT    NOT NULL,
	title        TEXT    NOT NULL,
	source       TEXT    NOT NULL DEFAULT '',   -- where it was read from, for pruning
	severity     INTEGER NOT NULL DEFAULT 0,    -- 0 unknown, 1 informational .. 5 critical
	occurred_at  INTEGER,                       -- unix nanoseconds; NULL unknown
	record_hash  TEXT    NOT NULL,              -- hash of the whole record
	content_hash TEXT    NOT NULL,              -- hash of the embedded text
	space        TEXT    NOT NULL,              -- embedding space of its chunks
	record       TEXT    NOT NULL,              -- the canonical JSON record
	updated_at   INTEGER NOT NULL,
	UNIQUE (tenant, kind, doc_id)
);
CREATE INDEX documents_source ON documents (source);
CREATE INDEX documents_doc_id ON documents (doc_id);

-- Techniques of a document, with each sub-technique's parent too, for filters.
CREATE TABLE doc_techniques (
	technique TEXT    NOT NULL,
	doc       INTEGER NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
	PRIMARY KEY (technique, doc)
) WITHOUT ROWID;
CREATE INDEX doc_techniques_doc ON doc_techniques (doc);

CREATE TABLE chunks (
	id      INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: the vector index keys chunks by it
	doc     INTEGER NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
	seq     INTEGER NOT NULL,
	section TEXT    NOT NULL,
	text    TEXT    NOT NULL,
	terms   TEXT    NOT NULL,  -- the search terms, space-separated, as the tokenizer made them
	vector  BLOB    NOT NULL,  -- little-endian float32
	UNIQUE (doc, seq)
);

CREATE TABLE ingest_runs (
	id          TEXT    PRIMARY KEY,
	started_at  INTEGER NOT NULL,
	finished_at INTEGER,
	status      TEXT    NOT NULL,
	run         TEXT    NOT NULL   -- the run record as JSON
);
CREATE INDEX ingest_runs_started ON ingest_runs (started_at);

CREATE TABLE drafts (
	id             TEXT    PRIMARY KEY,
	tenant         TEXT    NOT NULL,
	kind           TEXT    NOT NULL,
	model          TEXT    NOT NULL,
	prompt_version TEXT    NOT NULL,
	created_at     INTEGER NOT NULL,
	draft          TEXT    NOT NULL   -- the draft as JSON
);
CREATE INDEX drafts_tenant ON drafts (tenant, created_at);

CREATE TABLE reviews (
	id           TEXT    PRIMARY KEY,
	draft_id     TEXT    NOT NULL REFERENCES drafts (id),
	tenant       TEXT    NOT NULL,
	reviewer     TEXT    NOT NULL,
	final        TEXT    NOT NULL,
	accuracy     INTEGER NOT NULL CHECK (accuracy BETWEEN 1 AND 5),
	clarity      INTEGER NOT NULL CHECK (clarity BETWEEN 1 AND 5),
	completeness INTEGER NOT NULL CHECK (completeness BETWEEN 1 AND 5),
	comment      TEXT    NOT NULL DEFAULT '',
	created_at   INTEGER NOT NULL
);
CREATE INDEX reviews_draft ON reviews (draft_id, created_at);

CREATE TABLE api_keys (
	id         TEXT    PRIMARY KEY,
	tenant     TEXT    NOT NULL,
	role       TEXT    NOT NULL,
	hash       BLOB    NOT NULL,   -- SHA-256 of the secret
	created_at INTEGER NOT NULL
);
