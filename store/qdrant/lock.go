package qdrant

import (
	"context"
	"fmt"
)

// writerLocker is the writer lock of a catalog store; *sqlite.DB and *postgres.DB have one.
type writerLocker interface {
	LockWriter(ctx context.Context, holder string, wait bool) (unlock func(), err error)
}

// LockWriter takes the catalog's writer lock, so that one ingest at a time writes to the pair:
// the catalog is the record of what is stored (see the package documentation), so its writer is
// the pair's writer, and Qdrant needs no lock of its own. See the catalog's LockWriter for what
// wait and the errors mean.
func (ix *Index) LockWriter(ctx context.Context, holder string, wait bool) (unlock func(), err error) {
	l, ok := ix.catalog.(writerLocker)
	if !ok {
		return nil, fmt.Errorf("qdrant: the catalog %T has no writer lock", ix.catalog)
	}
	return l.LockWriter(ctx, holder, wait)
}
