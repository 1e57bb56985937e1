package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hindsightsec/hindsight"
	"github.com/hindsightsec/hindsight/ingest"
	"github.com/hindsightsec/hindsight/store/sqlite"
)

// TestServeScheduledIngest runs the server with an ingest every second, checks that runs happen
// and that uploads reach the same store, and that stopping the server stops the schedule.
func TestServeScheduledIngest(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "h.db")
	file := write(t, dir, "in.jsonl", records)
	code, out, errs := run(t, "", "keys", "create", "--db", "sqlite:"+path, "--tenant", "acme", "--role", "admin")
	if code != 0 {
		t.Fatalf("keys create: %s %s", out, errs)
	}
	key := strings.TrimSpace(out)
	srv := startServer(t, path, func(m *Main, ctx context.Context, ready func(string)) error {
		return m.serveWith(ctx, ready, nightly{schedule: "@every 1s", paths: []string{file}, prune: true}, 0)
	})
	addr := srv.addr

	store, err := sqlite.Open(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		runs, _ := store.FindRuns(context.Background(), -1)
		if len(runs) >= 2 && runs[len(runs)-1].Status == hindsight.RunSucceeded {
			if runs[len(runs)-1].Inserted != 3 {
				t.Errorf("first scheduled run = %+v", runs[len(runs)-1])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("scheduled runs after 15s: %+v", runs)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The server ingests uploads into the same store.
	req, _ := http.NewRequest("POST", "http://"+addr+"/v1/ingest?name=t", strings.NewReader(`{"kind":"threat","id":"THR-UP","title":"Uploaded case"}`))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/x-ndjson")
	var resp *http.Response
	for {
		// A scheduled run may hold the writer lock: the upload is refused until it is done.
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusConflict || time.Now().After(deadline) {
			break
		}
		resp.Body.Close()
		time.Sleep(100 * time.Millisecond)
		req.Body = io.NopCloser(strings.NewReader(`{"kind":"threat","id":"THR-UP","title":"Uploaded case"}`))
	}
	var up hindsight.Run
	json.NewDecoder(resp.Body).Decode(&up)
	resp.Body.Close()
	if resp.StatusCode != 201 || up.Inserted != 1 || up.Tenant != "acme" {
		t.Errorf("upload: %d %+v", resp.StatusCode, up)
	}

	srv.stop(t)
	runs, _ := store.FindRuns(context.Background(), -1)
	for _, r := range runs {
		if r.Status == hindsight.RunRunning {
			t.Errorf("run %s left running after the server stopped", r.ID)
		}
	}
}

func TestServeUsage(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "h.db")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--db", db, "--ingest-schedule", "0 2 * * *"}, "--ingest-path"},
		{[]string{"serve", "--db", db, "--ingest-path", dir}, "--ingest-schedule"},
		{[]string{"serve", "--db", db, "--ingest-prune"}, "--ingest-prune"},
		{[]string{"serve", "--db", db, "--ingest-schedule", "at two", "--ingest-path", dir}, "--ingest-schedule"},
		{[]string{"serve", "--db", db, "--ingest-max-body", "lots"}, "--ingest-max-body"},
	} {
		code, _, errs := run(t, "", tc.args...)
		if code != exitUsage || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, %s; want %d naming %s", tc.args, code, errs, exitUsage, tc.want)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"512": 512, "64MiB": 64 << 20, "64mb": 64 << 20, "1GiB": 1 << 30, " 8 KiB ": 8 << 10} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1", "MiB", "1.5GiB", "9999999999GiB"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) took it", in)
		}
	}
}

// TestServeSyncsReviews checks that a review stored through the server's API becomes searchable
// grounding without another command, and that the server stops cleanly afterwards.
func TestServeSyncsReviews(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "h.db")
	if code, _, errs := run(t, "", "ingest", "--db", "sqlite:"+path, write(t, dir, "in.jsonl", records)); code != 0 {
		t.Fatal(errs)
	}
	code, out, errs := run(t, "", "keys", "create", "--db", "sqlite:"+path, "--tenant", "acme", "--role", "reviewer")
	if code != 0 {
		t.Fatalf("keys create: %s %s", out, errs)
	}
	key := strings.TrimSpace(out)
	srv := startServer(t, path, serveOnly)
	addr := srv.addr
	post := func(path, body string, out any) int {
		t.Helper()
		req, _ := http.NewRequest("POST", "http://"+addr+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		json.NewDecoder(resp.Body).Decode(out)
		return resp.StatusCode
	}
	var d hindsight.Draft
	if code := post("/v1/drafts", `{"kind":"remediation","threat":{"title":"procdump against lsass","summary":"procdump.exe -ma lsass.exe on WS-4","techniques":["T1003.001"]}}`, &d); code != 201 {
		t.Fatalf("draft = %d", code)
	}
	var rev hindsight.Review
	if code := post("/v1/drafts/"+d.ID+"/reviews", `{"final":"- Enable Credential Guard on WS-4","ratings":{"accuracy":3,"clarity":4,"completeness":3}}`, &rev); code != 201 {
		t.Fatalf("review = %d", code)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var res struct{ Hits []hindsight.Hit }
		if code := post("/v1/search", `{"text":"credential guard"}`, &res); code != 200 {
			t.Fatalf("search = %d", code)
		}
		if len(res.Hits) > 0 && res.Hits[0].ID == "REVIEWED-"+d.ID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the reviewed final is not searchable 20s after the review: %+v", res.Hits)
		}
		time.Sleep(50 * time.Millisecond)
	}
	srv.stop(t)
	store, err := sqlite.Open(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	runs, _ := store.FindRuns(context.Background(), -1)
	if len(runs) < 2 || runs[0].Tenant != "acme" || strings.Join(runs[0].Paths, " ") != ingest.ReviewsSource {
		t.Errorf("runs = %+v; want the review sync's run, acme's, last", runs)
	}
	for _, r := range runs {
		if r.Status == hindsight.RunRunning {
			t.Errorf("run %s left running after the server stopped", r.ID)
		}
	}
}

// testServer is `hindsight serve` running in the test's process on an embedded store.
type testServer struct {
	addr   string
	cancel context.CancelFunc
	done   chan error
}

// startServer sets up the command's services on the store at path and starts serve, which the
// caller supplies (serve or serveWith a schedule); it fails the test if the server does not start.
func startServer(t *testing.T, path string, serve func(m *Main, ctx context.Context, ready func(string)) error) *testServer {
	t.Helper()
	m := &Main{Stdout: io.Discard, Stderr: io.Discard}
	m.Config = Config{DB: "sqlite:" + path, Embedder: "builtin", LLM: "extractive", Addr: "127.0.0.1:0", LogLevel: "error"}
	if err := m.setup(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	s := &testServer{cancel: cancel, done: make(chan error, 1)}
	t.Cleanup(cancel)
	addrc := make(chan string, 1)
	go func() { s.done <- serve(m, ctx, func(a string) { addrc <- a }) }()
	select {
	case s.addr = <-addrc:
	case err := <-s.done:
		t.Fatal(err)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not start")
	}
	return s
}

// stop shuts the server down and fails the test unless serve returns nil within 15 s.
func (s *testServer) stop(t *testing.T) {
	t.Helper()
	s.cancel()
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("serve returned %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the server did not stop")
	}
}

// serveOnly runs serve without a schedule.
func serveOnly(m *Main, ctx context.Context, ready func(string)) error { return m.serve(ctx, ready) }
