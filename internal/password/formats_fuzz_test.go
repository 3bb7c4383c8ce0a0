package password

import (
	"context"
	"errors"
	"testing"
	"time"
)

// FuzzParse feeds the hash parser untrusted strings (an import file, a
// tampered row): it must never panic, must accept only within the bounds,
// and a verification of whatever it accepts must stay cheap enough.
func FuzzParse(f *testing.F) {
	for _, v := range vectors {
		f.Add(v.hash)
	}
	f.Add("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5")
	f.Add("$pbkdf2-sha256$i=1000,l=16$c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5")
	f.Add("$scrypt$ln=1,r=1,p=1$c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5")
	f.Add("pbkdf2_sha256$1000$s$a2V5a2V5a2V5a2V5a2V5a2V5")
	h := New(fast, 1)
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parse(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("%q: error %v is not ErrMalformed", s, err)
			}
			return
		}
		if len(s) > MaxEncodedLen || p.scheme == "" || Scheme(s) != p.scheme {
			t.Fatalf("%q accepted as %q", s, p.scheme)
		}
		if p.scheme == SchemeArgon2id && (p.argon.Memory > MaxArgonMemory || p.argon.Time > MaxArgonTime) {
			t.Fatalf("%q: argon2 parameters past the bounds: %+v", s, p.argon)
		}
		// Verifying costs a bounded amount; the cheap seeds stay cheap
		// (only bounded, not small, parameters are fuzzed into being).
		if testing.Short() {
			return
		}
		start := time.Now()
		_ = h.Verify(context.Background(), s, "guess")
		if d := time.Since(start); d > 30*time.Second {
			t.Fatalf("%q took %v", s, d)
		}
	})
}
