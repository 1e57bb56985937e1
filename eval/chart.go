package eval

import (
	"fmt"
	"math"
	"sort"
)

// The charts of report.html are inline SVG drawn from these shapes by
// html/template: no script, font or image is fetched, so the file opens
// offline and can be mailed or attached as it is.

// chart is one SVG drawing.
type chart struct {
	Title   string
	Caption string
	Width   int
	Height  int
	Rects   []shape
	Lines   []shape
	Texts   []shape
	Dots    []shape
	Polys   []shape // polylines: Points
}

// shape is a rectangle (X, Y, W, H), a line (X, Y to X2, Y2), a text at
// (X, Y), a dot at (X, Y) or a polyline (Points). Class picks its style;
// Tip becomes its tooltip.
type shape struct {
	X, Y, W, H, X2, Y2 float64
	Class              string
	Text               string
	Anchor             string
	Tip                string
	Points             string
}

// Chart layout, in SVG user units.
const (
	chartLabelWidth = 170
	chartBarHeight  = 18
	chartPlotWidth  = 330
	chartPad        = 8
)

// niceRange widens [lo, hi] to round ticks and returns them with the step.
func niceRange(lo, hi float64) (float64, float64, []float64) {
	if hi <= lo {
		hi = lo + 1
	}
	raw := (hi - lo) / 4
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	lo = math.Floor(lo/step) * step
	hi = math.Ceil(hi/step) * step
	var ticks []float64
	for t := lo; t <= hi+step/1e6; t += step {
		ticks = append(ticks, t)
	}
	return lo, hi, ticks
}

func tick(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e6 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

// barChart draws one horizontal bar per group with its mean and a whisker
// over its interval, labels on the left.
func barChart(title string, info MetricInfo, terName string, groups []Group) chart {
	c := chart{Title: title, Width: chartLabelWidth + chartPlotWidth + 2*chartPad + 60}
	lo, hi := 0.0, 0.0
	var rows []Group
	for _, g := range groups {
		s, ok := g.Metrics[info.Name]
		if !ok {
			continue
		}
		rows = append(rows, g)
		lo, hi = math.Min(lo, s.Lo), math.Max(hi, s.Hi)
	}
	if len(rows) == 0 {
		return chart{}
	}
	switch info.Scale {
	case "share":
		hi = math.Max(hi, 1)
	case "0-100":
		hi = math.Max(hi, 100)
	case "cosine":
		hi = math.Max(hi, 1)
	}
	lo, hi, ticks := niceRange(lo, hi)
	if info.Scale == "1-5" && lo >= 0 && hi <= 6 {
		lo, hi, ticks = 0, 5, []float64{0, 1, 2, 3, 4, 5} // ratings: one tick per mark
	}
	x := func(v float64) float64 { return chartLabelWidth + (v-lo)/(hi-lo)*chartPlotWidth }
	top := 4.0
	c.Height = int(top) + len(rows)*(chartBarHeight+4) + 24
	bottom := float64(c.Height - 20)
	for _, t := range ticks {
		c.Lines = append(c.Lines, shape{X: x(t), Y: top, X2: x(t), Y2: bottom, Class: "grid"})
		c.Texts = append(c.Texts, shape{X: x(t), Y: bottom + 14, Text: tick(t), Anchor: "middle", Class: "tick"})
	}
	for i, g := range rows {
		s := g.Metrics[info.Name]
		y := top + float64(i*(chartBarHeight+4))
		x0, x1 := x(math.Max(lo, 0)), x(s.Mean)
		if x1 < x0 {
			x0, x1 = x1, x0
		}
		tip := fmt.Sprintf("%s: %s %s, %.0f%% CI [%s, %s], n = %d", g.Value, label(info, terName), format(info, s.Mean),
			100*Confidence, format(info, s.Lo), format(info, s.Hi), s.N)
		c.Texts = append(c.Texts, shape{X: chartLabelWidth - 6, Y: y + chartBarHeight - 5, Text: shorten(g.Value, 26), Anchor: "end", Class: "label", Tip: g.Value})
		c.Rects = append(c.Rects, shape{X: x0, Y: y, W: math.Max(x1-x0, 1), H: chartBarHeight, Class: "bar", Tip: tip})
		cy := y + chartBarHeight/2
		c.Lines = append(c.Lines,
			shape{X: x(s.Lo), Y: cy, X2: x(s.Hi), Y2: cy, Class: "whisker"},
			shape{X: x(s.Lo), Y: cy - 5, X2: x(s.Lo), Y2: cy + 5, Class: "whisker"},
			shape{X: x(s.Hi), Y: cy - 5, X2: x(s.Hi), Y2: cy + 5, Class: "whisker"})
		c.Texts = append(c.Texts, shape{X: x(math.Max(s.Hi, s.Mean)) + 6, Y: y + chartBarHeight - 5, Text: format(info, s.Mean), Class: "value"})
	}
	return c
}

// histogram draws the distribution of a metric over drafts in 20 bins.
func histogram(info MetricInfo, terName string, values []float64) chart {
	if len(values) == 0 {
		return chart{}
	}
	lo, hi := values[0], values[0]
	for _, v := range values {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	const bins = 20
	if hi == lo {
		hi = lo + 1
	}
	counts := make([]int, bins)
	for _, v := range values {
		counts[min(bins-1, int((v-lo)/(hi-lo)*bins))]++
	}
	most := 0
	for _, n := range counts {
		most = max(most, n)
	}
	const w, h, left, bottomPad = 300.0, 110.0, 30.0, 20.0
	c := chart{Title: label(info, terName), Width: int(w + left + 10), Height: int(h + bottomPad + 6),
		Caption: fmt.Sprintf("%d drafts, %s to %s", len(values), format(info, lo), format(info, hi))}
	bw := w / bins
	for i, n := range counts {
		bh := float64(n) / float64(most) * (h - 4)
		from := lo + float64(i)*(hi-lo)/bins
		to := from + (hi-lo)/bins
		c.Rects = append(c.Rects, shape{X: left + float64(i)*bw + 1, Y: h - bh, W: bw - 2, H: bh, Class: "bar",
			Tip: fmt.Sprintf("%s to %s: %d drafts", format(info, from), format(info, to), n)})
	}
	c.Lines = append(c.Lines, shape{X: left, Y: h, X2: left + w, Y2: h, Class: "axis"})
	c.Texts = append(c.Texts,
		shape{X: left, Y: h + 14, Text: format(info, lo), Anchor: "start", Class: "tick"},
		shape{X: left + w, Y: h + 14, Text: format(info, hi), Anchor: "end", Class: "tick"},
		shape{X: left - 4, Y: 10, Text: fmt.Sprint(most), Anchor: "end", Class: "tick"},
		shape{X: left - 4, Y: h, Text: "0", Anchor: "end", Class: "tick"})
	return c
}

// trendChart draws a metric's monthly means as a line with a whisker over
// each month's interval.
func trendChart(info MetricInfo, terName string, months []Group) chart {
	var rows []Group
	for _, g := range months {
		if _, ok := g.Metrics[info.Name]; ok {
			rows = append(rows, g)
		}
	}
	if len(rows) == 0 {
		return chart{}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Value < rows[j].Value })
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, g := range rows {
		s := g.Metrics[info.Name]
		lo, hi = math.Min(lo, s.Lo), math.Max(hi, s.Hi)
	}
	lo, hi, ticks := niceRange(lo, hi)
	const left, w, h, top = 44.0, 640.0, 150.0, 8.0
	c := chart{Title: label(info, terName), Width: int(left + w + 16), Height: int(top + h + 40)}
	y := func(v float64) float64 { return top + h - (v-lo)/(hi-lo)*h }
	step := w / float64(max(1, len(rows)-1))
	if len(rows) == 1 {
		step = 0
	}
	x := func(i int) float64 {
		if len(rows) == 1 {
			return left + w/2
		}
		return left + float64(i)*step
	}
	for _, t := range ticks {
		c.Lines = append(c.Lines, shape{X: left, Y: y(t), X2: left + w, Y2: y(t), Class: "grid"})
		c.Texts = append(c.Texts, shape{X: left - 6, Y: y(t) + 4, Text: tick(t), Anchor: "end", Class: "tick"})
	}
	// A month label is about 50 units wide: label every few months so that they never overlap.
	labelEvery := 1
	for step*float64(labelEvery) < 56 && labelEvery < len(rows) {
		labelEvery++
	}
	points := ""
	for i, g := range rows {
		s := g.Metrics[info.Name]
		px, py := x(i), y(s.Mean)
		points += fmt.Sprintf("%.1f,%.1f ", px, py)
		c.Lines = append(c.Lines, shape{X: px, Y: y(s.Lo), X2: px, Y2: y(s.Hi), Class: "whisker"})
		c.Dots = append(c.Dots, shape{X: px, Y: py, Class: "dot", Tip: fmt.Sprintf("%s: %s, %.0f%% CI [%s, %s], n = %d",
			g.Value, format(info, s.Mean), 100*Confidence, format(info, s.Lo), format(info, s.Hi), s.N)})
		if i%labelEvery == 0 {
			c.Texts = append(c.Texts, shape{X: px, Y: top + h + 16, Text: g.Value, Anchor: "middle", Class: "tick"})
		}
	}
	c.Polys = append(c.Polys, shape{Points: points, Class: "trend"})
	return c
}

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
