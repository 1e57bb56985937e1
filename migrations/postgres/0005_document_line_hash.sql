-- The hash of the JSONL line each document was last stored from (with what else decided how the
-- line decoded), so that a re-run recognises an unchanged line by its bytes, without decoding it.
-- NULL: not read from a line, or stored before line hashes were kept.
ALTER TABLE documents ADD COLUMN line_hash text;
CREATE INDEX documents_line_hash ON documents (line_hash) WHERE line_hash IS NOT NULL;
