package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
)

// ErrUnseal: the ciphertext was not made by this ring for this purpose and
// context, or it was altered.
var ErrUnseal = errors.New("keys: cannot open sealed value")

// Seal encrypts plaintext with AES-256-GCM under the purpose key. ad binds
// the ciphertext to its context (e.g. the owning user id), so a sealed value
// copied to another row does not open.
func (r *Ring) Seal(purpose string, plaintext, ad []byte) []byte {
	aead := gcm(r.Key(purpose))
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return aead.Seal(nonce, nonce, plaintext, ad)
}

// Open decrypts a value made by Seal with the current or the previous
// secret, so a rotation keeps stored values readable.
func (r *Ring) Open(purpose string, sealed, ad []byte) ([]byte, error) {
	for _, k := range r.VerifyKeys(purpose) {
		aead := gcm(k)
		if len(sealed) < aead.NonceSize() {
			return nil, ErrUnseal
		}
		if pt, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], ad); err == nil {
			return pt, nil
		}
	}
	return nil, ErrUnseal
}

func gcm(key []byte) cipher.AEAD {
	b, err := aes.NewCipher(key)
	if err != nil {
		panic("aes: " + err.Error()) // keys are always 32 bytes
	}
	a, err := cipher.NewGCM(b)
	if err != nil {
		panic("gcm: " + err.Error())
	}
	return a
}

// MAC is the keyed hash used to store low-entropy one-time codes (recovery
// and emailed codes): hex HMAC-SHA256 under the purpose key. Unlike a plain
// hash, a dump of the store cannot be brute-forced without the secret.
func (r *Ring) MAC(purpose string, parts ...string) string {
	return macWith(r.Key(purpose), parts)
}

// MACs are the MACs to look a stored code up by: under the current secret,
// then the previous one, so a rotation keeps recovery codes (and codes in
// flight) working.
func (r *Ring) MACs(purpose string, parts ...string) []string {
	keys := r.VerifyKeys(purpose)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = macWith(k, parts)
	}
	return out
}

func macWith(key []byte, parts []string) string {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return hex.EncodeToString(m.Sum(nil))
}
