package qdrant

import (
	"context"
	"strings"
	"testing"

	"github.com/hindsightsec/hindsight"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want Options
	}{
		{"qdrant://localhost", Options{Host: "localhost"}},
		{"qdrant://localhost:6334/hindsight", Options{Host: "localhost", Port: 6334, CollectionPrefix: "hindsight"}},
		{"qdrant://10.0.0.7:7000/soc-prod", Options{Host: "10.0.0.7", Port: 7000, CollectionPrefix: "soc-prod"}},
		{"qdrant://[::1]:6334/", Options{Host: "::1", Port: 6334}},
		{"qdrant://q.example.com:6334/h?shards=2&replicas=3&on_disk=true&quantization=int8&tls=true",
			Options{Host: "q.example.com", Port: 6334, CollectionPrefix: "h", Shards: 2, Replicas: 3, OnDisk: true, Quantization: "int8", TLS: true}},
		{"qdrant://q/h?quantization=none&on_disk=0&tls=false", Options{Host: "q", CollectionPrefix: "h", Quantization: "none"}},
	} {
		got, err := ParseURL(tc.url)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", tc.url, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ParseURL(%q) = %+v, want %+v", tc.url, got, tc.want)
		}
	}
}

func TestParseURLErrors(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"http://localhost:6334/h", `scheme: want qdrant, got "http"`},
		{"localhost:6334", `scheme: want qdrant, got "localhost"`},
		{"//localhost:6334/h", "scheme is missing"},
		{"qdrant:localhost", "two slashes"},
		{"qdrant:///h", "host is missing"},
		{"qdrant://localhost:abc/h", "cannot be parsed"},
		{"qdrant://localhost:0/h", `port: want 1 to 65535, got "0"`},
		{"qdrant://localhost:70000/h", `port: want 1 to 65535, got "70000"`},
		{"qdrant://localhost:/h", "port is empty"},
		{"qdrant://key:s3cret@localhost/h", "user information is not allowed"},
		{"qdrant://localhost/a/b", `collection prefix: want one path segment, got "a/b"`},
		{"qdrant://localhost/_x", `collection prefix "_x"`},
		{"qdrant://localhost/" + strings.Repeat("x", 65), "collection prefix"},
		{"qdrant://localhost/h#frag", "fragment"},
		{"qdrant://localhost/h?shards=0", `shards: want a positive integer, got "0"`},
		{"qdrant://localhost/h?shards=two", `shards: want a positive integer, got "two"`},
		{"qdrant://localhost/h?replicas=-1", `replicas: want a positive integer, got "-1"`},
		{"qdrant://localhost/h?on_disk=yes", `on_disk: want true or false, got "yes"`},
		{"qdrant://localhost/h?tls=maybe", `tls: want true or false, got "maybe"`},
		{"qdrant://localhost/h?quantization=pq", `quantization: want none or int8, got "pq"`},
		{"qdrant://localhost/h?shard=2", `unknown parameter "shard" (known: shards, replicas, on_disk, quantization, tls)`},
		{"qdrant://localhost/h?shards=2&shards=3", "shards: given 2 times"},
		{"qdrant://localhost/h?shards=%zz", "query string is malformed"},
	} {
		_, err := ParseURL(tc.url)
		if err == nil {
			t.Errorf("ParseURL(%q) succeeded, want an error containing %q", tc.url, tc.want)
			continue
		}
		if hindsight.ErrorCode(err) != hindsight.EINVALID || hindsight.ErrorField(err) != "index" {
			t.Errorf("ParseURL(%q): %v is not an EINVALID error about index", tc.url, err)
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseURL(%q) = %q, want it to contain %q", tc.url, err, tc.want)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("ParseURL(%q) repeats the secret: %q", tc.url, err)
		}
	}
}

func TestOptionsValidation(t *testing.T) {
	ok := Options{Host: "localhost"}
	for _, tc := range []struct {
		change func(*Options)
		want   string
	}{
		{func(o *Options) { o.Host = " " }, "qdrant host is required"},
		{func(o *Options) { o.Port = -1 }, "qdrant port must be 1 to 65535 (0 means 6334), got -1"},
		{func(o *Options) { o.Port = 65536 }, "got 65536"},
		{func(o *Options) { o.CollectionPrefix = "a b" }, `qdrant collection prefix "a b"`},
		{func(o *Options) { o.Shards = -2 }, "qdrant shards must be 1 or more (0 leaves it to the server), got -2"},
		{func(o *Options) { o.Replicas = -1 }, "qdrant replicas must be 1 or more"},
		{func(o *Options) { o.Quantization = "binary" }, `qdrant quantization must be none or int8, got "binary"`},
		{func(o *Options) { o.BatchSize = -5 }, "qdrant batch size must be 1 or more (0 means 256), got -5"},
	} {
		o := ok
		tc.change(&o)
		// Open validates before it dials or touches the catalog, which noCatalog would not survive.
		_, err := Open(context.Background(), noCatalog{}, o, nil)
		if err == nil || hindsight.ErrorCode(err) != hindsight.EINVALID || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%+v) = %v, want EINVALID containing %q", o, err, tc.want)
		}
	}
	if err := ok.validate(); err != nil {
		t.Errorf("minimal options refused: %v", err)
	}
	d := Options{Host: "h", Quantization: "none"}.withDefaults()
	if d.Port != 6334 || d.CollectionPrefix != "hindsight" || d.BatchSize != 256 || d.Quantization != "" {
		t.Errorf("defaults = %+v", d)
	}
}

// noCatalog stands for a catalog in tests that never reach it.
type noCatalog struct{ Catalog }
