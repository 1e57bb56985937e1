package sample

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/hindsightsec/hindsight"
)

// analyticDef is a detection analytic of the knowledge base.
type analyticDef struct {
	id, title, desc, platform string
	sev                       hindsight.Severity
	conv                      float64 // conversion rate: the share of its alerts that were true positives
	techniques                []string
}

func an(id, title string, sev hindsight.Severity, conv float64, platform, desc string, techniques ...string) *analyticDef {
	return &analyticDef{id: id, title: title, desc: desc, platform: platform, sev: sev, conv: conv, techniques: techniques}
}

const (
	sevLow      = hindsight.SeverityLow
	sevMedium   = hindsight.SeverityMedium
	sevHigh     = hindsight.SeverityHigh
	sevCritical = hindsight.SeverityCritical
)

// analyticDefs returns the detection analytics, ordered by ID.
func analyticDefs() []*analyticDef {
	return []*analyticDef{
		an("AN-0113", "Sign-in from atypical IP for privileged user", sevMedium, 0.18, "azure",
			"Fires when a user holding a privileged directory role signs in from an IP address and ASN not seen for that user in the last 30 days. Travel and new home routers cause most false positives; a change to the environment shortly after the sign-in raises the likelihood sharply.", "T1078.004"),
		an("AN-0114", "Impossible travel between consecutive sign-ins", sevMedium, 0.07, "azure",
			"Two successful sign-ins for one user from locations too far apart for the time between them. Corporate VPN egress points and mobile carriers produce many false positives; review the user agents and whether both sessions were used.", "T1078.004"),
		an("AN-0121", "External guest invited and granted a role", sevMedium, 0.12, "azure",
			"A B2B guest invitation followed within an hour by a role assignment to that guest on a subscription or in the directory.", "T1136.003", "T1098.003"),
		an("AN-0125", "OAuth application granted high-risk delegated permissions", sevHigh, 0.22, "m365",
			"A user consented to an application that requests mail, file or directory scopes together with offline_access. Consent to unverified multi-tenant applications weighs more.", "T1528", "T1550.001"),
		an("AN-0126", "Consent to unverified multi-tenant application", sevMedium, 0.15, "m365",
			"Any user consent to a multi-tenant application without a verified publisher.", "T1528"),
		an("AN-0131", "Burst of MFA push denials followed by approval", sevHigh, 0.41, "azure",
			"Five or more MFA push notifications denied or timed out for one user within fifteen minutes, followed by an approved push from the same source IP.", "T1621"),
		an("AN-0132", "New MFA device registered after risky sign-in", sevMedium, 0.27, "azure",
			"A new authenticator app or phone method registered within 30 minutes of a sign-in rated medium or high risk.", "T1098.005"),
		an("AN-0135", "Inbox rule forwards mail to external address", sevHigh, 0.38, "m365",
			"New-InboxRule or Set-InboxRule with ForwardTo, ForwardAsAttachmentTo or RedirectTo pointing outside the tenant's accepted domains.", "T1114.003"),
		an("AN-0136", "Inbox rule moves messages to rarely used folder", sevMedium, 0.29, "m365",
			"An inbox rule that moves or deletes messages and targets RSS Feeds, Conversation History or Archive, or has a name of one or two characters.", "T1564.008"),
		an("AN-0140", "Password spray against many accounts from one source", sevMedium, 0.09, "azure",
			"Failed sign-ins (error 50126) for at least twenty distinct accounts from one IP address within an hour, with few attempts per account.", "T1110.003"),
		an("AN-0141", "Successful sign-in after spray from same source", sevHigh, 0.45, "azure",
			"A successful sign-in from an IP address that AN-0140 flagged within the previous 24 hours.", "T1110.003", "T1078.004"),
		an("AN-0145", "Session cookie replayed from new IP and user agent", sevHigh, 0.33, "azure",
			"The same session identifier is seen from two autonomous systems with different user agents within minutes.", "T1550.004", "T1539"),
		an("AN-0146", "Sign-in through known AiTM phishing proxy", sevHigh, 0.52, "azure",
			"A sign-in whose referrer or IP matches infrastructure of adversary-in-the-middle phishing kits.", "T1557", "T1566.002"),
		an("AN-0150", "Kerberos TGS requests with RC4 for multiple SPNs", sevMedium, 0.11, "windows",
			"Event 4769 with ticket encryption type 0x17 for five or more distinct service names from one account within a minute.", "T1558.003"),
		an("AN-0151", "LDAP query for accounts with servicePrincipalName", sevLow, 0.04, "windows",
			"An LDAP search filter containing servicePrincipalName=* issued from a workstation.", "T1087.002"),
		an("AN-0155", "Directory replication request from non-DC host", sevCritical, 0.58, "windows",
			"DRSUAPI GetNCChanges or event 4662 with replication rights used from an IP address that is not a domain controller.", "T1003.006"),
		an("AN-0158", "Active Directory reconnaissance tool execution", sevHigh, 0.36, "windows",
			"Execution of SharpHound, AdFind or ADExplorer by name, hash or characteristic command line, or a burst of LDAP queries matching their collection methods.", "T1087.002", "T1482", "T1069.002"),
		an("AN-0201", "Access to LSASS memory by non-system process", sevHigh, 0.26, "windows",
			"A process outside the allow-list of security and system tools opens lsass.exe with PROCESS_VM_READ.", "T1003.001"),
		an("AN-0202", "comsvcs.dll MiniDump via rundll32", sevCritical, 0.55, "windows",
			"rundll32.exe loading comsvcs.dll with the MiniDump export or ordinal #24.", "T1003.001", "T1218.011"),
		an("AN-0205", "Shadow copy deletion via vssadmin or wmic", sevCritical, 0.47, "windows",
			"vssadmin delete shadows, vssadmin resize shadowstorage, wmic shadowcopy delete or the equivalent PowerShell.", "T1490", "T1047"),
		an("AN-0206", "Mass stop of backup and database services", sevHigh, 0.34, "windows",
			"Five or more services matching backup, SQL or Exchange names stopped within ten minutes on one host.", "T1489"),
		an("AN-0207", "Defender real-time protection disabled", sevHigh, 0.21, "windows",
			"Microsoft Defender reports real-time protection or tamper protection turned off outside a maintenance window.", "T1562.001"),
		an("AN-0210", "Permissive network security group rule created", sevHigh, 0.31, "azure",
			"An NSG rule allowing inbound traffic from Any or 0.0.0.0/0 to management ports (22, 3389, 5985, 5986).", "T1562.007"),
		an("AN-0212", "Office application spawning PowerShell or cmd", sevHigh, 0.32, "windows",
			"WINWORD.EXE, EXCEL.EXE, POWERPNT.EXE or OUTLOOK.EXE starting powershell.exe, cmd.exe, wscript.exe, mshta.exe or rundll32.exe.", "T1204.002", "T1059.001", "T1566.001"),
		an("AN-0213", "Macro-enabled document from external sender", sevLow, 0.03, "m365",
			"A .docm, .xlsm or legacy Office attachment with macros delivered from outside the organisation.", "T1566.001"),
		an("AN-0215", "Encoded PowerShell command line", sevMedium, 0.14, "windows",
			"powershell.exe started with -EncodedCommand or one of its abbreviations, or with FromBase64String in the command line.", "T1059.001", "T1027.010"),
		an("AN-0216", "PowerShell download cradle", sevHigh, 0.24, "windows",
			"Script block logging shows Net.WebClient DownloadString or DownloadFile, or Invoke-WebRequest piped to Invoke-Expression.", "T1059.001", "T1105"),
		an("AN-0220", "IIS worker process spawning command shell", sevCritical, 0.49, "windows",
			"w3wp.exe starting cmd.exe, powershell.exe or common reconnaissance binaries.", "T1505.003", "T1059.003"),
		an("AN-0221", "New ASPX file in web root", sevHigh, 0.3, "windows",
			"An .aspx, .ashx or .asmx file created in an IIS web directory by a process other than the deployment tool.", "T1505.003"),
		an("AN-0225", "Rundll32 without arguments making network connections", sevHigh, 0.44, "windows",
			"rundll32.exe with an empty command line that opens outbound network connections.", "T1218.011", "T1071.001"),
		an("AN-0226", "Beacon-like periodic HTTPS to rare domain", sevMedium, 0.12, "network",
			"Outbound HTTPS from one host to a domain seen on few hosts, at regular intervals with low variance in request size.", "T1071.001", "T1573.002"),
		an("AN-0230", "Scheduled task created from user-writable path", sevMedium, 0.16, "windows",
			"Event 4698 or schtasks /create with an action in AppData, Temp, ProgramData or Users\\Public.", "T1053.005"),
		an("AN-0231", "Scheduled task masquerading as Microsoft task", sevHigh, 0.28, "windows",
			"A task under a Microsoft folder name whose action binary is not signed by Microsoft.", "T1036.004", "T1053.005"),
		an("AN-0233", "Run key added pointing to AppData", sevMedium, 0.13, "windows",
			"A new value under a Run or RunOnce key whose target is in AppData, Temp or Users\\Public.", "T1547.001", "T1112"),
		an("AN-0235", "WMI permanent event subscription created", sevHigh, 0.37, "windows",
			"Creation of an __EventFilter, CommandLineEventConsumer or ActiveScriptEventConsumer in root\\subscription (WMI event 5861).", "T1546.003"),
		an("AN-0238", "Remote service creation over SMB", sevMedium, 0.1, "windows",
			"A service installed (event 7045) from a binary written to ADMIN$ by a network logon, as PsExec and Impacket do.", "T1021.002", "T1569.002"),
		an("AN-0239", "Pass-the-hash logon pattern", sevHigh, 0.31, "windows",
			"NTLM network logons by one account to several hosts in a short time from a workstation, or logon type 9 with seclogo.", "T1550.002"),
		an("AN-0242", "RDP logon chain from workstation to servers", sevMedium, 0.08, "windows",
			"RemoteInteractive logons (type 10) by one account hopping from a workstation to two or more servers within an hour, not through a jump host.", "T1021.001"),
		an("AN-0245", "Signed binary loading unsigned DLL from its own folder", sevMedium, 0.17, "windows",
			"A signed executable running outside Program Files or Windows loads an unsigned DLL from the same directory.", "T1574.001"),
		an("AN-0248", "certutil used to download or decode a file", sevHigh, 0.35, "windows",
			"certutil.exe with -urlcache, -split, -f, -verifyctl or -decode arguments.", "T1105", "T1140"),
		an("AN-0250", "Security event log cleared", sevHigh, 0.29, "windows",
			"Event 1102 (Security log cleared) or 104 (System log cleared).", "T1070.001"),
		an("AN-0251", "Event logging stopped or audit policy cleared", sevHigh, 0.25, "windows",
			"The EventLog service stopped, auditpol /clear or /remove run, or event 4719 removing audit categories.", "T1562.002"),
		an("AN-0254", "Vulnerable driver loaded", sevCritical, 0.4, "windows",
			"A kernel driver whose hash is on the vulnerable driver block list is loaded.", "T1068", "T1543.003"),
		an("AN-0256", "New kernel-mode service installed", sevMedium, 0.06, "windows",
			"Event 7045 with service type kernel driver from a path outside System32\\drivers.", "T1543.003"),
		an("AN-0258", "Remote access software installed outside allow-list", sevMedium, 0.19, "windows",
			"Installation or first execution of AnyDesk, ScreenConnect, TeamViewer, Atera, Splashtop or similar on a host not in the approved list.", "T1219.002"),
		an("AN-0260", "Installer downloaded from newly registered domain", sevMedium, 0.11, "windows",
			"An .exe or .msi downloaded by a browser from a domain registered in the last 30 days and executed within an hour.", "T1189", "T1204.002"),
		an("AN-0262", "Browser extension installed outside managed policy", sevLow, 0.07, "windows",
			"A Chrome or Edge extension not on the managed allow-list is installed, or an installed extension gains cookie or all-sites permissions.", "T1176.001"),
		an("AN-0264", "rclone execution on endpoint", sevHigh, 0.53, "windows",
			"rclone by hash or by its command-line flags (copy, sync, --transfers, --config), whatever the file name.", "T1567.002"),
		an("AN-0265", "Large outbound transfer to cloud storage provider", sevMedium, 0.09, "network",
			"More than 5 GB sent from one internal host to cloud storage endpoints within six hours.", "T1567.002"),
		an("AN-0266", "Archive creation of file-share content", sevLow, 0.05, "windows",
			"7-Zip or WinRAR creating password-protected archives from UNC paths or share roots.", "T1560.001"),
		an("AN-0301", "AWS access key used from unfamiliar IP", sevHigh, 0.39, "aws",
			"An IAM user access key used from an IP address and ASN it has never been used from, with reconnaissance calls (GetCallerIdentity, ListBuckets).", "T1078.004"),
		an("AN-0302", "Access key exposed in public repository", sevHigh, 0.57, "aws",
			"The secret-scanning partner programme or the AWS health event AWS_RISK_CREDENTIALS_EXPOSED reports a key of the account.", "T1552.001"),
		an("AN-0303", "Burst of GPU instance launches", sevCritical, 0.5, "aws",
			"RunInstances for GPU instance families, or in a region with no prior activity, above a baseline.", "T1496.001"),
		an("AN-0304", "IAM access key created for another user", sevMedium, 0.2, "aws",
			"iam:CreateAccessKey where the caller and the target user differ, or iam:CreateUser followed by CreateAccessKey within minutes.", "T1098.001"),
		an("AN-0306", "S3 bucket made public", sevHigh, 0.23, "aws",
			"PutBucketPolicy with a '*' principal, a public ACL, or Block Public Access turned off.", "T1530"),
		an("AN-0307", "Anonymous S3 read volume spike", sevHigh, 0.3, "aws",
			"Anonymous GetObject or ListObjects requests on a bucket above its baseline.", "T1530", "T1619"),
		an("AN-0310", "GitHub token mass clone from new IP", sevHigh, 0.34, "github",
			"A token clones more than twenty repositories within an hour from an IP not seen for its owner.", "T1213.003"),
		an("AN-0311", "Deploy key or SSH key added to organisation repository", sevMedium, 0.21, "github",
			"A deploy key with write access or an SSH key added outside the infrastructure-as-code pipeline.", "T1098.001"),
		an("AN-0315", "Container process reaching the host", sevCritical, 0.46, "kubernetes",
			"nsenter targeting PID 1, chroot into a hostPath mount, or writes to host paths from inside a container.", "T1611"),
		an("AN-0316", "Privileged pod created in application namespace", sevHigh, 0.27, "kubernetes",
			"A pod with privileged, hostPID, hostNetwork or a hostPath mount of / created outside system namespaces.", "T1610"),
		an("AN-0318", "Service account listing secrets across namespaces", sevHigh, 0.32, "kubernetes",
			"List or get on secrets in several namespaces by one service account, especially with curl or python user agents.", "T1552.007", "T1613"),
		an("AN-0319", "kubectl exec into production pod", sevLow, 0.06, "kubernetes",
			"An exec or attach subresource request on a pod in a production namespace.", "T1609"),
		an("AN-0322", "Bulk download from SharePoint or OneDrive", sevMedium, 0.14, "m365",
			"One user downloads more than five times their 30-day daily average of files in a day.", "T1213.002", "T1119"),
		an("AN-0323", "Mass copy to removable media", sevMedium, 0.16, "windows",
			"More than 1 GB or 500 files written to removable storage in an hour.", "T1052.001"),
		an("AN-0325", "Package install script spawning shell", sevHigh, 0.29, "linux",
			"node or npm running a postinstall script that starts sh, bash, curl or wget.", "T1195.002", "T1059.007"),
		an("AN-0401", "SSH brute force followed by successful login", sevHigh, 0.42, "linux",
			"More than fifty failed SSH logins from one source followed by an accepted login from the same source.", "T1110.001", "T1021.004"),
		an("AN-0402", "Crypto-mining pool connection", sevCritical, 0.6, "network",
			"Connections to known mining pools or Stratum protocol traffic.", "T1496.001"),
		an("AN-0405", "Cron job created from web or temp directory", sevMedium, 0.18, "linux",
			"A crontab or /etc/cron.d change whose command references /tmp, /dev/shm, curl or wget, or made by a web server account.", "T1053.003"),
		an("AN-0406", "Download piped to shell", sevHigh, 0.31, "linux",
			"curl or wget output piped to sh or bash, or a downloaded file made executable and run within a minute.", "T1059.004", "T1105"),
		an("AN-0408", "sudo to root outside sudoers baseline", sevMedium, 0.12, "linux",
			"A successful sudo to root by an account or with a command not in the host's baseline, especially after sudo -l.", "T1548.003"),
		an("AN-0409", "Local account created on server", sevMedium, 0.15, "linux",
			"useradd or adduser on a server outside configuration management.", "T1136.001"),
		an("AN-0412", "High-entropy DNS subdomain queries to one domain", sevMedium, 0.1, "network",
			"More than a thousand queries per hour from one client to subdomains of one domain with labels longer than 30 characters and high entropy.", "T1071.004", "T1572"),
		an("AN-0413", "Excessive TXT queries from workstation", sevLow, 0.05, "network",
			"A workstation sending TXT queries above its baseline.", "T1071.004"),
		an("AN-0416", "VPN authentication failures from many usernames", sevMedium, 0.08, "network",
			"Failed VPN logins for ten or more usernames from one source within an hour.", "T1110.001", "T1133"),
		an("AN-0417", "VPN login from hosting-provider ASN", sevMedium, 0.2, "network",
			"A successful VPN login from an ASN belonging to a hosting or VPS provider.", "T1133", "T1078"),
	}
}

// extraNote is a hand-written knowledge note that is not a scenario's playbook.
type extraNote struct {
	id, title, body string
	techniques      []string
}

func extraNotes() []extraNote {
	return []extraNote{
		{"NOTE-0050", "Reverting permissive network security rules",
			"When an NSG or security group rule is opened to the internet during an incident, revert it from the activity log rather than from memory: the log holds the rule as it was before.\n\n" +
				"- Export the rule set of the affected NSG before changing anything, so the customer can see what was reverted.\n" +
				"- Delete rules that allow Any or 0.0.0.0/0 to 22, 3389, 5985 or 5986 unless a change ticket covers them.\n" +
				"- Check effective security rules on the NICs behind the NSG: a NIC-level NSG can still allow the traffic.\n" +
				"- Confirm with flow logs that no connection was accepted through the rule while it was open; if one was, the target VM is in scope.\n\n" +
				"Prevent recurrence with an Azure Policy deny assignment for any-source management ports, and alert on NSG writes outside change windows.",
			[]string{"T1562.007"}},
		{"NOTE-0051", "Revoking sessions and tokens in Entra ID",
			"A password reset does not end existing sessions. Refresh tokens stay valid until revoked, and a stolen session cookie keeps working until it expires.\n\n" +
				"Order of operations for a compromised account:\n" +
				"- Revoke sessions (Revoke-MgUserSignInSession or the portal's 'Revoke sessions'), which invalidates refresh tokens.\n" +
				"- Reset the password, unless the account is federated, in which case reset it on-premises and wait for sync.\n" +
				"- Review authentication methods and remove any added during the incident.\n" +
				"- Remove OAuth grants and app passwords the attacker may have created.\n" +
				"- Check inbox rules, forwarding and delegates; attackers set them within minutes.\n\n" +
				"Access tokens already issued stay valid for up to an hour; continuous access evaluation shortens that for supporting apps.",
			[]string{"T1078.004", "T1550.004", "T1528", "T1539"}},
		{"NOTE-0052", "Resetting the krbtgt account twice",
			"After a DCSync or any suspicion that the krbtgt hash is known, forged (golden) tickets remain valid until the krbtgt password has changed twice, because domain controllers accept tickets encrypted with the current and the previous key.\n\n" +
				"- Reset krbtgt once, then wait at least the maximum user ticket lifetime (10 hours by default) and full replication before the second reset.\n" +
				"- Use Microsoft's New-KrbtgtKeys.ps1 script, which checks replication first.\n" +
				"- Expect some Kerberos errors for services holding old tickets; plan the second reset in a maintenance window.\n" +
				"- Resetting krbtgt does not remove other persistence: check AdminSDHolder, GPOs, new accounts and replication rights.",
			[]string{"T1003.006", "T1558.001"}},
		{"NOTE-0053", "Collecting volatile evidence before reimaging",
			"Memory holds what disk does not: injected code, decrypted configuration, network connections and command history. Once a host is rebooted or reimaged it is gone.\n\n" +
				"- Isolate through the EDR rather than pulling the cable, so the agent can still collect.\n" +
				"- Capture memory first (winpmem, the EDR's memory acquisition, or a hypervisor snapshot for VMs).\n" +
				"- Then collect triage artefacts: event logs, prefetch, amcache, shimcache, scheduled tasks, services, Run keys, browser history.\n" +
				"- Record hashes of what was collected and keep the chain of custody in the case.\n\n" +
				"Only then reimage. If the customer needs the host back urgently, snapshot the disk and rebuild from the snapshot copy.",
			[]string{"T1003.001", "T1055", "T1505.003"}},
		{"NOTE-0054", "Hunting for persistence on Windows: a checklist",
			"Attackers rarely rely on one persistence mechanism. When one is found, check the others on the same host and on hosts the same account touched.\n\n" +
				"- Scheduled tasks: action paths outside Program Files and Windows; Microsoft-looking names with unsigned binaries.\n" +
				"- Run and RunOnce keys, Startup folders, Winlogon Userinit and Shell values.\n" +
				"- Services: new services (7045), especially kernel drivers and binaries in Temp or ProgramData.\n" +
				"- WMI: filters, consumers and bindings in root\\subscription.\n" +
				"- Others: Image File Execution Options debuggers, COM hijacks in HKCU, BITS jobs, Office add-ins.\n\n" +
				"Autoruns from Sysinternals covers most of these in one pass; compare against a clean host of the same build.",
			[]string{"T1053.005", "T1547.001", "T1546.003", "T1543.003"}},
		{"NOTE-0055", "Rotating cloud credentials without downtime",
			"Leaked keys must be disabled at once, but disabling a key that production depends on causes an outage. Rotate in this order:\n\n" +
				"- Find every consumer of the key: CloudTrail shows the source IPs and user agents that used it in the last 90 days.\n" +
				"- Create a second key or, better, move the consumer to a role with short-lived credentials.\n" +
				"- Deploy the new credential, confirm the old key's last-used time stops advancing, then deactivate it.\n" +
				"- Delete the old key after a week without use.\n\n" +
				"When the key is known to be abused, skip the ceremony: deactivate first and accept the outage.",
			[]string{"T1078.004", "T1098.001", "T1552.001"}},
		{"NOTE-0056", "Managed service accounts and AES-only Kerberos",
			"Kerberoasting works because service account passwords are human-chosen and RC4 tickets crack fast. Two changes remove most of the risk.\n\n" +
				"- Group managed service accounts (gMSA) have 120-character random passwords rotated by the domain; roasting them is pointless.\n" +
				"- Where a gMSA is impossible, set a random password of at least 25 characters and rotate it yearly.\n" +
				"- Set msDS-SupportedEncryptionTypes to AES on service accounts and disable RC4 domain-wide once nothing needs it; then a request for an RC4 ticket is itself suspicious.\n" +
				"- Remove SPNs that are no longer used.",
			[]string{"T1558.003"}},
		{"NOTE-0057", "Tiered administration and LAPS",
			"Lateral movement depends on reusable credentials. A tier model keeps domain admin credentials off the machines attackers land on first, and LAPS makes local administrator passwords unique.\n\n" +
				"- Tier 0: domain controllers, identity systems, PKI; administered only from privileged access workstations.\n" +
				"- Tier 1: servers; admins use separate accounts that cannot log on to workstations.\n" +
				"- Tier 2: workstations; helpdesk accounts only.\n" +
				"- Enforce with 'Deny log on' user rights through GPO, and deploy Windows LAPS for local administrator passwords.\n\n" +
				"Block SMB and RDP between workstations with the host firewall: workstations rarely need to talk to each other.",
			[]string{"T1550.002", "T1021.002", "T1021.001", "T1078.002"}},
		{"NOTE-0058", "Working with the customer during ransomware precursors",
			"When precursors (shadow copy deletion, mass service stops, rclone, EDR tampering) are seen, encryption may be minutes away. Agree these points on the first call:\n\n" +
				"- Who may authorise isolating servers, and whether whole network segments may be cut off.\n" +
				"- Where the offline or immutable backups are and who can confirm they are intact.\n" +
				"- Whether the customer's incident response retainer and cyber insurer must be notified, and by whom.\n" +
				"- That nothing is wiped or rebuilt before evidence is collected: insurers and regulators ask for it.\n\n" +
				"Write down every decision with the time and the name of the person who made it.",
			[]string{"T1490", "T1486", "T1489", "T1567.002"}},
		{"NOTE-0059", "Tuning noisy analytics without losing coverage",
			"False positives cost analyst time, but a broad exclusion can hide the next real attack. When closing a case as false positive:\n\n" +
				"- Exclude the narrowest stable attribute: a signed binary's hash or signer plus its full path, not a process name.\n" +
				"- Scope exclusions to the tenant and, where possible, the host group.\n" +
				"- Give every exclusion an owner and a review date (90 days by default).\n" +
				"- Track the analytic's conversion rate before and after tuning; if it drops below 1%, rethink the logic rather than adding exclusions.",
			nil},
		{"NOTE-0060", "Attack surface reduction rules for Office and scripts",
			"Microsoft Defender's attack surface reduction (ASR) rules block the techniques behind most commodity infections. Start in audit mode for two weeks, review the hits, then enforce.\n\n" +
				"- Block all Office applications from creating child processes.\n" +
				"- Block Office applications from creating executable content and from injecting into other processes.\n" +
				"- Block execution of potentially obfuscated scripts.\n" +
				"- Block JavaScript or VBScript from launching downloaded executable content.\n" +
				"- Block credential stealing from LSASS.\n\n" +
				"Pair ASR with the Office policy that blocks macros in files from the internet and with PowerShell script block logging.",
			[]string{"T1566.001", "T1204.002", "T1059.001", "T1059.005", "T1027.010"}},
		{"NOTE-0061", "Kubernetes RBAC and workload review",
			"Most Kubernetes incidents escalate through over-privileged service accounts or privileged pods. Review both after any incident in a cluster:\n\n" +
				"- List ClusterRoleBindings and RoleBindings that grant get, list or watch on secrets, and every binding to cluster-admin.\n" +
				"- Disable token automounting for workloads that never call the API server.\n" +
				"- Find pods with privileged, hostPID, hostNetwork, hostPath or added capabilities, and require an owner and a reason for each.\n" +
				"- Enforce Pod Security Admission 'restricted' where possible and 'baseline' everywhere else.\n" +
				"- Keep API server audit logging on at the Metadata level at least, RequestResponse for secrets.",
			[]string{"T1552.007", "T1609", "T1610", "T1611"}},
		{"NOTE-0062", "Mail flow rules and external forwarding",
			"Exchange Online offers three ways to forward mail externally: inbox rules, mailbox forwarding (ForwardingSmtpAddress) and transport rules. Attackers use the first two; administrators sometimes create the third.\n\n" +
				"- The outbound spam filter policy's automatic forwarding setting controls all of them; set it to Off and allow exceptions per mailbox.\n" +
				"- Get-InboxRule does not show hidden rules; use the audit log or MFCMAPI when a rule is suspected but not listed.\n" +
				"- Check mailbox delegates and SendAs permissions as well.",
			[]string{"T1114.003", "T1564.008", "T1098.002"}},
	}
}

// profileDef is a threat-actor profile.
type profileDef struct {
	id, title, body string
	techniques      []string
}

func profileDefs() []profileDef {
	return []profileDef{
		{"PROF-0001", "Identity-focused extortion crew",
			"A financially motivated group that goes after identities rather than endpoints. It buys or phishes credentials, defeats MFA through push fatigue and calls to the service desk, and registers its own MFA devices for persistence.\n\n" +
				"Once inside a cloud tenant it steals mail and files from SharePoint and OneDrive and extorts the victim without deploying ransomware. It favours residential proxies and VPS providers for sign-ins.\n\n" +
				"Detection opportunities: MFA denial bursts, new device registrations after risky sign-ins, bulk downloads by users who never download in bulk.",
			[]string{"T1078.004", "T1621", "T1566.002", "T1098.005", "T1114.003", "T1213.002", "T1567.002"}},
		{"PROF-0002", "Commodity loader operator distributing via Office documents",
			"Runs high-volume phishing campaigns with invoice and shipping lures. Attachments carry macros, or archives and disk images that contain shortcuts and scripts. The loader persists through scheduled tasks or Run keys and sells access to other groups.\n\n" +
				"Campaigns change lures weekly but keep the same execution chain: Office or a script host starts PowerShell, which downloads the next stage.",
			[]string{"T1566.001", "T1204.002", "T1059.005", "T1059.001", "T1105", "T1547.001", "T1053.005"}},
		{"PROF-0003", "Ransomware affiliate using Cobalt Strike",
			"Buys initial access from brokers and operates hands-on. Typical sequence: Cobalt Strike beacon through rundll32, LSASS dumping, pass-the-hash and PsExec to servers, data theft with rclone, shadow-copy deletion and encryption, usually within three to ten days.\n\n" +
				"Kills EDR with vulnerable drivers when available. Works at night and at weekends in the victim's time zone.",
			[]string{"T1218.011", "T1071.001", "T1003.001", "T1550.002", "T1021.002", "T1569.002", "T1567.002", "T1490", "T1486", "T1068"}},
		{"PROF-0004", "Cloud-native cryptojacking cluster",
			"Scans the internet for exposed cloud credentials, SSH with passwords, Docker APIs and vulnerable Kubernetes workloads. Deploys miners, adds SSH keys and cron jobs, and kills competing miners.\n\n" +
				"Launches GPU instances in unused regions when it obtains cloud keys. Rarely goes further, but the access is sometimes resold.",
			[]string{"T1552.001", "T1078.004", "T1496.001", "T1110.001", "T1053.003", "T1611", "T1098.004"}},
		{"PROF-0005", "Web application exploitation group",
			"Exploits newly published vulnerabilities in internet-facing applications (Exchange, file transfer servers, VPN appliances) within days of disclosure, often before patches are widely applied. Drops ASPX web shells and uses them for reconnaissance and credential theft.\n\n" +
				"Mass exploitation is followed by selective hands-on activity against valuable victims.",
			[]string{"T1190", "T1595.002", "T1505.003", "T1059.003", "T1033", "T1003.001"}},
		{"PROF-0006", "Business email compromise ring",
			"Phishes mailbox credentials with adversary-in-the-middle kits hosted on freshly registered look-alike domains, so that MFA is satisfied by the victim and the session cookie is replayed from the crew's own infrastructure.\n\n" +
				"It then hides in the mailbox with inbox rules (names of one or two characters, targets such as RSS Feeds) while watching invoice conversations, requests changes of bank details from suppliers and sends internal phishing from the compromised account to reach finance staff.\n\n" +
				"Detection opportunities: session identifiers used from two ASNs, inbox rules with external forwarding, and sign-ins through known AiTM proxy infrastructure.",
			[]string{"T1566.002", "T1557", "T1539", "T1114.003", "T1564.008", "T1534"}},
		{"PROF-0007", "Developer-targeting supply-chain actor",
			"Publishes typosquatted packages to public registries and takes over maintainers' accounts to push malicious versions of real ones.\n\n" +
				"Install scripts steal environment variables, cloud keys and tokens from developer machines and CI runners and send them to web hooks or paste services. Stolen GitHub tokens are used to clone private repositories in search of more secrets, which feed the next round.\n\n" +
				"Detection opportunities: package installs that spawn shells, outbound connections from CI runners to unknown hosts, and mass clones by tokens from new IPs.",
			[]string{"T1195.002", "T1059.007", "T1552.001", "T1213.003", "T1528"}},
		{"PROF-0008", "Hands-on intruder abusing remote access tools",
			"Gains access through VPN password guessing against accounts without MFA, or through help-desk social engineering by phone.\n\n" +
				"Installs commercial remote access software (AnyDesk, ScreenConnect) as a resilient channel that survives password resets, moves laterally with RDP using valid accounts and maps the network with scanners before handing access over to ransomware operators.\n\n" +
				"Detection opportunities: VPN logins from hosting providers, remote access tools outside the allow-list, and RDP chains that do not start at a jump host.",
			[]string{"T1133", "T1110.001", "T1219.002", "T1566.004", "T1021.001", "T1018", "T1046"}},
	}
}

// knowledge builds the global documents: analytics, then notes (the scenarios' playbooks and the
// hand-written notes, by ID), then profiles.
func (g *generator) knowledge() []hindsight.Document {
	defs := analyticDefs()
	extras := extraNotes()
	profiles := profileDefs()
	docs := make([]hindsight.Document, 0, len(defs)+len(g.scenarios)+len(extras)+len(profiles))
	for _, a := range defs {
		conv := a.conv
		docs = append(docs, hindsight.Document{
			Kind: hindsight.KindAnalytic, ID: a.id, Title: a.title, Severity: a.sev,
			Techniques: a.techniques, Description: a.desc, ConversionRate: &conv, Platform: a.platform,
		})
	}
	var notes []hindsight.Document
	for _, sc := range g.scenarios {
		notes = append(notes, g.playbook(sc))
	}
	for _, n := range extras {
		notes = append(notes, hindsight.Document{
			Kind: hindsight.KindNote, ID: n.id, Title: n.title, Body: n.body, Techniques: n.techniques,
		})
	}
	sort.Slice(notes, func(i, j int) bool { return notes[i].ID < notes[j].ID })
	docs = append(docs, notes...)
	for _, p := range profiles {
		docs = append(docs, hindsight.Document{
			Kind: hindsight.KindProfile, ID: p.id, Title: p.title, Body: p.body, Techniques: p.techniques,
		})
	}
	return docs
}

// playbook writes a scenario's playbook note from its description and the first wording of each
// of its steps, with placeholders read as generic phrases.
func (g *generator) playbook(sc *scenario) hindsight.Document {
	v := &vars{sc: sc, generic: true, rng: rand.New(rand.NewPCG(0, 0))}
	var b strings.Builder
	b.WriteString(sc.about)
	section := func(title string, steps []step) {
		b.WriteString("\n\n")
		b.WriteString(title)
		b.WriteString(":")
		for _, st := range steps {
			b.WriteString("\n- ")
			b.WriteString(finish(v.text(st.variants[0]), true))
		}
	}
	section("Containment and eradication", sc.remediation)
	section("Hunting", sc.hunting)
	section("Hardening", sc.hardening)
	b.WriteString("\n\nAnalytics: ")
	for i, id := range sc.analytics {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s (%s)", id, g.analytics[id].title)
	}
	b.WriteString(".")
	techniques := append(append([]string(nil), sc.core...), sc.extra...)
	return hindsight.Document{
		Kind: hindsight.KindNote, ID: sc.note, Title: "Playbook: " + upperFirst(sc.name),
		Body: b.String(), Techniques: techniques, Analytics: append([]string(nil), sc.analytics...),
		Platform: sc.platform, Tags: append([]string{"playbook"}, sc.tags...),
	}
}
