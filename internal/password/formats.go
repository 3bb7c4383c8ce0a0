package password

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/pbkdf2"
	"golang.org/x/crypto/scrypt"
)

// The hash formats Verify accepts: this package's own argon2id, and the
// ones applications that came before hold, so their users can be imported
// with the passwords they have (`caddy auth user import`) and rehashed to
// argon2id at their first sign-in. Every primitive is golang.org/x/crypto's
// and every comparison constant-time.
const (
	SchemeArgon2id = "argon2id" // $argon2id$v=19$m=..,t=..,p=..$salt$key (PHC, unpadded base64)
	SchemeArgon2i  = "argon2i"  // $argon2i$v=19$... (same layout)
	SchemeBcrypt   = "bcrypt"   // $2a$, $2b$, $2y$ + 2-digit cost + 53 characters
	// SchemePBKDF2 covers three spellings of PBKDF2-HMAC-SHA256:
	// Django's pbkdf2_sha256$<iterations>$<salt>$<base64 key> (the salt is
	// the literal text, the key padded standard base64), passlib's
	// $pbkdf2-sha256$<rounds>$<ab64 salt>$<ab64 key> ("adapted base64":
	// standard alphabet with "." for "+", no padding) and the PHC
	// $pbkdf2-sha256$i=<iterations>[,l=<length>]$<salt>$<key> (unpadded
	// standard base64).
	SchemePBKDF2 = "pbkdf2-sha256"
	// SchemeScrypt is passlib's $scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt>$<key>
	// with unpadded standard base64 salt and key.
	SchemeScrypt = "scrypt"
)

// parsed is a decoded hash: its scheme and how to check a password.
type parsed struct {
	scheme string
	argon  Params // argon2id only: for NeedsRehash
	// match reports whether pw produces the hash (constant-time).
	match func(pw []byte) bool
}

// Scheme names the format of encoded (one of the Scheme* constants), or
// "" when it is empty or in no format Verify accepts.
func Scheme(encoded string) string {
	p, err := parse(encoded)
	if err != nil {
		return ""
	}
	return p.scheme
}

// Check parses encoded as Verify would and reports its scheme, or why it
// would be refused (ErrUnsupported, a *BoundError, or ErrMalformed with a
// reason): the import judges every row with it before writing any.
func Check(encoded string) (string, error) {
	p, err := parse(encoded)
	if err != nil {
		return "", err
	}
	return p.scheme, nil
}

// parse decodes encoded in any accepted format, within the bounds.
func parse(s string) (*parsed, error) {
	if len(s) > MaxEncodedLen {
		return nil, malformed("hash", "longer than "+strconv.Itoa(MaxEncodedLen)+" bytes")
	}
	switch {
	case strings.HasPrefix(s, "$argon2id$"):
		return parseArgon(s, SchemeArgon2id)
	case strings.HasPrefix(s, "$argon2i$"):
		return parseArgon(s, SchemeArgon2i)
	case strings.HasPrefix(s, "$2a$"), strings.HasPrefix(s, "$2b$"), strings.HasPrefix(s, "$2y$"):
		return parseBcrypt(s)
	case strings.HasPrefix(s, "pbkdf2_sha256$"):
		return parseDjangoPBKDF2(s)
	case strings.HasPrefix(s, "$pbkdf2-sha256$"):
		return parsePasslibPBKDF2(s)
	case strings.HasPrefix(s, "$scrypt$"):
		return parseScrypt(s)
	}
	return nil, ErrUnsupported
}

// fields splits "$a$b$c" into ["a", "b", "c"] when it has n of them.
func fields(s string, n int) ([]string, bool) {
	if !strings.HasPrefix(s, "$") {
		return nil, false
	}
	f := strings.Split(s[1:], "$")
	return f, len(f) == n
}

// kv parses "a=1,b=2" into a map of the allowed keys, each at most once.
func kv(s string, allowed ...string) (map[string]int64, bool) {
	out := map[string]int64{}
	for _, pair := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(pair, "=")
		if !ok || !contains(allowed, k) {
			return nil, false
		}
		if _, dup := out[k]; dup {
			return nil, false
		}
		n, err := strconv.ParseUint(v, 10, 31)
		if err != nil || (len(v) > 1 && v[0] == '0') {
			return nil, false
		}
		out[k] = int64(n)
	}
	return out, true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// b64 decodes unpadded (or padded) standard base64.
func b64(s string) ([]byte, bool) {
	b, err := base64.RawStdEncoding.Strict().DecodeString(strings.TrimRight(s, "="))
	return b, err == nil
}

// ab64 decodes passlib's adapted base64 ("." for "+", no padding).
func ab64(s string) ([]byte, bool) {
	return b64(strings.ReplaceAll(s, ".", "+"))
}

// saltKey checks the lengths of a decoded salt and key.
func saltKey(scheme string, salt, key []byte, minSalt int) error {
	return firstErr(
		bound(scheme, "salt length", int64(len(salt)), int64(minSalt), MaxSaltLen),
		bound(scheme, "key length", int64(len(key)), MinKeyLen, MaxKeyLen),
	)
}

// equal compares in constant time.
func equal(got, want []byte) bool { return subtle.ConstantTimeCompare(got, want) == 1 }

func parseArgon(s, scheme string) (*parsed, error) {
	f, ok := fields(s, 5)
	if !ok {
		return nil, malformed(scheme, "want $"+scheme+"$v=19$m=..,t=..,p=..$salt$key")
	}
	if f[1] != "v="+strconv.Itoa(argon2.Version) {
		return nil, malformed(scheme, "only version 19 (v=19) is supported")
	}
	m, ok := kv(f[2], "m", "t", "p")
	if !ok || len(m) != 3 {
		return nil, malformed(scheme, "parameters must be m=<KiB>,t=<passes>,p=<lanes>")
	}
	if err := firstErr(
		bound(scheme, "memory (m, KiB)", m["m"], MinArgonMemory, MaxArgonMemory),
		bound(scheme, "passes (t)", m["t"], 1, MaxArgonTime),
		bound(scheme, "lanes (p)", m["p"], 1, MaxArgonThreads),
	); err != nil {
		return nil, err
	}
	if m["m"] < 8*m["p"] {
		return nil, malformed(scheme, "memory must be at least 8 KiB per lane")
	}
	salt, ok1 := b64(f[3])
	key, ok2 := b64(f[4])
	if !ok1 || !ok2 {
		return nil, malformed(scheme, "salt and key must be base64")
	}
	if err := saltKey(scheme, salt, key, 8); err != nil {
		return nil, err
	}
	p := Params{Memory: uint32(m["m"]), Time: uint32(m["t"]), Threads: uint8(m["p"]), KeyLen: uint32(len(key))}
	kdf := argon2.IDKey
	if scheme == SchemeArgon2i {
		kdf = argon2.Key
	}
	return &parsed{scheme: scheme, argon: p, match: func(pw []byte) bool {
		return equal(kdf(pw, salt, p.Time, p.Memory, p.Threads, p.KeyLen), key)
	}}, nil
}

func parseBcrypt(s string) (*parsed, error) {
	// $2b$12$ + 22 salt characters + 31 hash characters.
	if len(s) != 60 || s[6] != '$' || strings.Trim(s[7:], "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") != "" {
		return nil, malformed(SchemeBcrypt, "want $2b$<cost>$ and 53 characters of bcrypt base64")
	}
	cost, err := strconv.Atoi(s[4:6])
	if err != nil {
		return nil, malformed(SchemeBcrypt, "the cost must be two digits")
	}
	if err := bound(SchemeBcrypt, "cost", int64(cost), MinBcryptCost, MaxBcryptCost); err != nil {
		return nil, err
	}
	raw := []byte(s)
	if _, err := bcrypt.Cost(raw); err != nil {
		return nil, malformed(SchemeBcrypt, err.Error())
	}
	// bcrypt reads at most 72 bytes of password, as the application that
	// made the hash did; CompareHashAndPassword compares in constant time.
	return &parsed{scheme: SchemeBcrypt, match: func(pw []byte) bool {
		return bcrypt.CompareHashAndPassword(raw, pw) == nil
	}}, nil
}

// pbkdf2Parsed checks the bounds and returns the matcher.
func pbkdf2Parsed(iter int64, salt, key []byte) (*parsed, error) {
	if err := bound(SchemePBKDF2, "iterations", iter, MinPBKDF2Iterations, MaxPBKDF2Iterations); err != nil {
		return nil, err
	}
	if err := saltKey(SchemePBKDF2, salt, key, MinSaltLen); err != nil {
		return nil, err
	}
	return &parsed{scheme: SchemePBKDF2, match: func(pw []byte) bool {
		return equal(pbkdf2.Key(pw, salt, int(iter), len(key), sha256.New), key)
	}}, nil
}

func parseDjangoPBKDF2(s string) (*parsed, error) {
	f := strings.Split(s, "$")
	if len(f) != 4 {
		return nil, malformed(SchemePBKDF2, "want pbkdf2_sha256$<iterations>$<salt>$<base64 key>")
	}
	iter, err := strconv.ParseInt(f[1], 10, 32)
	if err != nil {
		return nil, malformed(SchemePBKDF2, "iterations must be a number")
	}
	// Django's salt is used as its text, not decoded; the key is padded
	// standard base64 (base64.b64encode).
	key, err := base64.StdEncoding.Strict().DecodeString(f[3])
	if err != nil {
		return nil, malformed(SchemePBKDF2, "key must be padded standard base64")
	}
	return pbkdf2Parsed(iter, []byte(f[2]), key)
}

func parsePasslibPBKDF2(s string) (*parsed, error) {
	f, ok := fields(s, 4)
	if !ok {
		return nil, malformed(SchemePBKDF2, "want $pbkdf2-sha256$<rounds>$<salt>$<key>")
	}
	if strings.Contains(f[1], "=") {
		// The PHC spelling: i=<iterations>[,l=<key length>], standard base64.
		m, ok := kv(f[1], "i", "l")
		if !ok || m["i"] == 0 {
			return nil, malformed(SchemePBKDF2, "parameters must be i=<iterations>[,l=<key length>]")
		}
		salt, ok1 := b64(f[2])
		key, ok2 := b64(f[3])
		if !ok1 || !ok2 {
			return nil, malformed(SchemePBKDF2, "salt and key must be base64")
		}
		if l, set := m["l"]; set && l != int64(len(key)) {
			return nil, malformed(SchemePBKDF2, "l= does not match the key's length")
		}
		return pbkdf2Parsed(m["i"], salt, key)
	}
	iter, err := strconv.ParseInt(f[1], 10, 32)
	if err != nil {
		return nil, malformed(SchemePBKDF2, "rounds must be a number")
	}
	salt, ok1 := ab64(f[2])
	key, ok2 := ab64(f[3])
	if !ok1 || !ok2 {
		return nil, malformed(SchemePBKDF2, "salt and key must be passlib's adapted base64")
	}
	return pbkdf2Parsed(iter, salt, key)
}

func parseScrypt(s string) (*parsed, error) {
	f, ok := fields(s, 4)
	if !ok {
		return nil, malformed(SchemeScrypt, "want $scrypt$ln=..,r=..,p=..$salt$key")
	}
	m, ok := kv(f[1], "ln", "r", "p")
	if !ok || len(m) != 3 {
		return nil, malformed(SchemeScrypt, "parameters must be ln=<log2 N>,r=<block size>,p=<parallelism>")
	}
	if err := firstErr(
		bound(SchemeScrypt, "ln", m["ln"], 1, MaxScryptLogN),
		bound(SchemeScrypt, "r", m["r"], 1, MaxScryptR),
		bound(SchemeScrypt, "p", m["p"], 1, MaxScryptP),
	); err != nil {
		return nil, err
	}
	n, r, p := int64(1)<<m["ln"], m["r"], m["p"]
	if err := firstErr(
		bound(SchemeScrypt, "memory (128·r·N bytes)", 128*r*n, 0, MaxScryptMemory),
		bound(SchemeScrypt, "work (p·r·N)", p*r*n, 0, MaxScryptWork),
	); err != nil {
		return nil, err
	}
	salt, ok1 := b64(f[2])
	key, ok2 := b64(f[3])
	if !ok1 || !ok2 {
		return nil, malformed(SchemeScrypt, "salt and key must be base64")
	}
	if err := saltKey(SchemeScrypt, salt, key, MinSaltLen); err != nil {
		return nil, err
	}
	return &parsed{scheme: SchemeScrypt, match: func(pw []byte) bool {
		got, err := scrypt.Key(pw, salt, int(n), int(r), int(p), len(key))
		return err == nil && equal(got, key)
	}}, nil
}
