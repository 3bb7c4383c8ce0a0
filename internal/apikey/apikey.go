// Package apikey makes and reads API keys: `<prefix>_<id>_<secret>`, with a
// fixed prefix a secret scanner can match, a public id the store finds the
// key by, and 256 random bits of secret of which only a SHA-256 is kept.
package apikey

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
)

// Prefix begins every key, so leaked keys are recognisable (secret
// scanning) and a bearer value is told from a JWT without parsing it.
const Prefix = "cak"

const (
	idBytes     = 8  // 64 bits: ids are looked up, never guessed into use
	secretBytes = 32 // 256 bits: a fast hash is then enough
	idLen       = 2 * idBytes
	secretLen   = 2 * secretBytes
	// Len is the length of every key.
	Len = len(Prefix) + 1 + idLen + 1 + secretLen
)

// Key is a freshly made key: Value is shown to its owner once; ID and
// Hash are what the store keeps.
type Key struct {
	Value string
	ID    string
	Hash  string
}

// New makes a key from the system's CSPRNG.
func New() (Key, error) {
	var b [idBytes + secretBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return Key{}, fmt.Errorf("apikey: random: %w", err)
	}
	id, secret := hex.EncodeToString(b[:idBytes]), hex.EncodeToString(b[idBytes:])
	return Key{Value: Prefix + "_" + id + "_" + secret, ID: id, Hash: Hash(secret)}, nil
}

// Looks reports, without allocating, whether v has the shape of a key
// (the prefix and its separator): the credential strategy takes such a
// bearer value as its own, even when the rest is malformed.
func Looks(v string) bool {
	return len(v) > len(Prefix) && v[:len(Prefix)] == Prefix && v[len(Prefix)] == '_'
}

// Parse splits a key into its id and secret. Only the exact shape is
// accepted (lower-case hex of the right lengths): anything else is not a
// key, whatever it is close to.
func Parse(v string) (id, secret string, ok bool) {
	if len(v) != Len || !Looks(v) {
		return "", "", false
	}
	rest := v[len(Prefix)+1:]
	if rest[idLen] != '_' {
		return "", "", false
	}
	id, secret = rest[:idLen], rest[idLen+1:]
	if !lowerHex(id) || !lowerHex(secret) {
		return "", "", false
	}
	return id, secret, true
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Hash is the stored form of a secret: hex SHA-256.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Matches reports, in constant time, whether secret hashes to stored.
func Matches(stored, secret string) bool {
	h := Hash(secret)
	return subtle.ConstantTimeCompare([]byte(stored), []byte(h)) == 1
}
