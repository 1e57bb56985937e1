package hindsight

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

// randomText draws strings with what records hold and what is hard to decode: HTML characters
// (escaped by json.Marshal), quotes, backslashes, control characters, line and paragraph
// separators, non-ASCII letters, characters beyond the BMP and invalid UTF-8.
func randomText(r *rand.Rand) string {
	pieces := []string{"Isolate ", "ACME-WS-0042", " -> ", "<host>", "&", "\"quoted\"", `C:\Windows\Temp`, "\n", "\t",
		"\x01", "\r", "\b", "\f", "\x00", "\u2028", "\u2029", "é", "日本", "😀", "\xff", "\xe2\x82", "/", "T1059.001", " ", "julia.tanaka", "\u007f"}
	var b strings.Builder
	for range r.IntN(12) {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	return b.String()
}

func randomDocument(r *rand.Rand) *Document {
	list := func() []string {
		switch r.IntN(4) {
		case 0:
			return nil
		case 1:
			return []string{}
		}
		var out []string
		for range 1 + r.IntN(4) {
			out = append(out, randomText(r))
		}
		return out
	}
	d := &Document{Kind: Kinds[r.IntN(len(Kinds))], ID: randomText(r), Tenant: randomText(r), Title: randomText(r),
		Severity: Severity(randomText(r)), Disposition: Disposition(randomText(r)), Techniques: list(), Analytics: list(),
		Summary: randomText(r), Events: list(), Remediation: randomText(r), Hunting: randomText(r), Hardening: randomText(r),
		Description: randomText(r), Body: randomText(r), Platform: randomText(r), Tags: list()}
	if r.IntN(2) == 0 {
		d.OccurredAt = time.Date(2020+r.IntN(6), time.Month(1+r.IntN(12)), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60), r.IntN(2)*r.IntN(1e9), time.UTC)
		if r.IntN(3) == 0 {
			d.OccurredAt = d.OccurredAt.In(time.FixedZone("", 3600*(r.IntN(25)-12)))
		}
	}
	if r.IntN(2) == 0 {
		v := []float64{0, 1, 0.25, 1e-9, 123456.789, -0.5}[r.IntN(6)]
		d.ConversionRate = &v
	}
	if r.IntN(8) == 0 {
		d.Metadata = map[string]json.RawMessage{"vendor": json.RawMessage(`{"name":"x","n":[1,2]}`)}
	}
	return d
}

// TestDecodeDocumentAgrees decodes random records with DecodeDocument and with json.Unmarshal and
// wants the same document, and the fast reader to take every record json.Marshal writes that
// holds no metadata and no invalid UTF-8.
func TestDecodeDocumentAgrees(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 1))
	fast := 0
	for i := range 5000 {
		d := randomDocument(r)
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			var indented bytes.Buffer
			json.Indent(&indented, b, " ", "\t")
			b = []byte(" \n" + indented.String() + "\r\n")
		}
		var want Document
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatal(err)
		}
		got, err := DecodeDocument(b)
		if err != nil {
			t.Fatalf("DecodeDocument(%s): %v", b, err)
		}
		if !reflect.DeepEqual(got, &want) {
			t.Fatalf("DecodeDocument(%s)\n got %#v\nwant %#v", b, got, &want)
		}
		var alone Document
		if decodeDocument(b, &alone) {
			fast++
		} else if d.Metadata == nil && !strings.Contains(string(b), `\ufffd`) {
			t.Errorf("the fast reader declined a record json.Marshal wrote: %s", b)
		}
	}
	if fast < 3000 {
		t.Errorf("the fast reader took %d of 5000 records, want most", fast)
	}
}

// TestDecodeDocumentDeclines checks inputs the fast reader must leave to encoding/json, and that
// DecodeDocument then gives encoding/json's answer, error or document.
func TestDecodeDocumentDeclines(t *testing.T) {
	for _, in := range []string{
		``, `null`, `[]`, `{`, `{"title":"a"`, `{"title":"a",}`, `{"title":"a"} x`, `{"title":"a"}{}`,
		`{"Title":"a"}`, `{"unknown":1,"title":"a"}`, `{"title":"a","title":"b"}`, `{"title":null}`,
		`{"techniques":null}`, `{"techniques":["a",]}`, `{"techniques":[1]}`, `{"title":"\ud83d\ude00"}`,
		`{"title":"\ud800"}`, `{"title":"\x"}`, `{"title":"\u12"}`, "{\"title\":\"a\x01\"}", "{\"title\":\"\xff\"}",
		`{"conversion_rate":01}`, `{"conversion_rate":1.}`, `{"conversion_rate":-}`, `{"conversion_rate":1e}`,
		`{"conversion_rate":"1"}`, `{"conversion_rate":1e999}`, `{"occurred_at":"yesterday"}`, `{"occurred_at":null}`,
		`{"metadata":{"a":1}}`, `{"title":"a"`, `{"ti\u0074le":"a"}`,
	} {
		var want Document
		wantErr := json.Unmarshal([]byte(in), &want)
		got, err := DecodeDocument([]byte(in))
		if (err != nil) != (wantErr != nil) {
			t.Errorf("DecodeDocument(%q): error %v, json.Unmarshal's %v", in, err, wantErr)
			continue
		}
		if err == nil && !reflect.DeepEqual(got, &want) {
			t.Errorf("DecodeDocument(%q) = %#v, json.Unmarshal gives %#v", in, got, &want)
		}
	}
}

// FuzzDecodeDocument holds DecodeDocument to json.Unmarshal on any input.
func FuzzDecodeDocument(f *testing.F) {
	r := rand.New(rand.NewPCG(11, 2))
	for range 20 {
		b, _ := json.Marshal(randomDocument(r))
		f.Add(b)
	}
	f.Add([]byte(`{"title":"a\u00e9\n","techniques":[],"conversion_rate":-1.5e-3,"occurred_at":"2024-01-02T03:04:05.5+01:00"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var want Document
		wantErr := json.Unmarshal(b, &want)
		got, err := DecodeDocument(b)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("DecodeDocument(%q): error %v, json.Unmarshal's %v", b, err, wantErr)
		}
		if err == nil && !reflect.DeepEqual(got, &want) {
			t.Fatalf("DecodeDocument(%q) = %#v, json.Unmarshal gives %#v", b, got, &want)
		}
	})
}

func BenchmarkDecodeDocument(b *testing.B) {
	rate := 0.4
	d := &Document{Kind: KindThreat, ID: "THR-2022-0501", Tenant: "acme", Title: "RDP lateral movement by julia.tanaka from ACME-WS-1660",
		OccurredAt: time.Date(2022, 7, 6, 10, 43, 0, 0, time.UTC), Severity: SeverityMedium, Disposition: DispositionBenignPositive,
		Techniques: []string{"T1021.001", "T1078.002", "T1018"}, Analytics: []string{"AN-0242"},
		Summary:        "An RDP session from ACME-WS-1660 to ACME-SRV-PRT05 with julia.tanaka's credentials was followed by RDP to 22 other servers; the user was on leave.",
		Events:         []string{"10:43 RDP logon (type 10) ACME-WS-1660 -> ACME-SRV-PRT05 as julia.tanaka", "10:50 RDP ACME-SRV-PRT05 -> ACME-SRV-ERP07", "10:58 AN-0242 fired; case THR-2022-0501 opened"},
		Remediation:    "- Disable julia.tanaka's account and reset its credentials.\n- Isolate ACME-WS-1660 and collect its RDP logs.\n- Review every server the session reached for new services, tasks and accounts.",
		Hunting:        "- Search for RDP logons by the account outside working hours over the last 30 days.",
		Hardening:      "- Require MFA for RDP to servers; restrict RDP to jump hosts.",
		ConversionRate: &rate, Tags: []string{"windows", "lateral-movement", "rdp"}}
	rec, err := json.Marshal(d)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("DecodeDocument", func(b *testing.B) {
		b.SetBytes(int64(len(rec)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DecodeDocument(rec); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json.Unmarshal", func(b *testing.B) {
		b.SetBytes(int64(len(rec)))
		b.ReportAllocs()
		for b.Loop() {
			var d Document
			if err := json.Unmarshal(rec, &d); err != nil {
				b.Fatal(err)
			}
		}
	})
}
