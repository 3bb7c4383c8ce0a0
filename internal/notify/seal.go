package notify

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// sealVersion is the first byte of a sealed payload, so the format can
// change without guessing.
const sealVersion = 1

// ErrUnseal means no configured key opens a payload: it was sealed with a
// secret that is neither the current nor the previous one, or it was
// tampered with.
var ErrUnseal = errors.New("notify: message data cannot be decrypted with the current or previous secret")

// Sealer encrypts template data at rest with AES-256-GCM. It seals with the
// current key and opens with the current or previous one, so a secret
// rotation does not lose queued mail.
type Sealer struct {
	seal cipher.AEAD
	open []cipher.AEAD
}

// NewSealer takes the current key (ring.Key("outbox")) and the keys to try
// when opening (ring.VerifyKeys("outbox"), current first).
func NewSealer(current []byte, verify [][]byte) (*Sealer, error) {
	s := &Sealer{}
	var err error
	if s.seal, err = gcm(current); err != nil {
		return nil, err
	}
	for _, k := range verify {
		a, err := gcm(k)
		if err != nil {
			return nil, err
		}
		s.open = append(s.open, a)
	}
	if len(s.open) == 0 {
		s.open = []cipher.AEAD{s.seal}
	}
	return s, nil
}

func gcm(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("notify: outbox key must be 32 bytes, got %d", len(key))
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// binding is the associated data: it ties the ciphertext to its row, so
// data cannot be moved to another message (another recipient) unnoticed.
func binding(id, kind, channel, to, userID string) []byte {
	return []byte(strings.Join([]string{"caddyauth/outbox/v1", id, kind, channel, to, userID}, "\x00"))
}

// Seal encrypts data for the message described by aad.
func (s *Sealer) Seal(aad []byte, data map[string]string) ([]byte, error) {
	plain, err := json.Marshal(data)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, s.seal.NonceSize(), 1+s.seal.NonceSize()+len(plain)+s.seal.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out := append([]byte{sealVersion}, nonce...)
	return s.seal.Seal(out, nonce, plain, aad), nil
}

// Open decrypts a payload made by Seal with any of the verify keys.
func (s *Sealer) Open(aad, sealed []byte) (map[string]string, error) {
	if len(sealed) < 1 || sealed[0] != sealVersion {
		return nil, ErrUnseal
	}
	body := sealed[1:]
	for _, a := range s.open {
		if len(body) < a.NonceSize() {
			return nil, ErrUnseal
		}
		plain, err := a.Open(nil, body[:a.NonceSize()], body[a.NonceSize():], aad)
		if err != nil {
			continue
		}
		var data map[string]string
		if err := json.Unmarshal(plain, &data); err != nil {
			return nil, fmt.Errorf("notify: sealed data: %w", err)
		}
		return data, nil
	}
	return nil, ErrUnseal
}
