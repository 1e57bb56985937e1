package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// run runs the program in-process and returns its exit status, standard output and standard error.
func run(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const records = `{"kind":"threat","id":"THR-1","tenant":"acme","title":"LSASS dump with procdump.exe","techniques":["T1003.001"],"summary":"procdump.exe -ma lsass.exe on WS-1 by svc_backup","remediation":"- Isolate the host\n- Reset the password of every account that logged on to the host"}
{"kind":"note","id":"NOTE-1","title":"Credential dumping response","body":"- Reset the password of every account that logged on to the host\n- Enable LSA protection","techniques":["T1003"]}
{"kind":"threat","id":"THR-2","tenant":"globex","title":"LSASS dump at globex","techniques":["T1003.001"],"summary":"procdump.exe -ma lsass.exe on GX-9","remediation":"- Call the globex hotline"}
`

func TestIngestExitStatusAndIdempotence(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "h.db")
	file := write(t, dir, "in.jsonl", records+"{broken\n"+`{"kind":"threat","id":"THR-3","title":"no tenant"}`+"\n")
	code, out, errs := run(t, "", "ingest", "--db", db, file)
	if code != exitPartial {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitPartial, errs)
	}
	for _, want := range []string{file + ":4: invalid JSON", file + ":5: tenant: is required"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	if !strings.Contains(out, "inserted 3") {
		t.Errorf("stdout = %q", out)
	}
	code, out, _ = run(t, "", "ingest", "--db", db, "--json", file)
	var res struct {
		RunID                                       string `json:"run_id"`
		Read, Inserted, Updated, Unchanged, Deleted int
		Rejected                                    []struct {
			File, Field, Error string
			Line               int
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("--json output %q: %v", out, err)
	}
	if code != exitPartial || res.RunID == "" || res.Read != 5 || res.Unchanged != 3 || res.Inserted+res.Updated != 0 || len(res.Rejected) != 2 {
		t.Errorf("second run: exit %d, %+v; want nothing changed", code, res)
	}
	if r := res.Rejected[1]; r.File != file || r.Line != 5 || r.Field != "tenant" {
		t.Errorf("rejection = %+v", r)
	}
	good := write(t, dir, "good.jsonl", records)
	if code, _, errs := run(t, "", "ingest", "--db", db, good); code != exitOK {
		t.Errorf("clean file: exit %d, %s", code, errs)
	}
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "h.db")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"ingest", "--db", db, "--reviews=false"}, "give at least one PATH"},
		{[]string{"ingest", "--db", db, "--format", "csv", dir}, "--format"},
		{[]string{"search", "--db", db, "x"}, "--tenant is required"},
		{[]string{"search", "--db", db, "--tenant", "a", "--k", "0", "x"}, "--k"},
		{[]string{"search", "--db", db, "--tenant", "a", "--technique", "T1", "x"}, "--technique"},
		{[]string{"search", "--db", db, "--tenant", "a", "--kind", "gadget", "x"}, "--kind"},
		{[]string{"draft", "--db", db, "--tenant", "a", "--kind", "poem", "-"}, "--kind"},
		{[]string{"keys", "create", "--db", db, "--tenant", "a", "--role", "root"}, "--role"},
		{[]string{"search", "--db", "mysql://x", "--tenant", "a", "x"}, "--db"},
		{[]string{"search", "--embedder", "magic", "--tenant", "a", "x"}, "--embedder"},
		{[]string{"search", "--nope"}, "unknown flag: --nope"},
		{[]string{"gen", "--threats", "0", "--out", dir}, "threats"},
		{[]string{"search", "--db", db, "--tenant", "a", "--min-severity", "severe", "x"}, "--min-severity"},
		{[]string{"search", "--db", db, "--tenant", "a", "--section", "guidance", "x"}, "--section"},
		{[]string{"search", "--db", db, "--tenant", "a", "--since", "yesterday", "x"}, "--since"},
		{[]string{"search", "--db", db, "--tenant", "a", "--weights", "vector=-1", "x"}, "--weights"},
	} {
		code, _, errs := run(t, "", tc.args...)
		if code != exitUsage || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, errs, exitUsage, tc.want)
		}
	}
}

func TestKeysSearchDraft(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "h.db")
	if code, _, errs := run(t, "", "ingest", "--db", db, write(t, dir, "in.jsonl", records)); code != 0 {
		t.Fatal(errs)
	}
	code, out, _ := run(t, "", "keys", "create", "--db", db, "--tenant", "acme", "--role", "reviewer")
	if code != 0 || !strings.HasPrefix(out, "hsk_") || strings.Count(out, "\n") != 1 {
		t.Errorf("keys create: exit %d, stdout %q; want the key alone", code, out)
	}
	code, out, _ = run(t, "", "search", "--db", db, "--tenant", "acme", "--json", "--technique", "t1003.001", "procdump lsass")
	var res struct{ Hits []struct{ ID, Tenant string } }
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 0 || len(res.Hits) != 2 {
		t.Fatalf("search: exit %d, %q, %v", code, out, err)
	}
	for _, h := range res.Hits {
		if h.Tenant == "globex" {
			t.Errorf("search for acme returned globex's %s", h.ID)
		}
	}
	// The records have no severity or time: a severity or time filter keeps none of them.
	// The text output ranks each signal and shows the prior without a rank.
	code, out, _ = run(t, "", "search", "--db", db, "--tenant", "acme", "--technique", "t1003.001", "procdump lsass")
	if code != 0 || !strings.Contains(out, "text ") || !strings.Contains(out, "(#1)") || strings.Contains(out, "(#0)") || !regexp.MustCompile(`prior [0-9.]+[,;\n]`).MatchString(out) {
		t.Errorf("search text output:\n%s", out)
	}
	// "Reset the password of every account" is THR-1's remediation and NOTE-1's body.
	code, out, _ = run(t, "", "search", "--db", db, "--tenant", "acme", "--json", "--section", "remediation", "reset the password of every account")
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 0 || len(res.Hits) != 1 || res.Hits[0].ID != "THR-1" {
		t.Errorf("search --section remediation: exit %d, %q; want THR-1 alone", code, out)
	}
	for _, filter := range [][]string{{"--min-severity", "low"}, {"--since", "2020-01-01"}} {
		code, out, _ = run(t, "", append([]string{"search", "--db", db, "--tenant", "acme", "--json"}, append(filter, "procdump lsass")...)...)
		if err := json.Unmarshal([]byte(out), &res); err != nil || code != 0 || len(res.Hits) != 0 {
			t.Errorf("search %v: exit %d, %d hits, want none", filter, code, len(res.Hits))
		}
	}
	code, out, errs := run(t, `{"title":"procdump.exe against lsass.exe","techniques":["T1003.001"]}`, "draft", "--db", db, "--tenant", "acme", "--kind", "remediation", "--json", "-")
	var d struct {
		ID              string
		Recommendations []struct {
			Text      string
			Citations []string
		}
	}
	if err := json.Unmarshal([]byte(out), &d); err != nil || code != 0 {
		t.Fatalf("draft: exit %d, %q, %s", code, out, errs)
	}
	if len(d.Recommendations) == 0 || d.Recommendations[0].Text != "Reset the password of every account that logged on to the host" ||
		strings.Join(d.Recommendations[0].Citations, ",") != "THR-1,NOTE-1" {
		t.Errorf("draft recommendations = %+v", d.Recommendations)
	}
	if strings.Contains(out, "globex") {
		t.Errorf("acme's draft mentions globex: %s", out)
	}
	code, _, errs = run(t, `{"title": 5}`, "draft", "--db", db, "--tenant", "acme", "--kind", "hunting", "-")
	if code != exitFailed || !strings.Contains(errs, "-.title") {
		t.Errorf("bad threat: exit %d, %s", code, errs)
	}
}

func TestServe(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, filepath.Join(dir, "h.db"), serveOnly)
	addr := srv.addr
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, _ = http.Post("http://"+addr+"/v1/search", "application/json", strings.NewReader(`{"text":"x"}`))
	if resp.StatusCode != 401 {
		t.Errorf("search without key = %d", resp.StatusCode)
	}
	resp.Body.Close()
	srv.stop(t)
}

func TestGenIsDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	for _, dir := range []string{a, b} {
		if code, _, errs := run(t, "", "gen", "--threats", "30", "--seed", "7", "--out", dir); code != 0 {
			t.Fatal(errs)
		}
	}
	for _, f := range []string{"threats.jsonl", "knowledge.jsonl", "pairs.jsonl", "judgments.jsonl"} {
		x, err1 := os.ReadFile(filepath.Join(a, f))
		y, err2 := os.ReadFile(filepath.Join(b, f))
		if err1 != nil || err2 != nil || !bytes.Equal(x, y) || len(x) == 0 {
			t.Errorf("%s differs between two runs with the same seed (%v, %v)", f, err1, err2)
		}
	}
	// What gen writes, ingest takes whole.
	db := "sqlite:" + filepath.Join(a, "h.db")
	if code, out, errs := run(t, "", "ingest", "--db", db, filepath.Join(a, "threats.jsonl"), filepath.Join(a, "knowledge.jsonl")); code != 0 {
		t.Errorf("ingest of generated corpus: exit %d\n%s\n%s", code, out, errs)
	}
}

func TestEvalScore(t *testing.T) {
	dir := t.TempDir()
	hyp := write(t, dir, "hyp.txt", "Reset the password of svc_sql now\nIsolate the host\n")
	ref1 := write(t, dir, "ref1.txt", "Reset the password of svc_sql\nIsolate the host\n")
	ref2 := write(t, dir, "ref2.txt", "Reset the password of svc_sql now\nIsolate the affected host\n")
	short := write(t, dir, "short.txt", "only one line\n")
	for _, metric := range []string{"ter", "chrf", "chrf++", "bleu", "rouge-l"} {
		code, out, errs := run(t, "", "eval", "score", "--metric", metric, "--hyp", hyp, "--ref", hyp, "--json")
		var res struct {
			Metric string
			Score  float64
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil || code != 0 || res.Metric != metric {
			t.Fatalf("%s: exit %d %q %s", metric, code, out, errs)
		}
		want := 100.0
		if metric == "ter" {
			want = 0
		}
		if math.Abs(res.Score-want) > 1e-9 {
			t.Errorf("%s of a text against itself = %v, want %v", metric, res.Score, want)
		}
	}
	// Two reference files: the first line matches the second reference exactly.
	_, one, _ := run(t, "", "eval", "score", "--metric", "ter", "--hyp", hyp, "--ref", ref1)
	_, two, _ := run(t, "", "eval", "score", "--metric", "ter", "--hyp", hyp, "--ref", ref1, "--ref", ref2)
	if one == two || !strings.HasPrefix(two, "ter = ") {
		t.Errorf("a second reference changed nothing: %q vs %q", one, two)
	}
	if code, _, errs := run(t, "", "eval", "score", "--metric", "bleu", "--hyp", hyp, "--ref", short); code != exitUsage || !strings.Contains(errs, "lines") {
		t.Errorf("misaligned files: exit %d, %s", code, errs)
	}
	if code, _, errs := run(t, "", "eval", "score", "--metric", "meteor", "--hyp", hyp, "--ref", ref1); code != exitUsage || !strings.Contains(errs, "meteor") {
		t.Errorf("unknown metric: exit %d, %s", code, errs)
	}
}
