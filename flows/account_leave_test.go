package flows

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/internal/notify"
	"github.com/caddyauth/gateway/internal/ratelimit"
	"github.com/caddyauth/gateway/internal/session"
	"github.com/caddyauth/gateway/internal/totp"
	"github.com/caddyauth/gateway/store"
	"github.com/caddyauth/gateway/store/memory"
)

// leaveEnv is an MFA env whose audit records go into the memory store's
// chain, so the export reads them back and the chain can be verified.
type leaveEnv struct {
	*mfaEnv
	chainKey []byte
	log      *memory.Audit
}

func newLeaveEnv(t *testing.T, cfg Config, adjust func(*Deps)) *leaveEnv {
	t.Helper()
	clk := newClock()
	q := &captureQueue{}
	key := []byte(strings.Repeat("k", 32))
	log := memory.NewAudit()
	cfg.Now = clk.Now
	e := newEnvWith(t, cfg, GuardConfig{}, func(d *Deps) {
		d.Outbox = q
		ch, err := audit.NewChain(log, audit.Options{Key: key, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		d.Audit, d.AuditLog = ch, log
		d.Identities = d.Users.(store.IdentityStore)
		if adjust != nil {
			adjust(d)
		}
	})
	return &leaveEnv{mfaEnv: &mfaEnv{env: e, clk: clk, queue: q}, chainKey: key, log: log}
}

// nextTOTP is a code of the step after the last one used.
func (l *leaveEnv) nextTOTP(secret string) string {
	l.clk.Advance(totp.Period * time.Second)
	code, _ := totp.Code(secret, l.clk.Now())
	return code
}

func (l *leaveEnv) deleteJSON(c *http.Cookie, js string) *http.Response {
	return l.do(withCookie(jsonReq("POST", "/auth/account/delete", js), c))
}

func (l *leaveEnv) addBob(t *testing.T) (*store.User, *http.Cookie) {
	t.Helper()
	hash, _ := l.hasher.Hash(context.Background(), "bob's own long passphrase")
	bob := &store.User{ID: keys.NewID(), Email: "bob@example.test", Name: "Bob", Status: store.StatusActive, PasswordHash: hash}
	if err := l.mem.CreateUser(context.Background(), bob); err != nil {
		t.Fatal(err)
	}
	res := l.do(jsonReq("POST", "/auth/login", `{"email":"bob@example.test","password":"bob's own long passphrase"}`))
	if res.StatusCode != 200 {
		t.Fatalf("bob login: %d", res.StatusCode)
	}
	return bob, sessionCookie(t, l.env, res)
}

func (l *leaveEnv) signedIn(c *http.Cookie) int {
	return l.do(withCookie(jsonReq("GET", "/auth/session", ""), c)).StatusCode
}

func TestAccountExport(t *testing.T) {
	l := newLeaveEnv(t, Config{}, nil)
	ctx := context.Background()
	secret, codes, full := l.enrol(l.login(alicePW))
	// A remembered device, a linked provider, an API key, a second session.
	stage, _ := l.passwordStage()
	res := l.challenge(stage, `{"method":"totp","code":"`+l.nextTOTP(secret)+`","trust_device":true}`)
	if res.StatusCode != 200 {
		t.Fatalf("challenge: %d", res.StatusCode)
	}
	trustTok := body(t, res)["device_token"].(string)
	if err := l.mem.CreateIdentity(ctx, &store.Identity{Provider: "corp", Subject: "sub-4711", UserID: l.alice.ID, Email: "alice@corp.test", CreatedAt: l.clk.Now()}); err != nil {
		t.Fatal(err)
	}
	apiKey, made := l.createKey(full, `{"name":"ci"}`)
	bob, _ := l.addBob(t)

	res = l.do(withCookie(jsonReq("GET", "/auth/account/export", ""), full))
	if res.StatusCode != 200 {
		t.Fatalf("export: %d %v", res.StatusCode, decodeErr(t, res))
	}
	if cd := res.Header.Get("Content-Disposition"); cd != `attachment; filename="account.json"` {
		t.Errorf("Content-Disposition = %q", cd)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q", cc)
	}
	raw, _ := io.ReadAll(res.Body)
	var ex accountExport
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ex); err != nil {
		t.Fatalf("export body: %v\n%s", err, raw)
	}
	p := ex.Profile
	if p.ID != l.alice.ID || p.Email != "alice@example.test" || p.Name != "Alice Liddell" || len(p.Groups) != 2 || p.Status != "active" || !p.HasPassword || p.EmailVerifiedAt != nil {
		t.Errorf("profile = %+v", p)
	}
	if len(ex.Identities) != 1 || ex.Identities[0].Provider != "corp" || ex.Identities[0].Subject != "sub-4711" || ex.Identities[0].Email != "alice@corp.test" {
		t.Errorf("identities = %+v", ex.Identities)
	}
	f := ex.SecondFactors
	if len(f.TOTP) != 1 || f.TOTP[0].Name != "phone" || f.TOTP[0].ID == "" || f.TOTP[0].ConfirmedAt == nil || f.RecoveryCodesLeft != totp.RecoveryCount || len(f.TrustedDevices) != 1 {
		t.Errorf("second factors = %+v", f)
	}
	current := 0
	for _, s := range ex.Sessions {
		if s.Current {
			current++
		}
	}
	if len(ex.Sessions) != 2 || current != 1 {
		t.Errorf("sessions = %+v", ex.Sessions)
	}
	if len(ex.APIKeys) != 1 || ex.APIKeys[0].ID != made["id"] || ex.APIKeys[0].Name != "ci" {
		t.Errorf("api keys = %+v", ex.APIKeys)
	}
	types := map[string]bool{}
	for _, r := range ex.Audit {
		types[r.Type] = true
		if r.UserID == bob.ID || r.Email == bob.Email {
			t.Errorf("another user's record in the export: %+v", r)
		}
	}
	for _, want := range []string{audit.LoginSucceeded, audit.MFAEnabled, audit.TrustedDeviceAdded} {
		if !types[want] {
			t.Errorf("no %s record in the export (have %v)", want, types)
		}
	}
	if ex.AuditTruncated {
		t.Error("audit_truncated with a handful of records")
	}

	// Nothing in it is a credential, or a hash or sealed form of one.
	u, _ := l.mem.UserByID(ctx, l.alice.ID)
	devices, _ := l.mem.ListTOTP(ctx, l.alice.ID)
	sessions, _ := l.mem.ListUserSessions(ctx, l.alice.ID)
	keysOf, _ := l.mem.UserAPIKeys(ctx, l.alice.ID)
	recs, _ := l.log.ListAudit(ctx, store.AuditFilter{})
	secrets := map[string]string{
		"password hash": u.PasswordHash, "argon2": "$argon2id", "totp secret": secret,
		"sealed totp secret": base64.StdEncoding.EncodeToString(devices[0].Secret),
		"api key":            apiKey, "api key hash": keysOf[0].Hash, "session cookie": full.Value,
		"trust token": trustTok, "trust token hash": keys.HashToken(trustTok),
		"audit mac": hex.EncodeToString(recs[len(recs)-1].MAC), "password": alicePW,
	}
	for i, c := range codes {
		secrets["recovery code "+string(rune('0'+i))] = c
	}
	for _, s := range sessions {
		secrets["session id "+s.ID[:6]] = s.ID
	}
	for name, v := range secrets {
		if v != "" && strings.Contains(string(raw), v) {
			t.Errorf("the export contains the %s", name)
		}
	}
	if strings.Contains(strings.ToLower(string(raw)), `"secret"`) || strings.Contains(string(raw), `"hash"`) {
		t.Errorf("the export has a secret or hash field: %s", raw)
	}
}

func TestAccountExportLimitsAndSessions(t *testing.T) {
	l := newLeaveEnv(t, Config{Limits: &Limits{AccountExport: ratelimit.Rate{N: 2, Per: time.Hour}}}, nil)
	c := l.login(alicePW)
	for i := range 2 {
		if res := l.do(withCookie(jsonReq("GET", "/auth/account/export", ""), c)); res.StatusCode != 200 {
			t.Fatalf("export %d: %d", i, res.StatusCode)
		}
	}
	res := l.do(withCookie(jsonReq("GET", "/auth/account/export", ""), c))
	if e := decodeErr(t, res); res.StatusCode != 429 || e.Code != CodeRateLimited || res.Header.Get("Retry-After") == "" {
		t.Fatalf("third export: %d %v", res.StatusCode, e)
	}
	// No session, or a challenge stage: refused.
	if res := l.do(jsonReq("GET", "/auth/account/export", "")); res.StatusCode != 401 {
		t.Errorf("anonymous export: %d", res.StatusCode)
	}
	l.enrol(c)
	stage, _ := l.passwordStage()
	res = l.do(withCookie(jsonReq("GET", "/auth/account/export", ""), stage))
	if e := decodeErr(t, res); res.StatusCode != 401 || e.Code != CodeMFARequired {
		t.Errorf("challenge-stage export: %d %v", res.StatusCode, e)
	}
}

func TestAccountDeleteRefusals(t *testing.T) {
	l := newLeaveEnv(t, Config{Limits: &Limits{MFALockoutMax: 3, MFALockoutWindow: time.Hour, MFALockoutDuration: time.Hour}}, nil)
	secret, _, full := l.enrol(l.login(alicePW))
	for _, tc := range []struct {
		name, body, code string
		status           int
	}{
		{"no password", `{"code":"123456"}`, CodeInvalidInput, 400},
		{"wrong password", `{"current_password":"not it at all","code":"123456"}`, CodeInvalidCredentials, 401},
		{"no code", `{"current_password":"` + alicePW + `"}`, CodeMFARequired, 401},
		{"wrong code", `{"current_password":"` + alicePW + `","code":"000000"}`, CodeMFACodeInvalid, 401},
		{"wrong recovery code", `{"current_password":"` + alicePW + `","code":"aaaaa-bbbbb"}`, CodeMFACodeInvalid, 401},
		{"unknown field", `{"current_password":"` + alicePW + `","confirm":true}`, CodeInvalidInput, 400},
	} {
		res := l.deleteJSON(full, tc.body)
		if e := decodeErr(t, res); res.StatusCode != tc.status || e.Code != tc.code {
			t.Errorf("%s: %d %v", tc.name, res.StatusCode, e)
		}
	}
	if _, err := l.mem.UserByID(context.Background(), l.alice.ID); err != nil {
		t.Fatalf("a refused delete removed the user: %v", err)
	}
	if l.signedIn(full) != 200 {
		t.Fatal("a refused delete ended the session")
	}
	recs, _ := l.log.ListAudit(context.Background(), store.AuditFilter{})
	failed := 0
	for _, r := range recs {
		if r.Type == audit.UserDeleteFailed {
			failed++
		}
	}
	if failed != 3 {
		t.Errorf("%d user.delete_failed records, want 3 (password, code, recovery code)", failed)
	}
	// The wrong codes count against the account's second-factor lockout:
	// a third locks it, so even the right code is refused now.
	res := l.deleteJSON(full, `{"current_password":"`+alicePW+`","code":"111111"}`)
	if e := decodeErr(t, res); res.StatusCode != 401 || e.Code != CodeMFACodeInvalid {
		t.Fatalf("third wrong code: %d %v", res.StatusCode, e)
	}
	res = l.deleteJSON(full, `{"current_password":"`+alicePW+`","code":"`+l.nextTOTP(secret)+`"}`)
	if e := decodeErr(t, res); res.StatusCode != 429 || e.Code != CodeAccountLocked {
		t.Fatalf("right code after the lockout: %d %v", res.StatusCode, e)
	}
	// And so does the sign-in challenge.
	stage, _ := l.passwordStage()
	res = l.challenge(stage, `{"method":"totp","code":"`+l.nextTOTP(secret)+`"}`)
	if e := decodeErr(t, res); e.Code != CodeAccountLocked {
		t.Fatalf("challenge after delete's wrong codes: %d %v", res.StatusCode, e)
	}
}

func TestAccountDeleteCascades(t *testing.T) {
	l := newLeaveEnv(t, Config{}, nil)
	ctx := context.Background()
	other := l.login(alicePW) // a second session, opened before enrolment
	secret, _, full := l.enrol(l.login(alicePW))
	if err := l.mem.CreateIdentity(ctx, &store.Identity{Provider: "corp", Subject: "sub-4711", UserID: l.alice.ID, Email: "alice@corp.test", CreatedAt: l.clk.Now()}); err != nil {
		t.Fatal(err)
	}
	apiKey, _ := l.createKey(full, `{"name":"ci"}`)
	bob, bobCookie := l.addBob(t)
	bobKey, _ := l.createKey(bobCookie, `{"name":"bob"}`)

	res := l.deleteJSON(full, `{"current_password":"`+alicePW+`","code":"`+l.nextTOTP(secret)+`"}`)
	if res.StatusCode != 200 {
		t.Fatalf("delete: %d %v", res.StatusCode, decodeErr(t, res))
	}
	if b := body(t, res); b["deleted"] != true || len(b) != 1 {
		t.Errorf("answer = %v", b)
	}
	cleared := false
	for _, c := range res.Cookies() {
		if c.Name == l.svc.CookieName() && c.MaxAge < 0 {
			cleared = true
		}
	}
	if !cleared {
		t.Error("the session cookie was not cleared")
	}
	// The owner hears of it, by a message that outlives the user row.
	if msg := l.queue.last(t); msg.Kind != notify.KindAccountDeleted || msg.To != "alice@example.test" || msg.UserID != "" {
		t.Errorf("notice after the delete = %+v", msg)
	}

	if _, err := l.mem.UserByID(ctx, l.alice.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("user still there: %v", err)
	}
	if _, err := l.mem.UserByEmail(ctx, l.alice.Email); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("email still taken: %v", err)
	}
	if s, _ := l.mem.ListUserSessions(ctx, l.alice.ID); len(s) != 0 {
		t.Errorf("%d sessions left", len(s))
	}
	if ids, _ := l.mem.UserIdentities(ctx, l.alice.ID); len(ids) != 0 {
		t.Errorf("identities left: %v", ids)
	}
	if d, _ := l.mem.ListTOTP(ctx, l.alice.ID); len(d) != 0 {
		t.Errorf("authenticators left: %v", d)
	}
	if n, _ := l.mem.CountRecoveryCodes(ctx, l.alice.ID); n != 0 {
		t.Errorf("%d recovery codes left", n)
	}
	if k, _ := l.mem.UserAPIKeys(ctx, l.alice.ID); len(k) != 0 {
		t.Errorf("API keys left: %v", k)
	}
	for name, c := range map[string]*http.Cookie{"deleting": full, "other": other} {
		if st := l.signedIn(c); st != 401 {
			t.Errorf("%s session after the delete: %d", name, st)
		}
	}
	if res := l.do(keyReq("/app", apiKey, true)); res.StatusCode != 401 {
		t.Errorf("the deleted user's API key: %d", res.StatusCode)
	}
	if res := l.do(jsonReq("POST", "/auth/login", `{"email":"alice@example.test","password":"`+alicePW+`"}`)); res.StatusCode != 401 {
		t.Errorf("login after the delete: %d", res.StatusCode)
	}

	// Bob is untouched.
	if _, err := l.mem.UserByID(ctx, bob.ID); err != nil {
		t.Fatalf("bob: %v", err)
	}
	if l.signedIn(bobCookie) != 200 {
		t.Error("bob's session ended")
	}
	if res := l.do(keyReq("/app", bobKey, true)); res.StatusCode != 200 {
		t.Errorf("bob's key: %d", res.StatusCode)
	}

	// Audited as done by the user themselves; the chain still verifies and
	// keeps the records about the deleted user.
	recs, _ := l.log.ListAudit(ctx, store.AuditFilter{UserID: l.alice.ID})
	var del *store.AuditRecord
	for _, r := range recs {
		if r.Type == audit.UserDeleted {
			del = r
		}
	}
	if del == nil || del.Actor != ActorSelf || del.Email != l.alice.Email || del.Detail["sessions"] != "2" {
		t.Fatalf("user.deleted record = %+v", del)
	}
	if len(recs) < 4 {
		t.Errorf("records about the deleted user: %d", len(recs))
	}
	rep, err := audit.Verify(ctx, l.log, [][]byte{l.chainKey})
	if err != nil || rep.Broken != nil {
		t.Fatalf("audit verify after the delete: %+v %v", rep, err)
	}
}

func TestAccountDeleteRecoveryCodeAndForm(t *testing.T) {
	l := newLeaveEnv(t, Config{}, nil)
	_, codes, full := l.enrol(l.login(alicePW))
	// The page asks for what this account needs.
	res := l.do(getPage("/auth/account/delete", full))
	page, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || !strings.Contains(string(page), `name="current_password"`) || !strings.Contains(string(page), `name="code"`) {
		t.Fatalf("delete page: %d %s", res.StatusCode, page)
	}
	res = l.do(withCookie(jsonReq("GET", "/auth/account/delete", ""), full))
	if b := body(t, res); b["needs"].(map[string]any)["code"] != true {
		t.Errorf("JSON delete page = %v", b)
	}
	// A form post without JavaScript, with a recovery code.
	res = l.do(withCookie(formReq("/auth/account/delete", url.Values{"current_password": {alicePW}, "code": {codes[3]}}), full))
	page, _ = io.ReadAll(res.Body)
	if res.StatusCode != 200 || !strings.Contains(string(page), "Account deleted") {
		t.Fatalf("form delete: %d %s", res.StatusCode, page)
	}
	if _, err := l.mem.UserByID(context.Background(), l.alice.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("user still there: %v", err)
	}
}

// noPassword turns alice into an account that signs in through a
// provider only (her session stays: the password did not "change").
func (l *leaveEnv) noPassword(t *testing.T) {
	t.Helper()
	u, _ := l.mem.UserByID(context.Background(), l.alice.ID)
	u.PasswordHash = ""
	if err := l.mem.UpdateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
}

func TestAccountDeleteWithoutPassword(t *testing.T) {
	t.Run("fresh sign-in", func(t *testing.T) {
		l := newLeaveEnv(t, Config{}, nil)
		c := l.login(alicePW)
		l.noPassword(t)
		l.clk.Advance(freshSignIn + time.Second)
		res := l.deleteJSON(c, `{}`)
		if e := decodeErr(t, res); res.StatusCode != 403 || e.Code != CodeReauthRequired {
			t.Fatalf("stale session: %d %v", res.StatusCode, e)
		}
		if _, err := l.mem.UserByID(context.Background(), l.alice.ID); err != nil {
			t.Fatal(err)
		}
		l2 := newLeaveEnv(t, Config{}, nil)
		c = l2.login(alicePW)
		l2.noPassword(t)
		l2.clk.Advance(freshSignIn - time.Second)
		if res := l2.deleteJSON(c, `{}`); res.StatusCode != 200 {
			t.Fatalf("fresh session: %d %v", res.StatusCode, decodeErr(t, res))
		}
	})
	t.Run("second factor", func(t *testing.T) {
		l := newLeaveEnv(t, Config{}, nil)
		secret, _, full := l.enrol(l.login(alicePW))
		l.noPassword(t)
		if res := l.deleteJSON(full, `{}`); res.StatusCode != 401 {
			t.Fatalf("no code: %d", res.StatusCode)
		}
		// A fresh session is not enough when a factor exists: the code is.
		if res := l.deleteJSON(full, `{"code":"`+l.nextTOTP(secret)+`"}`); res.StatusCode != 200 {
			t.Fatalf("with code: %d %v", res.StatusCode, decodeErr(t, res))
		}
	})
}

// failingUsers fails DeleteUser; failingSessions fails DeleteUserSessions.
type failingUsers struct{ store.UserStore }

func (failingUsers) DeleteUser(context.Context, string) error { return store.ErrUnavailable }

type failingSessions struct{ store.SessionStore }

func (failingSessions) DeleteUserSessions(context.Context, string) ([]string, error) {
	return nil, store.ErrUnavailable
}

func TestAccountDeleteStoreFailure(t *testing.T) {
	t.Run("sessions", func(t *testing.T) {
		l := newLeaveEnv(t, Config{}, func(d *Deps) {
			mem := d.Users.(*memory.Store)
			mgr, err := session.New(failingSessions{mem}, mem, session.Config{CacheTTL: -1})
			if err != nil {
				t.Fatal(err)
			}
			d.Sessions = mgr
		})
		c := l.login(alicePW)
		res := l.deleteJSON(c, `{"current_password":"`+alicePW+`"}`)
		if e := decodeErr(t, res); res.StatusCode != 503 || e.Code != CodeStoreUnavailable {
			t.Fatalf("delete with the session store down: %d %v", res.StatusCode, e)
		}
		if _, err := l.mem.UserByID(context.Background(), l.alice.ID); err != nil {
			t.Fatalf("user gone: %v", err)
		}
		if l.signedIn(c) != 200 {
			t.Error("session gone")
		}
	})
	t.Run("users", func(t *testing.T) {
		l := newLeaveEnv(t, Config{}, func(d *Deps) {
			mem := d.Users
			d.MFA, d.APIKeys = mem.(store.MFAStore), mem.(store.APIKeyStore)
			d.Users = failingUsers{mem}
		})
		c := l.login(alicePW)
		res := l.deleteJSON(c, `{"current_password":"`+alicePW+`"}`)
		if e := decodeErr(t, res); res.StatusCode != 503 || e.Code != CodeStoreUnavailable {
			t.Fatalf("delete with the user store down: %d %v", res.StatusCode, e)
		}
		if _, err := l.mem.UserByID(context.Background(), l.alice.ID); err != nil {
			t.Fatalf("user gone: %v", err)
		}
		recs, _ := l.log.ListAudit(context.Background(), store.AuditFilter{})
		for _, r := range recs {
			if r.Type == audit.UserDeleted {
				t.Error("user.deleted recorded for a delete that failed")
			}
		}
	})
}

func TestAccountSwitchesOff(t *testing.T) {
	l := newLeaveEnv(t, Config{Account: AccountConfig{ExportOff: true, DeleteOff: true}}, nil)
	c := l.login(alicePW)
	for _, r := range []*http.Request{
		jsonReq("GET", "/auth/account/export", ""),
		jsonReq("GET", "/auth/account/delete", ""),
		jsonReq("POST", "/auth/account/delete", `{"current_password":"`+alicePW+`"}`),
	} {
		res := l.do(withCookie(r, c))
		if e := decodeErr(t, res); res.StatusCode != 404 || e.Code != CodeNotFound {
			t.Errorf("%s %s switched off: %d %v", r.Method, r.URL.Path, res.StatusCode, e)
		}
	}
	if _, err := l.mem.UserByID(context.Background(), l.alice.ID); err != nil {
		t.Fatal(err)
	}
}
