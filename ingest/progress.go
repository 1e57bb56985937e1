package ingest

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
)

// Progress is how far a run has come. Counts are of records: Stored were inserted or updated,
// Unchanged needed nothing, Rejected were not stored (invalid, duplicates, or failed).
type Progress struct {
	RunID                             string
	Files, FilesDone                  int
	Read, Stored, Unchanged, Rejected int
	Bytes, BytesTotal                 int64 // input bytes whose records are written, of all inputs' bytes
	Elapsed                           time.Duration
	Done                              bool // the run has ended; no report follows
}

// Rate returns the records stored, unchanged or rejected per second so far.
func (p Progress) Rate() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Stored+p.Unchanged+p.Rejected) / p.Elapsed.Seconds()
}

// ETA returns the time left, estimated from the share of input bytes done so far; false when it
// cannot be told yet.
func (p Progress) ETA() (time.Duration, bool) {
	if p.Done || p.BytesTotal <= 0 || p.Bytes <= 0 || p.Elapsed <= 0 {
		return 0, false
	}
	left := float64(p.BytesTotal-p.Bytes) / float64(p.Bytes) * float64(p.Elapsed)
	return max(0, time.Duration(left)), true
}

// Fraction returns the share of input bytes done, from 0 to 1, or -1 when the total is unknown.
func (p Progress) Fraction() float64 {
	if p.BytesTotal <= 0 {
		return -1
	}
	return min(1, max(0, float64(p.Bytes)/float64(p.BytesTotal)))
}

// report sends the run's progress to Options.Progress, or logs it.
func (r *runner) report(done bool) {
	r.reportMu.Lock()
	defer r.reportMu.Unlock()
	p := Progress{
		RunID: r.run.ID, Files: len(r.inputs), FilesDone: int(r.progress.filesDone.Load()),
		Read: int(r.progress.read.Load()), Stored: int(r.progress.stored.Load()),
		Unchanged: int(r.progress.unchanged.Load()), Rejected: int(r.progress.rejected.Load()),
		Bytes: r.progress.bytes.Load(), BytesTotal: r.progress.bytesTotal, Elapsed: time.Since(r.start), Done: done,
	}
	if r.opts.Progress != nil {
		r.opts.Progress(p)
		return
	}
	if done {
		return // "ingest finished" says it all
	}
	args := []any{"run", p.RunID, "files", fmt.Sprintf("%d/%d", p.FilesDone, p.Files), "read", p.Read, "stored", p.Stored,
		"unchanged", p.Unchanged, "rejected", p.Rejected, "per_second", int(p.Rate())}
	if eta, ok := p.ETA(); ok {
		args = append(args, "eta", eta.Round(time.Second).String())
	}
	r.logger.Info("ingest progress", args...)
}

// Bar draws a run's progress on a terminal as one line, redrawn in place:
//
//	[######............]  34%  files 1/3  read 12,304  stored 9,870  unchanged 2,300  rejected 4  1,210/s  ETA 1m05s
//
// Its Update method is an Options.Progress. It is also an io.Writer for the run's log: a log line
// written while the bar is shown clears the bar, goes above it, and the bar is drawn again, so the
// two never garble each other. It is safe for concurrent use.
type Bar struct {
	w     io.Writer
	width int

	mu    sync.Mutex
	line  string // the bar as last drawn; "" when none is shown
	ended bool
}

// NewBar returns a bar drawn on w (a terminal) in at most width columns; 0 means 80.
func NewBar(w io.Writer, width int) *Bar {
	if width <= 0 {
		width = 80
	}
	return &Bar{w: w, width: width}
}

// Update draws p. The last update (p.Done) leaves the bar's final state on its own line.
func (b *Bar) Update(p Progress) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ended {
		return
	}
	b.line = b.render(p)
	// Carriage return, the line, then erase what a longer previous line left to its right.
	fmt.Fprint(b.w, "\r"+b.line+"\x1b[K")
	if p.Done {
		fmt.Fprint(b.w, "\n")
		b.line, b.ended = "", true
	}
}

// Write writes a log line above the bar.
func (b *Bar) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.line != "" {
		fmt.Fprint(b.w, "\r\x1b[K")
	}
	n, err := b.w.Write(p)
	if b.line != "" {
		fmt.Fprint(b.w, b.line)
	}
	return n, err
}

// render lays the bar out in at most width-1 columns: a terminal wraps a line that fills its last
// column, and a wrapped line can no longer be redrawn in place. The graphic is drawn only on a
// wide terminal, at a fixed width so that the line does not jump as numbers grow; on a narrow
// one the least useful parts go first: the rate, the files, the unchanged count.
func (b *Bar) render(p Progress) string {
	type part struct {
		text string
		drop int // the order parts are left out in when the line is too long; 0: never
	}
	var parts []part
	f := p.Fraction()
	if f >= 0 {
		pct := fmt.Sprintf("%3d%%", int(f*100))
		if b.width >= 120 {
			const cells = 24
			full := int(f * cells)
			pct = "[" + strings.Repeat("#", full) + strings.Repeat(".", cells-full) + "] " + pct
		}
		parts = append(parts, part{pct, 0})
	}
	parts = append(parts, part{fmt.Sprintf("files %d/%d", p.FilesDone, p.Files), 2}, part{"read " + thousands(p.Read), 0},
		part{"stored " + thousands(p.Stored), 0}, part{"unchanged " + thousands(p.Unchanged), 3}, part{"rejected " + thousands(p.Rejected), 0})
	if rate := p.Rate(); rate > 0 {
		parts = append(parts, part{thousands(int(rate)) + "/s", 1})
	}
	if p.Done {
		parts = append(parts, part{"in " + p.Elapsed.Round(time.Second).String(), 0})
	} else if eta, ok := p.ETA(); ok {
		parts = append(parts, part{"ETA " + eta.Round(time.Second).String(), 0})
	}
	join := func() string {
		var ss []string
		for _, x := range parts {
			ss = append(ss, x.text)
		}
		return strings.Join(ss, "  ")
	}
	text := join()
	for drop := 1; len(text) > b.width-1 && drop <= 3; drop++ {
		parts = slices.DeleteFunc(parts, func(x part) bool { return x.drop == drop })
		text = join()
	}
	if len(text) > b.width-1 {
		text = text[:b.width-1]
	}
	return text
}

// thousands renders n with commas between groups of three digits.
func thousands(n int) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}
