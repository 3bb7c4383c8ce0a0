package flows

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/internal/password"
	"github.com/caddyauth/gateway/store"
)

// Accounts is the one account service: every change an operator, the
// setup page or the user makes to an account goes through it, so the admin
// API, the CLI and setup apply the same rules and leave the same audit
// trail. It has no HTTP in it; callers translate its errors into their
// answers. Registration, invitations and import belong here as new
// methods that start from Draft (new files beside this one:
// accounts_register.go, accounts_invite.go, accounts_import.go).
type Accounts struct {
	Users    store.UserStore
	MFA      store.MFAStore
	Sessions SessionRevoker
	Lockouts Unlocker
	Hasher   *password.Hasher
	// Audit records what was done; it reports its own failures (the
	// change has already happened, so the service does not undo it).
	Audit audit.Recorder
	Now   func() time.Time
	// ContextWords are words a new password must not be built from,
	// besides the account's email and name.
	ContextWords []string
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

// GroupError names the group CheckProfile refused; it is ErrInvalidGroup.
type GroupError struct{ Group string }

func (e *GroupError) Error() string        { return fmt.Sprintf("accounts: invalid group name %q", e.Group) }
func (e *GroupError) Is(target error) bool { return target == ErrInvalidGroup }

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

// MaxNameLen is the longest display name, in bytes.
const MaxNameLen = 200

// NewAccount is what a caller knows of an account to create.
type NewAccount struct {
	Email    string
	Name     string
	Phone    string
	Groups   []string
	Password string
	// NoPassword: the account signs in elsewhere (an identity provider);
	// otherwise Password must pass the policy, even when empty.
	NoPassword bool
}

// ValidName is the rule for display names wherever they are set: no
// control character (they would forge lines in logs and headers) and at
// most MaxNameLen bytes.
func ValidName(n string) bool {
	return len(n) <= MaxNameLen && strings.IndexFunc(n, func(r rune) bool { return r < 0x20 || r == 0x7f }) < 0
}

// CheckProfile normalises in's email and phone and judges every field but
// the password.
func CheckProfile(in *NewAccount) error {
	in.Email, in.Phone = NormalizeEmail(in.Email), NormalizePhone(in.Phone)
	switch {
	case in.Phone != "" && !ValidPhone(in.Phone):
		return ErrInvalidPhone
	case !ValidEmail(in.Email):
		return ErrInvalidEmail
	case !ValidName(in.Name):
		return ErrInvalidName
	}
	for _, g := range in.Groups {
		if !ValidGroup(g) {
			return &GroupError{Group: g}
		}
	}
	return nil
}

// CheckPassword applies the new-password policy with the account's email
// and name and the configured context words.
func (a *Accounts) CheckPassword(pw, email, name string) error {
	return CheckNewPassword(pw, append([]string{email, name}, a.ContextWords...)...)
}

// Check normalises in and judges every field, the password included
// (with the account's email and name as context).
func (a *Accounts) Check(in *NewAccount) error {
	if err := CheckProfile(in); err != nil {
		return err
	}
	if in.NoPassword {
		return nil
	}
	return a.CheckPassword(in.Password, in.Email, in.Name)
}

// Draft judges in (Check) and hashes its password: the account, not yet
// stored. Callers with a step between (setup consumes its token) store it
// with Create or CreateFirst.
func (a *Accounts) Draft(ctx context.Context, in NewAccount) (*store.User, error) {
	if err := a.Check(&in); err != nil {
		return nil, err
	}
	hash := ""
	if !in.NoPassword {
		var err error
		if hash, err = a.Hasher.Hash(ctx, in.Password); err != nil {
			return nil, err
		}
	}
	now := a.Now()
	return &store.User{ID: keys.NewID(), Email: in.Email, Name: in.Name, Phone: in.Phone, Groups: in.Groups,
		Status: store.StatusActive, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}, nil
}

// Create stores a drafted account (store.ErrConflict: the email or phone
// is taken) and records who created it.
func (a *Accounts) Create(ctx context.Context, by Actor, u *store.User) error {
	if err := a.Users.CreateUser(ctx, u); err != nil {
		return err
	}
	a.record(ctx, by, audit.Event{Type: audit.UserCreated, UserID: u.ID, Email: u.Email, Detail: map[string]string{"via": by.ID}})
	return nil
}

// CreateFirst stores the first account, atomically with the check that
// there is none (store.ErrConflict: someone was first), so two setup links
// posted at once cannot make two administrators.
func (a *Accounts) CreateFirst(ctx context.Context, by Actor, u *store.User) error {
	if err := a.Users.CreateFirstUser(ctx, u); err != nil {
		return err
	}
	a.record(ctx, by, audit.Event{Type: audit.UserCreated, UserID: u.ID, Email: u.Email, Detail: map[string]string{"via": by.ID}})
	return nil
}

// SetStatus disables (and signs out everywhere) or enables u, and reports
// how many sessions ended. ErrSessionsNotRevoked means the account is
// disabled but its sessions live until their next validation (the manager
// checks the status then).
func (a *Accounts) SetStatus(ctx context.Context, by Actor, u *store.User, status string) (int, error) {
	if status == store.StatusDisabled && u.ID == by.ID {
		return 0, ErrSelf
	}
	u.Status, u.UpdatedAt = status, a.Now()
	if err := a.Users.UpdateUser(ctx, u); err != nil {
		return 0, err
	}
	typ, n, err := audit.UserEnabled, 0, error(nil)
	if status == store.StatusDisabled {
		typ = audit.UserDisabled
		if n, err = a.Sessions.RevokeUser(ctx, u.ID); err != nil {
			err = &IncompleteError{ErrSessionsNotRevoked, err}
		}
	}
	a.record(ctx, by, audit.Event{Type: typ, UserID: u.ID, Email: u.Email, Detail: sessionsDetail(n)})
	return n, err
}

// Delete removes u and everything that hangs off it, and reports how many
// sessions ended. Sessions are revoked first, so caches (and other
// instances) forget them; a failure there deletes nothing.
func (a *Accounts) Delete(ctx context.Context, by Actor, u *store.User) (int, error) {
	if u.ID == by.ID {
		return 0, ErrSelf
	}
	n, err := a.Sessions.RevokeUser(ctx, u.ID)
	if err != nil {
		return 0, err
	}
	if err := a.Users.DeleteUser(ctx, u.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return n, err
	}
	_, lerr := a.Lockouts.Unlock(ctx, u.Email)
	a.record(ctx, by, audit.Event{Type: audit.UserDeleted, UserID: u.ID, Email: u.Email, Detail: sessionsDetail(n)})
	if lerr != nil {
		return n, &IncompleteError{ErrLockoutNotCleared, lerr}
	}
	return n, nil
}

// SetPassword sets u's password (after the policy), then ends their
// sessions and forgets their trusted devices, and reports how many
// sessions ended (an operator's reset: the CLI, later the admin API).
func (a *Accounts) SetPassword(ctx context.Context, by Actor, u *store.User, pw string) (int, error) {
	if err := a.CheckPassword(pw, u.Email, u.Name); err != nil {
		return 0, err
	}
	hash, err := a.Hasher.Hash(ctx, pw)
	if err != nil {
		return 0, err
	}
	if err := a.StorePassword(ctx, by, u, hash, nil); err != nil {
		return 0, err
	}
	n, err := a.Sessions.RevokeUser(ctx, u.ID)
	if err != nil {
		return n, &IncompleteError{ErrSessionsNotRevoked, err}
	}
	if err := a.MFA.DeleteTrustedDevices(ctx, u.ID); err != nil {
		return n, &IncompleteError{ErrDevicesNotForgotten, err}
	}
	return n, nil
}

// StorePassword writes hash, a password already judged and hashed, and
// records who changed it (detail adds to the record). It ends no session:
// for callers that end them their own way first (change-password keeps
// the caller's own, rotated); others call SetPassword. Only the hash is
// written: a disable or group change made meanwhile stays.
func (a *Accounts) StorePassword(ctx context.Context, by Actor, u *store.User, hash string, detail map[string]string) error {
	now := a.Now()
	if err := a.Users.SetPasswordHash(ctx, u.ID, hash, now); err != nil {
		return err
	}
	u.PasswordHash, u.UpdatedAt = hash, now
	d := map[string]string{"via": by.ID}
	for k, v := range detail {
		d[k] = v
	}
	a.record(ctx, by, audit.Event{Type: audit.PasswordChanged, UserID: u.ID, Email: u.Email, Detail: d})
	return nil
}

// LogoutAll ends every session of u and reports how many there were.
func (a *Accounts) LogoutAll(ctx context.Context, by Actor, u *store.User) (int, error) {
	n, err := a.Sessions.RevokeUser(ctx, u.ID)
	if err != nil {
		return 0, err
	}
	a.record(ctx, by, audit.Event{Type: audit.LogoutAll, UserID: u.ID, Email: u.Email, Detail: sessionsDetail(n)})
	return n, nil
}

// Unlock lifts the login lockout of an email on every address and reports
// how many (email, address) pairs were locked. Unknown emails can be
// locked too (the lockout does not reveal who exists); the record names
// the user when there is one.
func (a *Accounts) Unlock(ctx context.Context, by Actor, email string) (int, error) {
	email = NormalizeEmail(email)
	n, err := a.Lockouts.Unlock(ctx, email)
	if err != nil {
		return n, err
	}
	ev := audit.Event{Type: audit.Unlocked, Email: email, Detail: map[string]string{"locked_pairs": strconv.Itoa(n)}}
	if u, err := a.Users.UserByEmail(ctx, email); err == nil {
		ev.UserID = u.ID
	}
	a.record(ctx, by, ev)
	return n, nil
}

// ResetMFA (lost authenticator, compromised account) deletes u's
// authenticators, recovery codes and trusted devices, then ends their
// sessions (each passed MFA with the old factors).
func (a *Accounts) ResetMFA(ctx context.Context, by Actor, u *store.User) error {
	if err := a.resetMFA(ctx, u.ID); err != nil {
		return err
	}
	a.record(ctx, by, audit.Event{Type: audit.MFAReset, UserID: u.ID, Email: u.Email})
	return nil
}

func (a *Accounts) resetMFA(ctx context.Context, userID string) error {
	if err := a.MFA.ResetMFA(ctx, userID); err != nil {
		return err
	}
	_, err := a.Sessions.RevokeUser(ctx, userID)
	return err
}

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
