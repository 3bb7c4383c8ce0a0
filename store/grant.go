package store

import (
	"context"
	"time"
)

// GrantStore keeps grants: single-use tokens sent to a user (a reset,
// sign-in or invitation link, an email verification) with, optionally, a
// short code for a reader on another device. A user has at most one live
// grant of a purpose: a new request replaces the old one. The link token
// is found by its hash (TokenStore.PeekToken shows a page, ConsumeToken
// spends it); the code by the user and purpose, with a bounded number of
// tries. Spending either ends both: they are one row.
//
// Grants live in the user database on every deployment (the memory and
// sql stores implement it), so they cascade with the user.
type GrantStore interface {
	TokenStore
	// IssueToken stores t as the user's only token of t.Purpose: the ones
	// before it are deleted in the same atomic step, so racing issues (on
	// one instance or several) leave exactly one live token. UserID ""
	// means the tokens bound to no user (the first-run setup link).
	// ErrConflict if the hash is taken.
	IssueToken(ctx context.Context, t *OneTimeToken) error
	// TryCode spends one try of the user's live token of purpose that has
	// a code. When its CodeHash is one of codeHashes (the code's hash under
	// each verifying key), the token is deleted and returned. Otherwise it
	// answers ErrNotFound, and the token is deleted once maxTries tries are
	// spent. However many calls race, at most maxTries codes are compared
	// against one token, and at most one call gets it.
	TryCode(ctx context.Context, userID, purpose string, codeHashes []string, maxTries int, now time.Time) (*OneTimeToken, error)
}
