package flows

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/internal/notify"
	"github.com/caddyauth/gateway/store"
)

func TestMFAEmailCode(t *testing.T) {
	m := newMFAEnv(t, MFAConfig{}, GuardConfig{})
	m.enrol(m.login(alicePW))
	stage, ans := m.passwordStage()
	if !strings.Contains(mustJSON(ans["methods"]), `"email"`) {
		t.Fatalf("email not offered: %v", ans)
	}
	res := m.do(withCookie(jsonReq("POST", "/auth/mfa/send", `{"method":"email"}`), stage))
	if res.StatusCode != 200 {
		t.Fatalf("send: %d %v", res.StatusCode, body(t, res))
	}
	msg := m.queue.last(t)
	code := msg.Data["code"]
	if msg.Kind != notify.KindMFACode || msg.Channel != notify.Email || msg.To != "alice@example.test" || len(code) != 6 {
		t.Fatalf("queued = %+v", msg)
	}
	// Stored hashed: the code is not in any token the store holds.
	ctx := context.Background()
	if _, err := m.mem.PeekToken(ctx, m.svc.keys.MAC("mfa-code", keys.HashToken(stage.Value), "email", code), mfaCodePurpose, m.clk.Now()); err != nil {
		t.Fatalf("code not stored under its keyed hash: %v", err)
	}
	if _, err := m.mem.PeekToken(ctx, code, mfaCodePurpose, m.clk.Now()); err == nil {
		t.Fatal("code stored in clear")
	}
	// SMS is not offered: alice has no phone.
	if e := decodeErr(t, m.do(withCookie(jsonReq("POST", "/auth/mfa/send", `{"method":"sms"}`), stage))); e.Code != CodeMFAMethodNotAvailable {
		t.Errorf("sms without a phone: %v", e)
	}
	// A code sent for another stage does not work here.
	other, _ := m.passwordStage()
	if e := decodeErr(t, m.challenge(other, `{"method":"email","code":"`+code+`"}`)); e.Code != CodeMFACodeInvalid {
		t.Errorf("code used in another stage: %v", e)
	}
	if res := m.challenge(stage, `{"method":"email","code":"`+code+`"}`); res.StatusCode != 200 {
		t.Fatalf("email code: %d", res.StatusCode)
	}
	// Single use.
	stage2, _ := m.passwordStage()
	if e := decodeErr(t, m.challenge(stage2, `{"method":"email","code":"`+code+`"}`)); e.Code != CodeMFACodeInvalid {
		t.Errorf("email code reused: %v", e)
	}
	// A new send replaces the code sent before.
	m.do(withCookie(jsonReq("POST", "/auth/mfa/send", `{"method":"email"}`), stage2))
	replaced := m.queue.last(t).Data["code"]
	m.do(withCookie(jsonReq("POST", "/auth/mfa/send", `{"method":"email"}`), stage2))
	if replaced != m.queue.last(t).Data["code"] {
		if e := decodeErr(t, m.challenge(stage2, `{"method":"email","code":"`+replaced+`"}`)); e.Code != CodeMFACodeInvalid {
			t.Errorf("code replaced by a new send: %v, want MFA_CODE_INVALID", e)
		}
	}
	// Expiry is reported as such.
	m.do(withCookie(jsonReq("POST", "/auth/mfa/send", `{"method":"email"}`), stage2))
	code2 := m.queue.last(t).Data["code"]
	m.clk.Advance(mfaCodeTTL + time.Second)
	if e := decodeErr(t, m.challenge(stage2, `{"method":"email","code":"`+code2+`"}`)); e.Code != CodeMFACodeExpired {
		t.Errorf("expired code: %v", e)
	}
}

// A code factor's prompt names the masked destination; its code passes
// once, only for the stage and method it was sent for.
func TestCodeFactorBeginVerify(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		method, to, masked string
	}{
		{MethodEmail, "alice@example.test", "a***@example.test"},
		{MethodSMS, "+15550123", "***23"},
	} {
		t.Run(tc.method, func(t *testing.T) {
			e := newMFAEnv(t, MFAConfig{}, GuardConfig{})
			u := store.User{ID: keys.NewID(), Email: "alice@example.test", Phone: "+15550123", PhoneVerifiedAt: time.Now()}
			c := &factorCall{u: &u, stage: keys.NewID(), st: &mfaState{}, now: e.clk.Now()}
			f := e.svc.factors.get(tc.method)
			pr, err := f.Begin(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			if pr.Sent != tc.masked || pr.ExpiresIn != mfaCodeTTL {
				t.Fatalf("prompt %+v", pr)
			}
			m := e.queue.last(t)
			if m.Channel != tc.method || m.To != tc.to || m.Kind != notify.KindMFACode {
				t.Fatalf("message %+v", m)
			}
			code := m.Data[notify.DataCode]
			other := e.svc.factors.get(MethodEmail)
			if tc.method == MethodEmail {
				other = e.svc.factors.get(MethodSMS)
			}
			if err := other.Verify(ctx, c, code); err != errMFACodeInvalid {
				t.Fatalf("code passed for the other method: %v", err)
			}
			elsewhere := &factorCall{u: &u, stage: keys.NewID(), st: c.st, now: c.now}
			if err := f.Verify(ctx, elsewhere, code); err != errMFACodeInvalid {
				t.Fatalf("code passed for another stage: %v", err)
			}
			if err := f.Verify(ctx, c, code); err != nil {
				t.Fatalf("verify: %v", err)
			}
			if err := f.Verify(ctx, c, code); err == nil {
				t.Fatal("a spent code passed again")
			}
		})
	}
}
