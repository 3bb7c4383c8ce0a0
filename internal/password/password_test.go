package password

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fast keeps unit tests quick; the default parameters are checked separately.
var fast = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestHashVerify(t *testing.T) {
	h := New(fast, 2)
	ctx := context.Background()
	long := strings.Repeat("x", 99) + "y"
	for _, pw := range []string{"correct horse battery staple", "ünïcødé 🔑 passphrase", long, " leading space"} {
		enc, err := h.Hash(ctx, pw)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$") {
			t.Fatalf("unexpected encoding %q", enc)
		}
		if err := h.Verify(ctx, enc, pw); err != nil {
			t.Fatalf("verify %q: %v", pw, err)
		}
	}
	enc, _ := h.Hash(ctx, long)
	// Verified exactly as received: no truncation, case folding or trimming.
	for _, wrong := range []string{long[:72], strings.ToUpper(long[:1]) + long[1:], long + " ", ""} {
		if err := h.Verify(ctx, enc, wrong); !errors.Is(err, ErrMismatch) {
			t.Fatalf("variant %q accepted: %v", wrong, err)
		}
	}
}

func TestSaltsDiffer(t *testing.T) {
	h := New(fast, 1)
	a, _ := h.Hash(context.Background(), "same")
	b, _ := h.Hash(context.Background(), "same")
	if a == b {
		t.Fatal("two hashes of one password are equal: salt not random")
	}
}

func TestDefaultParamsMeetOWASPFloor(t *testing.T) {
	h := New(DefaultParams, 1)
	enc, err := h.Hash(context.Background(), "pw")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("default hash %q is below the OWASP floor", enc)
	}
}

func TestUnknownUserNeverMatches(t *testing.T) {
	h := New(fast, 1)
	if err := h.Verify(context.Background(), "", ""); !errors.Is(err, ErrMismatch) {
		t.Fatalf("empty hash verified: %v", err)
	}
}

func TestTooLong(t *testing.T) {
	h := New(fast, 1)
	big := strings.Repeat("a", MaxLength+1)
	if _, err := h.Hash(context.Background(), big); !errors.Is(err, ErrTooLong) {
		t.Fatalf("got %v", err)
	}
	if err := h.Verify(context.Background(), "", big); !errors.Is(err, ErrTooLong) {
		t.Fatalf("got %v", err)
	}
}

func TestMalformed(t *testing.T) {
	h := New(fast, 1)
	for _, s := range []string{
		"plain", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5", // memory bomb
		"$argon2id$v=19$m=64,t=1000,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=64,t=1,p=1$!!$a2V5a2V5a2V5a2V5a2V5",
	} {
		if err := h.Verify(context.Background(), s, "x"); !errors.Is(err, ErrMalformed) {
			t.Fatalf("%q: got %v", s, err)
		}
	}
}

func TestNeedsRehash(t *testing.T) {
	weak := New(fast, 1)
	enc, _ := weak.Hash(context.Background(), "pw")
	if !New(DefaultParams, 1).NeedsRehash(enc) {
		t.Fatal("weak hash not flagged")
	}
	if weak.NeedsRehash(enc) {
		t.Fatal("hash flagged against its own params")
	}
}

// TestConcurrencyBound checks that no more than the configured number of
// hashes run at once and that waiters give up with their context.
func TestConcurrencyBound(t *testing.T) {
	h := New(Params{Memory: 4 * 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 2)
	var running, peak atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := h.acquire(context.Background()); err != nil {
				t.Error(err)
				return
			}
			n := running.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			time.Sleep(5 * time.Millisecond)
			running.Add(-1)
			h.release()
		}()
	}
	wg.Wait()
	if peak.Load() > 2 {
		t.Fatalf("peak concurrency %d > 2", peak.Load())
	}
	// Fill the slots; a caller with a short deadline must give up.
	h.slots <- struct{}{}
	h.slots <- struct{}{}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := h.Hash(ctx, "pw"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want deadline exceeded", err)
	}
}

func BenchmarkVerifyDefault(b *testing.B) {
	h := New(DefaultParams, 0)
	enc, _ := h.Hash(context.Background(), "benchmark password")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = h.Verify(context.Background(), enc, "benchmark password")
	}
}
