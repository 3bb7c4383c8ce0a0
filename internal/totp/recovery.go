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

// RecoveryLength is the number of code characters (dashes aside): 16 from
// a 31-letter alphabet is about 79 bits, above the 64 that ASVS 6.5.4 asks
// of saved codes.
const RecoveryLength = 16

// NewRecoveryCodes returns RecoveryCount codes of the form
// xxxx-xxxx-xxxx-xxxx.
func NewRecoveryCodes() []string {
	out := make([]string, RecoveryCount)
	for i := range out {
		out[i] = randomCode()
	}
	return out
}

func randomCode() string {
	var b [RecoveryLength]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	var sb strings.Builder
	for i, c := range b {
		if i > 0 && i%4 == 0 {
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
