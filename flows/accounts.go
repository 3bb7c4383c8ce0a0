package flows

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/password"
	"github.com/caddyauth/gateway/store"
)

// Accounts is the one account service: every change an operator, the
// setup page or the user makes to an account goes through it, so the admin
// API, the CLI and setup apply the same rules and leave the same audit
// trail. It has no HTTP in it; callers translate its errors into their
// answers. The rules are in accounts_rules.go, creation in
// accounts_create.go, passwords in accounts_password.go, status, deletion,
// sessions, lockout and MFA in accounts_status.go. Registration,
// invitations and import belong beside them as new methods that start from
// Draft and end in Create (accounts_register.go, accounts_invite.go,
// accounts_import.go).
type Accounts struct {
	Users    store.UserStore
	MFA      store.MFAStore
	Sessions SessionRevoker
	Lockouts Unlocker
	// APIKeys keeps API keys (nil: the key operations answer
	// ErrAPIKeysOff).
	APIKeys store.APIKeyStore
	Hasher  *password.Hasher
	// Audit records what was done; it reports its own failures (the
	// change has already happened, so the service does not undo it).
	Audit audit.Recorder
	Now   func() time.Time
	// ContextWords are words a new password must not be built from,
	// besides the account's email and name.
	ContextWords []string
	// Breach looks every new password up on a breached-password range
	// server (nil: no such check).
	Breach *BreachCheck
}

// SessionRevoker ends every session of a user, on every instance, and
// reports how many there were (*session.Manager is one).
type SessionRevoker interface {
	RevokeUser(ctx context.Context, userID string) (int, error)
}

// Unlocker lifts the login lockout of an email on every address and
// reports how many (email, address) pairs were locked.
type Unlocker interface {
	Unlock(ctx context.Context, email string) (int, error)
}

// Actor is who asks for a change, as the audit trail names it: an
// admin's user id, "cli", "setup", "self" or "oauth:<provider>".
type Actor struct {
	ID        string
	IP        string
	UserAgent string
}

// The actors that are not a user.
const (
	ActorCLI   = "cli"
	ActorSetup = "setup"
	ActorSelf  = "self"
)

// Refusals of the account service. Input errors say which field; the
// password's reason is one of password's Err* (see PasswordMessage).
var (
	ErrInvalidEmail = errors.New("accounts: not an email address")
	ErrInvalidName  = errors.New("accounts: name has control characters or is longer than 200 bytes")
	ErrInvalidPhone = errors.New("accounts: not an E.164 number")
	ErrInvalidGroup = errors.New("accounts: invalid group name")
	// ErrSelf: an admin may not disable or delete their own account
	// (nobody might be left to undo it).
	ErrSelf = errors.New("accounts: not on your own account")
)

// The steps after a change that can fail (see IncompleteError).
var (
	ErrSessionsNotRevoked  = errors.New("sessions not revoked")
	ErrLockoutNotCleared   = errors.New("lockout entries not cleared")
	ErrDevicesNotForgotten = errors.New("trusted devices not forgotten")
)

// IncompleteError: the change is stored and audited, but Step (one of
// the Err*Not* above) failed with Err. Callers decide whether that is a
// warning or a failure; the change stands either way.
type IncompleteError struct{ Step, Err error }

func (e *IncompleteError) Error() string   { return e.Step.Error() + ": " + e.Err.Error() }
func (e *IncompleteError) Unwrap() []error { return []error{e.Step, e.Err} }

// record writes e as done by by. The recorder reports its own failure.
func (a *Accounts) record(ctx context.Context, by Actor, e audit.Event) {
	e.Actor, e.IP, e.UserAgent, e.Time = by.ID, by.IP, by.UserAgent, a.Now()
	_ = a.Audit.Record(context.WithoutCancel(ctx), e)
}

func sessionsDetail(n int) map[string]string {
	return map[string]string{"sessions": strconv.Itoa(n)}
}

// StoreLockouts unlocks in a shared lockout store directly (the CLI's
// view: the running servers' own limiters are out of its reach).
type StoreLockouts struct {
	Store store.LockoutStore
	Now   func() time.Time
}

// Unlock implements Unlocker.
func (l StoreLockouts) Unlock(ctx context.Context, email string) (int, error) {
	return l.Store.LockoutClearIdentifier(ctx, email, l.Now())
}

// Interface guards.
var (
	_ Unlocker = (*Service)(nil)
	_ Unlocker = StoreLockouts{}
)
