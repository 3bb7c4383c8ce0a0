package flows

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/password"
	"github.com/caddyauth/gateway/internal/ratelimit"
	"github.com/caddyauth/gateway/internal/session"
	"github.com/caddyauth/gateway/store"
)

type loginInput struct {
	Email    string `json:"email"`
	Username string `json:"username"`
	Phone    string `json:"phone"`
	Password string `json:"password"`
	RD       string `json:"rd"`
}

// loginIdentifier picks the account key from the login fields: the phone
// field, or an email or username field that starts with "+" (the page has
// one field for both), is an E.164 phone; otherwise it is an email address.
func loginIdentifier(in loginInput) (id string, byPhone bool) {
	if in.Phone != "" {
		return NormalizePhone(in.Phone), true
	}
	v := in.Email
	if v == "" {
		v = in.Username
	}
	if strings.HasPrefix(strings.TrimSpace(v), "+") {
		return NormalizePhone(v), true
	}
	return NormalizeEmail(v), false
}

// returnTo validates rd for this request; "" if unsafe or absent.
func (p *portal) returnTo(r *http.Request, rd string) string {
	if rd == "" {
		return ""
	}
	if u, ok := p.s.redirects.Load().check.Check(rd, r.Host, requestScheme(r)); ok {
		return u
	}
	p.s.log.Warn("refused return URL", zap.String("host", r.Host), zapIP(p.s.cfg.ClientIP(r)))
	return ""
}

func (p *portal) loginPage(w http.ResponseWriter, r *http.Request) {
	rd := p.returnTo(r, r.URL.Query().Get("rd"))
	id, _, err := p.s.identify(r)
	if err != nil {
		p.s.storeFailure(w, r, "login page", err)
		return
	}
	if wantsJSON(r) {
		// An API client asking for the login page learns the contract.
		writeJSON(w, http.StatusOK, map[string]any{"login": p.base + "/login", "fields": []string{"email", "phone", "password", "rd"}})
		return
	}
	v := &loginView{layout: layout{Title: "Sign in"}, RD: rd, PasswordOff: !p.s.methodEnabled(r.Context(), store.AuthPassword)}
	if id != nil {
		u := id.User
		v.User = &u
		v.Title = "Signed in"
	}
	p.s.render(w, r, http.StatusOK, v)
}

func (p *portal) login(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	result := "store_error"
	defer func() { p.s.obs.Login(store.AuthPassword, result, time.Since(start)) }()
	if e := p.s.methodGate(r.Context(), store.AuthPassword, errMethodDisabled); e != nil {
		if e == errMethodDisabled {
			result = "method_disabled"
		}
		p.loginFailed(w, r, loginInput{}, e)
		return
	}
	var in loginInput
	if e := decode(r, &in, map[string]*string{"email": &in.Email, "username": &in.Username, "phone": &in.Phone, "password": &in.Password, "rd": &in.RD}); e != nil {
		result = "invalid_input"
		p.loginFailed(w, r, in, e)
		return
	}
	// ident is the email or E.164 phone typed; the limits key on it.
	ident, byPhone := loginIdentifier(in)
	if ident == "" || in.Password == "" {
		result = "invalid_input"
		p.loginFailed(w, r, in, invalidInput("Enter your email and password."))
		return
	}
	if byPhone && !ValidPhone(ident) {
		// The shape of a phone number is no secret: say what is wrong.
		result = "invalid_input"
		p.loginFailed(w, r, in, invalidInput("Enter the phone number in international format, such as +15550100000."))
		return
	}
	if !byPhone && nonASCII(ident) {
		// No account has such an address (ValidEmail refuses them), and
		// its shape is no secret: say what is wrong, before any lookup.
		result = "invalid_input"
		p.loginFailed(w, r, in, errEmailNotASCII)
		return
	}
	if len(ident) > 254 || len(in.Password) > password.MaxLength {
		// Same answer as a wrong password: nobody has such a long one.
		result = "invalid_credentials"
		p.loginFailed(w, r, in, errInvalidCredentials)
		return
	}
	// Limits come before any store read or hash: a flood costs nothing.
	// They apply alike to known and unknown identifiers.
	now := p.s.cfg.Now()
	ip := p.s.cfg.ClientIP(r)
	// The buckets and the lockout key the address's block (an IPv6 /64),
	// logs and the audit keep the address itself.
	addr := ratelimit.AddressKey(ip)
	for _, b := range []struct {
		lim  ratelimit.Limiter
		key  string
		kind string
	}{{p.s.limits.loginIP, addr, BucketLoginIP}, {p.s.limits.loginID, ident, BucketLoginIdentifier}} {
		ok, wait, err := b.lim.Allow(r.Context(), b.key, now)
		if err != nil {
			p.s.storeFailure(w, r, "rate limit", err)
			return
		}
		if !ok {
			result = "rate_limited"
			p.limited(w, r, in, errRateLimited, b.kind, wait)
			return
		}
	}
	ctx := r.Context()
	var u *store.User
	var err error
	if byPhone {
		u, err = p.s.deps.Users.UserByPhone(ctx, ident)
		// An unverified phone signs nobody in: it is answered, timed
		// and limited exactly as an unknown one (issue 12 item 8).
		if err == nil && u.VerifiedPhone() == "" {
			u, err = nil, store.ErrNotFound
		}
	} else {
		u, err = p.s.deps.Users.UserByEmail(ctx, ident)
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		p.s.storeFailure(w, r, "login lookup", err)
		return
	}
	// The lockout and the identifier bucket key on the account's email
	// when there is one, so typing the phone instead buys no second set of
	// guesses, and `caddy auth user unlock <email>` lifts either. An
	// unknown phone spends a bucket of its own: the same store work.
	email := ident
	if u != nil {
		email = u.Email
	}
	if byPhone {
		key := email
		if u == nil {
			key = "phone:" + ident
		}
		ok, wait, err := p.s.limits.loginID.Allow(ctx, key, now)
		if err != nil {
			p.s.storeFailure(w, r, "rate limit", err)
			return
		}
		if !ok {
			result = "rate_limited"
			p.limited(w, r, in, errRateLimited, BucketLoginIdentifier, wait)
			return
		}
	}
	// The check is taken from the lockout's budget before the hash runs,
	// so concurrent guesses cannot all pass a "not locked yet" test
	// (issue 9 #3); one that ends without a verdict is refunded.
	att, wait, err := p.s.reserveCheck(ctx, u, email, addr, now)
	if err != nil {
		p.s.storeFailure(w, r, "lockout", err)
		return
	}
	if att == nil {
		result = "locked"
		p.limited(w, r, in, errLockedOut, "lockout", wait)
		return
	}
	defer p.release(ctx, att)
	hash := ""
	if u != nil {
		hash = u.PasswordHash
	}
	// Unknown users are verified against a dummy hash: same work, same
	// time, same answer.
	verr := p.s.deps.Hasher.Verify(ctx, hash, in.Password)
	if verr != nil || u == nil || !u.SignsIn() {
		if verr != nil && !errors.Is(verr, password.ErrMismatch) && !errors.Is(verr, password.ErrTooLong) {
			if ctx.Err() != nil {
				result = "canceled"
				return // client went away while waiting for a hashing slot
			}
			p.s.log.Error("password verification failed", zapErr(verr))
		}
		result = "invalid_credentials"
		p.s.log.Info("login failed", zapIP(ip))
		ev := audit.Event{Type: audit.LoginFailed, Email: auditIdentifier(email), Reason: "invalid_credentials", Detail: map[string]string{"method": store.AuthPassword}}
		if byPhone {
			ev.Detail["identifier"] = "phone"
		}
		if u != nil {
			ev.UserID = u.ID
			if verr == nil && !u.SignsIn() {
				ev.Reason = "disabled"
			}
		}
		p.s.audit(r, ev)
		if att.Failed() {
			p.s.log.Warn("login locked out for this identifier and address", zapIP(ip))
			p.s.audit(r, audit.Event{Type: audit.LockedOut, UserID: ev.UserID, Email: auditIdentifier(email)})
			p.lockedNotice(ctx, u, ip)
		}
		p.loginFailed(w, r, in, errInvalidCredentials)
		return
	}
	if err := att.Succeeded(ctx); err != nil {
		p.s.log.Warn("lockout not cleared after a successful login", zapErr(err))
	}
	// An imported hash (bcrypt, PBKDF2, scrypt, argon2i) or argon2id with
	// weaker parameters is replaced now that the password is known: only
	// the hash is written (SetPasswordHash), so no session ends.
	if p.s.deps.Hasher.NeedsRehash(u.PasswordHash) {
		if h, err := p.s.deps.Hasher.Hash(ctx, in.Password); err == nil {
			from := password.Scheme(u.PasswordHash)
			if err := p.s.deps.Users.SetPasswordHash(ctx, u.ID, h, p.s.cfg.Now()); err != nil {
				p.s.log.Warn("password rehash not saved", zapUser(u.ID), zapErr(err))
			} else {
				u.PasswordHash = h
				p.s.log.Info("password rehashed to argon2id", zapUser(u.ID), zap.String("from", from))
			}
		}
	}
	if p.completeLogin(w, r, u, firstFactor{Method: store.AuthPassword}, in.RD) {
		result = "success"
	}
}

// startSession ends any session the browser already had (a login always
// gets a fresh token: no fixation), creates a new one and answers. It
// reports whether a session was created (false: a store failure answered).
func (p *portal) startSession(w http.ResponseWriter, r *http.Request, u *store.User, f firstFactor, rd string) bool {
	return p.startSessionWith(w, r, u, session.Options{AuthMethod: f.Method}, rd)
}

// startSessionWith is startSession for a session described by o (a second
// factor already satisfied, e.g. a trusted device).
func (p *portal) startSessionWith(w http.ResponseWriter, r *http.Request, u *store.User, o session.Options, rd string) bool {
	bearer := bearerMode(r)
	id := p.rotate(w, r, rotation{
		Op: "login", Revoke: revokeBrowser, User: u, Session: o, Cookie: !bearer,
		Log: "login succeeded", Audit: audit.LoginSucceeded,
	})
	if id == nil {
		return false
	}
	if bearer {
		return p.answerTokens(w, r, id, nil)
	}
	target := p.returnTo(r, rd)
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{
			"authenticated": true,
			"user":          viewOf(u),
			"expires_at":    id.Session.ExpiresAt.UTC().Format(time.RFC3339),
			"redirect":      target,
		})
		return true
	}
	if target == "" {
		target = p.base + "/login"
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
	return true
}

// loginDetail names the factors of a session for the audit trail.
func loginDetail(s store.Session) map[string]string {
	d := map[string]string{"method": s.AuthMethod, "session": publicSessionID(s.ID)}
	if s.MFAMethod != "" {
		d["mfa"] = s.MFAMethod
	}
	return d
}

func (p *portal) limited(w http.ResponseWriter, r *http.Request, in loginInput, e *APIError, kind string, wait time.Duration) {
	p.s.obs.Limited(kind)
	email, _ := loginIdentifier(in)
	typ := audit.RateLimited
	if e == errLockedOut {
		typ = audit.LockedOut
	}
	p.s.audit(r, audit.Event{Type: typ, Email: auditIdentifier(email), Reason: kind})
	p.s.log.Info("login refused by rate limit", zap.String("code", e.Code), zapIP(p.s.cfg.ClientIP(r)))
	retryAfter(w, wait)
	p.loginFailed(w, r, in, e)
}

func (p *portal) loginFailed(w http.ResponseWriter, r *http.Request, in loginInput, e *APIError) {
	email := in.Email
	if email == "" {
		email = in.Username
	}
	if email == "" {
		email = in.Phone
	}
	p.s.fail(w, r, e, func() view {
		return &loginView{layout: layout{Title: "Sign in"}, Email: email, RD: p.returnTo(r, in.RD), PasswordOff: e == errMethodDisabled}
	})
}

// loginURL is where an anonymous browser is sent: this portal's login page
// with the original URL as rd.
func loginURL(portalBase, rd string) string {
	return portalBase + "/login?rd=" + url.QueryEscape(rd)
}
