package eval

import (
	"slices"
	"strings"

	"github.com/hindsightsec/hindsight"
)

// TacticTagPrefix starts the tag that names an ATT&CK tactic on a technique
// document ("tactic:credential-access"), as the STIX reader of package
// ingest tags the techniques it reads from the ATT&CK bundle.
const TacticTagPrefix = "tactic:"

// Tactics maps ATT&CK technique IDs to the short names of the tactics they
// belong to ("T1003.001" → ["credential-access"]). Eval slices its results
// by tactic through it.
type Tactics map[string][]string

// BuiltinTactics returns a new copy of the built-in table: the 126
// techniques and sub-techniques the sample history uses, with their tactics
// as in current ATT&CK Enterprise releases, and for each sub-technique
// whose parent is not listed, the parent with the union of its listed
// sub-techniques' tactics. It stands in when the store holds no ATT&CK
// technique documents; AddDocuments lays those over it.
func BuiltinTactics() Tactics {
	t := make(Tactics, len(builtinTactics)+32)
	for id, tacs := range builtinTactics {
		t[id] = slices.Clone(tacs)
	}
	for id, tacs := range builtinTactics {
		p := hindsight.ParentTechnique(id)
		if _, listed := builtinTactics[p]; p != id && !listed {
			for _, tac := range tacs {
				if !slices.Contains(t[p], tac) {
					t[p] = append(t[p], tac)
				}
			}
		}
	}
	for id := range t {
		slices.Sort(t[id])
	}
	return t
}

// AddDocuments records the tactics of every technique document among docs
// from its TacticTagPrefix tags, replacing what t had for that technique.
// Documents of other kinds and techniques without tactic tags are ignored.
func (t Tactics) AddDocuments(docs []*hindsight.Document) {
	for _, d := range docs {
		if d == nil || d.Kind != hindsight.KindTechnique {
			continue
		}
		var tacs []string
		for _, tag := range d.Tags {
			if tac, ok := strings.CutPrefix(tag, TacticTagPrefix); ok && tac != "" && !slices.Contains(tacs, tac) {
				tacs = append(tacs, tac)
			}
		}
		if len(tacs) > 0 {
			slices.Sort(tacs)
			t[d.ID] = tacs
		}
	}
}

// Of returns the tactics of a set of techniques, sorted and each once. A
// technique that t does not list is looked up by its parent (T1059 for
// T1059.001); one whose parent is not listed either adds nothing.
func (t Tactics) Of(techniques []string) []string {
	var out []string
	for _, id := range techniques {
		tacs, ok := t[id]
		if !ok {
			tacs = t[hindsight.ParentTechnique(id)]
		}
		for _, tac := range tacs {
			if !slices.Contains(out, tac) {
				out = append(out, tac)
			}
		}
	}
	slices.Sort(out)
	return out
}

// builtinTactics is the sample history's technique table (package sample,
// technique.go), copied because eval must not depend on the generator.
var builtinTactics = map[string][]string{
	"T1003.001": {"credential-access"},                                                        // LSASS Memory
	"T1003.006": {"credential-access"},                                                        // DCSync
	"T1014":     {"defense-evasion"},                                                          // Rootkit
	"T1018":     {"discovery"},                                                                // Remote System Discovery
	"T1020":     {"exfiltration"},                                                             // Automated Exfiltration
	"T1021.001": {"lateral-movement"},                                                         // Remote Desktop Protocol
	"T1021.002": {"lateral-movement"},                                                         // SMB/Windows Admin Shares
	"T1021.004": {"lateral-movement"},                                                         // SSH
	"T1027":     {"defense-evasion"},                                                          // Obfuscated Files or Information
	"T1027.010": {"defense-evasion"},                                                          // Command Obfuscation
	"T1033":     {"discovery"},                                                                // System Owner/User Discovery
	"T1036.004": {"defense-evasion"},                                                          // Masquerade Task or Service
	"T1036.005": {"defense-evasion"},                                                          // Match Legitimate Resource Name or Location
	"T1039":     {"collection"},                                                               // Data from Network Shared Drive
	"T1041":     {"exfiltration"},                                                             // Exfiltration Over C2 Channel
	"T1046":     {"discovery"},                                                                // Network Service Discovery
	"T1047":     {"execution"},                                                                // Windows Management Instrumentation
	"T1048.003": {"exfiltration"},                                                             // Exfiltration Over Unencrypted Non-C2 Protocol
	"T1052.001": {"exfiltration"},                                                             // Exfiltration over USB
	"T1053.003": {"execution", "persistence", "privilege-escalation"},                         // Cron
	"T1053.005": {"execution", "persistence", "privilege-escalation"},                         // Scheduled Task
	"T1055":     {"privilege-escalation", "defense-evasion"},                                  // Process Injection
	"T1059.001": {"execution"},                                                                // PowerShell
	"T1059.003": {"execution"},                                                                // Windows Command Shell
	"T1059.004": {"execution"},                                                                // Unix Shell
	"T1059.005": {"execution"},                                                                // Visual Basic
	"T1059.007": {"execution"},                                                                // JavaScript
	"T1068":     {"privilege-escalation"},                                                     // Exploitation for Privilege Escalation
	"T1069.002": {"discovery"},                                                                // Domain Groups
	"T1070.001": {"defense-evasion"},                                                          // Clear Windows Event Logs
	"T1070.004": {"defense-evasion"},                                                          // File Deletion
	"T1071.001": {"command-and-control"},                                                      // Web Protocols
	"T1071.004": {"command-and-control"},                                                      // DNS
	"T1078":     {"initial-access", "persistence", "privilege-escalation", "defense-evasion"}, // Valid Accounts
	"T1078.002": {"initial-access", "persistence", "privilege-escalation", "defense-evasion"}, // Domain Accounts
	"T1078.003": {"initial-access", "persistence", "privilege-escalation", "defense-evasion"}, // Local Accounts
	"T1078.004": {"initial-access", "persistence", "privilege-escalation", "defense-evasion"}, // Cloud Accounts
	"T1083":     {"discovery"},                                                                // File and Directory Discovery
	"T1087.001": {"discovery"},                                                                // Local Account
	"T1087.002": {"discovery"},                                                                // Domain Account
	"T1087.004": {"discovery"},                                                                // Cloud Account
	"T1098":     {"persistence", "privilege-escalation"},                                      // Account Manipulation
	"T1098.001": {"persistence", "privilege-escalation"},                                      // Additional Cloud Credentials
	"T1098.002": {"persistence", "privilege-escalation"},                                      // Additional Email Delegate Permissions
	"T1098.003": {"persistence", "privilege-escalation"},                                      // Additional Cloud Roles
	"T1098.004": {"persistence", "privilege-escalation"},                                      // SSH Authorized Keys
	"T1098.005": {"persistence", "privilege-escalation"},                                      // Device Registration
	"T1105":     {"command-and-control"},                                                      // Ingress Tool Transfer
	"T1110.001": {"credential-access"},                                                        // Password Guessing
	"T1110.002": {"credential-access"},                                                        // Password Cracking
	"T1110.003": {"credential-access"},                                                        // Password Spraying
	"T1112":     {"persistence", "defense-evasion"},                                           // Modify Registry
	"T1114.002": {"collection"},                                                               // Remote Email Collection
	"T1114.003": {"collection"},                                                               // Email Forwarding Rule
	"T1119":     {"collection"},                                                               // Automated Collection
	"T1132.001": {"command-and-control"},                                                      // Standard Encoding
	"T1133":     {"initial-access", "persistence"},                                            // External Remote Services
	"T1134":     {"privilege-escalation", "defense-evasion"},                                  // Access Token Manipulation
	"T1135":     {"discovery"},                                                                // Network Share Discovery
	"T1136.001": {"persistence"},                                                              // Local Account
	"T1136.003": {"persistence"},                                                              // Cloud Account
	"T1140":     {"defense-evasion"},                                                          // Deobfuscate/Decode Files or Information
	"T1176.001": {"persistence"},                                                              // Browser Extensions
	"T1185":     {"collection"},                                                               // Browser Session Hijacking
	"T1189":     {"initial-access"},                                                           // Drive-by Compromise
	"T1190":     {"initial-access"},                                                           // Exploit Public-Facing Application
	"T1195.002": {"initial-access"},                                                           // Compromise Software Supply Chain
	"T1204.001": {"execution"},                                                                // Malicious Link
	"T1204.002": {"execution"},                                                                // Malicious File
	"T1213.002": {"collection"},                                                               // Sharepoint
	"T1213.003": {"collection"},                                                               // Code Repositories
	"T1218.011": {"defense-evasion"},                                                          // Rundll32
	"T1219.002": {"command-and-control"},                                                      // Remote Desktop Software
	"T1482":     {"discovery"},                                                                // Domain Trust Discovery
	"T1486":     {"impact"},                                                                   // Data Encrypted for Impact
	"T1489":     {"impact"},                                                                   // Service Stop
	"T1490":     {"impact"},                                                                   // Inhibit System Recovery
	"T1496.001": {"impact"},                                                                   // Compute Hijacking
	"T1505.003": {"persistence"},                                                              // Web Shell
	"T1526":     {"discovery"},                                                                // Cloud Service Discovery
	"T1528":     {"credential-access"},                                                        // Steal Application Access Token
	"T1530":     {"collection"},                                                               // Data from Cloud Storage
	"T1534":     {"lateral-movement"},                                                         // Internal Spearphishing
	"T1537":     {"exfiltration"},                                                             // Transfer Data to Cloud Account
	"T1539":     {"credential-access"},                                                        // Steal Web Session Cookie
	"T1543.002": {"persistence", "privilege-escalation"},                                      // Systemd Service
	"T1543.003": {"persistence", "privilege-escalation"},                                      // Windows Service
	"T1546.003": {"persistence", "privilege-escalation"},                                      // Windows Management Instrumentation Event Subscription
	"T1547.001": {"persistence", "privilege-escalation"},                                      // Registry Run Keys / Startup Folder
	"T1548.003": {"privilege-escalation", "defense-evasion"},                                  // Sudo and Sudo Caching
	"T1550.001": {"defense-evasion", "lateral-movement"},                                      // Application Access Token
	"T1550.002": {"defense-evasion", "lateral-movement"},                                      // Pass the Hash
	"T1550.004": {"defense-evasion", "lateral-movement"},                                      // Web Session Cookie
	"T1552.001": {"credential-access"},                                                        // Credentials In Files
	"T1552.007": {"credential-access"},                                                        // Container API
	"T1555.003": {"credential-access"},                                                        // Credentials from Web Browsers
	"T1557":     {"credential-access", "collection"},                                          // Adversary-in-the-Middle
	"T1558.001": {"credential-access"},                                                        // Golden Ticket
	"T1558.003": {"credential-access"},                                                        // Kerberoasting
	"T1560.001": {"collection"},                                                               // Archive via Utility
	"T1562.001": {"defense-evasion"},                                                          // Disable or Modify Tools
	"T1562.002": {"defense-evasion"},                                                          // Disable Windows Event Logging
	"T1562.007": {"defense-evasion"},                                                          // Disable or Modify Cloud Firewall
	"T1563.002": {"lateral-movement"},                                                         // RDP Hijacking
	"T1564.008": {"defense-evasion"},                                                          // Email Hiding Rules
	"T1566.001": {"initial-access"},                                                           // Spearphishing Attachment
	"T1566.002": {"initial-access"},                                                           // Spearphishing Link
	"T1566.004": {"initial-access"},                                                           // Spearphishing Voice
	"T1567.002": {"exfiltration"},                                                             // Exfiltration to Cloud Storage
	"T1569.002": {"execution"},                                                                // Service Execution
	"T1570":     {"lateral-movement"},                                                         // Lateral Tool Transfer
	"T1572":     {"command-and-control"},                                                      // Protocol Tunneling
	"T1573.002": {"command-and-control"},                                                      // Asymmetric Cryptography
	"T1574.001": {"persistence", "privilege-escalation", "defense-evasion"},                   // DLL
	"T1580":     {"discovery"},                                                                // Cloud Infrastructure Discovery
	"T1583.001": {"resource-development"},                                                     // Domains
	"T1588.002": {"resource-development"},                                                     // Tool
	"T1595.002": {"reconnaissance"},                                                           // Vulnerability Scanning
	"T1608.006": {"resource-development"},                                                     // SEO Poisoning
	"T1609":     {"execution"},                                                                // Container Administration Command
	"T1610":     {"execution", "defense-evasion"},                                             // Deploy Container
	"T1611":     {"privilege-escalation"},                                                     // Escape to Host
	"T1613":     {"discovery"},                                                                // Container and Resource Discovery
	"T1619":     {"discovery"},                                                                // Cloud Storage Object Discovery
	"T1620":     {"defense-evasion"},                                                          // Reflective Code Loading
	"T1621":     {"credential-access"},                                                        // Multi-Factor Authentication Request Generation
}
