package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/caddyauth/gateway/store"
)

const userCols = `id, email, phone, name, groups_json, status, password_hash, created_at, updated_at, password_changed_at, must_change_password, email_verified_at, phone_verified_at`

// normEmail canonicalises in Go (store.NormalizeEmail: ASCII case only)
// rather than with SQL lower(), whose folding differs between SQLite and
// PostgreSQL: the stored value and the lookup must agree exactly.
func normEmail(e string) string { return store.NormalizeEmail(e) }

func groupsJSON(g []string) (string, error) {
	if len(g) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(g)
	return string(b), err
}

type scanner interface{ Scan(dest ...any) error }

func scanUser(r scanner) (*store.User, error) {
	var (
		u                store.User
		phone            sql.NullString
		groups           string
		created, updated int64
		pwChanged        int64
		mustChange       int
		emailVerified    int64
		phoneVerified    int64
	)
	if err := r.Scan(&u.ID, &u.Email, &phone, &u.Name, &groups, &u.Status, &u.PasswordHash, &created, &updated, &pwChanged, &mustChange, &emailVerified, &phoneVerified); err != nil {
		return nil, err
	}
	u.Phone = phone.String
	if err := json.Unmarshal([]byte(groups), &u.Groups); err != nil {
		return nil, fmt.Errorf("groups of user %q: %w", u.ID, err)
	}
	if len(u.Groups) == 0 {
		u.Groups = nil
	}
	u.CreatedAt, u.UpdatedAt = fromMs(created), fromMs(updated)
	u.MustChangePassword = mustChange != 0
	if pwChanged != 0 {
		u.PasswordChangedAt = fromMs(pwChanged)
	}
	if emailVerified != 0 {
		u.EmailVerifiedAt = fromMs(emailVerified)
	}
	if phoneVerified != 0 {
		u.PhoneVerifiedAt = fromMs(phoneVerified)
	}
	return &u, nil
}

// CreateUser inserts u with its email lower-cased; ErrConflict if the id,
// email or phone is taken. Zero CreatedAt or UpdatedAt are set to now.
func (d *DB) CreateUser(ctx context.Context, u *store.User) error {
	args, err := userRow(u)
	if err != nil {
		return fmt.Errorf("sqlstore: create user: %w", err)
	}
	_, err = d.db.ExecContext(ctx, d.q(insertUser), args...)
	return d.wrap("create user", err)
}

// CreateFirstUser inserts u in a transaction that first checks the table is
// empty. SQLite transactions here take the write lock at BEGIN
// (_txlock=immediate), so two first users cannot both see it empty.
// On PostgreSQL an advisory lock makes the check and the insert one step
// across instances.
func (d *DB) CreateFirstUser(ctx context.Context, u *store.User) error {
	args, err := userRow(u)
	if err != nil {
		return fmt.Errorf("sqlstore: create first user: %w", err)
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return d.wrap("create first user", err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := d.lockTx(ctx, tx, lockFirstUser); err != nil {
		return d.wrap("create first user", err)
	}
	var one int
	switch err := tx.QueryRowContext(ctx, `SELECT 1 FROM users LIMIT 1`).Scan(&one); {
	case err == nil:
		return fmt.Errorf("sqlstore: create first user: a user exists: %w", store.ErrConflict)
	case !errors.Is(err, sql.ErrNoRows):
		return d.wrap("create first user", err)
	}
	if _, err := tx.ExecContext(ctx, d.q(insertUser), args...); err != nil {
		return d.wrap("create first user", err)
	}
	return d.wrap("create first user", tx.Commit())
}

const insertUser = `INSERT INTO users (` + userCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// userRow is u as insertUser's arguments, email lower-cased and zero
// times set to now.
func userRow(u *store.User) ([]any, error) {
	if u.ID == "" {
		return nil, errors.New("empty id")
	}
	groups, err := groupsJSON(u.Groups)
	if err != nil {
		return nil, err
	}
	created, updated := u.CreatedAt, u.UpdatedAt
	if created.IsZero() {
		created = time.Now()
	}
	if updated.IsZero() {
		updated = created
	}
	return []any{u.ID, normEmail(u.Email), nullable(u.Phone), u.Name, groups, u.Status, u.PasswordHash, ms(created), ms(updated), msOrZero(u.PasswordChangedAt), boolInt(u.MustChangePassword), msOrZero(u.EmailVerifiedAt), msOrZero(u.PhoneVerifiedAt)}, nil
}

// UserByID returns the user with that id.
func (d *DB) UserByID(ctx context.Context, id string) (*store.User, error) {
	u, err := scanUser(d.db.QueryRowContext(ctx, d.q(`SELECT `+userCols+` FROM users WHERE id = ?`), id))
	return u, d.wrap("user by id", err)
}

// UserByEmail returns the user with that email, ignoring case.
func (d *DB) UserByEmail(ctx context.Context, email string) (*store.User, error) {
	u, err := scanUser(d.db.QueryRowContext(ctx, d.q(`SELECT `+userCols+` FROM users WHERE email = ?`), normEmail(email)))
	return u, d.wrap("user by email", err)
}

// UserByPhone returns the user with that E.164 phone.
func (d *DB) UserByPhone(ctx context.Context, phone string) (*store.User, error) {
	if phone == "" {
		return nil, d.wrap("user by phone", sql.ErrNoRows)
	}
	u, err := scanUser(d.db.QueryRowContext(ctx, d.q(`SELECT `+userCols+` FROM users WHERE phone = ?`), phone))
	return u, d.wrap("user by phone", err)
}

// ListUsers returns every user, oldest first.
func (d *DB) ListUsers(ctx context.Context) ([]*store.User, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT `+userCols+` FROM users ORDER BY created_at, id`)
	if err != nil {
		return nil, d.wrap("list users", err)
	}
	defer rows.Close()
	var out []*store.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, d.wrap("list users", err)
		}
		out = append(out, u)
	}
	return out, d.wrap("list users", rows.Err())
}

// CountUsers returns the number of users.
func (d *DB) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := d.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n)
	return n, d.wrap("count users", err)
}

// UpdateUser writes Email, Phone, Name, Groups, Status and PasswordHash, and
// sets updated_at to u.UpdatedAt (now when zero). ErrNotFound if the user is
// gone, ErrConflict if the new email or phone is taken.
func (d *DB) UpdateUser(ctx context.Context, u *store.User) error {
	groups, err := groupsJSON(u.Groups)
	if err != nil {
		return fmt.Errorf("sqlstore: update user: %w", err)
	}
	updated := u.UpdatedAt
	if updated.IsZero() {
		updated = time.Now()
	}
	res, err := d.db.ExecContext(ctx, d.q(`UPDATE users SET email = ?, phone = ?, name = ?, groups_json = ?,
		status = ?, password_hash = ?, updated_at = ?, must_change_password = ?, email_verified_at = ?, phone_verified_at = ? WHERE id = ?`),
		normEmail(u.Email), nullable(u.Phone), u.Name, groups, u.Status, u.PasswordHash, ms(updated), boolInt(u.MustChangePassword),
		msOrZero(u.EmailVerifiedAt), msOrZero(u.PhoneVerifiedAt), u.ID)
	return d.wrap("update user", oneRow(res, err))
}

// SetPasswordHash writes the hash and updated_at of one user.
func (d *DB) SetPasswordHash(ctx context.Context, id, hash string, at time.Time) error {
	res, err := d.db.ExecContext(ctx, d.q(`UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?`), hash, ms(at), id)
	return d.wrap("set password hash", oneRow(res, err))
}

// ChangePassword writes the hash, updated_at and password_changed_at of
// one user in one UPDATE.
func (d *DB) ChangePassword(ctx context.Context, id, hash string, at time.Time) error {
	res, err := d.db.ExecContext(ctx, d.q(`UPDATE users SET password_hash = ?, updated_at = ?, password_changed_at = ?,
		must_change_password = 0 WHERE id = ?`), hash, ms(at), ms(at), id)
	return d.wrap("change password", oneRow(res, err))
}

// SetMustChangePassword writes only the must_change_password flag.
func (d *DB) SetMustChangePassword(ctx context.Context, id string, must bool) error {
	res, err := d.db.ExecContext(ctx, d.q(`UPDATE users SET must_change_password = ? WHERE id = ?`), boolInt(must), id)
	return d.wrap("set must change password", oneRow(res, err))
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// msOrZero is ms, with the zero time as 0 ("never").
func msOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return ms(t)
}

// DeleteUser removes the user; the foreign keys cascade to its sessions and
// one-time tokens. ErrNotFound if there is no such user.
func (d *DB) DeleteUser(ctx context.Context, id string) error {
	res, err := d.db.ExecContext(ctx, d.q(`DELETE FROM users WHERE id = ?`), id)
	return d.wrap("delete user", oneRow(res, err))
}

// oneRow turns "no row affected" into sql.ErrNoRows, which wrap maps to
// store.ErrNotFound.
func oneRow(res sql.Result, err error) error { return rowOr(res, err, sql.ErrNoRows) }

// rowOr returns none when the statement changed no row.
func rowOr(res sql.Result, err, none error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return none
	}
	return nil
}

// CreateUsers inserts every user of us in one transaction: all or none
// (store.UserImporter).
func (d *DB) CreateUsers(ctx context.Context, us []*store.User) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return d.wrap("create users", err)
	}
	defer func() { _ = tx.Rollback() }()
	for _, u := range us {
		args, err := userRow(u)
		if err != nil {
			return fmt.Errorf("sqlstore: create users: %w", err)
		}
		if _, err := tx.ExecContext(ctx, d.q(insertUser), args...); err != nil {
			return d.wrap("create users: "+normEmail(u.Email), err)
		}
	}
	return d.wrap("create users", tx.Commit())
}
