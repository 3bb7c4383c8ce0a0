package flows

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/caddyauth/gateway/internal/apikey"
	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/store"
)

// API key rules: a name says what the key is for, a user holds a bounded
// number of them (each one is a standing way in), and a lifetime, when
// given, is between a minute and five years.
const (
	MaxAPIKeysPerUser = 50
	maxAPIKeyName     = 100
	minAPIKeyLife     = time.Minute
	maxAPIKeyLife     = 5 * 365 * 24 * time.Hour
)

// Refusals of the API key operations.
var (
	ErrAPIKeysOff        = errors.New("accounts: API keys are not available on this store")
	ErrInvalidAPIKeyName = fmt.Errorf("accounts: an API key needs a name of 1 to %d characters, without control characters", maxAPIKeyName)
	ErrInvalidAPIKeyLife = errors.New("accounts: an API key's lifetime must be between 1 minute and 5 years")
	ErrTooManyAPIKeys    = fmt.Errorf("accounts: a user holds at most %d API keys", MaxAPIKeysPerUser)
	// ErrAPIKeyOwnerInactive: a disabled or pending account gets no key.
	ErrAPIKeyOwnerInactive = errors.New("accounts: the account is not active")
)

// NewAPIKey is a key just made: Value is shown once and never stored.
type NewAPIKey struct {
	Value string
	Key   *store.APIKey
}

// CreateAPIKey makes a key for u named name, expiring after life (0: no
// expiry). A disabled or pending account gets none: the key would only be
// refused.
func (a *Accounts) CreateAPIKey(ctx context.Context, by Actor, u *store.User, name string, life time.Duration) (*NewAPIKey, error) {
	if a.APIKeys == nil {
		return nil, ErrAPIKeysOff
	}
	if name == "" || utf8.RuneCountInString(name) > maxAPIKeyName || !utf8.ValidString(name) || !ValidName(name) {
		return nil, ErrInvalidAPIKeyName
	}
	if life != 0 && (life < minAPIKeyLife || life > maxAPIKeyLife) {
		return nil, ErrInvalidAPIKeyLife
	}
	if !u.Active() {
		return nil, ErrAPIKeyOwnerInactive
	}
	have, err := a.APIKeys.UserAPIKeys(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	if len(have) >= MaxAPIKeysPerUser {
		return nil, ErrTooManyAPIKeys
	}
	now := a.Now()
	k := &store.APIKey{UserID: u.ID, Name: name, CreatedAt: now}
	if life != 0 {
		k.ExpiresAt = now.Add(life)
	}
	var made apikey.Key
	for range 3 { // a 64-bit id collision is astronomically rare; retry anyway
		if made, err = apikey.New(); err != nil {
			return nil, err
		}
		k.ID, k.Hash = made.ID, made.Hash
		if err = a.APIKeys.CreateAPIKey(ctx, k); !errors.Is(err, store.ErrConflict) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	expires := ""
	if !k.ExpiresAt.IsZero() {
		expires = k.ExpiresAt.UTC().Format(time.RFC3339)
	}
	a.record(ctx, by, audit.Event{
		Type: audit.APIKeyCreated, UserID: u.ID, Email: u.Email,
		Detail: map[string]string{"key_id": k.ID, "name": k.Name, "expires": expires},
	})
	return &NewAPIKey{Value: made.Value, Key: k}, nil
}

// APIKeysOf lists u's keys, oldest first.
func (a *Accounts) APIKeysOf(ctx context.Context, u *store.User) ([]*store.APIKey, error) {
	if a.APIKeys == nil {
		return nil, ErrAPIKeysOff
	}
	return a.APIKeys.UserAPIKeys(ctx, u.ID)
}

// RevokeAPIKey deletes u's key id; the next request with it is refused on
// every instance (keys are looked up on every use, never cached).
// store.ErrNotFound when u has no such key.
func (a *Accounts) RevokeAPIKey(ctx context.Context, by Actor, u *store.User, id string) error {
	if a.APIKeys == nil {
		return ErrAPIKeysOff
	}
	k, err := a.APIKeys.APIKey(ctx, id)
	if err != nil {
		return err
	}
	if k.UserID != u.ID {
		return fmt.Errorf("accounts: api key: %w", store.ErrNotFound)
	}
	if err := a.APIKeys.DeleteAPIKey(ctx, u.ID, id); err != nil {
		return err
	}
	a.record(ctx, by, audit.Event{
		Type: audit.APIKeyRevoked, UserID: u.ID, Email: u.Email,
		Detail: map[string]string{"key_id": k.ID, "name": k.Name},
	})
	return nil
}

// RevokeAllAPIKeys deletes every key of u (a compromised account) and
// reports how many there were. Each one is audited as it goes.
func (a *Accounts) RevokeAllAPIKeys(ctx context.Context, by Actor, u *store.User) (int, error) {
	if a.APIKeys == nil {
		return 0, ErrAPIKeysOff
	}
	keys, err := a.APIKeys.UserAPIKeys(ctx, u.ID)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, k := range keys {
		err := a.RevokeAPIKey(ctx, by, u, k.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue // revoked meanwhile
		}
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
