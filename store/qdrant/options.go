package qdrant

import (
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/hindsightsec/hindsight"
)

// Defaults for the zero values of Options.
const (
	DefaultPort      = 6334        // Qdrant's gRPC port
	DefaultPrefix    = "hindsight" // the collection prefix
	DefaultBatchSize = 256         // points per upsert request
)

// Options configure an Index. Host is required; every other zero value means the default named on
// the field. Shards, Replicas, OnDisk and Quantization apply when the index creates a collection:
// a collection that already exists keeps the settings it was created with.
type Options struct {
	// Host is the Qdrant server's host name or address. Required.
	Host string
	// Port is Qdrant's gRPC port; 0 means 6334.
	Port int
	// TLS connects with TLS, checking the server's certificate against the system's roots.
	TLS bool
	// APIKey is sent with every request when not empty. It never comes from a URL: the command
	// reads it from HINDSIGHT_QDRANT_API_KEY.
	APIKey string
	// CollectionPrefix starts the name of every collection the index uses (one per embedding
	// space, e.g. hindsight_builtin_1_384); "" means "hindsight". 1 to 64 letters, digits, '_',
	// '-' or '.', starting with a letter or digit.
	CollectionPrefix string
	// Shards is the number of shards of a new collection; 0 leaves it to the server (1).
	Shards int
	// Replicas is the replication factor of a new collection; 0 leaves it to the server (1).
	Replicas int
	// OnDisk keeps a new collection's original vectors and its payload on disk (memory-mapped)
	// instead of in RAM; with Quantization "int8" the quantised vectors stay in RAM.
	OnDisk bool
	// Quantization is "" or "none" for full-precision vectors only, or "int8" for scalar
	// quantisation kept in RAM; searches then rescore their candidates with the original vectors,
	// so scores stay exact cosine similarities.
	Quantization string
	// BatchSize is the number of points sent per upsert request; 0 means 256.
	BatchSize int
}

var prefixPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// validate returns the first problem with the options, as an EINVALID error about the --index
// flag, or nil.
func (o *Options) validate() error {
	switch {
	case strings.TrimSpace(o.Host) == "":
		return hindsight.Invalid("index", "qdrant host is required")
	case o.Port < 0 || o.Port > 65535:
		return hindsight.Invalid("index", "qdrant port must be 1 to 65535 (0 means %d), got %d", DefaultPort, o.Port)
	case o.CollectionPrefix != "" && !prefixPattern.MatchString(o.CollectionPrefix):
		return hindsight.Invalid("index", "qdrant collection prefix %q: want 1 to 64 letters, digits, '_', '-' or '.', starting with a letter or digit", o.CollectionPrefix)
	case o.Shards < 0:
		return hindsight.Invalid("index", "qdrant shards must be 1 or more (0 leaves it to the server), got %d", o.Shards)
	case o.Replicas < 0:
		return hindsight.Invalid("index", "qdrant replicas must be 1 or more (0 leaves it to the server), got %d", o.Replicas)
	case !slices.Contains([]string{"", "none", "int8"}, o.Quantization):
		return hindsight.Invalid("index", "qdrant quantization must be none or int8, got %q", o.Quantization)
	case o.BatchSize < 0:
		return hindsight.Invalid("index", "qdrant batch size must be 1 or more (0 means %d), got %d", DefaultBatchSize, o.BatchSize)
	}
	return nil
}

// withDefaults returns the options with zero values replaced by their defaults.
func (o Options) withDefaults() Options {
	if o.Port == 0 {
		o.Port = DefaultPort
	}
	if o.CollectionPrefix == "" {
		o.CollectionPrefix = DefaultPrefix
	}
	if o.Quantization == "none" {
		o.Quantization = ""
	}
	if o.BatchSize == 0 {
		o.BatchSize = DefaultBatchSize
	}
	return o
}

// urlParams are the query parameters ParseURL knows, in the order its errors list them.
var urlParams = []string{"shards", "replicas", "on_disk", "quantization", "tls"}

// ParseURL parses the --index flag's form,
//
//	qdrant://HOST[:PORT][/COLLECTION_PREFIX][?shards=N&replicas=N&on_disk=BOOL&quantization=none|int8&tls=BOOL]
//
// into Options (the port defaults to 6334, the prefix to "hindsight"). Its errors are EINVALID
// errors about the "index" field that name the bad part; they never repeat the URL, and a URL that
// carries credentials is refused: the API key goes in Options.APIKey.
func ParseURL(s string) (Options, error) {
	bad := func(format string, args ...any) (Options, error) {
		return Options{}, hindsight.Invalid("index", "qdrant URL: "+format, args...)
	}
	u, err := url.Parse(s)
	if err != nil {
		// url.Parse's error repeats the whole URL, which may hold a secret by mistake.
		return bad("cannot be parsed; want qdrant://HOST:PORT/COLLECTION_PREFIX")
	}
	if u.Scheme == "" {
		return bad("scheme is missing; want qdrant://HOST:PORT/COLLECTION_PREFIX")
	}
	if u.Scheme != "qdrant" {
		return bad("scheme: want qdrant, got %q", u.Scheme)
	}
	if u.User != nil {
		return bad("user information is not allowed: pass the API key in HINDSIGHT_QDRANT_API_KEY, never in the URL")
	}
	if u.Opaque != "" {
		return bad("want qdrant://HOST, with two slashes")
	}
	if u.Fragment != "" || strings.HasSuffix(s, "#") {
		return bad("fragment (#...) is not allowed")
	}
	var o Options
	if o.Host = u.Hostname(); o.Host == "" {
		return bad("host is missing, as in qdrant://localhost:6334/hindsight")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return bad("port: want 1 to 65535, got %q", p)
		}
		o.Port = n
	} else if strings.HasSuffix(u.Host, ":") {
		return bad("port is empty after ':'")
	}
	prefix := strings.TrimPrefix(u.Path, "/")
	if strings.Contains(prefix, "/") {
		return bad("collection prefix: want one path segment, got %q", prefix)
	}
	if prefix != "" && !prefixPattern.MatchString(prefix) {
		return bad("collection prefix %q: want 1 to 64 letters, digits, '_', '-' or '.', starting with a letter or digit", prefix)
	}
	o.CollectionPrefix = prefix
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return bad("query string is malformed")
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		vs := q[k]
		if !slices.Contains(urlParams, k) {
			return bad("unknown parameter %q (known: %s)", k, strings.Join(urlParams, ", "))
		}
		if len(vs) > 1 {
			return bad("%s: given %d times", k, len(vs))
		}
		v := vs[0]
		switch k {
		case "shards", "replicas":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return bad("%s: want a positive integer, got %q", k, v)
			}
			if k == "shards" {
				o.Shards = n
			} else {
				o.Replicas = n
			}
		case "on_disk", "tls":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return bad("%s: want true or false, got %q", k, v)
			}
			if k == "on_disk" {
				o.OnDisk = b
			} else {
				o.TLS = b
			}
		case "quantization":
			if v != "none" && v != "int8" {
				return bad("quantization: want none or int8, got %q", v)
			}
			o.Quantization = v
		}
	}
	if err := o.validate(); err != nil {
		return Options{}, err
	}
	return o, nil
}
