// Package sample generates a realistic, deterministic synthetic history of worked threats and the
// knowledge around them (detection analytics, playbook notes, threat-actor profiles), together with
// reviewer-edited eval pairs and relevance judgments for retrieval evaluation.
//
// The generator is built from a table of attack scenarios (cloud account compromise, Kerberoasting,
// ransomware precursors, web shells, and more). Every generated threat belongs to one scenario and
// one tenant; its remediation, hunting and hardening guidance is written the way analysts write it:
// the same steps in different words and orders, sometimes hedged, with the case's own indicators
// (user and host names, documentation IP ranges, example domains, hashes) substituted in.
//
// The same Config always yields byte-identical output. A small corpus generated with
// Config{Threats: 240, Seed: 1} is committed under data/ and embedded; Files returns it.
package sample

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/hindsightsec/hindsight"
)

// MaxThreats is the largest number of threats Generate accepts. It keeps a mistyped count from
// exhausting memory: a generated threat takes a few kilobytes.
const MaxThreats = 2_000_000

// MaxSameScenario is the largest number of same-scenario threats (grade 2) that a judgment lists.
// When a tenant has more threats of the query's scenario, the ones closest in time to the query are
// listed. Without a cap the judgments of a large corpus would grow with the square of its size; the
// committed sample stays well below it, so its judgments are complete.
const MaxSameScenario = 25

// MaxTenants is the largest number of tenants Generate accepts.
const MaxTenants = 1000

// defaultTenants are the tenants used when Config.Tenants is nil or empty.
func defaultTenants() []string { return []string{"acme", "globex", "initech", "umbrella"} }

// Config says what to generate.
type Config struct {
	// Threats is the number of threats to generate, from 1 to MaxThreats.
	Threats int
	// Seed seeds the random source. Every seed, zero included, is valid; the same Config always
	// produces the same corpus.
	Seed int64
	// Tenants names the tenants (customers) the threats are spread over. Names are 1 to 32
	// lowercase letters, digits and hyphens, start with a letter and are unique; there are at most
	// MaxTenants of them. Nil or empty means four tenants: acme, globex, initech and umbrella.
	Tenants []string
}

// Corpus is a generated history: threats, global knowledge, eval pairs and relevance judgments.
type Corpus struct {
	// Threats are the worked threats, oldest first, each with a tenant.
	Threats []hindsight.Document
	// Knowledge holds the global documents: analytics, notes and profiles, in that order.
	Knowledge []hindsight.Document
	// Pairs are reviewer-edited drafts of the remediation of about one threat in three.
	Pairs []hindsight.Pair
	// Judgments hold, for every threat, the documents a search for it should find.
	Judgments []Judgment
}

// Judgment lists the documents relevant to one query threat, for retrieval evaluation. Relevant
// lists grade-2 documents first (closest in time first), then grade-1 documents (analytics, then
// notes, by ID).
type Judgment struct {
	Query    string     `json:"query"`  // the ID of the query threat
	Tenant   string     `json:"tenant"` // the tenant of the query threat; searches are tenant-scoped
	Relevant []Relevant `json:"relevant"`
}

// Relevant is one judged document.
type Relevant struct {
	ID   string         `json:"id"`
	Kind hindsight.Kind `json:"kind"`
	// Grade is 2 for another threat of the same tenant and scenario (at most MaxSameScenario of
	// them), 1 for a note or analytic of the query's scenario.
	Grade int `json:"grade"`
}

// Generate builds the corpus that cfg describes. It returns an *hindsight.Error with code
// hindsight.EINVALID, naming the field, when cfg is invalid. Generate keeps no state between
// calls, so concurrent calls are safe.
func Generate(cfg Config) (*Corpus, error) {
	tenants, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	g := newGenerator(cfg.Seed, tenants)
	c := &Corpus{Knowledge: g.knowledge()}
	c.Threats, c.Pairs = g.threats(cfg.Threats)
	c.Judgments = g.judgments(c.Threats)
	return c, nil
}

func (cfg Config) validate() ([]string, error) {
	if cfg.Threats < 1 {
		return nil, hindsight.Invalid("threats", "must be at least 1, got %d", cfg.Threats)
	}
	if cfg.Threats > MaxThreats {
		return nil, hindsight.Invalid("threats", "must be at most %d, got %d", MaxThreats, cfg.Threats)
	}
	if len(cfg.Tenants) == 0 {
		return defaultTenants(), nil
	}
	if len(cfg.Tenants) > MaxTenants {
		return nil, hindsight.Invalid("tenants", "must name at most %d tenants, got %d", MaxTenants, len(cfg.Tenants))
	}
	seen := make(map[string]int, len(cfg.Tenants))
	for i, t := range cfg.Tenants {
		field := fmt.Sprintf("tenants[%d]", i)
		if t == "" {
			return nil, hindsight.Invalid(field, "must not be empty")
		}
		if len(t) > 32 {
			return nil, hindsight.Invalid(field, "%q is longer than 32 characters", t)
		}
		if t[0] < 'a' || t[0] > 'z' {
			return nil, hindsight.Invalid(field, "%q must start with a lowercase letter", t)
		}
		if i := strings.IndexFunc(t, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-')
		}); i >= 0 {
			return nil, hindsight.Invalid(field, "%q may hold only lowercase letters, digits and hyphens, not %q", t, t[i:i+1])
		}
		if j, dup := seen[t]; dup {
			return nil, hindsight.Invalid(field, "%q repeats tenants[%d]", t, j)
		}
		seen[t] = i
	}
	return cfg.Tenants, nil
}

// generator holds the state of one Generate call.
type generator struct {
	rng       *rand.Rand
	tenants   []string
	scenarios []*scenario
	analytics map[string]*analyticDef // by ID; read only

	// Per threat, in time order: minutes since epoch, tenant and scenario indices.
	minutes    []int64
	tenantOf   []uint16
	scenarioOf []uint16
}

func newGenerator(seed int64, tenants []string) *generator {
	g := &generator{
		rng:       rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x9e3779b97f4a7c15)),
		tenants:   tenants,
		scenarios: scenarios(),
		analytics: make(map[string]*analyticDef),
	}
	for _, a := range analyticDefs() {
		g.analytics[a.id] = a
	}
	return g
}
