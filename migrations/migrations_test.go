package migrations

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestList(t *testing.T) {
	for _, database := range []string{"sqlite", "postgres"} {
		ms, err := List(database)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) == 0 || ms[0].Version != 1 {
			t.Fatalf("List(%s) = %d migrations, first %+v", database, len(ms), ms)
		}
		for i := 1; i < len(ms); i++ {
			if ms[i].Version <= ms[i-1].Version {
				t.Errorf("%s: migration %s out of order after %s", database, ms[i].Name, ms[i-1].Name)
			}
		}
	}
}

func TestListRejectsBadNames(t *testing.T) {
	for name, fsys := range map[string]fstest.MapFS{
		"no number":  {"db/init.sql": {Data: []byte("")}},
		"duplicates": {"db/0001_a.sql": {Data: []byte("")}, "db/0001_b.sql": {Data: []byte("")}},
	} {
		if _, err := list(fsys, "db"); err == nil || !strings.Contains(err.Error(), "db/") {
			t.Errorf("%s: err = %v, want an error naming the file", name, err)
		}
	}
	ms, err := list(fstest.MapFS{"db/0002_b.sql": {Data: []byte("B")}, "db/0010_c.sql": {Data: []byte("C")}, "db/0001_a.sql": {Data: []byte("A")}}, "db")
	if err != nil || len(ms) != 3 || ms[0].SQL != "A" || ms[2].Version != 10 {
		t.Errorf("list = %+v, %v; want 3 migrations in numeric order", ms, err)
	}
}
