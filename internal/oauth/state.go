package oauth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"time"
)

// Transaction is one sign-in in progress. It travels in a short-lived,
// HttpOnly cookie, sealed (AES-256-GCM with a key derived for
// "oauth-state"), so the browser that started the flow is the only one
// that can finish it, and the PKCE verifier and nonce stay secret.
type Transaction struct {
	Provider string `json:"p"`
	State    string `json:"s"`
	Verifier string `json:"v"`
	Nonce    string `json:"n,omitempty"`
	RD       string `json:"r,omitempty"`
	// LinkUser is set when a signed-in user links this provider.
	LinkUser string `json:"l,omitempty"`
	Expires  int64  `json:"e"` // Unix seconds
}

// ErrState means the state cookie is missing, forged, expired, for another
// provider, or does not match the callback's state.
var ErrState = errors.New("invalid or expired sign-in state")

// maxSealed bounds what Open reads (cookies are at most ~4 KB).
const maxSealed = 4096

// StateCodec seals transactions. keys[0] seals; every key opens (rotation).
type StateCodec struct {
	aeads []cipher.AEAD
}

// NewStateCodec builds a codec from 32-byte keys, current first.
func NewStateCodec(keys [][]byte) (*StateCodec, error) {
	if len(keys) == 0 {
		return nil, errors.New("oauth: no state key")
	}
	c := &StateCodec{}
	for _, k := range keys {
		blk, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		a, err := cipher.NewGCM(blk)
		if err != nil {
			return nil, err
		}
		c.aeads = append(c.aeads, a)
	}
	return c, nil
}

// Seal encodes t for a cookie value.
func (c *StateCodec) Seal(t *Transaction) (string, error) {
	plain, err := json.Marshal(t)
	if err != nil {
		return "", err
	}
	a := c.aeads[0]
	nonce := make([]byte, a.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(a.Seal(nonce, nonce, plain, []byte("caddyauth-oauth-v1"))), nil
}

// Open decodes a cookie value and checks it against the callback: the
// provider in the URL, the state parameter and the clock.
func (c *StateCodec) Open(value, provider, state string, now time.Time) (*Transaction, error) {
	if value == "" || len(value) > maxSealed || state == "" {
		return nil, ErrState
	}
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil {
		return nil, ErrState
	}
	var plain []byte
	for _, a := range c.aeads {
		if len(raw) < a.NonceSize()+a.Overhead() {
			return nil, ErrState
		}
		if p, err := a.Open(nil, raw[:a.NonceSize()], raw[a.NonceSize():], []byte("caddyauth-oauth-v1")); err == nil {
			plain = p
			break
		}
	}
	if plain == nil {
		return nil, ErrState
	}
	var t Transaction
	if err := json.Unmarshal(plain, &t); err != nil {
		return nil, ErrState
	}
	if t.Provider != provider || now.Unix() >= t.Expires || t.Verifier == "" ||
		subtle.ConstantTimeCompare([]byte(t.State), []byte(state)) != 1 {
		return nil, ErrState
	}
	return &t, nil
}

// RandomString is n random bytes, base64url (state, nonce, verifier).
func RandomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
