package keys

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
)

// SigningAlg is the one JWT algorithm the gateway signs and accepts
// (RFC 8037 EdDSA over Ed25519). Pinning one algorithm per context is what
// keeps "alg: none" and HS256-with-the-public-key forgeries out (OWASP
// ASVS 9.1.2).
const SigningAlg = "EdDSA"

// signingKey is one Ed25519 key pair with its public key id.
type signingKey struct {
	kid  string
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
}

// Signer holds the Ed25519 keys of one purpose: the current secret's signs
// and verifies, the previous secret's only verifies, so a rotation of the
// master secret logs nobody out while tokens signed before it live out
// their short lives.
type Signer struct {
	purpose string
	cur     signingKey
	prev    *signingKey
}

// Signer derives the signing keys for purpose ("access-token",
// "assertion", ...) from the ring. Each purpose has its own keys, so a
// token minted for one can never verify as another.
func (r *Ring) Signer(purpose string) *Signer {
	s := &Signer{purpose: purpose, cur: edKey(r.current, purpose)}
	if r.previous != nil {
		p := edKey(r.previous, purpose)
		s.prev = &p
	}
	return s
}

func edKey(secret []byte, purpose string) signingKey {
	priv := ed25519.NewKeyFromSeed(derive(secret, "ed25519/"+purpose))
	pub := priv.Public().(ed25519.PublicKey)
	return signingKey{kid: kidOf(pub), priv: priv, pub: pub}
}

// kidOf names a public key by its own hash: stable across restarts and
// instances (every instance derives the same key), and revealing nothing
// the public key does not.
func kidOf(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

// KID is the id of the key that signs now.
func (s *Signer) KID() string { return s.cur.kid }

// Purpose names what the signer's tokens are for.
func (s *Signer) Purpose() string { return s.purpose }

// publicKey returns the verification key named kid, current or previous.
func (s *Signer) publicKey(kid string) (ed25519.PublicKey, bool) {
	if kid == s.cur.kid {
		return s.cur.pub, true
	}
	if s.prev != nil && kid == s.prev.kid {
		return s.prev.pub, true
	}
	return nil, false
}

// JWK is one public key in a JSON Web Key Set (RFC 7517, RFC 8037).
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
}

// JWKs are the signer's public keys, current first: what an upstream needs
// to verify its tokens. Private material never leaves the signer.
func (s *Signer) JWKs() []JWK {
	out := []JWK{jwkOf(s.cur)}
	if s.prev != nil {
		out = append(out, jwkOf(*s.prev))
	}
	return out
}

func jwkOf(k signingKey) JWK {
	return JWK{
		Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(k.pub),
		Kid: k.kid, Use: "sig", Alg: SigningAlg,
	}
}
