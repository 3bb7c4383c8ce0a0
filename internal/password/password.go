// Package password hashes passwords with argon2id and verifies them in
// argon2id and in the formats imported accounts bring (formats.go).
//
// Hashing is memory-hard by design (19 MiB per hash at the OWASP floor), so
// a flood of logins could exhaust memory; a semaphore bounds how many hashes
// run at once and callers wait (bounded by their context) for a slot.
package password

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
	SaltLen uint32
	KeyLen  uint32
}

// DefaultParams is the OWASP Password Storage Cheat Sheet floor for argon2id
// (m=19 MiB, t=2, p=1).
var DefaultParams = Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Errors returned by Verify.
var (
	ErrMismatch  = errors.New("password does not match")
	ErrMalformed = errors.New("malformed password hash")
)

// MaxLength bounds the input in bytes so a megabyte "password" cannot be
// used to burn CPU; documented in docs/configuration.md.
const MaxLength = 1024

// ErrTooLong is returned for passwords longer than MaxLength.
var ErrTooLong = fmt.Errorf("password longer than %d bytes", MaxLength)

// Hasher hashes with Params and bounds concurrency.
type Hasher struct {
	params Params
	slots  chan struct{}
	dummy  string // hash of a random password, verified for unknown users
}

// New returns a Hasher running at most concurrency hashes at once
// (<= 0: 2 x GOMAXPROCS).
func New(p Params, concurrency int) *Hasher {
	if concurrency <= 0 {
		concurrency = 2 * runtime.GOMAXPROCS(0)
	}
	h := &Hasher{params: p, slots: make(chan struct{}, concurrency)}
	var b [16]byte
	_, _ = rand.Read(b[:])
	h.dummy = h.hash(b[:])
	return h
}

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *Hasher) release() { <-h.slots }

// Hash returns a PHC-format argon2id hash of pw.
func (h *Hasher) Hash(ctx context.Context, pw string) (string, error) {
	if len(pw) > MaxLength {
		return "", ErrTooLong
	}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	return h.hash([]byte(pw)), nil
}

func (h *Hasher) hash(pw []byte) string {
	p := h.params
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		panic("crypto/rand failed: " + err.Error()) // unrecoverable: never hash with a zero salt
	}
	key := argon2.IDKey(pw, salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, enc.EncodeToString(salt), enc.EncodeToString(key))
}

// Verify checks pw against an encoded hash in any format Scheme names
// (this package's argon2id, or one imported from an earlier application:
// see formats.go). An empty encoded hash (unknown user, or an account
// without a password) is checked against a dummy hash so the answer takes
// the same time, and then fails with ErrMismatch. A hash outside the
// bounds (bounds.go) is ErrMalformed and costs nothing. After a success,
// NeedsRehash says whether to store a fresh argon2id hash.
func (h *Hasher) Verify(ctx context.Context, encoded, pw string) error {
	if len(pw) > MaxLength {
		return ErrTooLong
	}
	known := encoded != ""
	if !known {
		encoded = h.dummy
	}
	p, err := parse(encoded)
	if err != nil {
		return err
	}
	if err := h.acquire(ctx); err != nil {
		return err
	}
	ok := p.match([]byte(pw))
	h.release()
	if !ok || !known {
		return ErrMismatch
	}
	return nil
}

// NeedsRehash reports whether encoded should be replaced by a fresh hash
// once its password is known: it is in another format than argon2id (an
// imported hash), or argon2id with weaker parameters than the hasher's.
func (h *Hasher) NeedsRehash(encoded string) bool {
	p, err := parse(encoded)
	if err != nil || p.scheme != SchemeArgon2id {
		return true
	}
	return p.argon.Memory < h.params.Memory || p.argon.Time < h.params.Time || p.argon.Threads < h.params.Threads
}
