package qdrant

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/hindsightsec/hindsight"
	qc "github.com/qdrant/go-client/qdrant"
)

// docPlan is what a batch of writes leaves of one document: the last record written and, if any
// write carried chunks, the last chunks with their space. It mirrors the catalog, which applies
// the writes in order in one transaction.
type docPlan struct {
	doc     *hindsight.Document
	chunked bool
	chunks  []hindsight.Chunk
	space   string
}

// WriteDocuments inserts or replaces documents: their points in Qdrant first, then the catalog in
// one transaction (the package documentation says why in this order). A write without chunks
// keeps the stored points and updates the fields searches filter on if the record changed them.
func (ix *Index) WriteDocuments(ctx context.Context, ws []hindsight.DocumentWrite) error {
	if len(ws) == 0 {
		return nil
	}
	plans := map[hindsight.DocKey]*docPlan{}
	var keys []hindsight.DocKey
	for _, w := range ws {
		if w.Document == nil {
			return hindsight.Invalid("document", "is nil")
		}
		k := w.Document.Key()
		p := plans[k]
		if p == nil {
			p = &docPlan{}
			plans[k] = p
			keys = append(keys, k)
		}
		p.doc = w.Document
		if len(w.Chunks) > 0 && w.Space == "" {
			return hindsight.Invalid("space", "%s has chunks but no embedding space", k)
		}
		if w.Chunks != nil {
			p.chunked, p.chunks, p.space = true, w.Chunks, w.Space
		}
	}
	states, err := ix.catalog.DocumentStates(ctx, keys)
	if err != nil {
		return fmt.Errorf("read document states: %w", err)
	}

	bySpace := map[string][]hindsight.DocKey{}
	var metaOnly []hindsight.DocKey
	for _, k := range keys {
		p := plans[k]
		if p.chunked {
			bySpace[p.space] = append(bySpace[p.space], k)
		} else if _, ok := states[k]; ok {
			metaOnly = append(metaOnly, k)
		}
	}
	for _, space := range slices.Sorted(maps.Keys(bySpace)) {
		if err := ix.writeChunks(ctx, space, bySpace[space], plans); err != nil {
			return err
		}
	}
	if err := ix.updateFilterFields(ctx, metaOnly, plans, states); err != nil {
		return err
	}
	if err := ix.catalog.WriteDocuments(ctx, ws); err != nil {
		return err
	}
	// A document embedded again in another space leaves its points in the old space's collection.
	// They go only now: until the catalog names the new space, searches in the old one still
	// find the document, and afterwards they drop these points whether or not this succeeds.
	moved := map[string][]hindsight.DocKey{}
	for _, k := range keys {
		if p, st := plans[k], states[k]; p.chunked && st.Space != "" && st.Space != p.space {
			moved[st.Space] = append(moved[st.Space], k)
		}
	}
	for _, space := range slices.Sorted(maps.Keys(moved)) {
		if err := ix.deletePoints(ctx, ix.collection(space), moved[space]); err != nil {
			ix.logger.Warn("documents moved to another space but not all their old points deleted from qdrant",
				"space", space, "documents", len(moved[space]), "err", err)
		}
	}
	return nil
}

// writeChunks upserts the points of documents embedded in one space, then deletes each document's
// points beyond its chunk count: points are overwritten in place, so a reader sees the old or the
// new version of a chunk but never a document without points.
func (ix *Index) writeChunks(ctx context.Context, space string, keys []hindsight.DocKey, plans map[hindsight.DocKey]*docPlan) error {
	dim := 0
	for _, k := range keys {
		for i := range plans[k].chunks {
			c := &plans[k].chunks[i]
			// Stale points are found by position (seq at or beyond the chunk count), which needs
			// the positions to be exactly 0, 1, 2...
			if c.Seq != i {
				return hindsight.Invalid("chunks", "chunk %d of %s has seq %d: chunks must be numbered from 0, in order", i, k, c.Seq)
			}
			if dim == 0 {
				dim = len(c.Vector)
			}
			if len(c.Vector) == 0 || len(c.Vector) != dim {
				return hindsight.Invalid("chunks", "chunk %d of %s has %d values, other chunks of space %s have %d", c.Seq, k, len(c.Vector), space, dim)
			}
		}
	}
	if want := spaceDim(space); dim > 0 && want > 0 && want != dim {
		return hindsight.Invalid("space", "%s names %d dimensions but its vectors have %d", space, want, dim)
	}
	name := ix.collection(space)
	if dim == 0 {
		// Every document was written with no chunks at all: nothing to upsert, only old points
		// to delete.
		return ix.deleteStale(ctx, name, keys, plans)
	}
	if err := ix.ensureCollection(ctx, name, dim); err != nil {
		return err
	}
	batch := make([]*qc.PointStruct, 0, ix.opts.BatchSize)
	for _, k := range keys {
		p := plans[k]
		for i := range p.chunks {
			c := &p.chunks[i]
			batch = append(batch, &qc.PointStruct{
				Id:      qc.NewIDUUID(pointID(space, k, c.Seq)),
				Vectors: qc.NewVectorsDense(c.Vector),
				Payload: payload(p.doc, c),
			})
			if len(batch) == ix.opts.BatchSize {
				if err := ix.upsert(ctx, name, dim, batch); err != nil {
					return err
				}
				batch = batch[:0]
			}
		}
	}
	if len(batch) > 0 {
		if err := ix.upsert(ctx, name, dim, batch); err != nil {
			return err
		}
	}
	return ix.deleteStale(ctx, name, keys, plans)
}

// upsert sends one batch of points and waits until Qdrant has applied it. If the collection was
// deleted behind the index's back, it is created again and the batch sent once more.
func (ix *Index) upsert(ctx context.Context, name string, dim int, points []*qc.PointStruct) error {
	req := &qc.UpsertPoints{CollectionName: name, Wait: qc.PtrOf(true), Points: points}
	_, err := ix.client.Upsert(ctx, req)
	if isNotFound(err) {
		ix.forget(name)
		if err := ix.ensureCollection(ctx, name, dim); err != nil {
			return err
		}
		_, err = ix.client.Upsert(ctx, req)
	}
	if err != nil {
		return ix.qdrantError(fmt.Sprintf("upsert %d points into %s", len(points), name), err)
	}
	return nil
}

// deleteStale deletes each document's points at or beyond its new chunk count, in a request per
// batch of documents. Stale points exist after a document shrank, and also after an interrupted
// write of a longer version that the catalog never recorded, so every written document is asked
// for, not only those the catalog knew.
func (ix *Index) deleteStale(ctx context.Context, name string, keys []hindsight.DocKey, plans map[hindsight.DocKey]*docPlan) error {
	for batch := range slices.Chunk(keys, ix.opts.BatchSize) {
		should := make([]*qc.Condition, 0, len(batch))
		for _, k := range batch {
			f := &qc.Filter{Must: []*qc.Condition{docCondition(k)}}
			if n := len(plans[k].chunks); n > 0 {
				f.Must = append(f.Must, qc.NewRange(fieldSeq, &qc.Range{Gte: qc.PtrOf(float64(n))}))
			}
			should = append(should, qc.NewFilterAsCondition(f))
		}
		_, err := ix.client.Delete(ctx, &qc.DeletePoints{
			CollectionName: name,
			Wait:           qc.PtrOf(true),
			Points:         qc.NewPointsSelectorFilter(&qc.Filter{Should: should}),
		})
		if isNotFound(err) {
			return nil
		}
		if err != nil {
			return ix.qdrantError("delete stale points from "+name, err)
		}
	}
	return nil
}

// deletePoints deletes every point of the documents from a collection, a request per batch of
// documents. A collection that does not exist has nothing to delete.
func (ix *Index) deletePoints(ctx context.Context, name string, keys []hindsight.DocKey) error {
	for batch := range slices.Chunk(keys, ix.opts.BatchSize) {
		docs := make([]string, len(batch))
		for i, k := range batch {
			docs[i] = docValue(k)
		}
		_, err := ix.client.Delete(ctx, &qc.DeletePoints{
			CollectionName: name,
			Wait:           qc.PtrOf(true),
			Points:         qc.NewPointsSelectorFilter(&qc.Filter{Must: []*qc.Condition{qc.NewMatchKeywords(fieldDoc, docs...)}}),
		})
		if isNotFound(err) {
			return nil
		}
		if err != nil {
			return ix.qdrantError("delete points from "+name, err)
		}
	}
	return nil
}

// updateFilterFields brings the filter fields of stored points in line with records written
// without chunks. Only documents whose techniques, time or severity changed cost a request.
func (ix *Index) updateFilterFields(ctx context.Context, keys []hindsight.DocKey, plans map[hindsight.DocKey]*docPlan, states map[hindsight.DocKey]hindsight.DocState) error {
	if len(keys) == 0 {
		return nil
	}
	old, err := ix.catalog.FindDocuments(ctx, keys)
	if err != nil {
		return fmt.Errorf("read stored documents: %w", err)
	}
	for _, k := range keys {
		nf := fieldsOf(plans[k].doc)
		if d := old[k]; d != nil && fieldsOf(d).equal(nf) {
			continue
		}
		name := ix.collection(states[k].Space)
		sel := qc.NewPointsSelectorFilter(&qc.Filter{Must: []*qc.Condition{docCondition(k)}})
		set := map[string]*qc.Value{fieldSeverity: qc.NewValueInt(nf.severity)}
		var unset []string
		if len(nf.techniques) > 0 {
			set[fieldTechniques] = stringList(nf.techniques)
		} else {
			unset = append(unset, fieldTechniques)
		}
		if nf.occurredAt != "" {
			set[fieldOccurredAt] = qc.NewValueString(nf.occurredAt)
		} else {
			unset = append(unset, fieldOccurredAt)
		}
		_, err := ix.client.SetPayload(ctx, &qc.SetPayloadPoints{CollectionName: name, Wait: qc.PtrOf(true), Payload: set, PointsSelector: sel})
		if isNotFound(err) {
			continue // no collection, no points to update
		}
		if err != nil {
			return ix.qdrantError("update payload in "+name, err)
		}
		if len(unset) > 0 {
			_, err := ix.client.DeletePayload(ctx, &qc.DeletePayloadPoints{CollectionName: name, Wait: qc.PtrOf(true), Keys: unset, PointsSelector: sel})
			if err != nil && !isNotFound(err) {
				return ix.qdrantError("update payload in "+name, err)
			}
		}
	}
	return nil
}

// DeleteDocuments removes documents from the catalog, then their points; keys it does not hold are
// ignored. It returns how many documents the catalog removed.
func (ix *Index) DeleteDocuments(ctx context.Context, keys []hindsight.DocKey) (int, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	// The states say which collection holds each document's points; after the delete the catalog
	// no longer knows.
	states, err := ix.catalog.DocumentStates(ctx, keys)
	if err != nil {
		return 0, fmt.Errorf("read document states: %w", err)
	}
	n, err := ix.catalog.DeleteDocuments(ctx, keys)
	if err != nil {
		return n, err
	}
	bySpace := map[string][]hindsight.DocKey{}
	for _, k := range keys {
		if st, ok := states[k]; ok && st.Space != "" {
			bySpace[st.Space] = append(bySpace[st.Space], k)
		}
	}
	for _, space := range slices.Sorted(maps.Keys(bySpace)) {
		if err := ix.deletePoints(ctx, ix.collection(space), bySpace[space]); err != nil {
			// The documents are gone from the catalog, which is what searches trust: the points
			// left are dropped at search time, so the delete did succeed for every reader.
			ix.logger.Warn("documents deleted from the catalog but not all their points from qdrant",
				"space", space, "documents", len(bySpace[space]), "err", err)
		}
	}
	return n, nil
}
