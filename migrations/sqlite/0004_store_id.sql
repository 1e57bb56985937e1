-- A random identity for the store, made once. Files kept beside the database (the saved vector
-- graph) carry it, so that a file left from another store at the same path is never used.
CREATE TABLE store_meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO store_meta (key, value) VALUES ('store_id', lower(hex(randomblob(16))));
