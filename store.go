package hindsight

// DocumentWrite is a document as ingest hands it to a store: the record, where it came from, its
// hashes and, when its embedded text changed, its new chunks.
type DocumentWrite struct {
	Document    *Document
	Source      string // the file or source it was read from; prune works per source
	RecordHash  string // hash of the whole record: equal means nothing changed
	ContentHash string // hash of the embedded text: equal means the vectors are still right
	Space       string // the embedding space of Chunks (Space.String())
	// LineHash is the hash of the input line the record was decoded from (see DocState), or
	// empty when it was not read from a line or the store does not keep line hashes. A store that
	// does not look documents up by line may ignore it.
	LineHash string
	// Chunks replaces the document's chunks. Nil keeps the stored chunks: only the record (e.g.
	// its metadata) changed.
	Chunks []Chunk
}

// DocState is what a store knows of a stored document, so ingest can tell new, changed and
// unchanged documents apart without reading them whole.
type DocState struct {
	RecordHash  string
	ContentHash string
	Space       string
	Source      string
	// LineHash is the hash of the JSONL line the document was last stored from, with what else
	// decided how that line decoded; empty when unknown (another format, another writer, or a
	// store that does not keep it). The same line hash again means the same record, so a re-run
	// can tell an unchanged line without decoding it.
	LineHash string
}

// LineState is the state of the stored document that a line hash belongs to, with its key.
type LineState struct {
	Key DocKey
	DocState
}
