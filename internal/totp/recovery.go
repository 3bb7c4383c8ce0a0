package totp

import (
	"crypto/rand"
	"strings"
)

// RecoveryCount is how many recovery codes a user gets at a time.
const RecoveryCount = 10

// recoveryAlphabet avoids look-alikes (0/o, 1/l/i) so codes survive being
// written down and typed back.
const recoveryAlphabet = "abcdefghjkmnpqrstuvwxyz23456789"

// NewRecoveryCodes returns RecoveryCount codes of the form xxxxx-xxxxx
// (about 49 bits each: far beyond guessing within the attempt limits).
func NewRecoveryCodes() []string {
	out := make([]string, RecoveryCount)
	for i := range out {
		out[i] = randomCode()
	}
	return out
}

func randomCode() string {
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	var sb strings.Builder
	for i, c := range b {
		if i == 5 {
			sb.WriteByte('-')
		}
		// 256 % 31 != 0 leaves a slight bias; rejection sampling keeps it
		// uniform.
		for int(c) >= 256-256%len(recoveryAlphabet) {
			var r [1]byte
			if _, err := rand.Read(r[:]); err != nil {
				panic("crypto/rand failed: " + err.Error())
			}
			c = r[0]
		}
		sb.WriteByte(recoveryAlphabet[int(c)%len(recoveryAlphabet)])
	}
	return sb.String()
}

// NormalizeRecovery is the form a recovery code is hashed in: lower case,
// without spaces or dashes, so "ABCDE FGHIJ" and "abcde-fghij" match.
func NormalizeRecovery(code string) string {
	var sb strings.Builder
	for _, c := range strings.ToLower(code) {
		if c == '-' || c == ' ' || c == '\t' {
			continue
		}
		sb.WriteRune(c)
	}
	return sb.String()
}
