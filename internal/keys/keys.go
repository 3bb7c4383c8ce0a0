// Package keys turns the operator's master secret into purpose-bound keys
// and makes the random tokens the gateway hands out.
//
// One secret, many keys: each purpose gets its own key through HKDF-SHA256,
// so a key leaked from one feature cannot forge another's values. The
// previous secret (rotation) can verify but never sign.
package keys

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
)

// MinSecretLen is the minimum master secret length in bytes.
const MinSecretLen = 32

// ErrWeakSecret reports a missing or short secret.
var ErrWeakSecret = fmt.Errorf("secret must be at least %d bytes; generate one with `caddy auth secret generate`", MinSecretLen)

// CheckSecret validates a master secret.
func CheckSecret(s string) error {
	if len(s) < MinSecretLen {
		return ErrWeakSecret
	}
	// A secret of one repeated byte ("aaaa...") is a placeholder, not a key.
	distinct := map[byte]struct{}{}
	for i := 0; i < len(s); i++ {
		distinct[s[i]] = struct{}{}
	}
	if len(distinct) < 8 {
		return errors.New("secret has too little variety to be random; generate one with `caddy auth secret generate`")
	}
	// "abcdefgh" four times has 32 bytes and 8 distinct ones: judge the
	// entropy too (entropy.go).
	return checkEntropy(s)
}

// Ring holds the current master secret and optionally the previous one.
type Ring struct {
	current  []byte
	previous []byte
}

// NewRing validates both secrets (previous may be empty).
func NewRing(current, previous string) (*Ring, error) {
	if err := CheckSecret(current); err != nil {
		return nil, err
	}
	r := &Ring{current: []byte(current)}
	if previous != "" {
		if err := CheckSecret(previous); err != nil {
			return nil, fmt.Errorf("previous_secret: %w", err)
		}
		r.previous = []byte(previous)
	}
	return r, nil
}

// Key derives the 32-byte signing/encryption key for purpose from the
// current secret.
func (r *Ring) Key(purpose string) []byte { return derive(r.current, purpose) }

// VerifyKeys returns the keys to try when verifying: current first, then
// previous if configured.
func (r *Ring) VerifyKeys(purpose string) [][]byte {
	ks := [][]byte{derive(r.current, purpose)}
	if r.previous != nil {
		ks = append(ks, derive(r.previous, purpose))
	}
	return ks
}

// KeyID is a short public identifier of the current key for purpose (for a
// JWT "kid"); it reveals nothing about the key.
func (r *Ring) KeyID(purpose string) string {
	sum := sha256.Sum256(derive(r.current, purpose+"/kid"))
	return hex.EncodeToString(sum[:8])
}

func derive(secret []byte, purpose string) []byte {
	k, err := hkdf.Key(sha256.New, secret, []byte("caddyauth"), "caddyauth/v1/"+purpose, 32)
	if err != nil {
		panic("hkdf: " + err.Error()) // only fails for impossible lengths
	}
	return k
}

// TokenBytes is the size of every bearer secret we mint (256 bits).
const TokenBytes = 32

// NewToken returns a fresh 256-bit random token, base64url without padding
// (43 characters).
func NewToken() string {
	var b [TokenBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// HashToken is the storage form of a token: hex SHA-256. A 256-bit random
// token needs no salt or stretching; the store never sees the token itself.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// NewID returns a random 128-bit identifier (hex) for records such as users.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}
