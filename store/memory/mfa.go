package memory

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/caddyauth/gateway/store"
)

var _ store.MFAStore = (*Store)(nil)

type mfaData struct {
	totp     map[string]*store.TOTPDevice    // by id
	recovery map[string]map[string]bool      // user -> hashes
	trusted  map[string]*store.TrustedDevice // by id
}

func (d *mfaData) init() {
	if d.totp == nil {
		d.totp = map[string]*store.TOTPDevice{}
		d.recovery = map[string]map[string]bool{}
		d.trusted = map[string]*store.TrustedDevice{}
	}
}

func (d *mfaData) dropUser(userID string) {
	d.init()
	for id, t := range d.totp {
		if t.UserID == userID {
			delete(d.totp, id)
		}
	}
	delete(d.recovery, userID)
	for id, t := range d.trusted {
		if t.UserID == userID {
			delete(d.trusted, id)
		}
	}
}

func (m *Store) lockMFA() func() {
	m.mu.Lock()
	m.mfa.init()
	return m.mu.Unlock
}

func copyTOTP(t *store.TOTPDevice) *store.TOTPDevice {
	c := *t
	c.Secret = slices.Clone(t.Secret)
	return &c
}

// CreateTOTP implements store.MFAStore.
func (m *Store) CreateTOTP(_ context.Context, t *store.TOTPDevice) error {
	defer m.lockMFA()()
	if _, ok := m.users[t.UserID]; !ok {
		return fmt.Errorf("memory: user: %w", store.ErrNotFound)
	}
	if _, ok := m.mfa.totp[t.ID]; ok {
		return fmt.Errorf("memory: totp device: %w", store.ErrConflict)
	}
	m.mfa.totp[t.ID] = copyTOTP(t)
	return nil
}

// ListTOTP implements store.MFAStore.
func (m *Store) ListTOTP(_ context.Context, userID string) ([]*store.TOTPDevice, error) {
	defer m.lockMFA()()
	var out []*store.TOTPDevice
	for _, t := range m.mfa.totp {
		if t.UserID == userID {
			out = append(out, copyTOTP(t))
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

func (m *Store) raiseStep(userID, id string, step int64, confirm time.Time) error {
	defer m.lockMFA()()
	t, ok := m.mfa.totp[id]
	if !ok || t.UserID != userID || t.LastStep >= step {
		return fmt.Errorf("memory: totp step: %w", store.ErrConflict)
	}
	t.LastStep = step
	if !confirm.IsZero() {
		t.ConfirmedAt = confirm
	}
	return nil
}

// ConfirmTOTP implements store.MFAStore.
func (m *Store) ConfirmTOTP(_ context.Context, userID, id string, step int64, at time.Time) error {
	return m.raiseStep(userID, id, step, at)
}

// UseTOTPStep implements store.MFAStore.
func (m *Store) UseTOTPStep(_ context.Context, userID, id string, step int64) error {
	return m.raiseStep(userID, id, step, time.Time{})
}

// DeleteTOTP implements store.MFAStore.
func (m *Store) DeleteTOTP(_ context.Context, userID, id string) error {
	defer m.lockMFA()()
	t, ok := m.mfa.totp[id]
	if !ok || t.UserID != userID {
		return fmt.Errorf("memory: totp device: %w", store.ErrNotFound)
	}
	delete(m.mfa.totp, id)
	return nil
}

// ResealTOTP implements store.MFAStore.
func (m *Store) ResealTOTP(_ context.Context, userID, id string, secret []byte) error {
	defer m.lockMFA()()
	t, ok := m.mfa.totp[id]
	if !ok || t.UserID != userID {
		return fmt.Errorf("memory: totp device: %w", store.ErrNotFound)
	}
	t.Secret = slices.Clone(secret)
	return nil
}

// AllTOTP implements store.MFAStore.
func (m *Store) AllTOTP(_ context.Context) ([]*store.TOTPDevice, error) {
	defer m.lockMFA()()
	out := make([]*store.TOTPDevice, 0, len(m.mfa.totp))
	for _, t := range m.mfa.totp {
		out = append(out, copyTOTP(t))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// ReplaceRecoveryCodes implements store.MFAStore.
func (m *Store) ReplaceRecoveryCodes(_ context.Context, userID string, hashes []string) error {
	defer m.lockMFA()()
	if _, ok := m.users[userID]; !ok {
		return fmt.Errorf("memory: user: %w", store.ErrNotFound)
	}
	set := map[string]bool{}
	for _, h := range hashes {
		set[h] = true
	}
	m.mfa.recovery[userID] = set
	return nil
}

// UseRecoveryCode implements store.MFAStore.
func (m *Store) UseRecoveryCode(_ context.Context, userID, hash string) error {
	defer m.lockMFA()()
	if !m.mfa.recovery[userID][hash] {
		return fmt.Errorf("memory: recovery code: %w", store.ErrNotFound)
	}
	delete(m.mfa.recovery[userID], hash)
	return nil
}

// CountRecoveryCodes implements store.MFAStore.
func (m *Store) CountRecoveryCodes(_ context.Context, userID string) (int, error) {
	defer m.lockMFA()()
	return len(m.mfa.recovery[userID]), nil
}

// CreateTrustedDevice implements store.MFAStore.
func (m *Store) CreateTrustedDevice(_ context.Context, t *store.TrustedDevice) error {
	defer m.lockMFA()()
	if _, ok := m.users[t.UserID]; !ok {
		return fmt.Errorf("memory: user: %w", store.ErrNotFound)
	}
	if _, ok := m.mfa.trusted[t.ID]; ok {
		return fmt.Errorf("memory: trusted device: %w", store.ErrConflict)
	}
	c := *t
	m.mfa.trusted[t.ID] = &c
	return nil
}

// GetTrustedDevice implements store.MFAStore.
func (m *Store) GetTrustedDevice(_ context.Context, id string, now time.Time) (*store.TrustedDevice, error) {
	defer m.lockMFA()()
	t, ok := m.mfa.trusted[id]
	if !ok || !now.Before(t.ExpiresAt) {
		return nil, fmt.Errorf("memory: trusted device: %w", store.ErrNotFound)
	}
	c := *t
	return &c, nil
}

// ListTrustedDevices implements store.MFAStore.
func (m *Store) ListTrustedDevices(_ context.Context, userID string, now time.Time) ([]*store.TrustedDevice, error) {
	defer m.lockMFA()()
	var out []*store.TrustedDevice
	for _, t := range m.mfa.trusted {
		if t.UserID == userID && now.Before(t.ExpiresAt) {
			c := *t
			out = append(out, &c)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// DeleteTrustedDevice implements store.MFAStore.
func (m *Store) DeleteTrustedDevice(_ context.Context, userID, id string) error {
	defer m.lockMFA()()
	t, ok := m.mfa.trusted[id]
	if !ok || t.UserID != userID {
		return fmt.Errorf("memory: trusted device: %w", store.ErrNotFound)
	}
	delete(m.mfa.trusted, id)
	return nil
}

// DeleteTrustedDevices implements store.MFAStore.
func (m *Store) DeleteTrustedDevices(_ context.Context, userID string) error {
	defer m.lockMFA()()
	for id, t := range m.mfa.trusted {
		if t.UserID == userID {
			delete(m.mfa.trusted, id)
		}
	}
	return nil
}

// ResetMFA implements store.MFAStore.
func (m *Store) ResetMFA(_ context.Context, userID string) error {
	defer m.lockMFA()()
	m.mfa.dropUser(userID)
	return nil
}
