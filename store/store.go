// Package store defines the storage interfaces of caddyauth and the model
// types they carry. Backends live in sub-packages (memory, sql, redis); every
// backend passes the same conformance suite in store/storetest.
package store

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors. Backends wrap them with %w so callers use errors.Is.
var (
	// ErrNotFound: no such record (or it has expired).
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique key (email, phone) is already taken.
	ErrConflict = errors.New("conflict")
	// ErrUnavailable: the backend could not be reached or answered with an
	// error. Callers must fail closed on it.
	ErrUnavailable = errors.New("store unavailable")
)

// User status values.
const (
	StatusActive   = "active"
	StatusDisabled = "disabled"
	// StatusInvited: created by an invitation, without a password; it
	// becomes active when the invitation's link sets one.
	StatusInvited = "invited"
	// StatusPending: made by self-registration, email not yet verified.
	// It signs in, but no protected site admits it (EMAIL_NOT_VERIFIED).
	StatusPending = "pending"
	// StatusApproval: registered and verified, waiting for an
	// administrator (`registration { approval }`). It signs in, but no
	// protected site admits it (APPROVAL_PENDING).
	StatusApproval = "approval"
)

// User is an account. Email is stored normalised (lower case); Phone is E.164
// or empty.
type User struct {
	ID     string
	Email  string
	Phone  string
	Name   string
	Groups []string
	Status string
	// PasswordHash is an encoded hash: "$argon2id$..." (PHC), or a format
	// an import brought (password.Scheme names them) until the next
	// sign-in rehashes it; empty: no password login.
	PasswordHash string
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// PasswordChangedAt is when the password last changed in a way that
	// ends sessions (reset, `user passwd`, change-password); zero: never.
	// A session that started before it is dead (session.Manager).
	PasswordChangedAt time.Time
	// MustChangePassword sends the user to change-password at every
	// protect until they do (ChangePassword clears it).
	MustChangePassword bool
	// EmailVerifiedAt is when the email address was proven to reach the
	// user (an invitation redeemed through it); zero: not verified.
	EmailVerifiedAt time.Time
	// PhoneVerifiedAt is when Phone was proven to reach the user (the
	// CLI's `--phone-verified`); zero: not verified. An unverified phone
	// neither signs in nor receives SMS codes (issue 12 item 8).
	PhoneVerifiedAt time.Time
}

// VerifiedPhone is the phone SMS may go to and sign-in by phone may use:
// Phone when verified, "" otherwise.
func (u *User) VerifiedPhone() string {
	if u.PhoneVerifiedAt.IsZero() {
		return ""
	}
	return u.Phone
}

// Active reports whether the account may log in and pass protect.
func (u *User) Active() bool { return u.Status == StatusActive }

// SignsIn reports whether the account may hold a session: an active one,
// or a registered one still to be verified or approved (protect refuses
// those; the session lets the user resend the mail and see why).
func (u *User) SignsIn() bool {
	return u.Status == StatusActive || u.Status == StatusPending || u.Status == StatusApproval
}

// UserStore keeps accounts.
type UserStore interface {
	// CreateUser inserts u; ErrConflict if its email or phone is taken.
	CreateUser(ctx context.Context, u *User) error
	// CreateFirstUser inserts u only while no user exists, atomically:
	// ErrConflict once any user does (the first-run setup race).
	CreateFirstUser(ctx context.Context, u *User) error
	UserByID(ctx context.Context, id string) (*User, error)
	// UserByEmail looks up by normalised email.
	UserByEmail(ctx context.Context, email string) (*User, error)
	// UserByPhone looks up by E.164 phone; ErrNotFound for "".
	UserByPhone(ctx context.Context, phone string) (*User, error)
	ListUsers(ctx context.Context) ([]*User, error)
	CountUsers(ctx context.Context) (int, error)
	// UpdateUser writes Email, Phone, Name, Groups, Status, PasswordHash
	// and MustChangePassword.
	UpdateUser(ctx context.Context, u *User) error
	// SetPasswordHash writes only the password hash (and UpdatedAt), so a
	// password change cannot undo a concurrent disable or group change;
	// ErrNotFound if there is no such user.
	SetPasswordHash(ctx context.Context, id, hash string, at time.Time) error
	// ChangePassword is SetPasswordHash that also sets PasswordChangedAt
	// to at, in the same write: the sessions that started before it die.
	// ErrNotFound if there is no such user.
	// It also clears MustChangePassword.
	ChangePassword(ctx context.Context, id, hash string, at time.Time) error
	// SetMustChangePassword writes only MustChangePassword; ErrNotFound if
	// there is no such user.
	SetMustChangePassword(ctx context.Context, id string, must bool) error
	// DeleteUser removes the user and everything that hangs off it.
	DeleteUser(ctx context.Context, id string) error
}

// Session is a browser session. ID is the hex SHA-256 of the cookie token:
// the token itself is never stored, so a dump of the store yields no live
// session.
type Session struct {
	ID            string
	UserID        string
	CreatedAt     time.Time
	LastSeenAt    time.Time
	ExpiresAt     time.Time // absolute lifetime end
	IdleExpiresAt time.Time // LastSeenAt + idle timeout
	IP            string
	UserAgent     string
	// AuthMethod is the first factor that opened the session: AuthPassword,
	// AuthSetup, AuthOAuth(<provider>), AuthPasswordless.
	AuthMethod string
	// MFAMethod is the second factor that was passed ("totp", "recovery",
	// "email", "sms", "trusted_device", "idp"); empty for single factor.
	MFAMethod string
	// Pending is non-empty while the session is not yet a full login:
	// PendingMFA (second factor to pass) or PendingEnrol (MFA required but
	// not yet set up). Such a session never reaches an upstream.
	Pending string
	// RefreshGen counts the refresh tokens handed out for this session in
	// bearer mode: only the token of the current generation refreshes, an
	// older one is a reuse (AdvanceRefresh). 0 for a cookie session.
	RefreshGen uint64
}

// Pending stages of a session.
const (
	PendingMFA   = "mfa"
	PendingEnrol = "enrol"
)

// Full reports whether the session is a complete login.
func (s *Session) Full() bool { return s.Pending == "" }

// Deadline is when the session stops being valid if nobody touches it.
func (s *Session) Deadline() time.Time {
	if s.IdleExpiresAt.Before(s.ExpiresAt) {
		return s.IdleExpiresAt
	}
	return s.ExpiresAt
}

// Valid reports whether the session is still live at now.
func (s *Session) Valid(now time.Time) bool { return now.Before(s.Deadline()) }

// SessionStore keeps sessions. Get must not return a session whose Deadline
// has passed (ErrNotFound instead).
type SessionStore interface {
	CreateSession(ctx context.Context, s *Session) error
	// CreateSessionCapped inserts s and, in the same atomic step, deletes
	// the oldest live sessions of s.UserID of the same kind as s (full, or
	// a challenge stage: see Session.Full) so that at most max of that
	// kind remain, s included; s itself is never the one deleted. It
	// returns the ids it deleted. However many calls run at once for one
	// user, on one instance or several, no more than max sessions of a
	// kind stay live (max_sessions_per_user). max <= 0: no cap.
	CreateSessionCapped(ctx context.Context, s *Session, max int) ([]string, error)
	GetSession(ctx context.Context, id string) (*Session, error)
	// TouchSession records activity: it sets LastSeenAt and IdleExpiresAt.
	// ErrNotFound if the session is gone.
	TouchSession(ctx context.Context, id string, lastSeen, idleExpires time.Time) error
	// DeleteSession is idempotent: deleting a missing session is no error.
	DeleteSession(ctx context.Context, id string) error
	// ListUserSessions returns the user's live sessions, oldest first.
	ListUserSessions(ctx context.Context, userID string) ([]*Session, error)
	// DeleteUserSessions removes every session of the user and returns
	// their ids.
	DeleteUserSessions(ctx context.Context, userID string) ([]string, error)
	// PurgeExpired deletes sessions whose deadline is before now and
	// reports how many. Backends with native expiry may return 0.
	PurgeExpired(ctx context.Context, now time.Time) (int, error)
	// AdvanceRefresh moves a live session's RefreshGen from gen to gen+1 in
	// one atomic step, so of two refreshes with the same token exactly one
	// wins. ErrConflict when the generation is not gen (the token was
	// already used: reuse); ErrNotFound when the session is gone or
	// expired.
	AdvanceRefresh(ctx context.Context, id string, gen uint64) error
	Close() error
}

// OneTimeToken is a single-use secret (setup link, sent MFA codes, and
// the grants of store.GrantStore: reset, magic and invitation links). Only
// its hash is stored.
type OneTimeToken struct {
	Hash      string
	Purpose   string
	UserID    string
	ExpiresAt time.Time
	// CodeHash, when set, is the keyed hash of a short code sent with the
	// link, for a reader on another device (GrantStore.TryCode).
	CodeHash string
	// Tries counts the wrong codes tried against it (GrantStore.TryCode).
	Tries int
	// Data is what the token grants besides the user (the address being
	// verified, for a change of email); never a secret.
	Data string
}

// TokenPurger is implemented by token stores that can drop a user's tokens
// of one purpose (a new code replaces the ones sent before).
type TokenPurger interface {
	DeleteUserTokens(ctx context.Context, userID, purpose string) error
}

// TokenStore keeps one-time tokens.
type TokenStore interface {
	CreateToken(ctx context.Context, t *OneTimeToken) error
	// ConsumeToken atomically deletes and returns the token if it exists,
	// has the purpose and has not expired at now; ErrNotFound otherwise.
	ConsumeToken(ctx context.Context, hash, purpose string, now time.Time) (*OneTimeToken, error)
	// PeekToken returns the token without consuming it (to render a page).
	PeekToken(ctx context.Context, hash, purpose string, now time.Time) (*OneTimeToken, error)
}

// First factors: the values of Session.AuthMethod, which are also the
// names of the runtime method switches (internal/methods) and the
// audit's "method" detail.
const (
	AuthPassword     = "password"
	AuthSetup        = "setup"
	AuthPasswordless = "passwordless"
	// AuthOAuthPrefix begins "oauth:<provider>".
	AuthOAuthPrefix = "oauth:"
	// AuthAPIKey is the method of a request made with an API key (no
	// session is opened; the identity is built per request).
	AuthAPIKey = "api_key"
)

// AuthOAuth is the first factor of a sign-in through provider.
func AuthOAuth(provider string) string { return AuthOAuthPrefix + provider }
