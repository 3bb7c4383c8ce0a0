package flows

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/internal/password"
	"github.com/caddyauth/gateway/store"
)

// SetupPurpose tags first-run setup tokens in the token store.
const SetupPurpose = "setup"

// MinPasswordLen is the minimum for a password that is the only factor
// (NIST SP 800-63B-4: 15).
const MinPasswordLen = password.MinLength

// CheckNewPassword applies the new-password policy (password.CheckNew):
// length, no short pattern repeated, not built from context (the account's
// email address and name, and the service name), not a common password.
// The error is one of password's Err* reasons; PasswordMessage words it.
// It is local only: Accounts.CheckPassword adds the breach check.
func CheckNewPassword(pw string, context ...string) error {
	return password.CheckNew(pw, context...)
}

// PasswordMessage is the sentence shown to a person whose new password was
// refused with err (a reason from CheckNewPassword). It says why, never
// what the password was.
func PasswordMessage(err error) string {
	switch {
	case errors.Is(err, password.ErrTooShort):
		return "The password must be at least 15 characters."
	case errors.Is(err, password.ErrTooLong):
		return fmt.Sprintf("The password must be at most %d bytes.", password.MaxLength)
	case errors.Is(err, password.ErrRepetitive):
		return "The password repeats one short pattern. Choose another, such as a few unrelated words."
	case errors.Is(err, password.ErrContext):
		return "The password is built from your email address, your name or the service name. Choose another, such as a few unrelated words."
	case errors.Is(err, password.ErrCommon):
		return "The password is too common: it is, or is built from, a frequently used password or a keyboard or number sequence. Choose another, such as a few unrelated words."
	case errors.Is(err, password.ErrBreached):
		return "This password has appeared in a data breach, so attackers try it first. Choose another, such as a few unrelated words."
	}
	return "The password is not allowed. Choose another."
}

// NewSetupToken creates a one-time first-run token while no user exists.
// It returns "" (and no error) once any user exists: the setup page is gone.
// The links logged by earlier starts (of this or another instance) stop
// working: only the newest is live.
func (s *Service) NewSetupToken(ctx context.Context) (string, time.Time, error) {
	n, err := s.deps.Users.CountUsers(ctx)
	if err != nil || n > 0 {
		return "", time.Time{}, err
	}
	tok := keys.NewToken()
	exp := s.cfg.Now().Add(s.cfg.SetupTTL)
	t := &store.OneTimeToken{Hash: keys.HashToken(tok), Purpose: SetupPurpose, ExpiresAt: exp}
	// Several instances starting together on one empty database each
	// issue a link: the grant store replaces the earlier ones in one atomic
	// step, so exactly one link (the last logged) stays live.
	if s.deps.Grants != nil {
		if err := s.deps.Grants.IssueToken(ctx, t); err != nil {
			return "", time.Time{}, err
		}
		return tok, exp, nil
	}
	if err := s.deps.Tokens.DeleteUserTokens(ctx, "", SetupPurpose); err != nil {
		return "", time.Time{}, err
	}
	if err := s.deps.Tokens.CreateToken(ctx, t); err != nil {
		return "", time.Time{}, err
	}
	return tok, exp, nil
}

type setupInput struct {
	Token    string `json:"token"`
	Email    string `json:"email"`
	Name     string `json:"name"`
	Password string `json:"password"`
	Confirm  string `json:"confirm"`
}

// setupAvailable is true while no user exists and the token is live.
func (p *portal) setupAvailable(r *http.Request, tok string) (bool, error) {
	ctx := r.Context()
	n, err := p.s.deps.Users.CountUsers(ctx)
	if err != nil || n > 0 || tok == "" {
		return false, err
	}
	_, err = p.s.deps.Tokens.PeekToken(ctx, keys.HashToken(tok), SetupPurpose, p.s.cfg.Now())
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// requireSetup answers 404 (or 503) unless the setup page is available.
func (p *portal) requireSetup(w http.ResponseWriter, r *http.Request, tok string) bool {
	ok, err := p.setupAvailable(r, tok)
	if err != nil {
		p.s.storeFailure(w, r, "setup", err)
		return false
	}
	if !ok {
		p.s.writeError(w, r, errNotFound)
	}
	return ok
}

func (p *portal) setupPage(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("token")
	if !p.requireSetup(w, r, tok) {
		return
	}
	p.s.render(w, r, http.StatusOK, &setupView{layout: layout{Title: "Create the first administrator"}, SetupToken: tok})
}

func (p *portal) setup(w http.ResponseWriter, r *http.Request) {
	var in setupInput
	if e := decode(r, &in, map[string]*string{"token": &in.Token, "email": &in.Email, "name": &in.Name, "password": &in.Password, "confirm": &in.Confirm}); e != nil {
		p.s.writeError(w, r, e)
		return
	}
	ctx := r.Context()
	if !p.requireSetup(w, r, in.Token) {
		return
	}
	fail := func(e *APIError) {
		p.s.fail(w, r, e, func() view {
			return &setupView{layout: layout{Title: "Create the first administrator"}, SetupToken: in.Token, Email: in.Email, Name: in.Name}
		})
	}
	acc := p.s.Accounts()
	draft := NewAccount{Email: in.Email, Name: in.Name, Password: in.Password}
	if in.Confirm != "" && in.Confirm != in.Password {
		fail(invalidInput("The two passwords differ."))
		return
	}
	if err := acc.Check(ctx, &draft); err != nil {
		fail(passwordRefusal(err))
		return
	}
	u, err := acc.draft(ctx, draft)
	if err != nil {
		p.s.writeError(w, r, errInternal)
		return
	}
	u.Groups = []string{p.s.cfg.AdminGroup}
	// Made by the operator holding the setup link: counts as verified.
	u.EmailVerifiedAt = u.CreatedAt
	// Consume the token only now, so a typo in the form does not burn it;
	// the atomic consume is what makes the link single-use.
	if _, err := p.s.deps.Tokens.ConsumeToken(ctx, keys.HashToken(in.Token), SetupPurpose, p.s.cfg.Now()); err != nil {
		// A token spent meanwhile is 404.
		p.s.storeError(w, r, "setup", err)
		return
	}
	// Atomic with the zero-users check: two live links posted at once
	// cannot make two administrators.
	if err := acc.CreateFirst(ctx, p.s.actor(r, ActorSetup), u); err != nil {
		if errors.Is(err, store.ErrConflict) {
			p.s.writeError(w, r, errNotFound)
			return
		}
		p.s.storeFailure(w, r, "setup create user", err)
		return
	}
	p.s.log.Info("first administrator created through the setup page", zapUser(u.ID), zapIP(p.s.cfg.ClientIP(r)))
	p.completeLogin(w, r, u, firstFactor{Method: store.AuthPassword}, "")
}

// accountMessage is the sentence shown to a person whose account input
// the account service refused with err.
func accountMessage(err error) string {
	switch {
	case errors.Is(err, ErrInvalidEmail):
		return "Enter a valid email address."
	case errors.Is(err, ErrInvalidName):
		return fmt.Sprintf("Enter a name without control characters, of at most %d bytes.", MaxNameLen)
	case errors.Is(err, ErrInvalidPhone):
		return "Enter a mobile number in E.164 form (+15551234567)."
	case errors.Is(err, ErrInvalidGroup):
		return "Group names cannot be empty or longer than 128 bytes, or contain commas, spaces or control characters."
	}
	return PasswordMessage(err)
}

func limitRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}
