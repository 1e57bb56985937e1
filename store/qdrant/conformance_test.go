package qdrant

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hindsightsec/hindsight/retrieval/retrievaltest"
	"github.com/hindsightsec/hindsight/store/postgres"
	"github.com/hindsightsec/hindsight/store/qdrant/qdranttest"
	"github.com/hindsightsec/hindsight/store/sqlite"
)

// Both catalog stores can pair with Qdrant, and the pair is a complete backend.
var (
	_ Catalog               = (*sqlite.DB)(nil)
	_ Catalog               = (*postgres.DB)(nil)
	_ retrievaltest.Backend = (*Index)(nil)
)

// openIndex opens an Index over a new SQLite catalog in a temporary directory, closed when the
// test ends.
func openIndex(t *testing.T, opts Options) *Index {
	t.Helper()
	ctx := context.Background()
	cat, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "catalog.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ix, err := Open(ctx, cat, opts, nil)
	if err != nil {
		cat.Close()
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { ix.Close() })
	return ix
}

// TestIndexHasEveryStoreMethod keeps Index in step with the stores it stands in for: a method added
// to a store must be added to Catalog and delegated, or the commands could not use Index in its
// place.
func TestIndexHasEveryStoreMethod(t *testing.T) {
	ix := reflect.TypeFor[*Index]()
	for _, store := range []reflect.Type{reflect.TypeFor[*sqlite.DB](), reflect.TypeFor[*postgres.DB]()} {
		for m := range store.Methods() {
			if m.Name == "Path" { // where the SQLite file is: no meaning for a pair of stores
				continue
			}
			got, ok := ix.MethodByName(m.Name)
			if !ok {
				t.Errorf("%v has %s, Index has not", store, m.Name)
			} else if got.Type.String() != strings.Replace(m.Type.String(), store.String(), ix.String(), 1) {
				t.Errorf("%v.%s is %v, Index's is %v", store, m.Name, m.Type, got.Type)
			}
		}
	}
}

func fakeOptions(f *qdranttest.Fake) Options { return Options{Host: f.Host(), Port: f.Port()} }

// TestConformance runs the backend suite against the in-process fake of Qdrant's gRPC service, with
// a fresh fake and catalog per sub-test.
func TestConformance(t *testing.T) {
	retrievaltest.Exercise(t, func(t *testing.T) retrievaltest.Backend {
		return openIndex(t, fakeOptions(qdranttest.Start(t)))
	})
}

// TestConformanceRealQdrant runs the backend suite against the real Qdrant named by
// HINDSIGHT_TEST_QDRANT (host:port of its gRPC port, or a qdrant:// URL), with the API key in
// HINDSIGHT_QDRANT_API_KEY if it needs one. Each sub-test uses collections of its own prefix and
// deletes them at the end.
func TestConformanceRealQdrant(t *testing.T) {
	target := os.Getenv("HINDSIGHT_TEST_QDRANT")
	if target == "" {
		// No Qdrant can run on the project's machines, CI included, so an unset variable skips
		// even under CI=true; a set one that cannot be reached fails in Open.
		t.Skip("HINDSIGHT_TEST_QDRANT is not set (e.g. localhost:6334): no real Qdrant to run the suite against; TestConformance runs it against the in-process fake")
	}
	base := realOptions(t, target)
	retrievaltest.Exercise(t, func(t *testing.T) retrievaltest.Backend {
		opts := base
		opts.CollectionPrefix = "hindsight_test_" + randomHex(t)
		ix := openIndex(t, opts)
		// Registered after openIndex's Close, so it runs first, while the client is still open.
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			names, err := ix.client.ListCollections(ctx)
			if err != nil {
				t.Errorf("list collections to clean up: %v", err)
				return
			}
			for _, name := range names {
				if strings.HasPrefix(name, opts.CollectionPrefix+"_") {
					if err := ix.client.DeleteCollection(ctx, name); err != nil {
						t.Errorf("delete collection %s: %v", name, err)
					}
				}
			}
		})
		return ix
	})
}

func realOptions(t *testing.T, target string) Options {
	t.Helper()
	var opts Options
	if strings.HasPrefix(target, "qdrant://") {
		var err error
		if opts, err = ParseURL(target); err != nil {
			t.Fatalf("HINDSIGHT_TEST_QDRANT: %v", err)
		}
	} else {
		host, port, err := net.SplitHostPort(target)
		if err != nil {
			t.Fatalf("HINDSIGHT_TEST_QDRANT=%q: want host:port or a qdrant:// URL: %v", target, err)
		}
		opts.Host = host
		if opts.Port, err = strconv.Atoi(port); err != nil {
			t.Fatalf("HINDSIGHT_TEST_QDRANT=%q: port: %v", target, err)
		}
	}
	opts.APIKey = os.Getenv("HINDSIGHT_QDRANT_API_KEY")
	return opts
}

func randomHex(t *testing.T) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
