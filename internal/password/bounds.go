package password

import "fmt"

// Bounds on the parameters a stored hash may carry. A hash comes from a
// file an operator imports (another application's database) or from a row
// someone could tamper with: without bounds one string could make a single
// sign-in take minutes (bcrypt cost 31, ten million PBKDF2 rounds) or
// gigabytes (argon2 m=4194304, scrypt ln=24). Each bound sits well above
// what the format's own current defaults use; docs/configuration.md lists
// them. Verify refuses an out-of-bounds hash (ErrMalformed) and the import
// refuses its row before anything is written.
const (
	// MaxEncodedLen is the longest encoded hash accepted.
	MaxEncodedLen = 512

	// argon2id and argon2i: memory in KiB, passes, lanes.
	MaxArgonMemory  = 256 * 1024 // 256 MiB (OWASP's floor is 19 MiB)
	MinArgonMemory  = 8
	MaxArgonTime    = 16
	MaxArgonThreads = 16

	// bcrypt cost (2^cost rounds); 14 takes about a second.
	MinBcryptCost = 4
	MaxBcryptCost = 14

	// PBKDF2-SHA256 iterations (Django 5.2 uses 1,000,000; passlib 29,000).
	MinPBKDF2Iterations = 1000
	MaxPBKDF2Iterations = 2_000_000

	// scrypt: N = 2^ln, memory 128·r·N bytes, work p·r·N.
	MaxScryptLogN   = 20
	MaxScryptR      = 32
	MaxScryptP      = 16
	MaxScryptMemory = 256 << 20 // bytes (passlib's default is 16 MiB)
	MaxScryptWork   = 1 << 22   // p·r·N (passlib's default ln=16,r=8,p=1 is 2^19)

	// Salt and key lengths in bytes, for every format.
	MinSaltLen = 1
	MaxSaltLen = 128
	MinKeyLen  = 16
	MaxKeyLen  = 128
)

// ErrUnsupported is a hash in no format this package verifies.
var ErrUnsupported = fmt.Errorf("%w: unsupported hash format", ErrMalformed)

// BoundError names the parameter of a hash that is out of bounds. It is
// ErrMalformed, so callers that only verify need not know it.
type BoundError struct {
	Scheme, Param string
	Value         int64
	Min, Max      int64
}

func (e *BoundError) Error() string {
	return fmt.Sprintf("%s %s %d is outside the accepted bounds %d..%d", e.Scheme, e.Param, e.Value, e.Min, e.Max)
}

// Is makes a BoundError match ErrMalformed.
func (e *BoundError) Is(target error) bool { return target == ErrMalformed }

// bound returns a *BoundError when v is outside min..max.
func bound(scheme, param string, v, lo, hi int64) error {
	if v < lo || v > hi {
		return &BoundError{Scheme: scheme, Param: param, Value: v, Min: lo, Max: hi}
	}
	return nil
}

// malformed wraps ErrMalformed with a reason an operator can act on.
func malformed(scheme, reason string) error {
	return fmt.Errorf("%w: %s: %s", ErrMalformed, scheme, reason)
}

// firstErr is the first non-nil error of errs.
func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
