package eval

import (
	"bufio"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Files WriteFiles writes into its folder.
const (
	ReportJSON     = "report.json"
	ReportMarkdown = "report.md"
	ReportHTML     = "report.html"
)

// WriteFiles writes the report into dir (created if needed) as
// ReportJSON (everything), ReportMarkdown (the summary tables) and
// ReportHTML (one self-contained page with charts). Each file is written
// to a temporary file and renamed into place.
func (r *Report) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create report folder: %w", err)
	}
	for _, f := range []struct {
		name  string
		write func(io.Writer) error
	}{{ReportJSON, r.WriteJSON}, {ReportMarkdown, r.WriteMarkdown}, {ReportHTML, r.WriteHTML}} {
		if err := writeFile(filepath.Join(dir, f.name), f.write); err != nil {
			return err
		}
	}
	return nil
}

// WriteJSON writes the whole report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func writeFile(path string, write func(io.Writer) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<16)
	if err := write(bw); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	// CreateTemp makes the file private; a report is meant to be shared.
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return os.Rename(f.Name(), path)
}

// htmlPage is what the page template is given.
type htmlPage struct {
	R          *Report
	TER        string
	Overall    []htmlRow
	Drafters   []chart
	Dimensions []htmlDimension
	Trend      []chart
	Histograms []chart
	Worst      []htmlDraft
	Confidence string
}

type htmlRow struct {
	Label, N, Mean, Lo, Hi string
}

type htmlDimension struct {
	Name   string
	Count  int
	Charts []chart
}

type htmlDraft struct {
	ID, Drafter, Tenant, TER, Recall, Precision string
	Removed, Added                              []string
}

// WriteHTML writes the report as one self-contained HTML page: the overall
// table, per-drafter and per-slice bars with interval whiskers, the trend
// by month, the distribution of every metric, and the drafts that needed
// the most edits. Charts are inline SVG and the style is inline; the page
// loads nothing.
func (r *Report) WriteHTML(w io.Writer) error {
	p := htmlPage{R: r, TER: r.TERLabel(), Confidence: fmt.Sprintf("%.0f%%", 100*r.Confidence)}
	for _, info := range r.present(metricNames()) {
		s := r.Overall.Metrics[info.Name]
		p.Overall = append(p.Overall, htmlRow{Label: label(info, p.TER), N: fmt.Sprint(s.N), Mean: format(info, s.Mean),
			Lo: format(info, s.Lo), Hi: format(info, s.Hi)})
	}
	heads := r.present(headline)
	for _, info := range heads {
		if c := barChart(label(info, p.TER), info, p.TER, r.slicesOf("drafter")); c.Width > 0 {
			p.Drafters = append(p.Drafters, c)
		}
	}
	for _, dim := range Dimensions {
		if dim == "drafter" || dim == "month" {
			continue
		}
		groups := r.slicesOf(dim)
		if len(groups) == 0 {
			continue
		}
		d := htmlDimension{Name: strings.ReplaceAll(dim, "_", " "), Count: len(groups)}
		for _, info := range heads {
			if c := barChart(label(info, p.TER), info, p.TER, groups); c.Width > 0 {
				d.Charts = append(d.Charts, c)
			}
		}
		p.Dimensions = append(p.Dimensions, d)
	}
	months := r.slicesOf("month")
	for _, info := range heads {
		if c := trendChart(info, p.TER, months); c.Width > 0 {
			p.Trend = append(p.Trend, c)
		}
	}
	for _, info := range r.present(metricNames()) {
		var vs []float64
		for i := range r.Drafts {
			if v, ok := r.Drafts[i].Metrics[info.Name]; ok {
				vs = append(vs, v)
			}
		}
		if c := histogram(info, p.TER, vs); c.Width > 0 {
			p.Histograms = append(p.Histograms, c)
		}
	}
	p.Worst = worstDrafts(r, 25)
	return pageTemplate.Execute(w, p)
}

// worstDrafts returns the n drafts with the highest TER, which are where
// a reader learns most about what reviewers change.
func worstDrafts(r *Report, n int) []htmlDraft {
	idx := make([]int, 0, len(r.Drafts))
	for i := range r.Drafts {
		if _, ok := r.Drafts[i].Metrics[MetricTER]; ok {
			idx = append(idx, i)
		}
	}
	sort.SliceStable(idx, func(a, b int) bool {
		return r.Drafts[idx[a]].Metrics[MetricTER] > r.Drafts[idx[b]].Metrics[MetricTER]
	})
	ter, _ := LookupMetric(MetricTER)
	share, _ := LookupMetric(MetricRecall)
	var out []htmlDraft
	for _, i := range idx[:min(n, len(idx))] {
		d := &r.Drafts[i]
		h := htmlDraft{ID: d.ID, Drafter: drafterName(d.Model, d.PromptVersion), Tenant: d.Tenant,
			TER: format(ter, d.Metrics[MetricTER]), Removed: d.Recommendations.Removed, Added: d.Recommendations.Added}
		if d.ThreatID != "" {
			h.ID = d.ThreatID + " (" + string(d.Kind) + ")"
		}
		h.Recall, h.Precision = "–", "–"
		if v, ok := d.Metrics[MetricRecall]; ok {
			h.Recall = format(share, v)
		}
		if v, ok := d.Metrics[MetricPrecision]; ok {
			h.Precision = format(share, v)
		}
		out = append(out, h)
	}
	return out
}

var pageTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"f": func(v float64) string { return fmt.Sprintf("%.1f", v) },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Hindsight eval {{.R.Kind}} {{.R.ID}}</title>
<style>
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2330; margin: 24px auto; max-width: 1180px; padding: 0 16px; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 18px; margin-top: 32px; border-bottom: 1px solid #d8dce3; padding-bottom: 4px; }
.meta { color: #5b6475; }
table { border-collapse: collapse; margin: 8px 0; } th, td { padding: 4px 10px; border-bottom: 1px solid #e6e9ef; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.charts { display: flex; flex-wrap: wrap; gap: 12px 24px; }
figure { margin: 0; } figcaption { font-weight: 600; margin-bottom: 2px; } .cap { color: #5b6475; font-size: 12px; }
svg text { font: 11px system-ui, sans-serif; fill: #2c3444; } svg text.tick { fill: #6b7385; font-size: 10px; } svg text.value { fill: #2c3444; }
svg .bar { fill: #5b8def; } svg .bar:hover { fill: #2f64d6; } svg .grid { stroke: #e6e9ef; } svg .axis { stroke: #9aa2b1; }
svg .whisker { stroke: #1d2330; stroke-width: 1.4; } svg .trend { fill: none; stroke: #5b8def; stroke-width: 2; } svg .dot { fill: #2f64d6; }
details { margin: 10px 0; } summary { cursor: pointer; font-weight: 600; }
ul.recs { margin: 0; padding-left: 18px; } ul.recs li { margin: 0; }
</style>
</head>
<body>
<h1>Hindsight eval {{.R.Kind}} <code>{{.R.ID}}</code></h1>
<p class="meta">{{len .R.Drafts}} drafts from {{.R.Source}} · tenants: {{range $i, $t := .R.Tenants}}{{if $i}}, {{end}}{{$t}}{{end}} · {{.R.CreatedAt.Format "2006-01-02 15:04 UTC"}} · {{.Confidence}} percentile bootstrap intervals, {{.R.Bootstrap}} resamples, seed {{.R.Seed}}{{if .R.Embedder}} · meaning under {{.R.Embedder}}{{end}}</p>
{{with .R.Replay}}<p class="meta">Replay before {{.Before.Format "2006-01-02"}}: {{.Indexed}} documents indexed, {{.Threats}} later threats, {{.Drafted}} drafts scored, {{.Failed}} failed; kinds {{range $i, $k := .Kinds}}{{if $i}}, {{end}}{{$k}}{{end}}; drafters {{range $i, $k := .Drafters}}{{if $i}}, {{end}}{{$k}}{{end}}; k = {{.K}}.</p>{{end}}

<h2>All drafts</h2>
<table>
<tr><th>metric</th><th>n</th><th>mean</th><th>{{.Confidence}} interval</th></tr>
{{range .Overall}}<tr><td>{{.Label}}</td><td class="num">{{.N}}</td><td class="num">{{.Mean}}</td><td class="num">[{{.Lo}}, {{.Hi}}]</td></tr>
{{end}}</table>

{{define "chart"}}<figure><figcaption>{{.Title}}</figcaption>
<svg width="{{.Width}}" height="{{.Height}}" viewBox="0 0 {{.Width}} {{.Height}}" role="img" aria-label="{{.Title}}">
{{range .Lines}}<line x1="{{f .X}}" y1="{{f .Y}}" x2="{{f .X2}}" y2="{{f .Y2}}" class="{{.Class}}"/>
{{end}}{{range .Rects}}<rect x="{{f .X}}" y="{{f .Y}}" width="{{f .W}}" height="{{f .H}}" class="{{.Class}}">{{if .Tip}}<title>{{.Tip}}</title>{{end}}</rect>
{{end}}{{range .Polys}}<polyline points="{{.Points}}" class="{{.Class}}"/>
{{end}}{{range .Dots}}<circle cx="{{f .X}}" cy="{{f .Y}}" r="3.5" class="{{.Class}}"><title>{{.Tip}}</title></circle>
{{end}}{{range .Texts}}<text x="{{f .X}}" y="{{f .Y}}" text-anchor="{{if .Anchor}}{{.Anchor}}{{else}}start{{end}}" class="{{.Class}}">{{if .Tip}}<title>{{.Tip}}</title>{{end}}{{.Text}}</text>
{{end}}</svg>{{with .Caption}}<div class="cap">{{.}}</div>{{end}}</figure>
{{end}}
{{if .Drafters}}<h2>By drafter (model and prompt version)</h2>
<p class="meta">Bars are means; whiskers are {{.Confidence}} intervals. Hover for the numbers.</p>
<div class="charts">{{range .Drafters}}{{template "chart" .}}{{end}}</div>{{end}}

{{if .Dimensions}}<h2>By slice</h2>
{{range .Dimensions}}<details{{if le .Count 12}} open{{end}}><summary>By {{.Name}} ({{.Count}})</summary>
<div class="charts">{{range .Charts}}{{template "chart" .}}{{end}}</div></details>
{{end}}{{end}}

{{if .Trend}}<h2>Trend by month</h2>
<p class="meta">Monthly means with {{.Confidence}} intervals, by the drafts' creation time (for a replay, the time of the threat).</p>
<div class="charts">{{range .Trend}}{{template "chart" .}}{{end}}</div>{{end}}

{{if .Histograms}}<h2>Distributions over drafts</h2>
<div class="charts">{{range .Histograms}}{{template "chart" .}}{{end}}</div>{{end}}

{{if .Worst}}<h2>Drafts with the most edits</h2>
<table>
<tr><th>draft</th><th>drafter</th><th>tenant</th><th>{{.TER}}</th><th>precision</th><th>recall</th><th>removed by the reviewer</th><th>added by the reviewer</th></tr>
{{range .Worst}}<tr><td>{{.ID}}</td><td>{{.Drafter}}</td><td>{{.Tenant}}</td><td class="num">{{.TER}}</td><td class="num">{{.Precision}}</td><td class="num">{{.Recall}}</td>
<td><ul class="recs">{{range .Removed}}<li>{{.}}</li>{{end}}</ul></td><td><ul class="recs">{{range .Added}}<li>{{.}}</li>{{end}}</ul></td></tr>
{{end}}</table>{{end}}

<h2>Notes</h2>
<ul>{{range .R.Notes}}<li>{{.}}</li>{{end}}</ul>
</body>
</html>
`))
