package flows

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/caddyauth/gateway/store/memory"
)

// TestMFALockoutHoldsUnderConcurrentCodes (issue 9 #3): the account's
// second-factor lock is reserved like the login lockout: 100 wrong codes
// sent at once over 20 challenge stages get at most its 10 checks.
func TestMFALockoutHoldsUnderConcurrentCodes(t *testing.T) {
	for _, shared := range []bool{false, true} {
		lim := Limits{MFALockoutMax: 10, MFALockoutWindow: 24 * time.Hour, MFALockoutDuration: 24 * time.Hour}
		clk := newClock()
		q := &captureQueue{}
		a := &memAudit{}
		e := newEnvWith(t, Config{Now: clk.Now, Limits: &lim}, GuardConfig{}, func(d *Deps) {
			d.Outbox, d.Audit = q, a
			if shared {
				d.Lockouts = memory.New()
			}
		})
		m := &mfaEnv{env: e, clk: clk, queue: q, aud: a}
		m.enrol(m.login(alicePW))
		var reqs []*http.Request
		for range 20 {
			stage, _ := m.passwordStage()
			for range mfaMaxAttempts {
				reqs = append(reqs, withCookie(jsonReq("POST", "/auth/mfa/challenge", `{"method":"totp","code":"000001"}`), stage))
			}
		}
		var mu sync.Mutex
		codes := map[string]int{}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for _, r := range reqs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				got := decodeErr(t, m.do(r))
				mu.Lock()
				codes[got.Code]++
				mu.Unlock()
			}()
		}
		close(start)
		wg.Wait()
		if codes[CodeMFACodeInvalid] > lim.MFALockoutMax {
			t.Fatalf("shared=%v: %d wrong codes checked of %d against a second-factor lock of %d: %v", shared, codes[CodeMFACodeInvalid], len(reqs), lim.MFALockoutMax, codes)
		}
	}
}
