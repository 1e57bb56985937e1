package ingest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/hindsightsec/hindsight"
)

// probeText is embedded to tell an embedder that is down from texts it cannot embed.
const probeText = "hindsight embedder check"

// maxLeafFailures is how many documents in a row the embedder may fail on, with no success in
// between, before the embedder is probed again: past that, it is more likely down than given bad
// texts.
const maxLeafFailures = 16

// embedAll is one embed worker: it embeds jobs until there are none left or the run stops. Its
// error, which stops the run, is the embedder's failure as a whole; failures of single documents
// are recorded on their items.
func (r *runner) embedAll(ctx context.Context, jobs <-chan job) error {
	for j := range jobs {
		err := r.embedJob(ctx, j)
		j.it.done()
		if err != nil {
			return err
		}
	}
	return ctx.Err()
}

// embedJob embeds one job's texts into their chunks. When the call fails for good, the embedder is
// probed with a text known to be harmless: if the probe fails too, the embedder is down and the
// run fails; if it succeeds, the texts are to blame, and the job is split in halves, down to the
// single texts that fail, whose documents are rejected.
func (r *runner) embedJob(ctx context.Context, j job) error {
	err := r.embedRange(ctx, j.it, j.from, j.to, r.opts.Retries)
	if err == nil {
		return nil
	}
	if fatal := r.fatalEmbed(ctx, err); fatal != nil {
		return fatal
	}
	if err := r.probe(ctx, err); err != nil {
		return err
	}
	return r.bisect(ctx, j.it, j.from, j.to, err)
}

// bisect embeds texts[from:to], which failed together with err, in halves. A half that fails is
// split again; a single text that fails has its document rejected.
func (r *runner) bisect(ctx context.Context, it *item, from, to int, err error) error {
	if to-from == 1 {
		it.fail(from, err)
		if r.leafFailures.Add(1)%maxLeafFailures == 0 {
			return r.probe(ctx, err)
		}
		return nil
	}
	mid := (from + to) / 2
	for _, h := range [][2]int{{from, mid}, {mid, to}} {
		// One retry only: the embedder answered the probe, so a half that fails is most likely
		// failing for what is in it.
		err := r.embedRange(ctx, it, h[0], h[1], min(r.opts.Retries, 1))
		if err == nil {
			continue
		}
		if fatal := r.fatalEmbed(ctx, err); fatal != nil {
			return fatal
		}
		if err := r.bisect(ctx, it, h[0], h[1], err); err != nil {
			return err
		}
	}
	return nil
}

// fatalEmbed returns the error that stops the run for an embed failure, or nil when the failure
// may be the texts': a cancelled run, and a missing model (no text will fare better) stop it.
func (r *runner) fatalEmbed(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if modelMissing(err) {
		return fmt.Errorf("embed: %w", err)
	}
	return nil
}

// probe embeds probeText; its failure is the run's: the embedder is down.
func (r *runner) probe(ctx context.Context, cause error) error {
	if _, err := r.embed(ctx, []string{probeText}, r.opts.Retries); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("embed: the embedder fails on every text: %w", cause)
	}
	return nil
}

// embedRange embeds texts[from:to] (leaving out those of documents already given up on) and
// stores the vectors in their chunks.
func (r *runner) embedRange(ctx context.Context, it *item, from, to int, retries int) error {
	var texts []string
	var at []int
	for i := from; i < to; i++ {
		if !it.hasFailed(i) {
			texts = append(texts, it.texts[i])
			at = append(at, i)
		}
	}
	if len(texts) == 0 {
		return nil
	}
	vecs, err := r.embed(ctx, texts, retries)
	if err != nil {
		return err
	}
	for k, v := range vecs {
		o := it.owner[at[k]]
		it.writes[o.w].Chunks[o.c].Vector = v
	}
	r.leafFailures.Store(0)
	return nil
}

// embed calls the embedder, trying again after a transient failure up to retries times with
// exponential backoff and jitter, and checks that it answered one vector of the space's
// dimension per text.
func (r *runner) embed(ctx context.Context, texts []string, retries int) ([][]float32, error) {
	backoff := r.opts.Backoff
	for attempt := 0; ; attempt++ {
		vecs, err := r.embedder.Embed(ctx, texts)
		if err == nil {
			err = checkVectors(vecs, len(texts), r.embedder.Space().Dim)
			if err == nil {
				return vecs, nil
			}
		}
		if ctx.Err() != nil || !transient(err) || attempt >= retries {
			return nil, err
		}
		// Equal jitter: at least half the backoff, so waits still grow, at random in the upper
		// half, so that concurrent calls failing together do not retry together.
		wait := backoff/2 + rand.N(backoff/2+1)
		r.logger.Warn("ingest: embedding failed, trying again", "texts", len(texts), "attempt", attempt+1, "wait", wait.String(), "error", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

func checkVectors(vecs [][]float32, n, dim int) error {
	if len(vecs) != n {
		return fmt.Errorf("the embedder returned %d vectors for %d texts", len(vecs), n)
	}
	for i, v := range vecs {
		if len(v) != dim {
			return fmt.Errorf("the embedder returned %d values for text %d, its space has %d", len(v), i, dim)
		}
	}
	return nil
}

// transient reports whether an embed failure may go away if the call is made again: an
// EUNAVAILABLE error (the embedder's server down, overloaded or restarting), unless the model is
// missing or the error is a context's (a deadline spent is not given back by trying again).
func transient(err error) bool {
	return hindsight.ErrorCode(err) == hindsight.EUNAVAILABLE && !modelMissing(err) &&
		!errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// modelMissing reports whether the embedder said its model does not exist. Embedders have no code
// for it; the Ollama adapter's message tells the user to pull the model.
func modelMissing(err error) bool {
	if hindsight.ErrorCode(err) != hindsight.EUNAVAILABLE {
		return false
	}
	msg := strings.ToLower(hindsight.ErrorMessage(err))
	return strings.Contains(msg, "ollama pull") || strings.Contains(msg, "model not found") ||
		(strings.Contains(msg, "model") && strings.Contains(msg, "not available"))
}
