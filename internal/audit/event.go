// Package audit records security events in a tamper-evident chain. This file
// is the seam the flows write to; the chain, its stores and sinks live next
// to it.
package audit

import (
	"context"
	"time"
)

// Event types. Names are stable: operators alert and search on them.
const (
	LoginSucceeded     = "login.succeeded"
	LoginFailed        = "login.failed" // Reason: invalid_credentials, disabled, mfa_failed...
	Logout             = "logout"
	LogoutAll          = "logout_all"
	SessionRevoked     = "session.revoked"
	MFAEnabled         = "mfa.enabled"
	MFADisabled        = "mfa.disabled"
	MFAVerified        = "mfa.verified"
	MFAFailed          = "mfa.failed"
	MFAReset           = "mfa.reset"
	RecoveryCodeUsed   = "mfa.recovery_code_used"
	RecoveryCodesNew   = "mfa.recovery_codes_generated"
	TrustedDeviceAdded = "trusted_device.added"
	TrustedDeviceGone  = "trusted_device.revoked"
	PasswordChanged    = "password.changed"
	// PasswordChangeFailed: a signed-in user gave a wrong current password.
	PasswordChangeFailed = "password.change_failed"
	PasswordReset        = "password.reset"
	OAuthLinked          = "oauth.linked"
	OAuthUnlinked        = "oauth.unlinked"
	RateLimited          = "rate_limited"
	LockedOut            = "locked_out"
	Unlocked             = "unlocked"
	UserCreated          = "user.created"
	UserDisabled         = "user.disabled"
	UserEnabled          = "user.enabled"
	UserDeleted          = "user.deleted"
	// UserDeleteFailed: a user asking to delete their own account did
	// not confirm it (wrong password or code, sign-in not fresh).
	UserDeleteFailed = "user.delete_failed"
	MethodEnabled    = "auth_method.enabled"
	MethodDisabled   = "auth_method.disabled"
)

// Event is one security event. Never put a password, code, token or secret
// in any field: records are kept for years and read by many people.
type Event struct {
	Time      time.Time // set by the recorder when zero
	Type      string
	UserID    string // the account the event is about ("" if unknown)
	Email     string // its email, or the identifier that was tried
	Actor     string // who acted when not the user: an admin's user id, or "cli"
	IP        string
	UserAgent string
	Reason    string            // why (failures), a stable lower_snake word
	Detail    map[string]string // small extra facts: method, provider, session id prefix...
}

// Recorder stores events. Record must be safe for concurrent use; an error
// means the event may not be durable (callers log it and go on).
type Recorder interface {
	Record(ctx context.Context, e Event) error
}

// Nop discards events (tests, and until a recorder is configured).
type Nop struct{}

// Record implements Recorder.
func (Nop) Record(context.Context, Event) error { return nil }
