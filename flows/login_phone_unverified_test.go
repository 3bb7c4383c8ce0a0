package flows

import (
	"context"
	"testing"
	"time"
)

// TestLoginByUnverifiedPhone: the right password on an account whose phone
// is not verified does not sign in by that phone (issue 12 item 8); the
// same account still signs in by email.
func TestLoginByUnverifiedPhone(t *testing.T) {
	e := newEnv(t, Config{Limits: &Limits{LockoutMax: 3, LockoutWindow: 15 * time.Minute, LockoutDuration: 15 * time.Minute}}, GuardConfig{})
	e.alice.Phone = "+15550100000"
	if err := e.mem.UpdateUser(context.Background(), e.alice); err != nil {
		t.Fatal(err)
	}
	res := e.do(jsonReq("POST", "/auth/login", `{"phone":"+15550100000","password":"`+alicePW+`"}`))
	if res.StatusCode != 401 {
		t.Fatalf("unverified phone with the right password: %d, want 401", res.StatusCode)
	}
	e.alice.PhoneVerifiedAt = time.Now()
	if err := e.mem.UpdateUser(context.Background(), e.alice); err != nil {
		t.Fatal(err)
	}
	res = e.do(jsonReq("POST", "/auth/login", `{"phone":"+15550100000","password":"`+alicePW+`"}`))
	if res.StatusCode != 200 {
		t.Fatalf("verified phone: %d, want 200", res.StatusCode)
	}
}
