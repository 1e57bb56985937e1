package qdrant

import (
	"context"

	"github.com/hindsightsec/hindsight"
)

// Warm loads what the catalog keeps in memory for its own searches (the embedded store's full-text
// index), when it keeps anything. The vectors are Qdrant's, so the catalog is warmed for no space
// and builds no vector graph of its own.
func (ix *Index) Warm(ctx context.Context, space hindsight.Space) error {
	w, ok := ix.catalog.(interface {
		Warm(context.Context, hindsight.Space) error
	})
	if !ok {
		return nil
	}
	return w.Warm(ctx, hindsight.Space{})
}
