package sample

import (
	"math/rand/v2"
	"strings"
	"unicode"
	"unicode/utf8"
)

// style is how one analyst writes guidance. Each threat gets a style, so that threats of the same
// scenario say the same things in different ways.
type style struct {
	period  bool    // end each bullet with a full stop
	hedge   float64 // chance that a bullet is hedged ("Consider revoking ...")
	please  float64 // chance that an imperative bullet starts with "Please"
	suffix  float64 // chance of a trailing qualifier ("as soon as possible")
	shuffle float64 // chance that two neighbouring steps swap places
	drop    float64 // chance that an optional step is left out
	extra   float64 // chance that a generic step of the analyst's own is added
}

func newStyle(r *rand.Rand) style {
	st := style{
		period:  r.IntN(3) > 0,
		hedge:   []float64{0, 0.1, 0.15, 0.3, 0.5}[r.IntN(5)],
		please:  []float64{0, 0, 0.1, 0.25}[r.IntN(4)],
		suffix:  0.05 + 0.1*r.Float64(),
		shuffle: 0.2 + 0.5*r.Float64(),
		drop:    0.15 + 0.35*r.Float64(),
		extra:   0.1 + 0.3*r.Float64(),
	}
	return st
}

// bullet is one rendered recommendation and where it came from.
type bullet struct {
	step    int // index of the scenario step, or -1 for an added generic step
	variant int
	hedged  bool
	text    string
}

// guidance renders steps into bullets in st's manner, appending to out. It leaves out optional
// steps only while at least keep steps remain.
func guidance(r *rand.Rand, v *vars, steps []step, extras []string, st style, keep int, out []bullet) []bullet {
	start := len(out)
	left := len(steps)
	for i, sp := range steps {
		if sp.optional && left > keep && r.Float64() < st.drop {
			left--
			continue
		}
		k := r.IntN(len(sp.variants))
		out = append(out, bullet{step: i, variant: k})
	}
	// Analysts mostly keep the playbook's order; now and then two steps trade places.
	if n := len(out) - start; n > 2 && r.Float64() < st.shuffle {
		i := start + 1 + r.IntN(n-1)
		out[i-1], out[i] = out[i], out[i-1]
	}
	if len(extras) > 0 && r.Float64() < st.extra {
		n := len(out) - start
		at := start + 1 + r.IntN(max(n, 1))
		if at > len(out) {
			at = len(out)
		}
		out = append(out, bullet{})
		copy(out[at+1:], out[at:])
		out[at] = bullet{step: -1, variant: r.IntN(len(extras))}
	}
	for i := start; i < len(out); i++ {
		b := &out[i]
		var tmpl string
		if b.step < 0 {
			tmpl = extras[b.variant]
		} else {
			tmpl = steps[b.step].variants[b.variant]
		}
		if b.step < 0 { // the analyst's own words: never hedged or qualified
			b.text = finish(v.text(tmpl), st.period)
			continue
		}
		b.text, b.hedged = phrase(r, v.text(tmpl), st)
	}
	return out
}

// phrase turns a recommendation into the analyst's words: hedged or imperative, with or without a
// trailing qualifier and a full stop. It reports whether the result is hedged.
func phrase(r *rand.Rand, t string, st style) (string, bool) {
	if verbOf(t) == "" { // a statement ("No containment is needed ..."), not an instruction
		return finish(t, st.period), false
	}
	hedged := false
	if r.Float64() < st.hedge {
		t, hedged = hedge(r, t)
	} else if r.Float64() < st.please {
		t = "Please " + lowerFirst(t)
	}
	if r.Float64() < st.suffix {
		t = strings.TrimRight(t, ".") + pick(r, qualifiers)
	}
	return finish(t, st.period), hedged
}

var qualifiers = []string{
	" as soon as possible", " (if not already done)", " as a priority", " today if possible",
}

// finish capitalises t and ends it with a full stop, or strips the full stop, as period says.
func finish(t string, period bool) string {
	t = upperFirst(strings.TrimSpace(t))
	if period {
		if last, _ := utf8.DecodeLastRuneInString(t); last != '.' && last != '?' && last != '!' {
			t += "."
		}
		return t
	}
	return strings.TrimRight(t, ".")
}

// hedges are the ways analysts soften a recommendation. "%g" stands for the gerund form,
// "%v" for the lowercased imperative.
var hedges = []string{
	"Consider %g", "You may want to %v", "We recommend that you %v", "If feasible, %v",
	"Where possible, %v", "It would be prudent to %v", "Consider %g", "You may want to %v",
}

// hedge softens an imperative recommendation. Recommendations that do not start with a known verb
// are returned unchanged.
func hedge(r *rand.Rand, t string) (string, bool) {
	verb := verbOf(t)
	if verb == "" {
		return t, false
	}
	h := pick(r, hedges)
	rest := t[len(verb):]
	switch {
	case strings.HasPrefix(h, "Consider %g"):
		return "Consider " + gerund(strings.ToLower(verb)) + coordinated(rest), true
	default:
		return strings.Replace(h, "%v", lowerFirst(t), 1), true
	}
}

// coordinated turns the verbs that follow "and" or ", then" into gerunds, so that "Consider
// resetting ... and revoke ..." reads "Consider resetting ... and revoking ...".
func coordinated(s string) string {
	var b strings.Builder
	for {
		i, n := -1, 0
		for _, c := range []string{" and ", ", then ", " but "} {
			if j := strings.Index(s, c); j >= 0 && (i < 0 || j < i) {
				i, n = j, len(c)
			}
		}
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i+n])
		s = s[i+n:]
		if w := verbOf(s); w != "" && w == strings.ToLower(w) && !nounToo[w] {
			b.WriteString(gerund(w))
			s = s[len(w):]
		}
	}
}

// nounToo are verbs that, after "and", are more often nouns ("and refresh tokens").
var nounToo = map[string]bool{"refresh": true, "record": true, "log": true, "list": true, "map": true}

// verbOf returns t's first word if it is a known imperative verb, or "".
func verbOf(t string) string {
	i := strings.IndexFunc(t, func(r rune) bool { return !unicode.IsLetter(r) && r != '-' })
	if i < 0 {
		i = len(t)
	}
	w := t[:i]
	if _, ok := verbs[strings.ToLower(w)]; ok {
		return w
	}
	return ""
}

func gerund(verb string) string {
	if g := verbs[verb]; g != "" {
		return g
	}
	switch {
	case strings.HasSuffix(verb, "ee"):
		return verb + "ing"
	case strings.HasSuffix(verb, "e"):
		return verb[:len(verb)-1] + "ing"
	}
	return verb + "ing"
}

func upperFirst(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// lowerFirst lowercases the first letter of s unless its first word looks like a name or an
// acronym (a second capital letter).
func lowerFirst(s string) string {
	if len(s) < 2 || s[0] < 'A' || s[0] > 'Z' || (s[1] >= 'A' && s[1] <= 'Z') {
		return s
	}
	return string(s[0]-'A'+'a') + s[1:]
}

// bullets joins recommendations into the "- ..." list form of the canonical record.
func bullets(bs []bullet) string {
	n := 0
	for _, b := range bs {
		n += len(b.text) + 3
	}
	var sb strings.Builder
	sb.Grow(n)
	for i, b := range bs {
		if i > 0 {
			sb.WriteByte('\n')
		}
		sb.WriteString("- ")
		sb.WriteString(b.text)
	}
	return sb.String()
}

// verbs maps the imperative verbs that open recommendations to their gerunds; an empty gerund
// means the regular form (gerund derives it). A recommendation opening with any other word is
// never hedged.
var verbs = map[string]string{
	"add": "", "alert": "", "allow": "", "apply": "", "archive": "", "ask": "", "assess": "",
	"audit": "", "baseline": "", "block": "", "build": "", "capture": "", "check": "",
	"clean": "", "collect": "", "compare": "", "configure": "", "confirm": "", "contact": "",
	"contain": "", "correlate": "", "create": "", "deactivate": "", "decommission": "",
	"delete": "", "deny": "", "deploy": "", "deprovision": "", "detach": "", "disable": "",
	"disconnect": "", "document": "", "enable": "", "enforce": "", "ensure": "", "enumerate": "",
	"evict": "", "examine": "", "expire": "", "extend": "", "find": "", "flag": "flagging", "force": "",
	"hunt": "", "identify": "", "implement": "", "inspect": "", "install": "", "introduce": "",
	"invalidate": "", "investigate": "", "isolate": "", "keep": "", "kill": "", "limit": "",
	"list": "", "lock": "", "look": "", "monitor": "", "move": "", "notify": "", "patch": "",
	"pivot": "", "preserve": "", "prevent": "", "prohibit": "", "pull": "", "purge": "",
	"query": "", "quarantine": "", "raise": "", "rebuild": "", "recover": "", "redeploy": "",
	"reduce": "", "re-enable": "", "reimage": "", "reinstall": "", "reissue": "", "remove": "",
	"rename": "", "replace": "", "report": "", "require": "", "reset": "resetting",
	"restore": "", "restrict": "", "retire": "", "revert": "", "review": "", "revoke": "",
	"rotate": "", "roll": "", "run": "running", "scan": "scanning", "schedule": "", "scope": "",
	"search": "", "segment": "", "send": "", "set": "setting", "share": "", "shorten": "",
	"shut": "shutting", "sign": "", "snapshot": "", "stop": "stopping", "strip": "stripping",
	"suspend": "", "sweep": "", "take": "", "terminate": "", "tighten": "", "trace": "",
	"track": "", "turn": "", "uninstall": "", "update": "", "upgrade": "", "use": "",
	"validate": "", "verify": "", "watch": "", "wipe": "", "treat": "", "tune": "", "tag": "tagging",
	"migrate": "", "publish": "", "pin": "pinning", "adopt": "", "standardise": "", "grep": "grepping",
	"trigger": "", "refresh": "", "exclude": "", "delegate": "", "inventory": "", "open": "",
	"map": "mapping", "clear": "", "recreate": "", "retain": "", "harden": "", "follow": "",
	"separate": "", "give": "", "interview": "", "escalate": "", "restart": "",
	"hold": "", "unlink": "", "reassess": "", "repeat": "", "re-run": "re-running", "redirect": "",
	"put": "putting", "cut": "cutting", "drop": "dropping", "plan": "planning", "agree": "",
	"approve": "", "assume": "", "brief": "", "change": "", "cordon": "", "decode": "",
	"determine": "", "end": "", "engage": "", "establish": "", "estimate": "", "export": "",
	"fix": "", "forward": "", "go": "", "grant": "", "hand": "", "have": "", "kick": "",
	"log": "logging", "make": "", "narrow": "", "perform": "", "place": "", "prepare": "",
	"protect": "", "provide": "", "rank": "", "re-apply": "", "re-register": "", "reconstruct": "",
	"register": "", "route": "", "sinkhole": "", "store": "", "submit": "submitting", "tell": "",
	"train": "", "unregister": "", "warn": "", "work": "", "network-contain": "",
	"network-isolate": "", "record": "", "offer": "",
}
