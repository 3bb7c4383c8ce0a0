package store

import "context"

// UserImporter is implemented by backends that can create many accounts
// in one transaction: `caddy auth user import` then writes all its rows
// or none, so a failure midway (a conflict that appeared since the check,
// a lost connection, a kill) never leaves a file half imported.
type UserImporter interface {
	// CreateUsers inserts every user of us, or none: ErrConflict if any
	// email, phone or id is taken (by a stored user or by another of us).
	CreateUsers(ctx context.Context, us []*User) error
}
