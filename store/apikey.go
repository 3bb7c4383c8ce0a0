package store

import (
	"context"
	"time"
)

// APIKey is a long-lived credential a script presents instead of a
// session. Only the SHA-256 of its secret is kept: the secret carries 256
// random bits, so a fast hash is enough and a store dump yields no key.
type APIKey struct {
	// ID is the key's public handle, part of the key itself
	// (<prefix>_<id>_<secret>), so a lookup needs no scan.
	ID     string
	UserID string
	Name   string
	// Hash is the hex SHA-256 of the secret part.
	Hash      string
	CreatedAt time.Time
	// ExpiresAt is zero for a key that does not expire.
	ExpiresAt time.Time
	// LastUsedAt is coarse: it is written at most once per
	// APIKeyTouchEvery, never once per request. Zero: never used.
	LastUsedAt time.Time
}

// APIKeyTouchEvery is how stale LastUsedAt may get before a use writes it.
const APIKeyTouchEvery = time.Hour

// Expired reports whether the key is past its expiry at now.
func (k *APIKey) Expired(now time.Time) bool {
	return !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt)
}

// APIKeyStore keeps API keys. They live in the user database (memory and
// sql stores) and are deleted with their user.
type APIKeyStore interface {
	// CreateAPIKey stores k. ErrConflict if the id is taken, ErrNotFound
	// if the user does not exist.
	CreateAPIKey(ctx context.Context, k *APIKey) error
	// APIKey returns the key by id (ErrNotFound).
	APIKey(ctx context.Context, id string) (*APIKey, error)
	// UserAPIKeys lists the user's keys, oldest first.
	UserAPIKeys(ctx context.Context, userID string) ([]*APIKey, error)
	// DeleteAPIKey removes the user's key (ErrNotFound when the user has no
	// key of that id), so nobody revokes another's key by guessing ids.
	DeleteAPIKey(ctx context.Context, userID, id string) error
	// TouchAPIKey records a use at at.
	TouchAPIKey(ctx context.Context, id string, at time.Time) error
}
