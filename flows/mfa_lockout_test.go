package flows

import (
	"context"
	"testing"
	"time"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/notify"
	"github.com/caddyauth/gateway/internal/totp"
)

func TestMFAWrongCodesKillTheStage(t *testing.T) {
	m := newMFAEnv(t, MFAConfig{}, GuardConfig{})
	secret, _, _ := m.enrol(m.login(alicePW))
	stage, _ := m.passwordStage()
	for i := 0; i < mfaMaxAttempts; i++ {
		if e := decodeErr(t, m.challenge(stage, `{"method":"totp","code":"000001"}`)); e.Code != CodeMFACodeInvalid {
			t.Fatalf("try %d: %v", i+1, e)
		}
	}
	m.clk.Advance(totp.Period * time.Second)
	code, _ := totp.Code(secret, m.clk.Now())
	res := m.challenge(stage, `{"method":"totp","code":"`+code+`"}`)
	if e := decodeErr(t, res); e.Code != CodeMFARequired {
		t.Fatalf("right code after %d wrong ones: %v, want MFA_REQUIRED (start over)", mfaMaxAttempts, e)
	}
	// The stage is gone: even the right code now needs a new login.
	if e := decodeErr(t, m.challenge(stage, `{"method":"totp","code":"`+code+`"}`)); e.Code != CodeUnauthenticated {
		t.Errorf("dead stage: %v", e)
	}
}

func TestMFASendRateLimited(t *testing.T) {
	clk := newClock()
	q := &captureQueue{}
	lim := DefaultLimits()
	lim.LoginIP, lim.LoginIdentifier = lim.MFA, lim.MFA
	lim.LoginIP.N, lim.LoginIdentifier.N = 1000, 1000
	e := newEnvWith(t, Config{Now: clk.Now, Limits: &lim}, GuardConfig{}, func(d *Deps) { d.Outbox = q })
	m := &mfaEnv{env: e, clk: clk, queue: q, aud: &memAudit{}}
	m.enrol(m.login(alicePW))
	stage, _ := m.passwordStage()
	for i := 0; i < 3; i++ {
		if res := m.do(withCookie(jsonReq("POST", "/auth/mfa/send", `{"method":"email"}`), stage)); res.StatusCode != 200 {
			t.Fatalf("send %d: %d", i+1, res.StatusCode)
		}
	}
	res := m.do(withCookie(jsonReq("POST", "/auth/mfa/send", `{"method":"email"}`), stage))
	if e := decodeErr(t, res); e.Code != CodeRateLimited || res.Header.Get("Retry-After") == "" {
		t.Errorf("4th send in a minute: %v", e)
	}
}

// TestMFAStageAttemptsDoNotRefill: pacing wrong codes over the stage's
// whole lifetime does not buy more than mfaMaxAttempts.
func TestMFAStageAttemptsDoNotRefill(t *testing.T) {
	m := newMFAEnv(t, MFAConfig{}, GuardConfig{})
	m.enrol(m.login(alicePW))
	stage, _ := m.passwordStage()
	for i := 0; i < mfaMaxAttempts; i++ {
		if e := decodeErr(t, m.challenge(stage, `{"method":"totp","code":"000001"}`)); e.Code != CodeMFACodeInvalid {
			t.Fatalf("try %d: %v", i+1, e)
		}
		m.clk.Advance(challengeTTL / (mfaMaxAttempts + 1))
	}
	if e := decodeErr(t, m.challenge(stage, `{"method":"totp","code":"000001"}`)); e.Code != CodeMFARequired {
		t.Fatalf("paced try %d: %v, want MFA_REQUIRED (stage over)", mfaMaxAttempts+1, e)
	}
}

// TestMFAAccountLockCapsGuesses: with the default limits, logging in again
// and again for new stages does not buy new guesses: after 10 wrong codes
// the account's second factor is locked (from any address), the user is
// told, and an operator unlock (or the day passing) lifts it.
func TestMFAAccountLockCapsGuesses(t *testing.T) {
	lim := DefaultLimits()
	clk := newClock()
	q := &captureQueue{}
	a := &memAudit{}
	e := newEnvWith(t, Config{Now: clk.Now, Limits: &lim}, GuardConfig{}, func(d *Deps) { d.Outbox = q; d.Audit = a })
	m := &mfaEnv{env: e, clk: clk, queue: q, aud: a}
	secret, _, _ := m.enrol(m.login(alicePW))
	checked, locked := 0, 0
	for minute := 0; minute < 60; minute++ {
		stage, _ := m.passwordStage()
		for i := 0; i < mfaMaxAttempts; i++ {
			switch decodeErr(t, m.challenge(stage, `{"method":"totp","code":"000001"}`)).Code {
			case CodeMFACodeInvalid:
				checked++
			case CodeAccountLocked:
				locked++
			}
		}
		clk.Advance(time.Minute)
	}
	if checked != lim.MFALockoutMax || locked == 0 {
		t.Fatalf("wrong codes checked in an hour: %d (want %d), refused as locked: %d", checked, lim.MFALockoutMax, locked)
	}
	if msg := m.queue.last(t); msg.Kind != notify.KindAccountLocked || msg.To != "alice@example.test" {
		t.Errorf("notice = %+v", msg)
	}
	if !m.aud.has(audit.LockedOut) {
		t.Error("lock not audited")
	}
	// Even the right code is refused while locked; sends too.
	stage, _ := m.passwordStage()
	m.clk.Advance(totp.Period * time.Second)
	code, _ := totp.Code(secret, m.clk.Now())
	if e := decodeErr(t, m.challenge(stage, `{"method":"totp","code":"`+code+`"}`)); e.Code != CodeAccountLocked {
		t.Fatalf("right code while locked: %v", e)
	}
	if e := decodeErr(t, m.do(withCookie(jsonReq("POST", "/auth/mfa/send", `{"method":"email"}`), stage))); e.Code != CodeAccountLocked {
		t.Errorf("send while locked: %v", e)
	}
	// The operator unlock (what `caddy auth user unlock` runs) lifts it.
	if _, err := m.svc.limits.mfaLock.UnlockIdentifier(context.Background(), "alice@example.test", m.clk.Now()); err != nil {
		t.Fatal(err)
	}
	if res := m.challenge(stage, `{"method":"totp","code":"`+code+`"}`); res.StatusCode != 200 {
		t.Fatalf("after unlock: %d", res.StatusCode)
	}
}
