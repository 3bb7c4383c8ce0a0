package flows

import (
	"context"
	"net/http"
	"testing"

	"github.com/caddyauth/gateway/internal/notify"
	"github.com/caddyauth/gateway/store"
)

// TestPhoneVerification (issue 12 item 3): a signed-in user adds a phone;
// it is the account's only once the SMS code comes back, and only then
// does it sign in; a wrong code changes nothing; a number another account
// holds is refused at confirmation.
func TestPhoneVerification(t *testing.T) {
	m := newResetEnv(t, nil, nil)
	ctx := context.Background()
	c := m.login(alicePW)
	res := m.do(withCookie(jsonReq("POST", "/auth/phone", `{"phone":"+1 (415) 555-0123"}`), c))
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("add phone: %d %v", res.StatusCode, decodeErr(t, res))
	}
	msg := m.queue.last(t)
	if msg.Kind != notify.KindVerifyPhone || msg.Channel != notify.SMS || msg.To != "+14155550123" || len(msg.Data[notify.DataCode]) != 6 {
		t.Fatalf("queued %+v", msg)
	}
	u, _ := m.mem.UserByID(ctx, m.alice.ID)
	if u.Phone != "" {
		t.Fatalf("the phone was set before its code came back: %q", u.Phone)
	}
	// Not yet: phone sign-in refuses the number.
	if res := m.do(jsonReq("POST", "/auth/login", `{"phone":"+14155550123","password":"`+alicePW+`"}`)); res.StatusCode != 401 {
		t.Fatalf("login by an unconfirmed phone: %d", res.StatusCode)
	}
	wrong := "000000"
	if msg.Data[notify.DataCode] == wrong {
		wrong = "111111"
	}
	if got := decodeErr(t, m.do(withCookie(jsonReq("POST", "/auth/verify-phone", `{"code":"`+wrong+`"}`), c))); got.Code != CodeVerificationInvalid {
		t.Fatalf("wrong code: %+v", got)
	}
	res = m.do(withCookie(jsonReq("POST", "/auth/verify-phone", `{"code":"`+msg.Data[notify.DataCode]+`"}`), c))
	if res.StatusCode != 200 {
		t.Fatalf("verify phone: %d %v", res.StatusCode, decodeErr(t, res))
	}
	u, _ = m.mem.UserByID(ctx, m.alice.ID)
	if u.VerifiedPhone() != "+14155550123" {
		t.Fatalf("after the code: phone %q verified at %v", u.Phone, u.PhoneVerifiedAt)
	}
	if res := m.do(jsonReq("POST", "/auth/login", `{"phone":"+14155550123","password":"`+alicePW+`"}`)); res.StatusCode != 200 {
		t.Fatalf("login by the verified phone: %d", res.StatusCode)
	}
	// Bob claims the same number: the code arrives (it is his to
	// receive), the confirmation is refused and nothing changes.
	bob := &store.User{ID: "bob", Email: "bob@example.test", Status: store.StatusActive, PasswordHash: m.alice.PasswordHash}
	if err := m.mem.CreateUser(ctx, bob); err != nil {
		t.Fatal(err)
	}
	bc := m.loginAs("bob@example.test", alicePW)
	if res := m.do(withCookie(jsonReq("POST", "/auth/phone", `{"phone":"+14155550123"}`), bc)); res.StatusCode != http.StatusAccepted {
		t.Fatal(res.StatusCode)
	}
	code := m.queue.last(t).Data[notify.DataCode]
	if got := decodeErr(t, m.do(withCookie(jsonReq("POST", "/auth/verify-phone", `{"code":"`+code+`"}`), bc))); got.Code != CodePhoneTaken {
		t.Fatalf("taken number: %+v", got)
	}
	for _, bad := range []string{`{"phone":"0415550123"}`, `{"phone":""}`, `{"phone":"+1","x":1}`} {
		if got := decodeErr(t, m.do(withCookie(jsonReq("POST", "/auth/phone", bad), c))); got.Code != CodeInvalidInput {
			t.Errorf("%s: %+v", bad, got)
		}
	}
	if res := m.do(jsonReq("POST", "/auth/phone", `{"phone":"+14155550199"}`)); res.StatusCode != 401 {
		t.Errorf("anonymous add phone: %d", res.StatusCode)
	}
}
