package sqlite

import (
	"sync"

	"github.com/hindsightsec/hindsight"
)

// docCacheSize bounds the decoded documents kept in memory. Searches load the same knowledge
// (analytics, notes, techniques) over and over; decoding their JSON was a third of a hybrid
// search's time. A decoded document is dozens of objects for the garbage collector to mark: at
// 20,000 documents the cache tripled the time of a collection of a 100,000-threat index.
const docCacheSize = 4096

// docCache keeps decoded documents by key. Entries are dropped when the change log shows their
// document changed, so a cached document is never stale for longer than the next search's refresh;
// FindDocuments also checks the change log before using it.
type docCache struct {
	mu   sync.Mutex
	seq  int64 // the change-log position the entries are valid at
	docs map[hindsight.DocKey]*hindsight.Document
}

// get returns the cached documents among keys, valid at seq, and the keys it lacks.
func (c *docCache) get(seq int64, keys []hindsight.DocKey, out map[hindsight.DocKey]*hindsight.Document) []hindsight.DocKey {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seq != seq {
		return keys // invalidated wholesale below by put, or by the index refresh
	}
	var missing []hindsight.DocKey
	for _, k := range keys {
		if d, ok := c.docs[k]; ok {
			out[k] = d
		} else {
			missing = append(missing, k)
		}
	}
	return missing
}

// put stores documents read at seq.
func (c *docCache) put(seq int64, docs map[hindsight.DocKey]*hindsight.Document) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seq != seq {
		// Another position: what is cached may be stale. Start over; the index refresh, which
		// knows which documents changed, keeps the cache across small changes instead.
		c.docs, c.seq = nil, seq
	}
	if c.docs == nil {
		c.docs = make(map[hindsight.DocKey]*hindsight.Document, len(docs))
	}
	for k, d := range docs {
		if len(c.docs) >= docCacheSize {
			for old := range c.docs { // drop an arbitrary entry: map order is random enough
				delete(c.docs, old)
				break
			}
		}
		c.docs[k] = d
	}
}

// advance moves the cache to seq, dropping the documents that changed in between.
func (c *docCache) advance(from, to int64, changed []hindsight.DocKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seq != from {
		c.docs, c.seq = nil, to
		return
	}
	for _, k := range changed {
		delete(c.docs, k)
	}
	c.seq = to
}
