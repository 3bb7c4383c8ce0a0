package password

import (
	"context"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// vector is a known hash of a known password.
type vector struct {
	name, scheme, hash, pw string
}

// External vectors come from the format's own documentation or test
// suite; the "hashlib" ones were made with Python's hashlib (pbkdf2_hmac,
// scrypt), an implementation independent of x/crypto.
var vectors = []vector{
	// The argon2 reference implementation (phc-winner-argon2's argon2
	// CLI), as zitadel/passwap records it: salt "randomsaltishard".
	{"argon2id reference", SchemeArgon2id, "$argon2id$v=19$m=4096,t=3,p=1$cmFuZG9tc2FsdGlzaGFyZA$DYojYpnUWSMmTtrkVXyaNWVGxLmGe1n8VJBPDdFkbjU", "password"},
	{"argon2i reference", SchemeArgon2i, "$argon2i$v=19$m=4096,t=3,p=1$cmFuZG9tc2FsdGlzaGFyZA$YMvo8AUoNtnKYGqeODruCjHdiEbl1pKL2MsYy9VgU/E", "password"},
	// bcrypt as passlib writes each prefix (zitadel/passwap's test values).
	{"bcrypt 2a passlib", SchemeBcrypt, "$2a$12$aLYFkieuqJyeynvptPTxpehSViui5WeAPuR2Xw1wui9CPHEaacmFq", "password"},
	{"bcrypt 2b passlib", SchemeBcrypt, "$2b$12$bIRGj4QPPoSUMWsJE.4Pk.T1qTpDWz7HhMnuiQhGzGinKPsx/HQdq", "password"},
	{"bcrypt 2y passlib", SchemeBcrypt, "$2y$12$hXUrnqdq1RIIYZ2HPytIIe5lXdIvbhqrTvdPsSF7o.jFh817Z6lwm", "password"},
	// Django 1.5's tests/auth_tests/test_hashers.py test_pbkdf2.
	{"django pbkdf2 test suite", SchemePBKDF2, "pbkdf2_sha256$10000$seasalt$CWWFdHOWwPnki7HvkcqN9iA2T3KLW1cf2uZ5kvArtVY=", "lètmein"},
	{"django pbkdf2 hashlib", SchemePBKDF2, "pbkdf2_sha256$20000$saltsalt$M3etHXFn+fNa2d4cF2W3MynKiwxWjKQb0JAg128iVTg=", "correct horse battery"},
	// passlib's own test_handlers.py pbkdf2_sha256 known_correct_hashes.
	{"passlib pbkdf2 test suite", SchemePBKDF2, "$pbkdf2-sha256$1212$4vjV83LKPjQzk31VI4E0Vw$hsYF68OiOUPdDZ1Fg.fJPeq1h/gXXY7acBp9/6c.tmQ", "password"},
	// The key's base64 has a "+", which ab64 writes as ".".
	{"passlib pbkdf2 ab64 hashlib", SchemePBKDF2, "$pbkdf2-sha256$20000$MDEyMzQ1Njc4OWFiY2RlZg$YZPUgXYPKMyKakj2x5HB6c9KWXQgYCsDV54RnJ.S4jo", "correct horse battery"},
	{"phc pbkdf2 hashlib", SchemePBKDF2, "$pbkdf2-sha256$i=20000,l=32$MDEyMzQ1Njc4OWFiY2RlZg$YZPUgXYPKMyKakj2x5HB6c9KWXQgYCsDV54RnJ+S4jo", "correct horse battery"},
	// passlib's scrypt format (zitadel/passwap's value, salt
	// "randomsaltishard"; checked with hashlib.scrypt).
	{"scrypt passlib", SchemeScrypt, "$scrypt$ln=16,r=8,p=1$cmFuZG9tc2FsdGlzaGFyZA$Rh+NnJNo1I6nRwaNqbDm6kmADswD1+7FTKZ7Ln9D8nQ", "password"},
	{"scrypt hashlib", SchemeScrypt, "$scrypt$ln=10,r=8,p=1$MDEyMzQ1Njc4OWFiY2RlZg$xXt6EAFzAOlee5Hgl8R5+kLA6sDARjRcMGtm6fZJsa8", "correct horse battery"},
}

func TestVectors(t *testing.T) {
	h := New(fast, 2)
	ctx := context.Background()
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			if got, err := Check(v.hash); err != nil || got != v.scheme {
				t.Fatalf("Check = %q, %v; want %q", got, err, v.scheme)
			}
			if err := h.Verify(ctx, v.hash, v.pw); err != nil {
				t.Fatalf("right password: %v", err)
			}
			if err := h.Verify(ctx, v.hash, v.pw+"x"); !errors.Is(err, ErrMismatch) {
				t.Fatalf("wrong password: %v", err)
			}
			if !h.NeedsRehash(v.hash) && v.scheme != SchemeArgon2id {
				t.Fatal("a legacy hash must ask for a rehash")
			}
		})
	}
}

// TestBcryptPrefixes: a hash made by x/crypto verifies under each prefix
// (2a, 2b and 2y are one algorithm for passwords without the 2x bug).
func TestBcryptPrefixes(t *testing.T) {
	raw, err := bcrypt.GenerateFromPassword([]byte("a long pass phrase"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	h := New(fast, 1)
	for _, pre := range []string{"$2a$", "$2b$", "$2y$"} {
		enc := pre + string(raw[4:])
		if err := h.Verify(context.Background(), enc, "a long pass phrase"); err != nil {
			t.Fatalf("%s: %v", pre, err)
		}
	}
	if _, err := Check("$2x$" + string(raw[4:])); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("2x (the crypt_blowfish bug) accepted: %v", err)
	}
}

// TestRehashedArgon2id: this package's own argon2id at the hasher's
// parameters asks for no rehash; a legacy one does.
func TestRehashedArgon2id(t *testing.T) {
	h := New(fast, 1)
	enc, _ := h.Hash(context.Background(), "pw")
	if h.NeedsRehash(enc) || Scheme(enc) != SchemeArgon2id {
		t.Fatal("own hash flagged")
	}
	if !h.NeedsRehash(vectors[1].hash) {
		t.Fatal("argon2i not flagged")
	}
}

// TestBounds: every parameter that sets the cost of one verification is
// bounded, and the refusal names it, before any work is done.
func TestBounds(t *testing.T) {
	salt, key := "MDEyMzQ1Njc4OWFiY2RlZg", "YZPUgXYPKMyKakj2x5HB6c9KWXQgYCsDV54RnJ+S4jo"
	for _, c := range []struct{ hash, param string }{
		{"$argon2id$v=19$m=4194304,t=1,p=1$" + salt + "$" + key, "memory"},
		{"$argon2i$v=19$m=65536,t=100,p=1$" + salt + "$" + key, "passes"},
		{"$argon2id$v=19$m=65536,t=1,p=64$" + salt + "$" + key, "lanes"},
		{"$2b$31$" + strings.Repeat("a", 53), "cost"},
		{"$2b$03$" + strings.Repeat("a", 53), "cost"},
		{"pbkdf2_sha256$100000000$salt$" + key + "=", "iterations"},
		{"pbkdf2_sha256$10$salt$" + key + "=", "iterations"},
		{"$pbkdf2-sha256$9999999$" + salt + "$" + key, "iterations"},
		{"$pbkdf2-sha256$i=9999999$" + salt + "$" + key, "iterations"},
		{"$scrypt$ln=24,r=8,p=1$" + salt + "$" + key, "ln"},
		{"$scrypt$ln=20,r=8,p=1$" + salt + "$" + key, "memory"},
		{"$scrypt$ln=16,r=8,p=16$" + salt + "$" + key, "work"},
		{"$pbkdf2-sha256$20000$" + salt + "$" + strings.Repeat("A", 200), "key length"},
	} {
		_, err := Check(c.hash)
		var be *BoundError
		if !errors.As(err, &be) || !strings.Contains(be.Param, c.param) || !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: got %v, want a bound on %s", c.hash, err, c.param)
		}
	}
	if _, err := Check(strings.Repeat("$", MaxEncodedLen+1)); !errors.Is(err, ErrMalformed) {
		t.Errorf("over-long hash: %v", err)
	}
}

func TestMalformedFormats(t *testing.T) {
	for _, s := range []string{
		"", "plain", "$argon2id$v=16$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=64,t=1,t=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$2b$10$short", "$2b$10$" + strings.Repeat("!", 53),
		"pbkdf2_sha256$x$salt$abc=", "pbkdf2_sha256$20000$salt$not base64",
		"pbkdf2_sha256$20000$salt", "$pbkdf2-sha256$i=20000,l=16$MDEyMzQ1Njc4OWFiY2RlZg$YZPUgXYPKMyKakj2x5HB6c9KWXQgYCsDV54RnJ+S4jo",
		"$pbkdf2-sha256$i=20000,x=1$MDEy$YZPU", "$scrypt$ln=10,r=8$MDEy$YZPU", "$scrypt$ln=10,r=8,p=1$MDEy",
		"$md5$abc", "sha1$salt$abc",
	} {
		if _, err := Check(s); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: got %v", s, err)
		}
		if Scheme(s) != "" {
			t.Errorf("%q: has a scheme", s)
		}
	}
}
