package flows

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/internal/ratelimit"
	"github.com/caddyauth/gateway/store"
	"github.com/caddyauth/gateway/store/memory"
)

// TestAuditEventsCarryNoSecrets drives the flows that emit audit events
// through the real chain and checks no record holds a password, a session
// token or a full session id (the hash a store lookup needs), and that the
// chain they build verifies.
func TestAuditEventsCarryNoSecrets(t *testing.T) {
	limits := &Limits{LockoutMax: 2, LockoutWindow: 60e9, LockoutDuration: 60e9, LoginIdentifier: ratelimit.Rate{}}
	e := newEnv(t, Config{Limits: limits}, GuardConfig{})
	ring, err := keys.NewRing("audit-flows-test-secret-0123456789abcdef", "")
	if err != nil {
		t.Fatal(err)
	}
	st := memory.NewAudit()
	chain, err := audit.NewChain(st, audit.Options{Key: ring.Key(audit.KeyPurpose)})
	if err != nil {
		t.Fatal(err)
	}
	e.svc.deps.Audit = chain

	const wrongPW = "not the right password at all"
	secrets := []string{alicePW, wrongPW}
	var cookies []*http.Cookie
	login := func() *http.Cookie {
		c := e.login(alicePW)
		cookies = append(cookies, c)
		return c
	}
	a, _ := login(), login()
	res := e.do(withCookie(jsonReq("GET", "/auth/sessions", ""), a))
	var list struct {
		Sessions []sessionView `json:"sessions"`
	}
	_ = json.NewDecoder(res.Body).Decode(&list)
	for _, s := range list.Sessions {
		if !s.Current {
			e.do(withCookie(jsonReq("DELETE", "/auth/sessions/"+s.ID, ""), a))
		}
	}
	c := login() // after the revocation above, which ended every other session
	for _, email := range []string{"alice@example.test", "nobody@example.test"} {
		res := e.do(jsonReq("POST", "/auth/login", `{"email":"`+email+`","password":"`+wrongPW+`"}`))
		if res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong password: %d", res.StatusCode)
		}
	}
	// A password typed into the email field is not recorded.
	const pwAsEmail = "my password typed in the wrong field"
	secrets = append(secrets, pwAsEmail)
	e.do(jsonReq("POST", "/auth/login", `{"email":"`+pwAsEmail+`","password":"`+wrongPW+`"}`))
	// A third failure for alice trips the lockout.
	e.do(jsonReq("POST", "/auth/login", `{"email":"alice@example.test","password":"`+wrongPW+`"}`))
	e.do(jsonReq("POST", "/auth/login", `{"email":"alice@example.test","password":"`+wrongPW+`"}`))

	e.do(withCookie(jsonReq("POST", "/auth/logout", ""), a))
	e.do(withCookie(jsonReq("POST", "/auth/logout-all", ""), c))

	for _, ck := range cookies {
		secrets = append(secrets, ck.Value, keys.HashToken(ck.Value))
	}
	recs, err := st.ListAudit(context.Background(), store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range recs {
		seen[r.Type] = true
		all, _ := json.Marshal(audit.ToJSON(r))
		for _, s := range secrets {
			if strings.Contains(string(all), s) {
				t.Errorf("record %d (%s) holds a secret: %s", r.Seq, r.Type, all)
			}
		}
	}
	for _, typ := range []string{audit.LoginSucceeded, audit.LoginFailed, audit.LockedOut, audit.SessionRevoked, audit.Logout, audit.LogoutAll} {
		if !seen[typ] {
			t.Errorf("no %s event recorded (saw %v)", typ, seen)
		}
	}
	rep, err := audit.Verify(context.Background(), st, ring.VerifyKeys(audit.KeyPurpose))
	if err != nil || rep.Broken != nil || rep.Records != int64(len(recs)) {
		t.Fatalf("chain from the flows: %+v %v", rep, err)
	}
}
