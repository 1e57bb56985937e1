package draft

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hindsightsec/hindsight"
)

func hit(id string, kind hindsight.Kind, score float64, d hindsight.Document) hindsight.Hit {
	d.ID, d.Kind = id, kind
	return hindsight.Hit{ID: id, Kind: kind, Title: d.Title, Score: score, Document: &d}
}

func TestComposeMergesAndCites(t *testing.T) {
	hits := []hindsight.Hit{
		hit("THR-1", hindsight.KindThreat, 0.05, hindsight.Document{Title: "A", Remediation: "- Consider revoking all sessions for the affected user\n- Reset the password of the affected user\n- Revert the NSG rule allow-any-3389"}),
		hit("THR-2", hindsight.KindThreat, 0.04, hindsight.Document{Title: "B", Remediation: "1. Revoke all sessions for the affected user\n2. Block sign-ins from 203.0.113.7\n   at the conditional access policy"}),
		hit("NOTE-1", hindsight.KindNote, 0.03, hindsight.Document{Title: "N", Body: "Permissive rules are common.\n\n- Revert the NSG rule allow-any-3389 and review rule changes"}),
		hit("AN-1", hindsight.KindAnalytic, 0.02, hindsight.Document{Title: "Atypical sign-in", Description: "x"}),
	}
	threat := &hindsight.Document{Title: "New compromise"}
	d := Compose(hindsight.DraftRemediation, threat, hits, 8)
	var got [][]string
	for _, r := range d.Recommendations {
		got = append(got, append([]string{r.Text}, r.Citations...))
		if !r.Supported || r.Support < SupportThreshold {
			t.Errorf("extractive recommendation %q not supported (%.2f)", r.Text, r.Support)
		}
	}
	want := [][]string{
		{"Revoke all sessions for the affected user", "THR-1", "THR-2"},
		{"Revert the NSG rule allow-any-3389", "THR-1", "NOTE-1"},
		{"Reset the password of the affected user", "THR-1"},
		{"Block sign-ins from <ip> at the conditional access policy", "THR-2"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("recommendations (-want +got):\n%s", diff)
	}
	if len(d.Sources) != 4 || d.Model != "extractive" || d.PromptVersion != ExtractiveVersion {
		t.Errorf("draft = %+v", d)
	}
	if !strings.Contains(d.Text, "1. Revoke all sessions for the affected user [THR-1, THR-2]") {
		t.Errorf("text = %q", d.Text)
	}
	hunting := Compose(hindsight.DraftHunting, threat, hits, 8)
	if len(hunting.Recommendations) != 1 || hunting.Recommendations[0].Citations[0] != "AN-1" {
		t.Errorf("hunting recommendations = %+v, want one from the analytic", hunting.Recommendations)
	}
	if d := Compose(hindsight.DraftRemediation, threat, hits, 2); len(d.Recommendations) != 2 {
		t.Errorf("max 2: got %d", len(d.Recommendations))
	}
	empty := Compose(hindsight.DraftHardening, threat, nil, 8)
	if len(empty.Recommendations) != 0 || !strings.Contains(empty.Text, "No similar past case") {
		t.Errorf("no sources: %q", empty.Text)
	}
}

func TestSplitItems(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"- a\n- b\n  more b\n* c", []string{"a", "b more b", "c"}},
		{"1. one\n2) two\n10. ten", []string{"one", "two", "ten"}},
		{"line one\nline two", []string{"line one", "line two"}},
		{"", nil},
	} {
		if diff := cmp.Diff(tc.want, SplitItems(tc.in)); diff != "" {
			t.Errorf("SplitItems(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
}

func TestSupport(t *testing.T) {
	if s := Support("Revoke sessions for jesse.brown", "We revoked all sessions of jesse.brown.", ""); s != 1 {
		t.Errorf("full support = %v", s)
	}
	if s := Support("Wipe the domain controller", "Reset the password", ""); s != 0 {
		t.Errorf("no support = %v", s)
	}
}

func TestIndicators(t *testing.T) {
	text := `User jesse.brown signed in from 203.0.113.7 on GLOBEX-LT-6631 and ran C:\Users\jb\a.ps1 and /tmp/x/y.sh;
mail to jane@globex.example.com from evil.example.net, hash e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855,
svc_backup ran powershell.exe with AES-256 (see e.g. T1059.001 and CVE-2021-44228).`
	var got []string
	for _, ind := range indicators(text) {
		got = append(got, ind.typ+"="+ind.value)
	}
	want := []string{"user=jesse.brown", "ip=203.0.113.7", "host=GLOBEX-LT-6631", `path=C:\Users\jb\a.ps1`, "path=/tmp/x/y.sh",
		"email=jane@globex.example.com", "domain=evil.example.net", "hash=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		"user=svc_backup"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("indicators (-want +got):\n%s", diff)
	}
}

func TestComposeAdaptsPastIndicators(t *testing.T) {
	past := hit("THR-1", hindsight.KindThreat, 0.05, hindsight.Document{Title: "Old case", Summary: "kofi.evans on WS-17 fetched from 198.51.100.4",
		Remediation: "- Isolate WS-17 and reset kofi.evans's password\n- Block 198.51.100.4 and 203.0.113.9 at the firewall"})
	threat := &hindsight.Document{Title: "New case", Summary: "ann.lee on LT-0042 fetched from 203.0.113.9"}
	d := Compose(hindsight.DraftRemediation, threat, []hindsight.Hit{past}, 8)
	var got []string
	for _, r := range d.Recommendations {
		got = append(got, r.Text)
		if !r.Supported {
			t.Errorf("adapted recommendation %q lost its support (%.2f)", r.Text, r.Support)
		}
	}
	want := []string{"Isolate LT-0042 and reset ann.lee's password", "Block <ip> and 203.0.113.9 at the firewall"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("adapted recommendations (-want +got):\n%s", diff)
	}
}

// TestComposeFillsPlaybookPlaceholders: a playbook's <host> takes the new threat's host; its <user>
// stays a placeholder when the threat names no user.
func TestComposeFillsPlaybookPlaceholders(t *testing.T) {
	note := hit("NOTE-1", hindsight.KindNote, 0.05, hindsight.Document{Title: "Playbook", Body: "- Isolate <host> and collect its PowerShell log\n- Reset <user>'s password"})
	threat := &hindsight.Document{Title: "New case", Summary: "Encoded PowerShell on LT-0042 fetched from 203.0.113.9"}
	d := Compose(hindsight.DraftRemediation, threat, []hindsight.Hit{note}, 8)
	var got []string
	for _, r := range d.Recommendations {
		got = append(got, r.Text)
	}
	want := []string{"Isolate LT-0042 and collect its PowerShell log", "Reset <user>'s password"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("recommendations (-want +got):\n%s", diff)
	}
	if !d.Recommendations[0].Supported {
		t.Errorf("the filled recommendation lost its support (%.2f)", d.Recommendations[0].Support)
	}
}
