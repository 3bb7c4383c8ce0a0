// Package notify delivers email and SMS through a durable outbox. This file
// is the seam the flows write to: a flow enqueues and returns; a worker
// delivers with retries.
package notify

import "context"

// Message kinds (one text and one HTML template each).
const (
	KindVerifyEmail      = "email_verification"
	KindVerifyPhone      = "verify_phone"
	KindPasswordless     = "passwordless"
	KindPasswordReset    = "password_reset"
	KindMFACode          = "mfa_code"
	KindInvitation       = "invitation"
	KindEmailVerified    = "email_verified"
	KindPasswordChanged  = "password_changed"
	KindNewSignIn        = "new_sign_in"
	KindRecoveryCodeUsed = "recovery_code_used"
	KindAccountLocked    = "account_locked"
	// KindAccountExists goes to the owner of an address someone tried to
	// register again (the sign-up answers alike either way).
	KindAccountExists = "account_exists"
	// KindEmailChangeRequested goes to the old address when a user asks
	// to move the account to a new one.
	KindEmailChangeRequested = "email_change_requested"
	// KindAccountDeleted tells the owner their account was deleted by
	// themselves (someone with their password and second factor did it).
	KindAccountDeleted = "account_deleted"
)

// Channels.
const (
	Email = "email"
	SMS   = "sms"
)

// Message is one notification to deliver. Data feeds the template; it may
// hold a code or link, so it is encrypted at rest and never logged.
type Message struct {
	Kind    string
	Channel string // Email or SMS
	To      string // address or E.164 number
	UserID  string
	Data    map[string]string
}

// Queue accepts messages for later delivery. Enqueue must be durable when it
// returns nil.
type Queue interface {
	Enqueue(ctx context.Context, m Message) error
	// Has reports whether a sender delivers on channel (Email, SMS): the
	// flows offer a code only where it can arrive.
	Has(channel string) bool
}
