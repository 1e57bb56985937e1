package draft

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"sort"
	"strings"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/retrieval"
)

// FlagAnonymized marks a source that is another tenant's case, redacted and cited by an opaque ID.
const FlagAnonymized = "anonymized"

// precedentPrefix starts the opaque IDs of other tenants' cases.
const precedentPrefix = "PREC-"

// precedent finds other tenants' cases similar to the threat and returns them redacted: every
// identifying detail (tenant name, users, hosts, addresses, domains, e-mail addresses, paths)
// replaced by a placeholder, and the case cited by an opaque ID. Nothing of the original reaches
// the caller: not its ID, tenant, title, text, tags, metadata or matching terms.
func (d *Drafter) precedent(ctx context.Context, q retrieval.Query, k int) ([]hindsight.Hit, error) {
	q.Filter = hindsight.Filter{Tenant: q.Filter.Tenant, OtherTenants: true, Kinds: []hindsight.Kind{hindsight.KindThreat}}
	q.K = k
	q.Exclude = nil
	hits, err := d.search.Search(ctx, q)
	if err != nil {
		return nil, err
	}
	out := make([]hindsight.Hit, 0, len(hits))
	for _, h := range hits {
		if h.Document == nil || h.Tenant == "" || h.Tenant == q.Filter.Tenant {
			continue // never happens with a conforming store; never trust it to
		}
		out = append(out, d.anonymize(h))
	}
	return out, nil
}

// anonymize returns a redacted copy of another tenant's hit.
func (d *Drafter) anonymize(h hindsight.Hit) hindsight.Hit {
	src := h.Document
	r := newRedactor(src.Tenant, retrieval.DocumentText(src))
	id := d.opaqueID(src.Tenant, src.ID)
	doc := &hindsight.Document{
		Kind: hindsight.KindThreat, ID: id, Title: r.redact(src.Title),
		Severity: src.Severity, Disposition: src.Disposition, Techniques: src.Techniques, Analytics: src.Analytics,
		Summary: r.redact(src.Summary), Remediation: r.redact(src.Remediation), Hunting: r.redact(src.Hunting),
		Hardening: r.redact(src.Hardening), Description: r.redact(src.Description), Body: r.redact(src.Body),
	}
	for _, e := range src.Events {
		doc.Events = append(doc.Events, r.redact(e))
	}
	if !src.OccurredAt.IsZero() {
		// The month is enough to weigh a precedent's age; the minute could identify the incident.
		t := src.OccurredAt
		doc.OccurredAt = t.AddDate(0, 0, 1-t.Day()).Truncate(24 * 60 * 60 * 1e9)
	}
	return hindsight.Hit{ID: id, Kind: hindsight.KindThreat, Title: doc.Title, Score: h.Score, Document: doc,
		Why: hindsight.Why{Signals: h.Why.Signals, Ranks: h.Why.Ranks, Section: h.Why.Section, Techniques: h.Why.Techniques}}
}

// opaqueID names another tenant's case without revealing it: a keyed hash, stable for the life of
// the drafter, that cannot be turned back into the tenant or the case ID.
func (d *Drafter) opaqueID(tenant, id string) string {
	d.keyOnce.Do(func() {
		d.precedentKey = make([]byte, 32)
		rand.Read(d.precedentKey)
	})
	m := hmac.New(sha256.New, d.precedentKey)
	m.Write([]byte(tenant + "\x00" + id))
	return precedentPrefix + strings.ToUpper(hex.EncodeToString(m.Sum(nil))[:10])
}

// lowerHost matches host names written in lower case with a digit (web-prod-03, dc01.corp): the
// indicator patterns catch upper-case ones.
var lowerHost = regexp.MustCompile(`\b[a-z][a-z0-9]*(?:[-.][a-z0-9]+)+\b`)

// redactor replaces a case's identifying details with placeholders.
type redactor struct {
	repl   *strings.Replacer
	tenant *regexp.Regexp
}

func newRedactor(tenant, text string) *redactor {
	var pairs []string
	var values []indicator
	for _, ind := range indicators(text) {
		if ind.typ != "hash" { // a hash names malware, not the victim: keep it, it helps hunting
			values = append(values, ind)
		}
	}
	for _, m := range lowerHost.FindAllString(text, -1) {
		if strings.ContainsAny(m, "0123456789") {
			values = append(values, indicator{"host", m})
		}
	}
	// Longest first, so a domain inside an e-mail address is not replaced before the address.
	sort.SliceStable(values, func(i, j int) bool { return len(values[i].value) > len(values[j].value) })
	for _, v := range values {
		pairs = append(pairs, v.value, "<"+v.typ+">")
	}
	r := &redactor{repl: strings.NewReplacer(pairs...)}
	if tenant != "" {
		r.tenant = regexp.MustCompile(`(?i)` + regexp.QuoteMeta(tenant))
	}
	return r
}

func (r *redactor) redact(s string) string {
	s = r.repl.Replace(s)
	if r.tenant != nil {
		s = r.tenant.ReplaceAllString(s, "<tenant>")
	}
	return s
}
