// Package password hashes and verifies passwords with argon2id.
//
// Hashing is memory-hard by design (19 MiB per hash at the OWASP floor), so
// a flood of logins could exhaust memory; a semaphore bounds how many hashes
// run at once and callers wait (bounded by their context) for a slot.
package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"

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

// Verify checks pw against a PHC hash. An empty encoded hash (unknown user,
// or an account without a password) is checked against a dummy hash so the
// answer takes the same time, and then fails with ErrMismatch.
func (h *Hasher) Verify(ctx context.Context, encoded, pw string) error {
	if len(pw) > MaxLength {
		return ErrTooLong
	}
	known := encoded != ""
	if !known {
		encoded = h.dummy
	}
	p, salt, want, err := decode(encoded)
	if err != nil {
		return err
	}
	if err := h.acquire(ctx); err != nil {
		return err
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	h.release()
	if subtle.ConstantTimeCompare(got, want) != 1 || !known {
		return ErrMismatch
	}
	return nil
}

// NeedsRehash reports whether encoded was made with weaker parameters than
// the hasher's, so a successful login can upgrade it.
func (h *Hasher) NeedsRehash(encoded string) bool {
	p, _, _, err := decode(encoded)
	if err != nil {
		return true
	}
	return p.Memory < h.params.Memory || p.Time < h.params.Time || p.Threads < h.params.Threads
}

// decode parses "$argon2id$v=19$m=..,t=..,p=..$salt$key". Limits on the
// parameters stop a tampered row from making one verification take minutes
// or gigabytes.
func decode(s string) (Params, []byte, []byte, error) {
	var p Params
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, ErrMalformed
	}
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return p, nil, nil, ErrMalformed
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return p, nil, nil, ErrMalformed
		}
		switch k {
		case "m":
			p.Memory = uint32(n)
		case "t":
			p.Time = uint32(n)
		case "p":
			if n > 255 {
				return p, nil, nil, ErrMalformed
			}
			p.Threads = uint8(n)
		default:
			return p, nil, nil, ErrMalformed
		}
	}
	if p.Memory < 8 || p.Memory > 1<<21 || p.Time < 1 || p.Time > 64 || p.Threads < 1 {
		return p, nil, nil, ErrMalformed
	}
	enc := base64.RawStdEncoding
	salt, err := enc.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return p, nil, nil, ErrMalformed
	}
	key, err := enc.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 128 {
		return p, nil, nil, ErrMalformed
	}
	return p, salt, key, nil
}
