package keys

import (
	"bytes"
	"strings"
	"testing"
)

const (
	s1 = "aZWvfu3FphMY0K5UmMrLNf7wo59gAMFMtrCn2Mwn"
	s2 = "KkRIOFeAsBhXAjFyF_y9XJ5x-USkb4VaPtydAJ2a"
)

func TestCheckSecret(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"", false},
		{"short", false},
		{strings.Repeat("a", 64), false},
		{s1[:31], false},
		{s1[:32], true},
		{NewToken(), true},
	} {
		if err := CheckSecret(tc.in); (err == nil) != tc.ok {
			t.Errorf("CheckSecret(%q) = %v, want ok=%v", tc.in, err, tc.ok)
		}
	}
}

func TestDerivationSeparatesPurposes(t *testing.T) {
	r, err := NewRing(s1, s2)
	if err != nil {
		t.Fatal(err)
	}
	a, b := r.Key("session"), r.Key("totp")
	if bytes.Equal(a, b) || len(a) != 32 {
		t.Fatal("purposes share a key")
	}
	if !bytes.Equal(a, r.Key("session")) {
		t.Fatal("derivation not deterministic")
	}
	vk := r.VerifyKeys("session")
	if len(vk) != 2 || !bytes.Equal(vk[0], a) || bytes.Equal(vk[1], a) {
		t.Fatal("verify keys: want current then previous")
	}
	r2, _ := NewRing(s2, "")
	if !bytes.Equal(vk[1], r2.Key("session")) {
		t.Fatal("previous secret key differs from the same secret used as current")
	}
	if r.KeyID("jwt") == r2.KeyID("jwt") {
		t.Fatal("key ids collide across secrets")
	}
}

func TestRingRejectsWeakPrevious(t *testing.T) {
	if _, err := NewRing(s1, "short"); err == nil {
		t.Fatal("weak previous secret accepted")
	}
}

func TestTokens(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		tok := NewToken()
		if len(tok) != 43 || seen[tok] {
			t.Fatalf("bad or repeated token %q", tok)
		}
		seen[tok] = true
	}
	h := HashToken("abc")
	if h != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatalf("HashToken is not hex sha256: %s", h)
	}
	if len(NewID()) != 32 {
		t.Fatal("id length")
	}
}
