package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/hindsightsec/hindsight/retrieval/retrievaltest"
	"github.com/hindsightsec/hindsight/store/sqlite"
)

func TestConformance(t *testing.T) {
	retrievaltest.Exercise(t, func(t *testing.T) retrievaltest.Backend {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "h.db"), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}

func TestCatalog(t *testing.T) {
	retrievaltest.ExerciseCatalog(t, func(t *testing.T) retrievaltest.Catalog { return open(t) })
}
