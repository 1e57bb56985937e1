package hindsight_test

import (
	"testing"
	"time"

	"github.com/hindsightsec/hindsight"
)

func TestFilterMatches(t *testing.T) {
	t0 := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	threat := &hindsight.Document{Kind: hindsight.KindThreat, Tenant: "acme", ID: "A-1", OccurredAt: t0,
		Severity: hindsight.SeverityHigh, Techniques: []string{"T1059.001", "T1003"}}
	other := &hindsight.Document{Kind: hindsight.KindThreat, Tenant: "globex", ID: "G-1", OccurredAt: t0}
	note := &hindsight.Document{Kind: hindsight.KindNote, ID: "N-1", Techniques: []string{"T1059"}}
	for _, tc := range []struct {
		name string
		f    hindsight.Filter
		doc  *hindsight.Document
		want bool
	}{
		{"own tenant", hindsight.Filter{Tenant: "acme"}, threat, true},
		{"another tenant", hindsight.Filter{Tenant: "acme"}, other, false},
		{"global knowledge", hindsight.Filter{Tenant: "acme"}, note, true},
		{"other tenants: another tenant", hindsight.Filter{Tenant: "acme", OtherTenants: true}, other, true},
		{"other tenants: own tenant", hindsight.Filter{Tenant: "acme", OtherTenants: true}, threat, false},
		{"other tenants: global knowledge", hindsight.Filter{Tenant: "acme", OtherTenants: true}, note, false},
		{"kind", hindsight.Filter{Tenant: "acme", Kinds: []hindsight.Kind{hindsight.KindNote}}, threat, false},
		{"kind among several", hindsight.Filter{Tenant: "acme", Kinds: []hindsight.Kind{hindsight.KindNote, hindsight.KindThreat}}, threat, true},
		{"parent matches sub-technique", hindsight.Filter{Tenant: "acme", Techniques: []string{"T1059"}}, threat, true},
		{"sub-technique does not match parent", hindsight.Filter{Tenant: "acme", Techniques: []string{"T1059.001"}}, note, false},
		{"no shared technique", hindsight.Filter{Tenant: "acme", Techniques: []string{"T1566"}}, threat, false},
		{"since, inclusive", hindsight.Filter{Tenant: "acme", Since: t0}, threat, true},
		{"since, after", hindsight.Filter{Tenant: "acme", Since: t0.Add(time.Second)}, threat, false},
		{"until, inclusive", hindsight.Filter{Tenant: "acme", Until: t0}, threat, true},
		{"until, before", hindsight.Filter{Tenant: "acme", Until: t0.Add(-time.Second)}, threat, false},
		{"time bound, no time", hindsight.Filter{Tenant: "acme", Until: t0}, note, false},
		{"severity at least", hindsight.Filter{Tenant: "acme", MinSeverity: hindsight.SeverityHigh}, threat, true},
		{"severity below", hindsight.Filter{Tenant: "acme", MinSeverity: hindsight.SeverityCritical}, threat, false},
		{"severity unknown", hindsight.Filter{Tenant: "acme", MinSeverity: hindsight.SeverityLow}, note, false},
	} {
		if got := tc.f.Matches(tc.doc); got != tc.want {
			t.Errorf("%s: Matches(%s) = %v, want %v", tc.name, tc.doc.Key(), got, tc.want)
		}
	}
}
