package sample

import "github.com/hindsightsec/hindsight"

// scenario describes one kind of attack and everything needed to write threats of it. Texts are
// templates: {name} is replaced by the case's value for name (see vars.get), so that one scenario
// yields threats with different users, hosts, addresses and wording.
type scenario struct {
	key       string // stable slug, e.g. "cloud-signin"; used in tags
	name      string // a short noun phrase for notes and for noise in other scenarios' summaries
	about     string // the opening paragraphs of the scenario's playbook note
	lookalike string // a phrase in this scenario's vocabulary, used as noise in other summaries
	note      string // the ID of the scenario's playbook note
	notes     []string
	weight    float64 // how often the scenario occurs, relative to the others
	platform  string
	tags      []string

	titles    []string
	summaries []string
	events    []string // in order; a leading "?" marks an event that some threats lack
	core      []string // ATT&CK techniques every threat of the scenario has
	extra     []string // techniques some threats also have
	analytics []string // IDs of the analytics that fire; the first always does

	severity    [5]float64 // weights of informational, low, medium, high, critical
	disposition [4]float64 // weights of true, benign, false positive, inconclusive; zero: defaults
	benign      []string   // why a benign positive was benign
	falsePos    []string   // why a false positive was false

	remediation []step
	hunting     []step
	hardening   []step

	// picks holds scenario-specific values for placeholders; a value may itself hold placeholders.
	picks map[string][]string
	// sets hold values that belong together (an installer and the site it came from); a threat
	// uses one set for all of its placeholders that the set names.
	sets []map[string]string
}

// step is one recommendation with the different ways analysts phrase it.
type step struct {
	optional bool
	variants []string
}

// s returns a step every threat of the scenario recommends.
func s(variants ...string) step { return step{variants: variants} }

// o returns a step that some threats leave out.
func o(variants ...string) step { return step{optional: true, variants: variants} }

// severityOrder maps the indices of scenario.severity to severities.
var severityOrder = [5]hindsight.Severity{
	hindsight.SeverityInformational, hindsight.SeverityLow, hindsight.SeverityMedium,
	hindsight.SeverityHigh, hindsight.SeverityCritical,
}

// dispositionOrder maps the indices of scenario.disposition to dispositions.
var dispositionOrder = [4]hindsight.Disposition{
	hindsight.DispositionTruePositive, hindsight.DispositionBenignPositive,
	hindsight.DispositionFalsePositive, hindsight.DispositionInconclusive,
}

// defaultDisposition is used by scenarios that do not set their own weights.
var defaultDisposition = [4]float64{0.74, 0.10, 0.13, 0.03}

// scenarios returns every scenario, in a fixed order.
func scenarios() []*scenario {
	var all []*scenario
	all = append(all, identityScenarios()...)
	all = append(all, windowsScenarios()...)
	all = append(all, cloudScenarios()...)
	all = append(all, linuxScenarios()...)
	return all
}
