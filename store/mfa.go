package store

import (
	"context"
	"time"
)

// TOTPDevice is an authenticator app enrolled by a user. Secret is the
// sealed (encrypted) shared secret: the store never sees it in clear.
type TOTPDevice struct {
	ID          string
	UserID      string
	Name        string
	Secret      []byte // sealed with the "totp" purpose key
	LastStep    int64  // highest time step accepted; a code at or below it is a replay
	CreatedAt   time.Time
	ConfirmedAt time.Time // zero until a first code proves the enrolment
}

// Confirmed reports whether the enrolment finished.
func (d *TOTPDevice) Confirmed() bool { return !d.ConfirmedAt.IsZero() }

// TrustedDevice is a browser or client that passed MFA and asked to be
// remembered. ID is the hash of the token the client holds.
type TrustedDevice struct {
	ID        string
	UserID    string
	UserAgent string
	IP        string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// MFAStore keeps second factors. Every method is safe for concurrent use
// across instances (the database is shared).
type MFAStore interface {
	CreateTOTP(ctx context.Context, d *TOTPDevice) error
	// ListTOTP returns the user's devices, confirmed or not, oldest first.
	ListTOTP(ctx context.Context, userID string) ([]*TOTPDevice, error)
	// ConfirmTOTP marks the device confirmed at t and records step as used.
	ConfirmTOTP(ctx context.Context, userID, id string, step int64, t time.Time) error
	// UseTOTPStep atomically raises LastStep to step; ErrConflict when step
	// is not above it (the code was already used: a replay).
	UseTOTPStep(ctx context.Context, userID, id string, step int64) error
	// DeleteTOTP removes one device of the user; ErrNotFound if absent.
	DeleteTOTP(ctx context.Context, userID, id string) error
	// ResealTOTP replaces a device's sealed secret (re-encryption under a
	// new master secret); ErrNotFound if absent.
	ResealTOTP(ctx context.Context, userID, id string, secret []byte) error
	// AllTOTP lists every device of every user (re-encryption).
	AllTOTP(ctx context.Context) ([]*TOTPDevice, error)

	// ReplaceRecoveryCodes sets the user's recovery code hashes, dropping
	// the old set.
	ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []string) error
	// UseRecoveryCode atomically deletes the hash; ErrNotFound if absent.
	UseRecoveryCode(ctx context.Context, userID, hash string) error
	CountRecoveryCodes(ctx context.Context, userID string) (int, error)

	CreateTrustedDevice(ctx context.Context, d *TrustedDevice) error
	// GetTrustedDevice returns the device if it has not expired at now.
	GetTrustedDevice(ctx context.Context, id string, now time.Time) (*TrustedDevice, error)
	ListTrustedDevices(ctx context.Context, userID string, now time.Time) ([]*TrustedDevice, error)
	// DeleteTrustedDevice removes one device of the user; ErrNotFound if absent.
	DeleteTrustedDevice(ctx context.Context, userID, id string) error

	// ResetMFA removes every factor, recovery code and trusted device of
	// the user.
	ResetMFA(ctx context.Context, userID string) error
	// DeleteTrustedDevices removes every trusted device of the user (on a
	// password change).
	DeleteTrustedDevices(ctx context.Context, userID string) error
}
