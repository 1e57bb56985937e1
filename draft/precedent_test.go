package draft_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/draft"
	"github.com/hindsightsec/hindsight/retrieval"
	"github.com/hindsightsec/hindsight/retrieval/retrievaltest"
	"github.com/hindsightsec/hindsight/store/sqlite"
)

// globexSecrets are the identifying details of globex's case; none may reach acme.
var globexSecrets = []string{"globex", "Globex", "GLOBEX", "maria.lopez", "GLOBEX-DC-01", "globex-web-07", "198.51.100.23",
	"globex.example.org", "soc-team@globex.example.org", `C:\Users\mlopez\stage.ps1`, "THR-G-0007", "srv-backup-2",
	"2024-05-17T03:12"}

func leakSetup(t *testing.T) *retrieval.Retriever {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "h.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	retrievaltest.Write(t, db, "leak",
		&hindsight.Document{Kind: hindsight.KindThreat, Tenant: "globex", ID: "THR-G-0007", Title: "DCSync from GLOBEX-DC-01 by maria.lopez",
			OccurredAt: time.Date(2024, 5, 17, 3, 12, 0, 0, time.UTC), Severity: hindsight.SeverityCritical, Techniques: []string{"T1003.006"},
			Summary: "maria.lopez ran mimikatz lsadump::dcsync on globex-web-07 (198.51.100.23) against GLOBEX-DC-01; staged C:\\Users\\mlopez\\stage.ps1; alerts mailed to soc-team@globex.example.org; srv-backup-2 touched",
			Events:  []string{"03:12 replication request from 198.51.100.23 to GLOBEX-DC-01"},
			Remediation: "- Reset the krbtgt password twice on GLOBEX-DC-01\n- Disable maria.lopez and reset her password\n" +
				"- Isolate globex-web-07 and block 198.51.100.23 at globex.example.org's firewall\n- Remove C:\\Users\\mlopez\\stage.ps1 from srv-backup-2\n" +
				"- Restrict replication rights (DS-Replication-Get-Changes-All) to domain controllers",
			Tags: []string{"globex-vip"}},
		&hindsight.Document{Kind: hindsight.KindThreat, Tenant: "acme", ID: "THR-A-0001", Title: "Phishing macro", Summary: "winword spawned powershell",
			Techniques: []string{"T1566.001"}, Remediation: "- Block the sender domain"},
	)
	return retrieval.NewRetriever(db, retrieval.Builtin{})
}

func TestCrossTenantPrecedentNeverLeaks(t *testing.T) {
	r := leakSetup(t)
	threat := &hindsight.Document{Title: "DCSync by mimikatz against a domain controller", Summary: "lsadump::dcsync replication request from a workstation",
		Techniques: []string{"T1003.006"}}
	for _, kind := range hindsight.DraftKinds {
		d := draft.New(r, nil)
		d.CrossTenant = true
		dr, err := d.Draft(context.Background(), draft.Request{Tenant: "acme", Kind: kind, Threat: threat})
		if err != nil {
			t.Fatal(err)
		}
		out, _ := json.Marshal(dr)
		for _, secret := range globexSecrets {
			if strings.Contains(string(out), secret) {
				t.Errorf("%s draft for acme contains globex's %q:\n%s", kind, secret, out)
			}
		}
		var prec *hindsight.Source
		for i, s := range dr.Sources {
			if strings.HasPrefix(s.ID, "PREC-") {
				prec = &dr.Sources[i]
			}
		}
		if prec == nil || len(prec.Flags) == 0 || prec.Flags[0] != draft.FlagAnonymized || prec.Tenant != "" {
			t.Fatalf("%s: no anonymised precedent among the sources: %+v", kind, dr.Sources)
		}
		if kind == hindsight.DraftRemediation {
			cited := false
			for _, rec := range dr.Recommendations {
				for _, c := range rec.Citations {
					cited = cited || c == prec.ID
				}
			}
			if !cited {
				t.Errorf("the precedent grounds no recommendation: %s", dr.Text)
			}
			if !strings.Contains(dr.Text, "Reset the krbtgt password twice on <host>") {
				t.Errorf("redacted guidance not used as expected:\n%s", dr.Text)
			}
		}
	}
	// Off by default: no other tenant's case at all.
	dr, err := draft.New(r, nil).Draft(context.Background(), draft.Request{Tenant: "acme", Kind: hindsight.DraftRemediation, Threat: threat})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(dr)
	if strings.Contains(string(out), "PREC-") || strings.Contains(string(out), "krbtgt") || strings.Contains(string(out), "globex") {
		t.Errorf("without cross-tenant precedent, acme's draft used globex's case:\n%s", out)
	}
}
