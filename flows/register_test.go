package flows

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/notify"
	"github.com/caddyauth/gateway/store"
)

const newcomerPW = "correct horse battery staple glue"

func newRegisterEnv(t *testing.T, reg RegistrationConfig) *mfaEnv {
	t.Helper()
	reg.On = true
	return newResetEnv(t, func(c *Config) { c.Registration = reg }, nil)
}

func (m *mfaEnv) register(email string) *http.Response {
	return m.do(jsonReq("POST", "/auth/register", `{"email":"`+email+`","password":"`+newcomerPW+`","name":"New Comer"}`))
}

func verificationMessage(t *testing.T, q *captureQueue) (token, code string) {
	t.Helper()
	m := q.last(t)
	if m.Kind != notify.KindVerifyEmail {
		t.Fatalf("last message is %s", m.Kind)
	}
	link, err := url.Parse(m.Data[notify.DataLink])
	if err != nil || link.Path != "/auth/verify-email" {
		t.Fatalf("link %q", m.Data[notify.DataLink])
	}
	return link.Query().Get("token"), m.Data[notify.DataCode]
}

// TestRegisterSameAnswer: a new address and a taken one get the same 202
// body; the new one a pending account and a verification, the taken one
// an account_exists notice to its owner and no second account.
func TestRegisterSameAnswer(t *testing.T) {
	m := newRegisterEnv(t, RegistrationConfig{})
	var bodies []string
	for _, email := range []string{"new@corp.test", "alice@example.test"} {
		res := m.register(email)
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusAccepted {
			t.Fatalf("%s: %d %s", email, res.StatusCode, b)
		}
		bodies = append(bodies, string(b))
		msg := m.queue.last(t)
		want := notify.KindVerifyEmail
		if email == "alice@example.test" {
			want = notify.KindAccountExists
		}
		if msg.Kind != want || msg.To != email {
			t.Errorf("%s: queued %s to %s, want %s", email, msg.Kind, msg.To, want)
		}
	}
	if bodies[0] != bodies[1] || strings.TrimSpace(bodies[0]) != `{"verification_sent":true}` {
		t.Errorf("answers differ: %q vs %q", bodies[0], bodies[1])
	}
	u, err := m.mem.UserByEmail(context.Background(), "new@corp.test")
	if err != nil || u.Status != store.StatusPending || !u.EmailVerifiedAt.IsZero() || u.PasswordHash == "" {
		t.Fatalf("new account = %+v, %v", u, err)
	}
	a, _ := m.mem.UserByEmail(context.Background(), "alice@example.test")
	if a.Name != "Alice Liddell" || a.PasswordHash == u.PasswordHash {
		t.Fatal("the taken account changed")
	}
}

// TestRegisterPendingCannotPass: a pending account signs in, but protect
// answers 403 EMAIL_NOT_VERIFIED (browsers go to the check-your-mail page)
// until the link is used; then it passes and email_verified is queued.
func TestRegisterPendingCannotPass(t *testing.T) {
	m := newRegisterEnv(t, RegistrationConfig{})
	if res := m.register("new@corp.test"); res.StatusCode != http.StatusAccepted {
		t.Fatal(res.StatusCode)
	}
	tok, _ := verificationMessage(t, m.queue)
	c := m.loginAs("new@corp.test", newcomerPW)
	res := m.do(withCookie(jsonReq("GET", "/app", ""), c))
	if got := decodeErr(t, res); res.StatusCode != 403 || got.Code != CodeEmailNotVerified {
		t.Fatalf("pending account at /app: %d %+v", res.StatusCode, got)
	}
	nav := httptestGet("/app")
	nav.AddCookie(c)
	if res := m.do(nav); res.StatusCode != http.StatusFound || res.Header.Get("Location") != "/auth/verify-email" {
		t.Fatalf("pending browser: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	// The link's GET spends nothing.
	page := httptestGet("/auth/verify-email?token=" + url.QueryEscape(tok))
	if res := m.do(page); res.StatusCode != 200 {
		t.Fatalf("link page: %d", res.StatusCode)
	}
	res = m.do(jsonReq("POST", "/auth/verify-email", `{"token":"`+tok+`"}`))
	if res.StatusCode != 200 {
		t.Fatalf("verify: %d %v", res.StatusCode, decodeErr(t, res))
	}
	if m.queue.last(t).Kind != notify.KindEmailVerified {
		t.Error("no email_verified notice")
	}
	if res := m.do(withCookie(jsonReq("GET", "/app", ""), c)); res.StatusCode != 200 {
		t.Fatalf("verified account at /app: %d", res.StatusCode)
	}
	// Single use.
	res = m.do(jsonReq("POST", "/auth/verify-email", `{"token":"`+tok+`"}`))
	if got := decodeErr(t, res); got.Code != CodeVerificationInvalid {
		t.Errorf("second use: %+v", got)
	}
	if !m.aud.has(audit.EmailVerified) {
		t.Error("no email.verified audit record")
	}
}

// TestVerifyByCodeAndTries: the code verifies too; five wrong codes end
// the grant; a resend replaces it.
func TestVerifyByCodeAndTries(t *testing.T) {
	m := newRegisterEnv(t, RegistrationConfig{})
	m.register("new@corp.test")
	_, code := verificationMessage(t, m.queue)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	for i := range 5 {
		res := m.do(jsonReq("POST", "/auth/verify-email", `{"email":"new@corp.test","code":"`+wrong+`"}`))
		if got := decodeErr(t, res); got.Code != CodeVerificationInvalid {
			t.Fatalf("wrong code %d: %+v", i, got)
		}
	}
	res := m.do(jsonReq("POST", "/auth/verify-email", `{"email":"new@corp.test","code":"`+code+`"}`))
	if got := decodeErr(t, res); got.Code != CodeVerificationInvalid {
		t.Fatalf("the right code after five wrong ones: %+v", got)
	}
	if res := m.do(jsonReq("POST", "/auth/verify-email/resend", `{"email":"new@corp.test"}`)); res.StatusCode != http.StatusAccepted {
		t.Fatal(res.StatusCode)
	}
	_, code = verificationMessage(t, m.queue)
	if res := m.do(jsonReq("POST", "/auth/verify-email", `{"email":"NEW@corp.test","code":"`+code+`"}`)); res.StatusCode != 200 {
		t.Fatalf("new code: %d", res.StatusCode)
	}
	// Resend to a verified or unknown address: the same answer, nothing sent.
	before := m.queue.count()
	for _, e := range []string{"new@corp.test", "nobody@corp.test"} {
		if res := m.do(jsonReq("POST", "/auth/verify-email/resend", `{"email":"`+e+`"}`)); res.StatusCode != http.StatusAccepted {
			t.Fatalf("resend %s: %d", e, res.StatusCode)
		}
	}
	if m.queue.count() != before {
		t.Error("a resend to a verified or unknown address sent mail")
	}
}

func TestRegisterRules(t *testing.T) {
	m := newRegisterEnv(t, RegistrationConfig{Domains: []string{"corp.test"}})
	for _, tc := range []struct {
		body string
		code string
	}{
		{`{"email":"x@other.test","password":"` + newcomerPW + `"}`, CodeEmailDomainNotAllowed},
		{`{"email":"not-an-email","password":"` + newcomerPW + `"}`, CodeInvalidInput},
		{`{"email":"x@corp.test","password":"short"}`, CodeInvalidInput},
		{`{"email":"x@corp.test","password":"` + newcomerPW + `","phone":"12345"}`, CodeInvalidInput},
		{`{"email":"x@corp.test","password":"` + newcomerPW + `","role":"admin"}`, CodeInvalidInput},
	} {
		res := m.do(jsonReq("POST", "/auth/register", tc.body))
		if got := decodeErr(t, res); got.Code != tc.code {
			t.Errorf("%s: %+v, want %s", tc.body, got, tc.code)
		}
	}
	if n := m.queue.count(); n != 0 {
		t.Errorf("refused sign-ups queued %d messages", n)
	}
	disp := newRegisterEnv(t, RegistrationConfig{})
	res := disp.do(jsonReq("POST", "/auth/register", `{"email":"x@mailinator.com","password":"`+newcomerPW+`"}`))
	if got := decodeErr(t, res); got.Code != CodeEmailDomainNotAllowed {
		t.Errorf("disposable address under block: %+v", got)
	}
	flag := newRegisterEnv(t, RegistrationConfig{Disposable: "flag"})
	if res := flag.do(jsonReq("POST", "/auth/register", `{"email":"x@mailinator.com","password":"`+newcomerPW+`"}`)); res.StatusCode != http.StatusAccepted {
		t.Fatalf("flag: %d", res.StatusCode)
	}
	if !flag.aud.has(audit.DisposableEmail) {
		t.Error("flag did not audit the disposable address")
	}
	off := newResetEnv(t, nil, nil)
	if got := decodeErr(t, off.register("x@corp.test")); got.Code != CodeRegistrationDisabled {
		t.Errorf("registration off: %+v", got)
	}
}

func TestRegisterApproval(t *testing.T) {
	m := newRegisterEnv(t, RegistrationConfig{Approval: true})
	m.register("new@corp.test")
	tok, _ := verificationMessage(t, m.queue)
	res := m.do(jsonReq("POST", "/auth/verify-email", `{"token":"`+tok+`"}`))
	if b := body(t, res); b["approval_pending"] != true {
		t.Fatalf("verify answer %v", b)
	}
	c := m.loginAs("new@corp.test", newcomerPW)
	if got := decodeErr(t, m.do(withCookie(jsonReq("GET", "/app", ""), c))); got.Code != CodeApprovalPending {
		t.Fatalf("awaiting approval at /app: %+v", got)
	}
	u, _ := m.mem.UserByEmail(context.Background(), "new@corp.test")
	if err := m.svc.Accounts().Approve(context.Background(), Actor{ID: ActorCLI}, u); err != nil {
		t.Fatal(err)
	}
	if res := m.do(withCookie(jsonReq("GET", "/app", ""), c)); res.StatusCode != 200 {
		t.Fatalf("approved at /app: %d", res.StatusCode)
	}
	if err := m.svc.Accounts().Approve(context.Background(), Actor{ID: ActorCLI}, u); !errors.Is(err, ErrNotAwaitingApproval) {
		t.Errorf("approve twice: %v", err)
	}
}

func TestRequireVerifiedEmail(t *testing.T) {
	e := newEnv(t, Config{}, GuardConfig{RequireVerifiedEmail: true})
	c := e.login(alicePW)
	if got := decodeErr(t, e.do(withCookie(jsonReq("GET", "/app", ""), c))); got.Code != CodeEmailNotVerified {
		t.Fatalf("unverified alice on a require verified_email site: %+v", got)
	}
	u, _ := e.mem.UserByID(context.Background(), e.alice.ID)
	u.EmailVerifiedAt = u.CreatedAt.Add(1)
	if err := e.mem.UpdateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	c = e.login(alicePW)
	if res := e.do(withCookie(jsonReq("GET", "/app", ""), c)); res.StatusCode != 200 {
		t.Fatalf("verified alice: %d", res.StatusCode)
	}
}

func httptestGet(target string) *http.Request {
	r, _ := http.NewRequest("GET", "http://example.test"+target, nil)
	r.RequestURI = target
	r.Header.Set("Accept", "text/html")
	return r
}
