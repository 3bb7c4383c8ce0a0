package sqlstore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/caddyauth/gateway/store"
)

var _ store.MFAStore = (*DB)(nil)

const totpCols = `id, user_id, name, secret, last_step, created_at, confirmed_at`

func scanTOTP(r scanner) (*store.TOTPDevice, error) {
	var (
		d                  store.TOTPDevice
		secret             string
		created, confirmed int64
	)
	if err := r.Scan(&d.ID, &d.UserID, &d.Name, &secret, &d.LastStep, &created, &confirmed); err != nil {
		return nil, err
	}
	b, err := base64.StdEncoding.DecodeString(secret)
	if err != nil {
		return nil, fmt.Errorf("totp secret of device %s: %w", d.ID, err)
	}
	d.Secret = b
	d.CreatedAt = fromMs(created)
	if confirmed != 0 {
		d.ConfirmedAt = fromMs(confirmed)
	}
	return &d, nil
}

// CreateTOTP inserts an (unconfirmed) device.
func (d *DB) CreateTOTP(ctx context.Context, t *store.TOTPDevice) error {
	conf := int64(0)
	if t.Confirmed() {
		conf = ms(t.ConfirmedAt)
	}
	_, err := d.db.ExecContext(ctx, d.q(`INSERT INTO totp_devices (`+totpCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`),
		t.ID, t.UserID, t.Name, base64.StdEncoding.EncodeToString(t.Secret), t.LastStep, ms(t.CreatedAt), conf)
	return d.wrap("create totp device", err)
}

// ListTOTP returns the user's devices, oldest first.
func (d *DB) ListTOTP(ctx context.Context, userID string) ([]*store.TOTPDevice, error) {
	return d.queryTOTP(ctx, d.q(`SELECT `+totpCols+` FROM totp_devices WHERE user_id = ? ORDER BY created_at, id`), userID)
}

func (d *DB) queryTOTP(ctx context.Context, query string, args ...any) ([]*store.TOTPDevice, error) {
	rows, err := d.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, d.wrap("list totp devices", err)
	}
	defer rows.Close()
	var out []*store.TOTPDevice
	for rows.Next() {
		t, err := scanTOTP(rows)
		if err != nil {
			return nil, d.wrap("list totp devices", err)
		}
		out = append(out, t)
	}
	return out, d.wrap("list totp devices", rows.Err())
}

// ConfirmTOTP finishes an enrolment; the confirming code's step is used.
func (d *DB) ConfirmTOTP(ctx context.Context, userID, id string, step int64, t time.Time) error {
	res, err := d.db.ExecContext(ctx, d.q(`UPDATE totp_devices SET confirmed_at = ?, last_step = ? WHERE user_id = ? AND id = ? AND last_step < ?`),
		ms(t), step, userID, id, step)
	return d.wrap("confirm totp device", oneRowConflict(res, err))
}

// UseTOTPStep is the replay guard: one conditional UPDATE, so two requests
// racing with the same code cannot both win, on any number of instances.
func (d *DB) UseTOTPStep(ctx context.Context, userID, id string, step int64) error {
	res, err := d.db.ExecContext(ctx, d.q(`UPDATE totp_devices SET last_step = ? WHERE user_id = ? AND id = ? AND last_step < ?`),
		step, userID, id, step)
	return d.wrap("use totp step", oneRowConflict(res, err))
}

// oneRowConflict maps "no row changed" to ErrConflict (the guard refused).
func oneRowConflict(res sql.Result, err error) error { return rowOr(res, err, store.ErrConflict) }

// DeleteTOTP removes one of the user's devices.
func (d *DB) DeleteTOTP(ctx context.Context, userID, id string) error {
	res, err := d.db.ExecContext(ctx, d.q(`DELETE FROM totp_devices WHERE user_id = ? AND id = ?`), userID, id)
	return d.wrap("delete totp device", oneRow(res, err))
}

// ResealTOTP replaces the sealed secret of one device.
func (d *DB) ResealTOTP(ctx context.Context, userID, id string, secret []byte) error {
	res, err := d.db.ExecContext(ctx, d.q(`UPDATE totp_devices SET secret = ? WHERE user_id = ? AND id = ?`),
		base64.StdEncoding.EncodeToString(secret), userID, id)
	return d.wrap("reseal totp device", oneRow(res, err))
}

// AllTOTP lists every device, for re-encryption.
func (d *DB) AllTOTP(ctx context.Context) ([]*store.TOTPDevice, error) {
	return d.queryTOTP(ctx, `SELECT `+totpCols+` FROM totp_devices ORDER BY user_id, created_at, id`)
}

// ReplaceRecoveryCodes swaps the whole set in one transaction.
func (d *DB) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []string) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return d.wrap("replace recovery codes", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, d.q(`DELETE FROM recovery_codes WHERE user_id = ?`), userID); err != nil {
		return d.wrap("replace recovery codes", err)
	}
	for _, h := range hashes {
		if _, err := tx.ExecContext(ctx, d.q(`INSERT INTO recovery_codes (user_id, hash) VALUES (?, ?)`), userID, h); err != nil {
			return d.wrap("replace recovery codes", err)
		}
	}
	return d.wrap("replace recovery codes", tx.Commit())
}

// UseRecoveryCode deletes the code; only one request can delete it.
func (d *DB) UseRecoveryCode(ctx context.Context, userID, hash string) error {
	res, err := d.db.ExecContext(ctx, d.q(`DELETE FROM recovery_codes WHERE user_id = ? AND hash = ?`), userID, hash)
	return d.wrap("use recovery code", oneRow(res, err))
}

// CountRecoveryCodes reports how many unused codes the user has.
func (d *DB) CountRecoveryCodes(ctx context.Context, userID string) (int, error) {
	var n int
	err := d.db.QueryRowContext(ctx, d.q(`SELECT COUNT(*) FROM recovery_codes WHERE user_id = ?`), userID).Scan(&n)
	return n, d.wrap("count recovery codes", err)
}

const trustedCols = `id, user_id, user_agent, ip, created_at, expires_at`

func scanTrusted(r scanner) (*store.TrustedDevice, error) {
	var (
		t            store.TrustedDevice
		created, exp int64
	)
	if err := r.Scan(&t.ID, &t.UserID, &t.UserAgent, &t.IP, &created, &exp); err != nil {
		return nil, err
	}
	t.CreatedAt, t.ExpiresAt = fromMs(created), fromMs(exp)
	return &t, nil
}

// CreateTrustedDevice stores a remembered device.
func (d *DB) CreateTrustedDevice(ctx context.Context, t *store.TrustedDevice) error {
	_, err := d.db.ExecContext(ctx, d.q(`INSERT INTO trusted_devices (`+trustedCols+`) VALUES (?, ?, ?, ?, ?, ?)`),
		t.ID, t.UserID, t.UserAgent, t.IP, ms(t.CreatedAt), ms(t.ExpiresAt))
	return d.wrap("create trusted device", err)
}

// GetTrustedDevice returns an unexpired device.
func (d *DB) GetTrustedDevice(ctx context.Context, id string, now time.Time) (*store.TrustedDevice, error) {
	t, err := scanTrusted(d.db.QueryRowContext(ctx,
		d.q(`SELECT `+trustedCols+` FROM trusted_devices WHERE id = ? AND expires_at > ?`), id, ms(now)))
	return t, d.wrap("get trusted device", err)
}

// ListTrustedDevices returns the user's unexpired devices, oldest first.
func (d *DB) ListTrustedDevices(ctx context.Context, userID string, now time.Time) ([]*store.TrustedDevice, error) {
	rows, err := d.db.QueryContext(ctx,
		d.q(`SELECT `+trustedCols+` FROM trusted_devices WHERE user_id = ? AND expires_at > ? ORDER BY created_at, id`), userID, ms(now))
	if err != nil {
		return nil, d.wrap("list trusted devices", err)
	}
	defer rows.Close()
	var out []*store.TrustedDevice
	for rows.Next() {
		t, err := scanTrusted(rows)
		if err != nil {
			return nil, d.wrap("list trusted devices", err)
		}
		out = append(out, t)
	}
	return out, d.wrap("list trusted devices", rows.Err())
}

// DeleteTrustedDevice removes one of the user's devices.
func (d *DB) DeleteTrustedDevice(ctx context.Context, userID, id string) error {
	res, err := d.db.ExecContext(ctx, d.q(`DELETE FROM trusted_devices WHERE user_id = ? AND id = ?`), userID, id)
	return d.wrap("delete trusted device", oneRow(res, err))
}

// DeleteTrustedDevices removes all of the user's devices.
func (d *DB) DeleteTrustedDevices(ctx context.Context, userID string) error {
	_, err := d.db.ExecContext(ctx, d.q(`DELETE FROM trusted_devices WHERE user_id = ?`), userID)
	return d.wrap("delete trusted devices", err)
}

// ResetMFA removes every factor of the user in one transaction.
func (d *DB) ResetMFA(ctx context.Context, userID string) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return d.wrap("reset mfa", err)
	}
	defer tx.Rollback()
	for _, t := range []string{"totp_devices", "recovery_codes", "trusted_devices"} {
		if _, err := tx.ExecContext(ctx, d.q(`DELETE FROM `+t+` WHERE user_id = ?`), userID); err != nil {
			return d.wrap("reset mfa", err)
		}
	}
	return d.wrap("reset mfa", tx.Commit())
}
