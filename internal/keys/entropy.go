package keys

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math"
	"strings"
)

// MinSecretBits is the entropy a master secret must carry by EstimateBits.
// 32 random bytes as base64 (what `caddy auth secret generate` prints) or
// hex estimate at about 250 bits; 128 leaves room for the estimate's
// discounts on random strings and still refuses patterns.
const MinSecretBits = 128

// keyboardRows are runs a person types without choosing ("qwerty...").
var keyboardRows = []string{"1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm"}

// EstimateBits estimates how many bits of entropy s carries, as an upper
// bound for the way people make up "random" strings. Each character costs
// log2 of the alphabet its character classes span (16 when s is all hex,
// else digits 10, lower 26, upper 26, ASCII punctuation and space 33, any
// other byte 128), except that a character is free when it is predictable:
//   - it continues a run of constant step ("aaaa", "abcd", "0246", "9876"),
//     or of two interleaved ones ("a1b2c3");
//   - it continues a keyboard row ("qwer", "asdf");
//   - it ends a three-character substring that already occurred in s (a
//     repeated word or block: "abcdefgh" four times costs one block).
//
// A random string loses only a few characters to these rules, so random
// base64 or hex keeps nearly its full length times 6 or 4 bits.
//
// A secret that decodes as hex or base64 is judged by its decoded bytes
// too (the lower estimate counts), so an encoded pattern (base64 of
// "abcdefgh" four times) is refused while encoded random bytes pass.
func EstimateBits(s string) float64 {
	bits := estimate(s)
	for _, d := range decodings(s) {
		bits = min(bits, estimate(d))
	}
	return bits
}

// decodings are s decoded as hex and as each base64 alphabet, where s is
// valid in that encoding.
func decodings(s string) []string {
	var out []string
	if b, err := hex.DecodeString(s); err == nil {
		out = append(out, string(b))
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.Strict().DecodeString(s); err == nil {
			out = append(out, string(b))
		}
	}
	return out
}

// estimate is EstimateBits of s as written.
func estimate(s string) float64 {
	per := math.Log2(float64(alphabet(s)))
	bits := 0.0
	for i := 0; i < len(s); i++ {
		if !predictable(s, i) {
			bits += per
		}
	}
	return bits
}

// alphabet is the size of the character classes s uses.
func alphabet(s string) int {
	var digit, lower, upper, punct, other bool
	lowerHex, upperHex := true, true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digit = true
		case c >= 'a' && c <= 'z':
			lower = true
			upperHex = false
			lowerHex = lowerHex && c <= 'f'
		case c >= 'A' && c <= 'Z':
			upper = true
			lowerHex = false
			upperHex = upperHex && c <= 'F'
		case c >= ' ' && c <= '~':
			punct = true
		default:
			other = true
		}
	}
	if (lower || upper) && !punct && !other && (lowerHex || upperHex) {
		return 16
	}
	n := 0
	for _, c := range []struct {
		used bool
		size int
	}{{digit, 10}, {lower, 26}, {upper, 26}, {punct, 33}, {other, 128}} {
		if c.used {
			n += c.size
		}
	}
	return max(n, 2)
}

// predictable reports whether s[i] follows from what comes before it.
func predictable(s string, i int) bool {
	if i >= 2 {
		// Constant step: the same difference as the previous pair.
		if int(s[i])-int(s[i-1]) == int(s[i-1])-int(s[i-2]) {
			return true
		}
		// A keyboard row, forwards or backwards.
		for _, row := range keyboardRows {
			if strings.Contains(row, s[i-2:i+1]) || strings.Contains(row, reverse3(s[i-2:i+1])) {
				return true
			}
		}
		// Two interleaved runs of constant step ("a1b2c3d4").
		if i >= 4 && int(s[i])-int(s[i-2]) == int(s[i-2])-int(s[i-4]) {
			return true
		}
		// The trigram ending here occurred earlier (overlaps allowed).
		if strings.Contains(s[:i], s[i-2:i+1]) {
			return true
		}
	}
	return false
}

func reverse3(t string) string { return string([]byte{t[2], t[1], t[0]}) }

// checkEntropy refuses a secret EstimateBits puts under MinSecretBits. The
// error gives the estimate, never the secret.
func checkEntropy(s string) error {
	if b := EstimateBits(s); b < MinSecretBits {
		return fmt.Errorf("secret has too little entropy to be random (about %d bits by its characters, patterns and repeats; at least %d needed); generate one with `caddy auth secret generate`", int(b), MinSecretBits)
	}
	return nil
}
