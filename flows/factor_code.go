package flows

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/caddyauth/gateway/internal/notify"
	"github.com/caddyauth/gateway/store"
)

// codeFactor is a six-digit code we send (email or SMS). The code is bound
// to the challenge stage's session and to the channel, and only its MAC is
// stored.
type codeFactor struct {
	s       *Service
	name    string                   // method name, bound into the code's MAC
	channel string                   // notify channel
	to      func(*store.User) string // destination on the account
	mask    func(string) string      // destination as shown back
}

func newEmailCodeFactor(s *Service) codeFactor {
	return codeFactor{s: s, name: MethodEmail, channel: notify.Email, to: func(u *store.User) string { return u.Email }, mask: maskEmail}
}

func newSMSCodeFactor(s *Service) codeFactor {
	return codeFactor{s: s, name: MethodSMS, channel: notify.SMS, to: (*store.User).VerifiedPhone, mask: maskPhone}
}

func (f codeFactor) Name() string { return f.name }

// Usable when MFA is on for the account (enrolled, or required for all),
// a sender for the channel exists and the account has a destination (for
// SMS a verified phone: an unverified one gets no code).
func (f codeFactor) Usable(_ context.Context, u *store.User, st *mfaState) (bool, error) {
	active := st.enrolled || f.s.cfg.MFA.Required
	return active && f.s.hasChannel(f.channel) && f.to(u) != "", nil
}

// Begins is true: the code must be sent first.
func (codeFactor) Begins() bool { return true }

// Begin sends a fresh code.
func (f codeFactor) Begin(ctx context.Context, c *factorCall) (*Prompt, error) {
	u := c.u
	// A new code replaces the ones sent before: only one is live at a
	// time, so each guess can match one code, not thirty.
	if err := f.s.deps.Tokens.DeleteUserTokens(ctx, u.ID, mfaCodePurpose); err != nil {
		return nil, err
	}
	code := sixDigits()
	h := f.s.keys.MAC("mfa-code", c.stage, f.name, code)
	if err := f.s.deps.Tokens.CreateToken(ctx, &store.OneTimeToken{Hash: h, Purpose: mfaCodePurpose, UserID: u.ID, ExpiresAt: c.now.Add(mfaCodeTTL)}); err != nil {
		return nil, err
	}
	to := f.to(u)
	if err := f.s.notify(ctx, notify.Message{
		Kind: notify.KindMFACode, Channel: f.channel, To: to, UserID: u.ID,
		Data: map[string]string{notify.DataCode: code, notify.DataName: u.Name, notify.DataExpires: "10 minutes"},
	}); err != nil {
		return nil, errInternal
	}
	return &Prompt{Sent: f.mask(to), ExpiresIn: mfaCodeTTL}, nil
}

// Verify spends the code. A code that matches but has expired is told
// apart, so the user knows to ask for a new one.
func (f codeFactor) Verify(ctx context.Context, c *factorCall, code string) *APIError {
	code = strings.TrimSpace(code)
	if len(code) != 6 {
		return errMFACodeInvalid
	}
	hs := f.s.keys.MACs("mfa-code", c.stage, f.name, code)
	for _, h := range hs {
		if _, err := f.s.deps.Tokens.ConsumeToken(ctx, h, mfaCodePurpose, c.now); err == nil {
			return nil
		}
	}
	for _, h := range hs {
		if _, err := f.s.deps.Tokens.PeekToken(ctx, h, mfaCodePurpose, time.Time{}); err == nil {
			return errMFACodeExpired
		}
	}
	return errMFACodeInvalid
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

var _ Factor = codeFactor{}
