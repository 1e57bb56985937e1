// Package migrations holds the SQL migrations of each database Hindsight supports, embedded in the
// binary. A migration is a file NNNN_name.sql under the database's folder; migrations are applied in
// the order of their numbers, each inside a transaction, and recorded in schema_migrations by the
// store that applies them.
package migrations

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

//go:embed sqlite/*.sql postgres/*.sql
var files embed.FS

// Migration is one schema change.
type Migration struct {
	Version int    // the NNNN prefix of its file name
	Name    string // the file name
	SQL     string
}

// List returns the migrations of a database ("sqlite", "postgres"), in order. It fails on a file
// whose name does not start with a number, or on two files with the same number.
func List(database string) ([]Migration, error) {
	return list(files, database)
}

func list(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("migrations for %q: %w", dir, err)
	}
	var out []Migration
	seen := map[int]string{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		num, _, _ := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s/%s: name must start with a positive number and an underscore", dir, e.Name())
		}
		if prev, ok := seen[v]; ok {
			return nil, fmt.Errorf("migrations %s/%s and %s share version %d", dir, prev, e.Name(), v)
		}
		seen[v] = e.Name()
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: e.Name(), SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}
