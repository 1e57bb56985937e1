package postgres_test

import (
	"testing"

	"github.com/hindsightsec/hindsight/api"
	"github.com/hindsightsec/hindsight/retrieval/retrievaltest"
	"github.com/hindsightsec/hindsight/store/postgres"
	"github.com/hindsightsec/hindsight/store/postgres/pgtest"
)

// The store is every store the commands use: the suite's backend and the API's store.
var (
	_ retrievaltest.Backend = (*postgres.DB)(nil)
	_ api.Store             = (*postgres.DB)(nil)
)

func TestConformance(t *testing.T) {
	t.Parallel()
	retrievaltest.Exercise(t, func(t *testing.T) retrievaltest.Backend {
		db, _ := pgtest.Open(t)
		return db
	})
}

func TestCatalog(t *testing.T) {
	t.Parallel()
	retrievaltest.ExerciseCatalog(t, func(t *testing.T) retrievaltest.Catalog {
		db, _ := pgtest.Open(t)
		return db
	})
}
