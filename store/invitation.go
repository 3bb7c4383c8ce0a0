package store

import "context"

// InvitationStore is implemented by backends that keep users, grants and
// the outbox in one database: an invitation is then written in one
// transaction, so a crash (kill -9, power loss) between its steps cannot
// leave an invited account whose link was never queued, or a new link
// that replaced the old one without its message.
type InvitationStore interface {
	// StoreInvitation creates the invited account create (nil: it exists),
	// stores grant as the user's only token of grant.Purpose (as
	// IssueToken) and queues msg (as EnqueueMessage): all three, or none.
	// ErrConflict if the account's email or phone, the token hash or the
	// message id is taken.
	StoreInvitation(ctx context.Context, create *User, grant *OneTimeToken, msg *OutboxMessage) error
}
