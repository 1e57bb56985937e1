package retrieval

import (
	"context"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTokenize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"Seen: T1059.001 and t1078.", []string{"seen", "t1059.001", "t1059", "t1078"}},
		{"sign-in from 203.0.113.7 (new ASN)", []string{"sign-in", "sign", "203.0.113.7", "new", "asn"}},
		{`C:\Windows\System32\rundll32.exe spawned`, []string{`c:\windows\system32\rundll32.exe`, "rundll32.exe", "rundll32", "spawn"}},
		{"powershell.exe -nop -enc SQBFAFgA", []string{"powershell.exe", "powershell", "-nop", "-enc", "sqbfafga"}},
		{"cmd.exe /c whoami", []string{"cmd.exe", "cmd", "/c", "whoami"}},
		{"rclone copy --transfers 8", []string{"rclon", "copy", "--transfers", "8"}},
		{"hash e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855.", []string{"hash", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}},
		{"mail jesse.brown@example.com about evil.example.net", []string{"mail", "jesse.brown@example.com", "example.com", "evil.example.net"}},
		{"NSG rule 'allow-any-3389' added", []string{"nsg", "rule", "allow-any-3389", "allow", "3389", "added"}},
		{"Revoke, revoked, revoking sessions", []string{"revok", "revok", "revok", "session"}},
		{"resetting passwords; processes", []string{"reset", "password", "process"}},
		{"hxxp://203.0.113.9:8080/payload.ps1", []string{"hxxp://203.0.113.9:8080/payload.ps1", "203.0.113.9"}},
		{"/usr/bin/curl -fsSL", []string{"/usr/bin/curl", "curl", "-fssl"}},
		{"e.g. the of and", nil},
		{"Ünïcode Wörter", []string{"ünïcod", "wörter"}},
	} {
		got := Tokenize(tc.in)
		if len(tc.want) == 0 && len(got) == 0 {
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("Tokenize(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
}

func TestTokenizeTermChars(t *testing.T) {
	for _, term := range Tokenize(`a "quoted" (thing) [x] {y} <z> | w = 1, 2; it's ok! really? *glob* a&b ^c #d +e`) {
		for _, r := range term {
			if !isTermChar(r) {
				t.Errorf("term %q contains %q, which is not a term character", term, r)
			}
		}
	}
}

func TestBuiltinEmbedder(t *testing.T) {
	ctx := context.Background()
	b := Builtin{}
	if s := b.Space(); s.Name != "builtin" || s.Dim != BuiltinDim || s.Version == "" {
		t.Fatalf("Space() = %+v", s)
	}
	vs, err := b.Embed(ctx, []string{
		"Revoke all sessions for jesse.brown and reset the password",
		"Reset the password of jesse.brown and revoke every session",
		"Block outbound DNS tunneling to attacker-controlled domains",
		"",
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vs[:3] {
		if len(v) != BuiltinDim {
			t.Fatalf("vector %d has %d values", i, len(v))
		}
		if n := Dot(v, v); math.Abs(float64(n)-1) > 1e-5 {
			t.Errorf("vector %d has squared norm %v, want 1", i, n)
		}
	}
	if n := Dot(vs[3], vs[3]); n != 0 {
		t.Errorf("empty text: squared norm %v, want 0", n)
	}
	same, other := Dot(vs[0], vs[1]), Dot(vs[0], vs[2])
	if same <= other+0.2 {
		t.Errorf("paraphrase similarity %.3f not clearly above unrelated %.3f", same, other)
	}
	// Bit for bit the same every time, whatever order Go's maps iterate in.
	for range 20 {
		again, _ := b.Embed(ctx, []string{"Revoke all sessions for jesse.brown and reset the password"})
		for i := range again[0] {
			if math.Float32bits(again[0][i]) != math.Float32bits(vs[0][i]) {
				t.Fatalf("not deterministic at %d: %v vs %v", i, again[0][i], vs[0][i])
			}
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := b.Embed(cctx, []string{"x"}); err == nil {
		t.Error("Embed with a cancelled context returned no error")
	}
}

func BenchmarkBuiltinEmbed(b *testing.B) {
	text := "User jesse.brown signed in from an atypical IP 203.0.113.7, made NSG rules permissive and invited external guests. " +
		"Revoke all sessions for jesse.brown and reset the password; revert the NSG rule allow-any-3389; review C:\\Windows\\Temp\\a.ps1."
	e := Builtin{}
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if _, err := e.Embed(context.Background(), []string{text}); err != nil {
			b.Fatal(err)
		}
	}
}
