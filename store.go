package hindsight

// DocumentWrite is a document as ingest hands it to a store: the record, where it came from, its
// hashes and, when its embedded text changed, its new chunks.
type DocumentWrite struct {
	Document    *Document
	Source      string // the file or source it was read from; prune works per source
	RecordHash  string // hash of the whole record: equal means nothing changed
	ContentHash string // hash of the embedded text: equal means the vectors are still right
	Space       string // the embedding space of Chunks (Space.String())
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
}
