package api

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"sync"
	"time"
)

// Metrics holds the server's Prometheus metrics: request counts and latencies per route, draft
// latencies and token counts per model, and ingest counts per outcome. It writes the Prometheus
// text exposition format itself, which keeps the server free of a metrics dependency.
type Metrics struct {
	mu        sync.Mutex
	counters  map[string]*counter
	histos    map[string]*histogram
	startTime time.Time
}

type counter struct {
	help   string
	values map[string]float64 // rendered label set → value
}

type histogram struct {
	help    string
	buckets []float64
	series  map[string]*series
}

type series struct {
	counts []uint64 // per bucket, not cumulative
	sum    float64
	count  uint64
}

// latencyBuckets suit both fast searches and slow model answers, in seconds.
var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}

// NewMetrics returns an empty registry.
func NewMetrics() *Metrics {
	m := &Metrics{counters: map[string]*counter{}, histos: map[string]*histogram{}, startTime: time.Now()}
	m.counters["hindsight_http_requests_total"] = &counter{help: "HTTP requests by method, route and status.", values: map[string]float64{}}
	m.counters["hindsight_drafts_total"] = &counter{help: "Drafts written, by model and whether the extractive fall-back wrote them.", values: map[string]float64{}}
	m.counters["hindsight_model_tokens_total"] = &counter{help: "Tokens sent to and received from models, by model and direction.", values: map[string]float64{}}
	m.counters["hindsight_ingest_documents_total"] = &counter{help: "Documents processed by ingest runs in this process, by outcome.", values: map[string]float64{}}
	m.histos["hindsight_http_request_duration_seconds"] = &histogram{help: "HTTP request latency by route.", buckets: latencyBuckets, series: map[string]*series{}}
	m.histos["hindsight_draft_duration_seconds"] = &histogram{help: "Time to write a draft (retrieval and model), by model.", buckets: latencyBuckets, series: map[string]*series{}}
	return m
}

// labelEscaper escapes a label value as the Prometheus text format wants.
var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// labels renders label pairs in a stable order: name="value",...
func labels(kv ...string) string {
	var parts []string
	for i := 0; i+1 < len(kv); i += 2 {
		v := labelEscaper.Replace(kv[i+1])
		parts = append(parts, fmt.Sprintf(`%s="%s"`, kv[i], v))
	}
	return strings.Join(parts, ",")
}

// Add adds v to a counter's series.
func (m *Metrics) Add(name string, v float64, kv ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c := m.counters[name]; c != nil {
		c.values[labels(kv...)] += v
	}
}

// Observe records one observation in a histogram's series.
func (m *Metrics) Observe(name string, v float64, kv ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.histos[name]
	if h == nil {
		return
	}
	key := labels(kv...)
	s := h.series[key]
	if s == nil {
		s = &series{counts: make([]uint64, len(h.buckets))}
		h.series[key] = s
	}
	for i, b := range h.buckets {
		if v <= b {
			s.counts[i]++
			break
		}
	}
	s.sum += v
	s.count++
}

// WriteTo writes every metric in the Prometheus text format.
func (m *Metrics) WriteTo(w io.Writer) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	names := make([]string, 0, len(m.counters))
	for n := range m.counters {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c := m.counters[n]
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s counter\n", n, c.help, n)
		for _, k := range sortedKeys(c.values) {
			fmt.Fprintf(&b, "%s%s %s\n", n, braces(k), num(c.values[k]))
		}
	}
	names = names[:0]
	for n := range m.histos {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		h := m.histos[n]
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s histogram\n", n, h.help, n)
		keys := make([]string, 0, len(h.series))
		for k := range h.series {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			s := h.series[k]
			var cum uint64
			for i, bound := range h.buckets {
				cum += s.counts[i]
				fmt.Fprintf(&b, "%s_bucket%s %d\n", n, braces(joinLabels(k, labels("le", num(bound)))), cum)
			}
			fmt.Fprintf(&b, "%s_bucket%s %d\n", n, braces(joinLabels(k, `le="+Inf"`)), s.count)
			fmt.Fprintf(&b, "%s_sum%s %s\n%s_count%s %d\n", n, braces(k), num(s.sum), n, braces(k), s.count)
		}
	}
	fmt.Fprintf(&b, "# HELP hindsight_uptime_seconds Seconds since the server started.\n# TYPE hindsight_uptime_seconds gauge\nhindsight_uptime_seconds %s\n",
		num(time.Since(m.startTime).Seconds()))
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

func sortedKeys(m map[string]float64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func braces(s string) string {
	if s == "" {
		return ""
	}
	return "{" + s + "}"
}

func joinLabels(a, b string) string {
	if a == "" {
		return b
	}
	return a + "," + b
}

func num(v float64) string {
	if math.IsInf(v, 1) {
		return "+Inf"
	}
	return fmt.Sprintf("%g", v)
}
