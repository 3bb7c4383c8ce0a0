package totp

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestMatchWindowAndReplay(t *testing.T) {
	e, err := New("caddyauth", "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(e.URL)
	if err != nil || u.Scheme != "otpauth" || u.Query().Get("secret") != e.Secret || len(e.QRPNG) < 100 || string(e.QRPNG[1:4]) != "PNG" {
		t.Fatalf("enrolment = %q, png %d bytes", e.URL, len(e.QRPNG))
	}
	now := time.Unix(1_800_000_015, 0) // mid-step
	cur := Step(now)
	code := func(step int64) string {
		c, err := Code(e.Secret, time.Unix(step*Period, 0))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, tc := range []struct {
		name     string
		code     string
		last     int64
		wantStep int64
		ok       bool
	}{
		{"current", code(cur), 0, cur, true},
		{"one step behind (drift)", code(cur - 1), 0, cur - 1, true},
		{"one step ahead (drift)", code(cur + 1), 0, cur + 1, true},
		{"two steps behind", code(cur - 2), 0, 0, false},
		{"two steps ahead", code(cur + 2), 0, 0, false},
		{"replay of the current step", code(cur), cur, 0, false},
		{"older step after a newer was used", code(cur - 1), cur, 0, false},
		{"newer step after an older was used", code(cur + 1), cur, cur + 1, true},
		{"wrong code", "000000", 0, 0, false},
		{"too short", code(cur)[:5], 0, 0, false},
		{"letters", "12a456", 0, 0, false},
		{"spaces trimmed", " " + code(cur) + " ", 0, cur, true},
		{"empty", "", 0, 0, false},
	} {
		if tc.name == "wrong code" && code(cur) == "000000" {
			continue
		}
		step, ok := Match(e.Secret, tc.code, now, tc.last)
		if ok != tc.ok || step != tc.wantStep {
			t.Errorf("%s: Match = %d, %v; want %d, %v", tc.name, step, ok, tc.wantStep, tc.ok)
		}
	}
}

func TestRecoveryCodes(t *testing.T) {
	seen := map[string]bool{}
	for range 20 {
		codes := NewRecoveryCodes()
		if len(codes) != RecoveryCount {
			t.Fatalf("%d codes", len(codes))
		}
		for _, c := range codes {
			if len(c) != 19 || c[4] != '-' || c[9] != '-' || c[14] != '-' || len(NormalizeRecovery(c)) != RecoveryLength || strings.ContainsAny(c, "01ilo") {
				t.Errorf("bad code shape %q", c)
			}
			if seen[c] {
				t.Errorf("duplicate code %q", c)
			}
			seen[c] = true
		}
	}
	if NormalizeRecovery(" ABCDE-fghjk ") != "abcdefghjk" || NormalizeRecovery("abcde fghjk") != "abcdefghjk" {
		t.Error("normalisation")
	}
}

func FuzzMatch(f *testing.F) {
	f.Add("123456", int64(0))
	f.Add("", int64(-1))
	f.Add("１２３４５６", int64(5))
	secret := "JBSWY3DPEHPK3PXP"
	now := time.Unix(1_800_000_000, 0)
	f.Fuzz(func(t *testing.T, code string, last int64) {
		step, ok := Match(secret, code, now, last)
		if ok && (step <= last || step < Step(now)-Skew || step > Step(now)+Skew) {
			t.Fatalf("accepted step %d outside window or at/below last %d", step, last)
		}
	})
}
