package keys

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
)

// TestCheckSecretRefusesPatterns: secrets of the required length that a
// person made up (repeats, sequences, keyboard rows, few distinct
// characters) are refused, and the error never contains the secret.
func TestCheckSecretRefusesPatterns(t *testing.T) {
	for _, s := range []string{
		strings.Repeat("abcdefgh", 4),
		strings.Repeat("abcdefgh", 8),
		"0123456789abcdefghijklmnopqrstuvwxyz",
		"0123456789abcdef0123456789abcdef",
		"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
		"zyxwvutsrqponmlkjihgfedcba9876543210",
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
		"acegikmoqsuwy02468BDFHJLNPRTVXZ",
		"qwertyuiopasdfghjklzxcvbnm1234567890",
		"passwordpasswordpasswordpassword",
		"Summer2026!Summer2026!Summer2026!",
		"correcthorsecorrecthorsecorrecthorse",
		"my-secret-key-my-secret-key-my-secret-key",
		"changemechangemechangemechangeme",
		"11112222333344445555666677778888",
		strings.Repeat("ab", 20),
		strings.Repeat("a", 64),
		"aaaaaaaabbbbbbbbccccccccdddddddd",
		"1234567812345678123456781234567812345678",
		"deadbeefdeadbeefdeadbeefdeadbeef",
		// Found by attacking the estimate: interleaved sequences, and
		// patterns hidden behind an encoding.
		"a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6",
		"aAbBcCdDeEfFgGhHiIjJkKlLmMnNoOpP",
		base64.StdEncoding.EncodeToString([]byte(strings.Repeat("abcdefgh", 4))),
		base64.RawURLEncoding.EncodeToString([]byte("0123456789abcdefghijklmnopqrstuvwxyz")),
		hex.EncodeToString(make([]byte, 32)),
	} {
		err := CheckSecret(s)
		if err == nil {
			t.Errorf("%q accepted (estimate %.0f bits)", s, EstimateBits(s))
			continue
		}
		if strings.Contains(err.Error(), s[:8]) {
			t.Errorf("the error echoes the secret: %v", err)
		}
	}
}

// TestCheckSecretAcceptsRandom: what `caddy auth secret generate` prints,
// and 32 or more random bytes as hex, base64 (padded or not) or raw, always
// pass, with a wide margin over MinSecretBits.
func TestCheckSecretAcceptsRandom(t *testing.T) {
	random := func(n int) []byte {
		b := make([]byte, n)
		_, _ = rand.Read(b)
		return b
	}
	for _, tc := range []struct {
		name string
		gen  func() string
	}{
		{"secret generate", NewToken},
		{"hex 32 bytes", func() string { return hex.EncodeToString(random(32)) }},
		{"HEX 32 bytes", func() string { return strings.ToUpper(hex.EncodeToString(random(32))) }},
		{"hex 48 bytes", func() string { return hex.EncodeToString(random(48)) }},
		{"base64 32 bytes", func() string { return base64.StdEncoding.EncodeToString(random(32)) }},
		{"base64url 64 bytes", func() string { return base64.RawURLEncoding.EncodeToString(random(64)) }},
		{"raw 32 bytes", func() string { return string(random(32)) }},
	} {
		lowest := 1e9
		for range 5000 {
			s := tc.gen()
			if len(s) < MinSecretLen {
				continue // raw bytes: CheckSecret's length rule, not this test
			}
			if err := CheckSecret(s); err != nil {
				t.Fatalf("%s: a random secret refused: %v", tc.name, err)
			}
			lowest = min(lowest, EstimateBits(s))
		}
		if lowest < 1.3*MinSecretBits {
			t.Errorf("%s: lowest estimate %.0f bits, too close to %d", tc.name, lowest, MinSecretBits)
		}
		t.Logf("%s: lowest estimate over 5000: %.0f bits", tc.name, lowest)
	}
}

// FuzzEstimateBits: any input gets a finite, non-negative estimate no
// larger than 8 bits per byte times its length... and CheckSecret never
// accepts what the estimate refuses.
func FuzzEstimateBits(f *testing.F) {
	for _, s := range []string{"", "a", "ab", strings.Repeat("abcdefgh", 4), NewToken(), "\xff\xfe\x00", "qwe", "zyx"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := EstimateBits(s)
		if b < 0 || b > 8*float64(len(s))+1e-9 || b != b {
			t.Fatalf("EstimateBits(%q) = %v", s, b)
		}
		if CheckSecret(s) == nil && (len(s) < MinSecretLen || b < MinSecretBits) {
			t.Fatalf("CheckSecret accepted %q (estimate %v)", s, b)
		}
	})
}
