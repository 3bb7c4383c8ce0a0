package flows

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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
	res = m.do(withCookie(jsonReq("POST", "/auth/verify-email", `{"token":"`+tok+`"}`), c))
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
	t.Run("site", func(t *testing.T) {
		requireVerifiedEmail(t, newEnv(t, Config{}, GuardConfig{RequireVerifiedEmail: true}))
	})
	t.Run("global default", func(t *testing.T) {
		requireVerifiedEmail(t, newEnv(t, Config{RequireVerifiedEmail: true}, GuardConfig{}))
	})
}

func requireVerifiedEmail(t *testing.T, e *env) {
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

// TestChangeEmail (issue 12 item 4): the password confirms; the new
// address gets the verification, the old one a notice at once; the
// address switches only when the new one confirms; a password reset in
// between cancels the change; a taken address is refused.
func TestChangeEmail(t *testing.T) {
	m := newResetEnv(t, nil, nil)
	ctx := context.Background()
	c := m.login(alicePW)
	if got := decodeErr(t, m.do(withCookie(jsonReq("POST", "/auth/change-email", `{"new_email":"alice@new.test","current_password":"wrong password here"}`), c))); got.Code != CodeInvalidCredentials {
		t.Fatalf("wrong password: %+v", got)
	}
	res := m.do(withCookie(jsonReq("POST", "/auth/change-email", `{"new_email":"Alice@New.test","current_password":"`+alicePW+`"}`), c))
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("change email: %d %v", res.StatusCode, decodeErr(t, res))
	}
	m.queue.mu.Lock()
	msgs := append([]notify.Message(nil), m.queue.msgs...)
	m.queue.mu.Unlock()
	var toNew, toOld *notify.Message
	for i := range msgs {
		switch {
		case msgs[i].Kind == notify.KindVerifyEmail && msgs[i].To == "alice@new.test":
			toNew = &msgs[i]
		case msgs[i].Kind == notify.KindEmailChangeRequested && msgs[i].To == "alice@example.test":
			toOld = &msgs[i]
		}
	}
	if toNew == nil || toOld == nil {
		t.Fatalf("messages %+v", msgs)
	}
	if u, _ := m.mem.UserByID(ctx, m.alice.ID); u.Email != "alice@example.test" {
		t.Fatalf("the address switched before confirmation: %s", u.Email)
	}
	// The code, typed with the new address, by the signed-in user.
	res = m.do(withCookie(jsonReq("POST", "/auth/verify-email", `{"email":"alice@new.test","code":"`+toNew.Data[notify.DataCode]+`"}`), c))
	if res.StatusCode != 200 {
		t.Fatalf("confirm: %d %v", res.StatusCode, decodeErr(t, res))
	}
	u, _ := m.mem.UserByID(ctx, m.alice.ID)
	if u.Email != "alice@new.test" || u.EmailVerifiedAt.IsZero() {
		t.Fatalf("after confirmation: %+v", u)
	}
	if !m.aud.has(audit.EmailChanged) {
		t.Error("no email.changed audit record")
	}
	m.loginAs("alice@new.test", alicePW)

	// A reset between request and confirmation cancels the change.
	c = m.loginAs("alice@new.test", alicePW)
	m.do(withCookie(jsonReq("POST", "/auth/change-email", `{"new_email":"thief@evil.test","current_password":"`+alicePW+`"}`), c))
	m.queue.mu.Lock()
	verify := m.queue.msgs[len(m.queue.msgs)-2]
	m.queue.mu.Unlock()
	link, _ := url.Parse(verify.Data[notify.DataLink])
	tok := link.Query().Get("token")
	if _, err := m.svc.Accounts().SetPassword(ctx, Actor{ID: ActorCLI}, u, "an entirely new passphrase for alice"); err != nil {
		t.Fatal(err)
	}
	if got := decodeErr(t, m.do(jsonReq("POST", "/auth/verify-email", `{"token":"`+tok+`"}`))); got.Code != CodeVerificationInvalid {
		t.Fatalf("change confirmed after a password reset: %+v", got)
	}
	if u, _ := m.mem.UserByID(ctx, m.alice.ID); u.Email != "alice@new.test" {
		t.Fatalf("address moved to %s", u.Email)
	}
	// A taken address.
	bob := &store.User{ID: "bob", Email: "bob@example.test", Status: store.StatusActive}
	_ = m.mem.CreateUser(ctx, bob)
	c = m.loginAs("alice@new.test", "an entirely new passphrase for alice")
	if got := decodeErr(t, m.do(withCookie(jsonReq("POST", "/auth/change-email", `{"new_email":"bob@example.test","current_password":"an entirely new passphrase for alice"}`), c))); got.Code != CodeEmailTaken {
		t.Fatalf("taken address: %+v", got)
	}
}

// TestRegisterTiming: a taken and a free address take the same time (the
// floor, and the password hashed either way).
func TestRegisterTiming(t *testing.T) {
	const floor = 80 * time.Millisecond
	m := newResetEnv(t, func(c *Config) { c.SendFloor = floor; c.Registration = RegistrationConfig{On: true} }, nil)
	measure := func(email string) time.Duration {
		start := time.Now()
		if res := m.register(email); res.StatusCode != http.StatusAccepted {
			t.Fatalf("%s: %d", email, res.StatusCode)
		}
		return time.Since(start)
	}
	var taken, free time.Duration
	const rounds = 5
	for i := range rounds {
		taken += measure("alice@example.test")
		free += measure("free" + strconv.Itoa(i) + "@corp.test")
	}
	taken, free = taken/rounds, free/rounds
	if taken < floor || free < floor {
		t.Fatalf("answers before the floor: taken %v, free %v", taken, free)
	}
	if d := taken - free; d > 20*time.Millisecond || d < -20*time.Millisecond {
		t.Fatalf("taken %v vs free %v: differ by %v", taken, free, d)
	}
}

// TestRegisterStoreFailures: a store that cannot answer at lookup or
// creation fails closed (503) and makes nothing; a verification whose
// store fails leaves the grant for a retry.
func TestRegisterStoreFailures(t *testing.T) {
	m := newRegisterEnv(t, RegistrationConfig{})
	down := &flakyUsers{UserStore: m.mem}
	m.svc.deps.Users = down
	down.fail.Store(true)
	res := m.register("new@corp.test")
	if got := decodeErr(t, res); res.StatusCode != 503 || got.Code != CodeStoreUnavailable {
		t.Fatalf("store down at sign-up: %d %+v", res.StatusCode, got)
	}
	down.fail.Store(false)
	if _, err := m.mem.UserByEmail(context.Background(), "new@corp.test"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an account was made while the store failed: %v", err)
	}
	if res := m.register("new@corp.test"); res.StatusCode != http.StatusAccepted {
		t.Fatal(res.StatusCode)
	}
	tok, _ := verificationMessage(t, m.queue)
	down.failUpdate.Store(true)
	if got := decodeErr(t, m.do(jsonReq("POST", "/auth/verify-email", `{"token":"`+tok+`"}`))); got.Code != CodeStoreUnavailable {
		t.Fatalf("store down at verification: %+v", got)
	}
	down.failUpdate.Store(false)
	if u, _ := m.mem.UserByEmail(context.Background(), "new@corp.test"); u.Status != store.StatusPending {
		t.Fatalf("status after a failed verification: %s", u.Status)
	}
}

// flakyUsers fails lookups (fail) or writes (failUpdate) on demand.
type flakyUsers struct {
	store.UserStore
	fail, failUpdate atomic.Bool
}

func (f *flakyUsers) UserByEmail(ctx context.Context, e string) (*store.User, error) {
	if f.fail.Load() {
		return nil, store.ErrUnavailable
	}
	return f.UserStore.UserByEmail(ctx, e)
}

func (f *flakyUsers) UpdateUser(ctx context.Context, u *store.User) error {
	if f.failUpdate.Load() {
		return store.ErrUnavailable
	}
	return f.UserStore.UpdateUser(ctx, u)
}

// TestRegisterSquattedAddress: someone registers another person's
// address. The person (the mailbox's owner) takes it over with
// forgot-password: the reset verifies the address and replaces the
// registrant's password, which is dead from then on.
func TestRegisterSquattedAddress(t *testing.T) {
	m := newRegisterEnv(t, RegistrationConfig{})
	m.register("victim@corp.test") // the squatter, with newcomerPW
	if res := m.forgot(`{"email":"victim@corp.test"}`); res.StatusCode != http.StatusAccepted {
		t.Fatal(res.StatusCode)
	}
	resetTok, _ := resetMessage(t, m.queue)
	const victimPW = "the victim's own long passphrase"
	if res := m.resetReq(`{"token":"` + resetTok + `","new_password":"` + victimPW + `"}`); res.StatusCode != 200 {
		t.Fatalf("reset of a pending account: %d %v", res.StatusCode, decodeErr(t, res))
	}
	u, _ := m.mem.UserByEmail(context.Background(), "victim@corp.test")
	if u.Status != store.StatusActive || u.EmailVerifiedAt.IsZero() {
		t.Fatalf("after the owner's reset: %s, verified %v", u.Status, u.EmailVerifiedAt)
	}
	if res := m.do(jsonReq("POST", "/auth/login", `{"email":"victim@corp.test","password":"`+newcomerPW+`"}`)); res.StatusCode != 401 {
		t.Fatalf("the squatter's password still signs in: %d", res.StatusCode)
	}
	c := m.loginAs("victim@corp.test", victimPW)
	if res := m.do(withCookie(jsonReq("GET", "/app", ""), c)); res.StatusCode != 200 {
		t.Fatalf("the owner at /app: %d", res.StatusCode)
	}
}
