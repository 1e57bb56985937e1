package sample

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestTechniquesMatchATTACK checks the technique table against the ATT&CK Enterprise STIX bundle:
// every ID exists, is neither revoked nor deprecated, and has the recorded name and tactics. The
// bundle is read from HINDSIGHT_ATTACK_BUNDLE or, failing that, from the shared corpus beside the
// repository; the test is skipped when neither exists.
func TestTechniquesMatchATTACK(t *testing.T) {
	path := os.Getenv("HINDSIGHT_ATTACK_BUNDLE")
	if path == "" {
		path = filepath.Join("..", "..", "shared", "corpus", "attack", "enterprise-attack.json")
	}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		t.Skipf("no ATT&CK bundle at %s; set HINDSIGHT_ATTACK_BUNDLE to check the technique table", path)
	} else if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var bundle struct {
		Objects []struct {
			Type       string `json:"type"`
			Name       string `json:"name"`
			Revoked    bool   `json:"revoked"`
			Deprecated bool   `json:"x_mitre_deprecated"`
			References []struct {
				Source string `json:"source_name"`
				ID     string `json:"external_id"`
			} `json:"external_references"`
			Phases []struct {
				Chain string `json:"kill_chain_name"`
				Phase string `json:"phase_name"`
			} `json:"kill_chain_phases"`
		} `json:"objects"`
	}
	if err := json.NewDecoder(f).Decode(&bundle); err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	type entry struct {
		name                string
		tactics             []string
		revoked, deprecated bool
	}
	attack := map[string]entry{}
	for _, o := range bundle.Objects {
		if o.Type != "attack-pattern" {
			continue
		}
		for _, r := range o.References {
			if r.Source != "mitre-attack" {
				continue
			}
			e := entry{name: o.Name, revoked: o.Revoked, deprecated: o.Deprecated}
			for _, p := range o.Phases {
				if p.Chain == "mitre-attack" {
					e.tactics = append(e.tactics, p.Phase)
				}
			}
			attack[r.ID] = e
		}
	}
	if len(attack) < 500 {
		t.Fatalf("%s holds only %d techniques; is it the Enterprise bundle?", path, len(attack))
	}
	for _, tc := range techniques {
		e, ok := attack[tc.id]
		switch {
		case !ok:
			t.Errorf("%s is not in ATT&CK", tc.id)
		case e.revoked || e.deprecated:
			t.Errorf("%s (%s) is revoked or deprecated", tc.id, e.name)
		case e.name != tc.name:
			t.Errorf("%s is named %q in ATT&CK, %q in the table", tc.id, e.name, tc.name)
		default:
			got, want := slices.Sorted(slices.Values(tc.tactics)), slices.Sorted(slices.Values(e.tactics))
			if !slices.Equal(got, want) {
				t.Errorf("%s: tactics %v in the table, %v in ATT&CK", tc.id, got, want)
			}
		}
	}
}
