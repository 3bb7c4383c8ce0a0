package flows

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/notify"
	"github.com/caddyauth/gateway/store"
)

// PasswordlessConfig turns on sign-in by a code or magic link
// (`passwordless email [sms] { ttl 10m }`, off by default).
type PasswordlessConfig struct {
	// Channels the code may go by: notify.Email, notify.SMS. None: off.
	Channels []string
	// TTL is how long a code and link live (default 10m).
	TTL time.Duration
}

// MethodPasswordless is the runtime switch of passwordless sign-in, and
// the first factor its sessions record.
const MethodPasswordless = "passwordless"

const (
	defaultPasswordlessTTL = 10 * time.Minute
	passwordlessPurpose    = "passwordless"
)

func (c *PasswordlessConfig) setDefaults() {
	if c.TTL <= 0 {
		c.TTL = defaultPasswordlessTTL
	}
}

func (s *Service) passwordlessKind() grantKind {
	return grantKind{Purpose: passwordlessPurpose, TTL: s.cfg.Passwordless.TTL, Code: true, Tries: grantCodeTries}
}

// passwordlessOn: configured and not switched off (an unreadable switch
// counts as off).
func (s *Service) passwordlessOn(ctx context.Context) bool {
	return len(s.cfg.Passwordless.Channels) > 0 && s.methodEnabled(ctx, MethodPasswordless)
}

var errPasswordlessDisabled = apiErr(http.StatusForbidden, CodeMethodDisabled, "Sign-in by email link is turned off right now.")

// errPasswordlessInvalid: a link or code that is unknown, used, expired,
// replaced or out of tries: a failed sign-in like a wrong password.
var errPasswordlessInvalid = apiErr(http.StatusUnauthorized, CodeInvalidCredentials, "This sign-in link or code is no longer valid. Ask for a new one.")

type passwordlessSendInput struct {
	Email string `json:"email"`
	Phone string `json:"phone"`
	RD    string `json:"rd"`
}

type passwordlessVerifyInput struct {
	Token string `json:"token"`
	Email string `json:"email"`
	Phone string `json:"phone"`
	Code  string `json:"code"`
	RD    string `json:"rd"`
}

func (p *portal) passwordlessRoutes(mux *http.ServeMux) {
	if len(p.s.cfg.Passwordless.Channels) == 0 {
		return
	}
	mux.HandleFunc("POST "+p.base+"/passwordless/send", p.passwordlessSend)
	mux.HandleFunc("GET "+p.base+"/passwordless/verify", p.passwordlessPage)
	mux.HandleFunc("POST "+p.base+"/passwordless/verify", p.passwordlessVerify)
}

// passwordlessSend answers 202 {"sent": true} for every well-formed
// identifier after the same time as forgot-password; a known active
// account gets a code and a magic link (the link by email only).
func (p *portal) passwordlessSend(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var in passwordlessSendInput
	if e := decode(r, &in, map[string]*string{"email": &in.Email, "phone": &in.Phone, "rd": &in.RD}); e != nil {
		p.passwordlessFailed(w, r, in.Email+in.Phone, in.RD, e)
		return
	}
	ctx := r.Context()
	if !p.s.passwordlessOn(ctx) {
		p.passwordlessFailed(w, r, "", in.RD, errPasswordlessDisabled)
		return
	}
	ident, byPhone, e := recoveryIdentifier(in.Email, in.Phone)
	if e != nil {
		p.passwordlessFailed(w, r, in.Email+in.Phone, in.RD, e)
		return
	}
	lim := p.s.limits.recovery
	if !p.recoveryAllowed(w, r, nil, ident, "passwordless_send", lim.sendIP, lim.sendID) {
		return
	}
	rd := p.returnTo(r, in.RD)
	u, err := p.s.lookupIdentifier(ctx, ident, byPhone)
	if err == nil {
		err = p.sendPasswordless(r, u, ident, byPhone, rd)
	}
	p.s.pad(r, start)
	if err != nil {
		p.s.storeFailure(w, r, "passwordless send", err)
		return
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusAccepted, map[string]any{"sent": true})
		return
	}
	email := ident
	if byPhone {
		email = ""
	}
	p.s.render(w, r, http.StatusAccepted, &passwordlessView{layout: layout{Title: "Check your messages"}, Email: email, RD: rd, Done: true})
}

// sendPasswordless issues and queues the grant when u may sign in, and
// audits the request either way. The validated return URL rides in the
// grant, so the link brings the user back where they were going.
func (p *portal) sendPasswordless(r *http.Request, u *store.User, ident string, byPhone bool, rd string) error {
	return p.sendGrant(r, u, ident, byPhone, grantSend{
		event: audit.PasswordlessRequested, kind: p.s.passwordlessKind(), channel: p.s.passwordlessChannel,
		data: rd, message: notify.KindPasswordless, linkPath: "/passwordless/verify",
	})
}

// passwordlessChannel: SMS when asked by phone and configured for
// passwordless, else email when configured; "" when neither works.
func (s *Service) passwordlessChannel(u *store.User, byPhone bool) (channel, to string) {
	on := func(ch string) bool { return slices.Contains(s.cfg.Passwordless.Channels, ch) && s.hasChannel(ch) }
	if byPhone && u.VerifiedPhone() != "" && on(notify.SMS) {
		return notify.SMS, u.VerifiedPhone()
	}
	if u.Email != "" && on(notify.Email) {
		return notify.Email, u.Email
	}
	if u.VerifiedPhone() != "" && on(notify.SMS) {
		return notify.SMS, u.VerifiedPhone()
	}
	return "", ""
}

// passwordlessPage: GET /auth/passwordless/verify?token= shows one button
// that posts the token; it spends nothing (mail scanners open links).
// Without a token it is the code form.
func (p *portal) passwordlessPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if !p.s.passwordlessOn(ctx) {
		p.s.writeError(w, r, errPasswordlessDisabled)
		return
	}
	q := r.URL.Query()
	tok := q.Get("token")
	rd := p.returnTo(r, q.Get("rd"))
	if tok != "" {
		hideTokenURL(w)
		if !wellFormedToken(tok) {
			p.passwordlessFailed(w, r, "", rd, invalidInput("The sign-in link is malformed. Copy the whole link from the message."))
			return
		}
		t, err := p.s.peekGrant(ctx, p.s.passwordlessKind(), tok)
		switch {
		case errors.Is(err, errGrantInvalid):
			p.passwordlessFailed(w, r, "", rd, errPasswordlessInvalid)
			return
		case err != nil:
			p.s.storeFailure(w, r, "passwordless page", err)
			return
		}
		rd = t.Data
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{"verify": p.base + "/passwordless/verify", "fields": []string{"token", "email", "phone", "code", "rd"}, "token_valid": tok != ""})
		return
	}
	p.s.render(w, r, http.StatusOK, &passwordlessView{layout: layout{Title: "Sign in"}, ResetToken: tok, RD: rd, Email: q.Get("email")})
}

// passwordlessVerify: POST /auth/passwordless/verify with the link's
// token, or the email (or phone) and the code, signs in exactly like a
// password: the same rotation, session cap, return-URL check and audit
// (login.succeeded method=passwordless), and a user with a second factor
// goes through the challenge stage.
func (p *portal) passwordlessVerify(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	result := "store_error"
	defer func() { p.s.obs.Login(MethodPasswordless, result, time.Since(start)) }()
	var in passwordlessVerifyInput
	if e := decode(r, &in, map[string]*string{"token": &in.Token, "email": &in.Email, "phone": &in.Phone, "code": &in.Code, "rd": &in.RD}); e != nil {
		result = "invalid_input"
		p.passwordlessFailed(w, r, in.Email+in.Phone, in.RD, e)
		return
	}
	ctx := r.Context()
	if !p.s.passwordlessOn(ctx) {
		result = "method_disabled"
		p.passwordlessFailed(w, r, "", in.RD, errPasswordlessDisabled)
		return
	}
	byToken := in.Token != ""
	var ident string
	var byPhone bool
	switch {
	case byToken && (in.Code != "" || in.Email != "" || in.Phone != ""):
		result = "invalid_input"
		p.passwordlessFailed(w, r, "", in.RD, invalidInput("Send either the link's token or the email and code, not both."))
		return
	case byToken && !wellFormedToken(in.Token):
		result = "invalid_input"
		p.passwordlessFailed(w, r, "", in.RD, invalidInput("The sign-in link is malformed. Copy the whole link from the message."))
		return
	case !byToken:
		var e *APIError
		if ident, byPhone, e = recoveryIdentifier(in.Email, in.Phone); e != nil {
			result = "invalid_input"
			p.passwordlessFailed(w, r, in.Email+in.Phone, in.RD, e)
			return
		}
		if !wellFormedCode(in.Code) {
			result = "invalid_input"
			p.passwordlessFailed(w, r, ident, in.RD, invalidInput("Enter the 6-digit code from the message."))
			return
		}
	}
	lim := p.s.limits.recovery
	idLim := lim.checkID
	if byToken {
		idLim = nil
	}
	if !p.recoveryAllowed(w, r, nil, ident, "passwordless_verify", lim.checkIP, idLim) {
		result = "rate_limited"
		return
	}
	k := p.s.passwordlessKind()
	var t *store.OneTimeToken
	var err error
	if byToken {
		t, err = p.s.redeemToken(ctx, k, in.Token)
	} else {
		var u *store.User
		if u, err = p.s.lookupIdentifier(ctx, ident, byPhone); err == nil {
			if u == nil {
				// The same store round trip as a wrong code of a known
				// account: a user id no row has.
				if _, err = p.s.redeemCode(ctx, k, "unknown:"+ident, in.Code); err == nil {
					err = errGrantInvalid
				}
			} else {
				t, err = p.s.redeemCode(ctx, k, u.ID, in.Code)
			}
		}
	}
	var u *store.User
	if err == nil {
		u, err = p.s.deps.Users.UserByID(ctx, t.UserID)
		if err == nil && !u.Active() || errors.Is(err, store.ErrNotFound) {
			err = errGrantInvalid
		}
	}
	if errors.Is(err, errGrantInvalid) {
		result = "invalid_credentials"
		reason := "invalid_token"
		if !byToken {
			reason = "invalid_code"
		}
		ev := audit.Event{Type: audit.LoginFailed, Reason: reason, Detail: map[string]string{"method": MethodPasswordless}}
		if ident != "" {
			ev.Email = auditIdentifier(ident)
		}
		if u != nil {
			ev.UserID, ev.Email = u.ID, u.Email
		}
		p.s.audit(r, ev)
		p.passwordlessFailed(w, r, ident, in.RD, errPasswordlessInvalid)
		return
	}
	if err != nil {
		p.s.storeFailure(w, r, "passwordless verify", err)
		return
	}
	rd := in.RD
	if byToken && rd == "" {
		rd = t.Data // validated when the link was sent; checked again on use
	}
	if p.completeLogin(w, r, u, firstFactor{Method: MethodPasswordless}, rd) {
		result = "success"
	}
}

func (p *portal) passwordlessFailed(w http.ResponseWriter, r *http.Request, email, rd string, e *APIError) {
	if e == errPasswordlessDisabled {
		p.s.writeError(w, r, e)
		return
	}
	p.s.fail(w, r, e, func() view {
		return &passwordlessView{layout: layout{Title: "Sign in"}, Email: email, RD: p.returnTo(r, rd), Expired: e == errPasswordlessInvalid}
	})
}
