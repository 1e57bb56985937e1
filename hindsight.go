// Package hindsight holds the domain types shared by every part of Hindsight: documents and their
// kinds, ATT&CK technique IDs, search hits, drafts and reviews, API keys, the error type with codes,
// and the embedder seam. It depends on the standard library only; each concern (ingest, retrieval,
// drafting, eval, the API, each store) lives in its own package and speaks in these types.
package hindsight
