// Package ollama connects Hindsight to a language model server speaking Ollama's HTTP API, through
// github.com/ollama/ollama/api: an embedder (POST /api/embed) and a text generator (POST /api/chat,
// streamed). Failures a user can act on — the server down, the model not pulled, a timeout — come
// back as hindsight.Error with code EUNAVAILABLE and a message that says what to do; transient
// failures (429, 5xx, a dropped stream before any output) are retried with backoff.
package ollama

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/ollama/ollama/api"
)

// DefaultHost is where Ollama listens when OLLAMA_HOST is not set.
const DefaultHost = "http://127.0.0.1:11434"

// Options configure a connection. The zero value uses OLLAMA_HOST (or DefaultHost), a two-minute
// timeout per request, three attempts and an 8192-token context.
type Options struct {
	Host          string        // base URL; empty: OLLAMA_HOST or DefaultHost
	Timeout       time.Duration // per request, including a whole streamed answer; 0: 2 minutes
	Attempts      int           // tries per request on transient errors; 0: 3
	ContextTokens int           // num_ctx asked of the model; 0: 8192
	Backoff       time.Duration // first retry delay, doubled each time; 0: 500ms
	HTTPClient    *http.Client  // nil: a client without its own timeout (Timeout applies)
}

// Client is a connection to one Ollama server.
type Client struct {
	api  *api.Client
	host string
	opts Options
}

// New returns a client for the server in opts. It does not contact the server.
func New(opts Options) (*Client, error) {
	if opts.Host == "" {
		opts.Host = os.Getenv("OLLAMA_HOST")
	}
	if opts.Host == "" {
		opts.Host = DefaultHost
	}
	if !strings.Contains(opts.Host, "://") {
		opts.Host = "http://" + opts.Host
	}
	u, err := url.Parse(opts.Host)
	if err != nil || u.Host == "" {
		return nil, hindsight.Invalid("OLLAMA_HOST", "want a URL such as http://127.0.0.1:11434, got %q", opts.Host)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 2 * time.Minute
	}
	if opts.Attempts <= 0 {
		opts.Attempts = 3
	}
	if opts.ContextTokens <= 0 {
		opts.ContextTokens = 8192
	}
	if opts.Backoff <= 0 {
		opts.Backoff = 500 * time.Millisecond
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	return &Client{api: api.NewClient(u, hc), host: u.String(), opts: opts}, nil
}

// Host returns the server's base URL.
func (c *Client) Host() string { return c.host }

// Ping checks that the server answers and has the model.
func (c *Client) Ping(ctx context.Context, model string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := c.api.Show(ctx, &api.ShowRequest{Model: model}); err != nil {
		return c.explain(err, model)
	}
	return nil
}

// retry runs fn up to Attempts times while it fails transiently, waiting with doubling backoff.
// fn reports whether it produced output; a failure after output is never retried, since the caller
// has already seen part of the answer.
func (c *Client) retry(ctx context.Context, model string, fn func(ctx context.Context) (bool, error)) error {
	wait := c.opts.Backoff
	var err error
	for attempt := 1; ; attempt++ {
		rctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
		var started bool
		started, err = fn(rctx)
		// The client may end a stream cut by the deadline without an error: the deadline decides.
		timedOut := rctx.Err() == context.DeadlineExceeded && ctx.Err() == nil
		cancel()
		if timedOut {
			return &hindsight.Error{Code: hindsight.EUNAVAILABLE, Err: err,
				Message: fmt.Sprintf("model %s at %s did not answer within %s", model, c.host, c.opts.Timeout)}
		}
		if err == nil {
			return ctx.Err()
		}
		if ctx.Err() != nil || started || !transient(err) || attempt >= c.opts.Attempts {
			return c.explain(err, model)
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return ctx.Err()
		}
		wait *= 2
	}
}

// transient reports whether a failure may go away if the request is sent again.
func transient(err error) bool {
	var se api.StatusError
	if errors.As(err, &se) {
		return se.StatusCode == http.StatusTooManyRequests || se.StatusCode >= 500
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return false // nothing listens: retrying only delays the answer
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, syscall.ECONNRESET) || strings.Contains(err.Error(), "unexpected EOF")
}

// explain turns a failure into an error that tells the user what happened and what to do.
func (c *Client) explain(err error, model string) error {
	if err == nil || errors.Is(err, context.Canceled) {
		return err
	}
	var se api.StatusError
	switch {
	case errors.As(err, &se) && se.StatusCode == http.StatusNotFound:
		return &hindsight.Error{Code: hindsight.EUNAVAILABLE, Err: err,
			Message: fmt.Sprintf("model %s is not available on the Ollama server at %s (pull it with: ollama pull %s)", model, c.host, model)}
	case errors.As(err, &se):
		return &hindsight.Error{Code: hindsight.EUNAVAILABLE, Err: err,
			Message: fmt.Sprintf("Ollama at %s failed for model %s: %s", c.host, model, strings.TrimSpace(se.ErrorMessage))}
	case errors.Is(err, syscall.ECONNREFUSED), isDNS(err):
		return &hindsight.Error{Code: hindsight.EUNAVAILABLE, Err: err,
			Message: fmt.Sprintf("cannot reach Ollama at %s (is it running? set OLLAMA_HOST to its address)", c.host)}
	case errors.Is(err, context.DeadlineExceeded):
		return &hindsight.Error{Code: hindsight.EUNAVAILABLE, Err: err,
			Message: fmt.Sprintf("model %s at %s did not answer in time", model, c.host)}
	}
	return &hindsight.Error{Code: hindsight.EUNAVAILABLE, Err: err, Message: fmt.Sprintf("Ollama at %s failed for model %s", c.host, model)}
}

func isDNS(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de)
}
