package ingest_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hindsightsec/hindsight/ingest"
	"github.com/hindsightsec/hindsight/retrieval"
)

func TestBarDrawsInPlace(t *testing.T) {
	var buf bytes.Buffer
	bar := ingest.NewBar(&buf, 150)
	p := ingest.Progress{Files: 3, FilesDone: 1, Read: 12304, Stored: 9870, Unchanged: 2300, Rejected: 4,
		Bytes: 340, BytesTotal: 1000, Elapsed: 10 * time.Second}
	bar.Update(p)
	want := "\r[########................]  34%  files 1/3  read 12,304  stored 9,870  unchanged 2,300  rejected 4  1,217/s  ETA 19s\x1b[K"
	if got := buf.String(); got != want {
		t.Errorf("bar =\n%q\nwant\n%q", got, want)
	}
	// A log line goes above the bar, which is drawn again below it.
	buf.Reset()
	bar.Write([]byte("level=WARN msg=retrying\n"))
	if got := buf.String(); !strings.HasPrefix(got, "\r\x1b[Klevel=WARN msg=retrying\n[###") {
		t.Errorf("log line through the bar = %q", got)
	}
	// The end leaves the final state on its own line, and nothing is drawn after it.
	buf.Reset()
	p.Done, p.Bytes, p.FilesDone = true, 1000, 3
	bar.Update(p)
	bar.Update(p)
	if got := buf.String(); !strings.HasSuffix(got, "in 10s\x1b[K\n") || strings.Count(got, "\r") != 1 || !strings.Contains(got, "100%") {
		t.Errorf("final bar = %q", got)
	}
}

func TestBarFitsItsWidth(t *testing.T) {
	var buf bytes.Buffer
	bar := ingest.NewBar(&buf, 40)
	bar.Update(ingest.Progress{Files: 1, Read: 5, Bytes: 1, BytesTotal: 2, Elapsed: time.Second})
	line := strings.TrimSuffix(strings.TrimPrefix(buf.String(), "\r"), "\x1b[K")
	if len(line) != 39 || strings.Contains(line, "[") {
		t.Errorf("a 40-column bar drew %d columns: %q", len(line), line)
	}
	// On a common 80-column terminal the rate and the file count give way to what matters more.
	buf.Reset()
	ingest.NewBar(&buf, 80).Update(ingest.Progress{Files: 2, Read: 2816, Stored: 1024, Rejected: 12, Bytes: 340, BytesTotal: 1000, Elapsed: 4 * time.Second})
	if got := strings.TrimSuffix(strings.TrimPrefix(buf.String(), "\r"), "\x1b[K"); len(got) > 79 || !strings.HasSuffix(got, "rejected 12  ETA 8s") {
		t.Errorf("80-column bar = %q", got)
	}
	// Without a known total there is no percentage, graphic or ETA.
	buf.Reset()
	ingest.NewBar(&buf, 200).Update(ingest.Progress{Files: 1, Read: 5, Stored: 5, Elapsed: time.Second})
	if got := strings.TrimSuffix(buf.String(), "\x1b[K"); strings.ContainsAny(got, "[%") || strings.Contains(got, "ETA") {
		t.Errorf("bar without a total = %q", got)
	}
}

func TestProgressETA(t *testing.T) {
	p := ingest.Progress{Bytes: 250, BytesTotal: 1000, Elapsed: 30 * time.Second}
	if eta, ok := p.ETA(); !ok || eta != 90*time.Second {
		t.Errorf("ETA = %s, %v; want 1m30s", eta, ok)
	}
	if _, ok := (ingest.Progress{BytesTotal: 1000, Elapsed: time.Second}).ETA(); ok {
		t.Error("ETA with nothing done yet")
	}
}

// TestProgressReports checks that a run reports its progress as it goes and once at the end, with
// the run's own counts.
func TestProgressReports(t *testing.T) {
	db, dir := newStore(t)
	file := writeFile(t, dir, "notes.jsonl", notes(300)+"{broken\n")
	var mu sync.Mutex
	var got []ingest.Progress
	emb := &fakeEmbedder{hook: func(context.Context, int, []string) error { time.Sleep(5 * time.Millisecond); return nil }}
	run, err := ingest.New(db, emb, nil).Run(context.Background(), []string{file}, ingest.Options{
		BatchSize: 50, ProgressEvery: 10 * time.Millisecond,
		Progress: func(p ingest.Progress) { mu.Lock(); got = append(got, p); mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) < 3 {
		t.Fatalf("%d reports, want several", len(got))
	}
	last := got[len(got)-1]
	if !last.Done || last.RunID != run.ID || last.Read != 301 || last.Stored != 300 || last.Rejected != 1 ||
		last.Files != 1 || last.FilesDone != 1 || last.Bytes != last.BytesTotal || last.BytesTotal == 0 {
		t.Errorf("last report = %+v", last)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Stored < got[i-1].Stored || got[i].Bytes < got[i-1].Bytes {
			t.Errorf("progress went back: %+v after %+v", got[i], got[i-1])
		}
		if got[i-1].Done {
			t.Errorf("report after the last one")
		}
	}
	// Without a Progress function, progress is logged.
	logger, logs := newLog()
	run2, err := ingest.New(db, retrieval.Builtin{}, logger).Run(context.Background(), []string{file}, ingest.Options{ProgressEvery: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "msg=\"ingest progress\" run="+run2.ID) {
		t.Errorf("no progress logged:\n%s", logs.String())
	}
}

// newLog returns a logger writing text lines into a buffer that goroutines may share.
func newLog() (*slog.Logger, *lockedWriter) {
	w := &lockedWriter{}
	return slog.New(slog.NewTextHandler(w, nil)), w
}

// lockedWriter is a buffer whose writes and reads are serialised.
type lockedWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
