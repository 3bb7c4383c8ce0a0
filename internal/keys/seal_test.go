package keys

import (
	"bytes"
	"errors"
	"testing"
)

func TestSealOpen(t *testing.T) {
	old, _ := NewRing(testSecret("a"), "")
	rotated, _ := NewRing(testSecret("b"), testSecret("a"))
	other, _ := NewRing(testSecret("c"), "")

	s := old.Seal("totp", []byte("JBSWY3DPEHPK3PXP"), []byte("user-1"))
	if bytes.Contains(s, []byte("JBSWY3DPEHPK3PXP")) {
		t.Fatal("plaintext visible in sealed value")
	}
	if pt, err := old.Open("totp", s, []byte("user-1")); err != nil || string(pt) != "JBSWY3DPEHPK3PXP" {
		t.Fatalf("open = %q, %v", pt, err)
	}
	if pt, err := rotated.Open("totp", s, []byte("user-1")); err != nil || string(pt) != "JBSWY3DPEHPK3PXP" {
		t.Errorf("after rotation: %q, %v", pt, err)
	}
	for name, c := range map[string]struct {
		r       *Ring
		purpose string
		ad      string
		val     []byte
	}{
		"other secret":  {other, "totp", "user-1", s},
		"other purpose": {old, "outbox", "user-1", s},
		"other user":    {old, "totp", "user-2", s},
		"tampered":      {old, "totp", "user-1", append(append([]byte{}, s[:len(s)-1]...), s[len(s)-1]^1)},
		"short":         {old, "totp", "user-1", s[:5]},
	} {
		if _, err := c.r.Open(c.purpose, c.val, []byte(c.ad)); !errors.Is(err, ErrUnseal) {
			t.Errorf("%s: err = %v, want ErrUnseal", name, err)
		}
	}
	if bytes.Equal(old.Seal("totp", []byte("x"), nil), old.Seal("totp", []byte("x"), nil)) {
		t.Error("two seals of one value are equal: nonce reused")
	}
}

// TestMACsAfterRotation: a code stored under the old secret is still found
// while previous_secret is set.
func TestMACsAfterRotation(t *testing.T) {
	old, _ := NewRing(testSecret("a"), "")
	rotated, _ := NewRing(testSecret("b"), testSecret("a"))
	stored := old.MAC("recovery", "u1", "code")
	got := rotated.MACs("recovery", "u1", "code")
	if len(got) != 2 || got[0] != rotated.MAC("recovery", "u1", "code") || got[1] != stored {
		t.Errorf("MACs after rotation = %v; want [current, %s]", got, stored)
	}
	if n := len(old.MACs("recovery", "u1", "code")); n != 1 {
		t.Errorf("without a previous secret: %d MACs", n)
	}
}

func TestMAC(t *testing.T) {
	a, _ := NewRing(testSecret("a"), "")
	b, _ := NewRing(testSecret("b"), "")
	if a.MAC("recovery", "u1", "code") != a.MAC("recovery", "u1", "code") { //nolint:staticcheck // SA4000: two calls, checking determinism
		t.Error("MAC not deterministic")
	}
	if a.MAC("recovery", "u1", "code") == b.MAC("recovery", "u1", "code") ||
		a.MAC("recovery", "u1", "code") == a.MAC("mfa-code", "u1", "code") ||
		a.MAC("recovery", "u1c", "ode") == a.MAC("recovery", "u1", "code") {
		t.Error("MAC collides across secret, purpose or part boundaries")
	}
}

// testSecret is a valid 40-character secret that differs by seed.
func testSecret(seed string) string {
	return seed + "Q7v!mZ2#rT9pL4xW8kN1sD6fH3jB5cY0eGu&"
}
