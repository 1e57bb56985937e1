package sample

import (
	"sort"

	"github.com/hindsightsec/hindsight"
)

// judgments lists, for every threat, the other threats of its tenant and scenario (grade 2, the
// MaxSameScenario closest in time) and its scenario's analytics and notes (grade 1).
func (g *generator) judgments(threats []hindsight.Document) []Judgment {
	// Grade-1 documents per scenario.
	know := make([][]Relevant, len(g.scenarios))
	for i, sc := range g.scenarios {
		an := append([]string(nil), sc.analytics...)
		sort.Strings(an)
		notes := append([]string{sc.note}, sc.notes...)
		sort.Strings(notes)
		for _, id := range an {
			know[i] = append(know[i], Relevant{ID: id, Kind: hindsight.KindAnalytic, Grade: 1})
		}
		for _, id := range notes {
			know[i] = append(know[i], Relevant{ID: id, Kind: hindsight.KindNote, Grade: 1})
		}
	}

	// Threats per tenant and scenario, in time order, and each threat's place in its group.
	groups := make([][]int32, len(g.tenants)*len(g.scenarios))
	pos := make([]int32, len(threats))
	for i := range threats {
		k := int(g.tenantOf[i])*len(g.scenarios) + int(g.scenarioOf[i])
		pos[i] = int32(len(groups[k]))
		groups[k] = append(groups[k], int32(i))
	}

	out := make([]Judgment, len(threats))
	for i := range threats {
		si := int(g.scenarioOf[i])
		grp := groups[int(g.tenantOf[i])*len(g.scenarios)+si]
		same := min(len(grp)-1, MaxSameScenario)
		rel := make([]Relevant, 0, same+len(know[si]))
		// Walk outwards from the threat's place, taking the closer neighbour in time each step;
		// on a tie the earlier one.
		lo, hi := int(pos[i])-1, int(pos[i])+1
		t := g.minutes[i]
		for len(rel) < same {
			var j int32
			switch {
			case lo < 0:
				j, hi = grp[hi], hi+1
			case hi >= len(grp):
				j, lo = grp[lo], lo-1
			case t-g.minutes[grp[lo]] <= g.minutes[grp[hi]]-t:
				j, lo = grp[lo], lo-1
			default:
				j, hi = grp[hi], hi+1
			}
			rel = append(rel, Relevant{ID: threats[j].ID, Kind: hindsight.KindThreat, Grade: 2})
		}
		rel = append(rel, know[si]...)
		out[i] = Judgment{Query: threats[i].ID, Tenant: threats[i].Tenant, Relevant: rel}
	}
	return out
}
