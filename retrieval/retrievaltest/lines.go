package retrievaltest

import (
	"context"
	"fmt"
	"testing"

	"github.com/hindsightsec/hindsight"
)

// testLineHashes checks the states ingest decides with: by key across more keys
// than one query names, by line hash, and line hashes replaced by any write and set only on the
// record they were computed for.
func testLineHashes(t *testing.T, db Backend) {
	ctx := context.Background()
	const n = 700 // more than two lookup queries' worth of keys
	var ws []hindsight.DocumentWrite
	var keys []hindsight.DocKey
	var hashes []string
	for i := range n {
		d := &hindsight.Document{Kind: hindsight.KindThreat, Tenant: "acme", ID: fmt.Sprintf("THR-%d", i), Title: "t"}
		w := hindsight.DocumentWrite{Document: d, Source: "a.jsonl", RecordHash: fmt.Sprintf("r%d", i), ContentHash: "c", Space: space.String()}
		if i%2 == 0 { // every other document was read from a line
			w.LineHash = fmt.Sprintf("line%d", i)
			hashes = append(hashes, w.LineHash)
		}
		ws = append(ws, w)
		keys = append(keys, d.Key())
	}
	if err := db.WriteDocuments(ctx, ws); err != nil {
		t.Fatal(err)
	}
	// The same ID in another tenant is another document, and unknown keys are absent.
	keys = append(keys, hindsight.DocKey{Kind: hindsight.KindThreat, Tenant: "globex", ID: "THR-1"}, hindsight.DocKey{Kind: hindsight.KindNote, ID: "THR-1"})
	states, err := db.DocumentStates(ctx, keys)
	if err != nil || len(states) != n {
		t.Fatalf("DocumentStates: %d states, %v; want %d", len(states), err, n)
	}
	if s := states[keys[3]]; s.RecordHash != "r3" || s.Source != "a.jsonl" || s.LineHash != "" {
		t.Errorf("THR-3 = %+v; want record hash r3 and no line hash", s)
	}
	if s := states[keys[4]]; s.LineHash != "line4" {
		t.Errorf("THR-4 = %+v; want line hash line4", s)
	}
	byLine, err := db.DocumentStatesByLine(ctx, append(hashes, "nothing", ""))
	if err != nil || len(byLine) != len(hashes) {
		t.Fatalf("DocumentStatesByLine: %d states, %v; want %d", len(byLine), err, len(hashes))
	}
	if s := byLine["line698"]; s.Key != keys[698] || s.RecordHash != "r698" || s.Space != space.String() {
		t.Errorf("line698 = %+v; want THR-698's state", s)
	}

	// A write without a line hash (another format, another writer) forgets the line.
	ws[0].LineHash = ""
	if err := db.WriteDocuments(ctx, ws[:1]); err != nil {
		t.Fatal(err)
	}
	// A new line hash is set only where the record hash is still the one given.
	err = db.SetDocumentLineHashes(ctx, []hindsight.LineState{
		{Key: keys[2], DocState: hindsight.DocState{RecordHash: "r2", LineHash: "respaced2"}},
		{Key: keys[3], DocState: hindsight.DocState{RecordHash: "stale", LineHash: "respaced3"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	byLine, err = db.DocumentStatesByLine(ctx, []string{"line0", "line2", "respaced2", "respaced3"})
	if err != nil || len(byLine) != 1 || byLine["respaced2"].Key != keys[2] {
		t.Errorf("after the rewrites: %+v, %v; want only respaced2, of THR-2", byLine, err)
	}

	// A hash two documents claim is nobody's: the caller decodes the line instead.
	if err := db.SetDocumentLineHashes(ctx, []hindsight.LineState{{Key: keys[5], DocState: hindsight.DocState{RecordHash: "r5", LineHash: "respaced2"}}}); err != nil {
		t.Fatal(err)
	}
	if byLine, err := db.DocumentStatesByLine(ctx, []string{"respaced2"}); err != nil || len(byLine) != 0 {
		t.Errorf("a hash of two documents: %+v, %v; want none", byLine, err)
	}
}
