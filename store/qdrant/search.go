package qdrant

import (
	"context"
	"fmt"
	"time"

	"github.com/hindsightsec/hindsight"
	qc "github.com/qdrant/go-client/qdrant"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// SearchVectors returns, for the n documents whose chunks are nearest to vec in the given space,
// each document's nearest chunk with its cosine similarity, best first. Qdrant applies the filter,
// tenant first, and groups the chunks by document. Documents that the catalog does not hold in
// this space (points left by an interrupted write or delete) are skipped and replaced by the next
// best ones.
func (ix *Index) SearchVectors(ctx context.Context, space hindsight.Space, vec []float32, f hindsight.Filter, n int) ([]hindsight.Candidate, error) {
	if len(vec) != space.Dim {
		return nil, hindsight.Invalid("vector", "has %d values, the space %s has %d", len(vec), space, space.Dim)
	}
	if n <= 0 {
		return nil, nil
	}
	name := ix.collection(space.String())
	filter := searchFilter(&f)
	var params *qc.SearchParams
	if ix.opts.Quantization != "" {
		// Rank by the original vectors so that scores are exact cosine similarities, as on every
		// other backend.
		params = &qc.SearchParams{Quantization: &qc.QuantizationSearchParams{Rescore: qc.PtrOf(true)}}
	}
	var out []hindsight.Candidate
	var seen []string // doc values already returned or dropped, excluded from the next round
	for len(out) < n {
		want := n - len(out)
		fl := filter
		if len(seen) > 0 {
			fl = &qc.Filter{Must: filter.Must, MustNot: []*qc.Condition{qc.NewMatchKeywords(fieldDoc, seen...)}}
		}
		groups, err := ix.client.QueryGroups(ctx, &qc.QueryPointGroups{
			CollectionName: name,
			Query:          qc.NewQueryDense(vec),
			Filter:         fl,
			Params:         params,
			GroupBy:        fieldDoc,
			GroupSize:      qc.PtrOf(uint64(1)),
			Limit:          qc.PtrOf(uint64(want)),
			WithPayload:    qc.NewWithPayloadInclude(fieldTenant, fieldKind, fieldDocID, fieldSection),
		})
		if isNotFound(err) {
			return out, nil // nothing was ever embedded in this space, or the collection is gone
		}
		if err != nil {
			return nil, ix.qdrantError("query "+name, err)
		}
		cands := make([]hindsight.Candidate, 0, len(groups))
		keys := make([]hindsight.DocKey, 0, len(groups))
		for _, g := range groups {
			if len(g.GetHits()) == 0 {
				continue
			}
			h := g.GetHits()[0]
			p := h.GetPayload()
			c := hindsight.Candidate{
				Doc: hindsight.DocKey{
					Tenant: p[fieldTenant].GetStringValue(),
					Kind:   hindsight.Kind(p[fieldKind].GetStringValue()),
					ID:     p[fieldDocID].GetStringValue(),
				},
				Section: p[fieldSection].GetStringValue(),
				Score:   float64(h.GetScore()),
			}
			cands = append(cands, c)
			keys = append(keys, c.Doc)
			seen = append(seen, docValue(c.Doc))
		}
		states, err := ix.catalog.DocumentStates(ctx, keys)
		if err != nil {
			return nil, fmt.Errorf("check candidates against the catalog: %w", err)
		}
		for _, c := range cands {
			if st, ok := states[c.Doc]; ok && st.Space == space.String() {
				out = append(out, c)
			}
		}
		if len(groups) < want {
			break // Qdrant has no more documents that pass the filter
		}
	}
	return out, nil
}

// searchFilter renders a filter as a Qdrant filter, every condition a must. It mirrors the filter
// of the catalog's own searches: the tenant's documents and global knowledge; any of the kinds;
// any of the techniques, whose points carry their parents too; occurred_at within the bounds (a
// document with no time fails any bound); severity at least the minimum; the chunk's section one
// of the sections.
//
// With OtherTenants the scope turns around: every tenant's documents but Tenant's, no global
// knowledge.
func searchFilter(f *hindsight.Filter) *qc.Filter {
	must := []*qc.Condition{qc.NewMatchKeywords(fieldTenant, f.Tenant, "")}
	var mustNot []*qc.Condition
	if f.OtherTenants {
		must = must[:0]
		mustNot = append(mustNot, qc.NewMatchKeywords(fieldTenant, f.Tenant, ""))
	}
	if len(f.Kinds) > 0 {
		kinds := make([]string, len(f.Kinds))
		for i, k := range f.Kinds {
			kinds[i] = string(k)
		}
		must = append(must, qc.NewMatchKeywords(fieldKind, kinds...))
	}
	if len(f.Techniques) > 0 {
		must = append(must, qc.NewMatchKeywords(fieldTechniques, f.Techniques...))
	}
	if !f.Since.IsZero() || !f.Until.IsZero() {
		r := &qc.DatetimeRange{}
		if !f.Since.IsZero() {
			r.Gte = timestamp(f.Since)
		}
		if !f.Until.IsZero() {
			r.Lte = timestamp(f.Until)
		}
		must = append(must, qc.NewDatetimeRange(fieldOccurredAt, r))
	}
	if r := f.MinSeverity.Rank(); r > 0 {
		must = append(must, qc.NewRange(fieldSeverity, &qc.Range{Gte: qc.PtrOf(float64(r))}))
	}
	if len(f.Sections) > 0 {
		must = append(must, qc.NewMatchKeywords(fieldSection, f.Sections...))
	}
	return &qc.Filter{Must: must, MustNot: mustNot}
}

// timestamp renders a filter bound at the precision of the occurred_at field (see formatTime).
func timestamp(t time.Time) *timestamppb.Timestamp {
	return timestamppb.New(t.UTC().Truncate(time.Microsecond))
}
