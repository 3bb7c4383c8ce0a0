package audit

// Recovery events (issue 11), beside PasswordReset in event.go; in a file
// of their own so parallel changes to that list merge cleanly.
const (
	// PasswordResetRequested: someone asked for a reset. UserID is empty
	// for an unknown identifier; Reason says why nothing was sent
	// (unknown_account, disabled, no_address), empty when it was; Detail
	// `channel`.
	PasswordResetRequested = "password.reset_requested"
	// PasswordResetFailed: a reset link or code was refused. Reason:
	// invalid_token, invalid_code, disabled.
	PasswordResetFailed = "password.reset_failed"
)

// PasswordChangeRequired: an operator set (Detail required=true) or
// cleared the account's must-change-password flag.
const PasswordChangeRequired = "password.change_required"

// PasswordlessRequested: someone asked for a sign-in code or link; Reason
// and Detail as for PasswordResetRequested. A use is login.succeeded or
// login.failed with Detail method=passwordless.
const PasswordlessRequested = "passwordless.requested"

// Invitations: UserInvited when an account is invited (Detail again=true
// for a new link to an account invited before), InvitationAccepted when
// its link set the first password.
const (
	UserInvited        = "user.invited"
	InvitationAccepted = "invitation.accepted"
)

// Registration events (issue 12). RegistrationRefused: a sign-up made no
// account; Reason email_domain, account_exists (the owner was told) or
// conflict. DisposableEmail: an account was made from a disposable
// address under `disposable flag`. EmailVerified: the address was proven;
// Detail `via` link or code. UserApproved: an administrator let a
// registered account in.
const (
	RegistrationRefused = "registration.refused"
	DisposableEmail     = "registration.disposable_email"
	EmailVerified       = "email.verified"
	UserApproved        = "user.approved"
	// EmailChangeRequested: a user asked to move the account to another
	// address (Detail new_email, masked); EmailChanged: it moved (Detail
	// old_email, masked).
	EmailChangeRequested = "email.change_requested"
	EmailChanged         = "email.changed"
)
