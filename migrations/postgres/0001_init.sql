-- The PostgreSQL store: catalog, chunks with vectors and full text, runs, drafts, reviews and API
-- keys. It holds what migrations/sqlite/0001_init.sql holds; the differences are PostgreSQL's own
-- types (timestamptz, text[], tsvector, pgvector's vector) and indexes (GIN, HNSW).

CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE documents (
	id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant       text        NOT NULL DEFAULT '',
	kind         text        NOT NULL,
	doc_id       text        NOT NULL,
	title        text        NOT NULL,
	source       text        NOT NULL DEFAULT '',  -- where it was read from, for pruning
	severity     smallint    NOT NULL DEFAULT 0,   -- 0 unknown, 1 informational .. 5 critical
	occurred_at  timestamptz,                      -- NULL unknown
	-- The document's techniques with each sub-technique's parent too, so that a filter on T1003
	-- finds T1003.001 with one array overlap (&&) served by the GIN index.
	techniques   text[]      NOT NULL DEFAULT '{}',
	record_hash  text        NOT NULL,             -- hash of the whole record
	content_hash text        NOT NULL,             -- hash of the embedded text
	space        text        NOT NULL,             -- embedding space of its chunks
	-- The canonical JSON record, as json rather than jsonb: json keeps the text as written, so the
	-- metadata a record carries through verbatim comes back byte for byte.
	record       json        NOT NULL,
	updated_at   timestamptz NOT NULL,
	UNIQUE (tenant, kind, doc_id)
);
CREATE INDEX documents_source ON documents (source);
CREATE INDEX documents_doc_id ON documents (doc_id);
CREATE INDEX documents_techniques ON documents USING gin (techniques);

-- The embedding spaces that have chunks, each with its dimension. The first write of a space adds
-- its row and creates its HNSW index: a partial index over the chunks of that space, on the
-- embedding cast to the space's dimension, so spaces of any dimension share one untyped column
-- and a new embedding model needs no migration.
CREATE TABLE spaces (
	space      text        PRIMARY KEY,
	dim        integer     NOT NULL CHECK (dim > 0),
	index_name text        NOT NULL DEFAULT '',    -- '' when the dimension is too large for HNSW
	created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE chunks (
	doc       bigint   NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
	seq       integer  NOT NULL,
	section   text     NOT NULL,
	text      text     NOT NULL,
	space     text     NOT NULL,  -- the space of embedding: the per-space indexes are partial on it
	embedding vector   NOT NULL,  -- untyped: each space has its own dimension
	-- The chunk's search terms exactly as the tokenizer produced them, with their positions; built
	-- by the store rather than by to_tsvector, whose parser would split technique IDs, paths and
	-- addresses apart.
	terms     tsvector NOT NULL,
	PRIMARY KEY (doc, seq)
);
CREATE INDEX chunks_terms ON chunks USING gin (terms);

CREATE TABLE ingest_runs (
	id          text        PRIMARY KEY,
	started_at  timestamptz NOT NULL,
	finished_at timestamptz,
	status      text        NOT NULL,
	run         json        NOT NULL   -- the run record
);
CREATE INDEX ingest_runs_started ON ingest_runs (started_at);

CREATE TABLE drafts (
	id             text        PRIMARY KEY,
	tenant         text        NOT NULL,
	kind           text        NOT NULL,
	model          text        NOT NULL,
	prompt_version text        NOT NULL,
	created_at     timestamptz NOT NULL,
	draft          json        NOT NULL   -- the draft; json keeps its threat's metadata verbatim
);
CREATE INDEX drafts_tenant ON drafts (tenant, created_at);

CREATE TABLE reviews (
	id           text        PRIMARY KEY,
	-- seq orders reviews made within the same microsecond as they were stored.
	seq          bigint      GENERATED ALWAYS AS IDENTITY,
	draft_id     text        NOT NULL REFERENCES drafts (id),
	tenant       text        NOT NULL,
	reviewer     text        NOT NULL,
	final        text        NOT NULL,
	accuracy     smallint    NOT NULL CHECK (accuracy BETWEEN 1 AND 5),
	clarity      smallint    NOT NULL CHECK (clarity BETWEEN 1 AND 5),
	completeness smallint    NOT NULL CHECK (completeness BETWEEN 1 AND 5),
	comment      text        NOT NULL DEFAULT '',
	created_at   timestamptz NOT NULL
);
CREATE INDEX reviews_draft ON reviews (draft_id, created_at, seq);

CREATE TABLE api_keys (
	id         text        PRIMARY KEY,
	tenant     text        NOT NULL,
	role       text        NOT NULL,
	hash       bytea       NOT NULL,   -- SHA-256 of the secret
	created_at timestamptz NOT NULL
);
CREATE INDEX api_keys_tenant ON api_keys (tenant, created_at);
