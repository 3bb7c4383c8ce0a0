package flows

import (
	"context"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/store"
)

// Draft judges in (Check) and hashes its password: the account, not yet
// stored. Callers with a step between (setup consumes its token) store it
// with Create or CreateFirst.
func (a *Accounts) Draft(ctx context.Context, in NewAccount) (*store.User, error) {
	if err := a.Check(ctx, &in); err != nil {
		return nil, err
	}
	return a.draft(ctx, in)
}

// draft is Draft for an account Check already accepted (one breach
// lookup per password, not two).
func (a *Accounts) draft(ctx context.Context, in NewAccount) (*store.User, error) {
	hash := ""
	if !in.NoPassword {
		var err error
		if hash, err = a.Hasher.Hash(ctx, in.Password); err != nil {
			return nil, err
		}
	}
	now := a.Now()
	return &store.User{
		ID: keys.NewID(), Email: in.Email, Name: in.Name, Phone: in.Phone, Groups: in.Groups,
		Status: store.StatusActive, PasswordHash: hash, CreatedAt: now, UpdatedAt: now,
	}, nil
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
