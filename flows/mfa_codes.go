package flows

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strings"

	"github.com/caddyauth/gateway/internal/notify"
	"github.com/caddyauth/gateway/store"
)

type sendInput struct {
	Method string `json:"method"`
	RD     string `json:"rd"`
}

func (p *portal) sendCode(w http.ResponseWriter, r *http.Request) {
	id, _, ok := p.challengeSession(w, r)
	if !ok {
		return
	}
	var in sendInput
	if e := decode(r, &in, map[string]*string{"method": &in.Method, "rd": &in.RD}); e != nil {
		p.s.writeError(w, r, e)
		return
	}
	ctx := r.Context()
	u := &id.User
	st, err := p.s.mfaState(ctx, u)
	if err != nil {
		p.s.storeFailure(w, r, "mfa send", err)
		return
	}
	rd := p.returnTo(r, in.RD)
	if (in.Method != MethodEmail && in.Method != MethodSMS) || !slices.Contains(st.methods, in.Method) || id.Session.Pending == store.PendingEnrol {
		p.s.writeError(w, r, errMFAMethodNA)
		return
	}
	now := p.s.cfg.Now()
	if p.mfaLocked(w, r, u, now, func(e *APIError) { p.s.writeError(w, r, e) }) {
		return
	}
	if !p.mfaAllow(w, r, p.s.limits.mfaSend, "mfa_send", u, now, func(e *APIError) { p.s.writeError(w, r, e) }) {
		return
	}
	// A new code replaces the ones sent before: only one is live at a
	// time, so each guess can match one code, not thirty.
	if tp, ok := p.s.deps.Tokens.(store.TokenPurger); ok {
		if err := tp.DeleteUserTokens(ctx, u.ID, mfaCodePurpose); err != nil {
			p.s.storeFailure(w, r, "mfa send", err)
			return
		}
	}
	code := sixDigits()
	h := p.s.keys.MAC("mfa-code", id.Session.ID, in.Method, code)
	if err := p.s.deps.Tokens.CreateToken(ctx, &store.OneTimeToken{Hash: h, Purpose: mfaCodePurpose, UserID: u.ID, ExpiresAt: now.Add(mfaCodeTTL)}); err != nil {
		p.s.storeFailure(w, r, "mfa send", err)
		return
	}
	to, masked := u.Email, maskEmail(u.Email)
	if in.Method == MethodSMS {
		to, masked = u.Phone, maskPhone(u.Phone)
	}
	if err := p.s.notify(ctx, notify.Message{Kind: notify.KindMFACode, Channel: in.Method, To: to, UserID: u.ID,
		Data: map[string]string{notify.DataCode: code, notify.DataName: u.Name, notify.DataExpires: "10 minutes"}}); err != nil {
		p.s.writeError(w, r, errInternal)
		return
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{"sent": true, "method": in.Method, "to": masked, "expires_in": int(mfaCodeTTL.Seconds())})
		return
	}
	p.renderChallenge(w, r, http.StatusOK, id, st, masked, rd, nil)
}

// sixDigits is a uniform random 6-digit code.
func sixDigits() string {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return fmt.Sprintf("%06d", n.Int64())
}

func maskEmail(e string) string {
	at := strings.LastIndexByte(e, '@')
	if at < 1 {
		return "your email"
	}
	return e[:1] + "***" + e[at:]
}

func maskPhone(p string) string {
	if len(p) < 4 {
		return "your phone"
	}
	return "***" + p[len(p)-2:]
}
