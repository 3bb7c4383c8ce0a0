package store

import (
	"context"
	"time"
)

// Identity links an account at an external identity provider to a user. It
// is keyed by (Provider, Subject): the provider's non-reassignable user id
// (OIDC `sub`, GitHub's numeric id), never the email, which a provider may
// reassign or fail to verify. A user has at most one identity per provider.
type Identity struct {
	// Provider is the configured provider name ("google", "github",
	// "corp" for `oidc corp {...}`).
	Provider string
	// Subject is the provider's id of the account.
	Subject string
	UserID  string
	// Email is what the provider said at the last login (informative:
	// never used to find the identity).
	Email       string
	CreatedAt   time.Time
	LastLoginAt time.Time
}

// IdentityStore keeps the links between users and provider accounts.
// Deleting a user deletes its identities.
type IdentityStore interface {
	// CreateIdentity inserts id. ErrConflict if (Provider, Subject) is
	// already linked, or the user already has an identity at Provider;
	// ErrNotFound if the user does not exist.
	CreateIdentity(ctx context.Context, id *Identity) error
	// IdentityBySubject finds the identity; ErrNotFound if none.
	IdentityBySubject(ctx context.Context, provider, subject string) (*Identity, error)
	// UserIdentities lists the user's identities ordered by provider.
	UserIdentities(ctx context.Context, userID string) ([]*Identity, error)
	// TouchIdentity records a login: LastLoginAt and the email seen.
	// ErrNotFound if the identity is gone.
	TouchIdentity(ctx context.Context, provider, subject, email string, at time.Time) error
	// DeleteIdentity removes the user's identity at provider; ErrNotFound
	// if there is none.
	DeleteIdentity(ctx context.Context, userID, provider string) error
}
