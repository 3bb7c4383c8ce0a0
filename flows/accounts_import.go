package flows

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/internal/password"
	"github.com/caddyauth/gateway/internal/userimport"
	"github.com/caddyauth/gateway/store"
)

// Import (issue 12 item 7) brings the accounts of an earlier application
// over with the password hashes they have: PlanImport judges every row
// and writes nothing (a dry run stops there), Import writes a plan that
// had no bad row. Nothing is half imported: every row is judged before
// the first is written, and where the store can (store.UserImporter) all
// rows go in one transaction.

// ImportOptions are the operator's choices for a whole file.
type ImportOptions struct {
	// SkipExisting: a row whose email already has an account is skipped
	// (the account is left as it is) instead of refusing the file.
	SkipExisting bool
	// Unverified: the emails do not count as verified (by default they
	// do: the operator vouches for the file, as for `user add`).
	Unverified bool
	// PhoneVerified: the phones count as verified (by default they do
	// not: an unverified phone gets no SMS and no sign-in).
	PhoneVerified bool
}

// The actions of a planned row.
const (
	ImportCreate = "create"
	ImportSkip   = "skip"
)

// ImportRow is the plan for one row of the file.
type ImportRow struct {
	Line   int
	Email  string
	Action string // ImportCreate or ImportSkip
	// Scheme is the format of the imported hash (password.Scheme*), ""
	// for an account without a password.
	Scheme string
	// Reason says why a row is skipped.
	Reason string
	user   *store.User
}

// ImportPlan is what an import would do, row by row.
type ImportPlan struct{ Rows []ImportRow }

// Count is how many rows have action.
func (p *ImportPlan) Count(action string) int {
	n := 0
	for _, r := range p.Rows {
		if r.Action == action {
			n++
		}
	}
	return n
}

// RowError is a row PlanImport refuses: its line, the field and why.
type RowError struct {
	Line  int
	Field string
	Err   error
}

func (e *RowError) Error() string {
	return fmt.Sprintf("line %d: %s: %v", e.Line, e.Field, e.Err)
}

func (e *RowError) Unwrap() error { return e.Err }

// ImportError is every row PlanImport refused; nothing was written.
type ImportError struct{ Rows []*RowError }

func (e *ImportError) Error() string {
	lines := make([]string, len(e.Rows))
	for i, r := range e.Rows {
		lines[i] = r.Error()
	}
	return strings.Join(lines, "\n")
}

// PlanImport judges every row: the profile (as CheckProfile), the hash
// (a format and bounds password.Check accepts; empty: no password), an
// email or phone twice in the file, and one that already has an account.
// It returns every refusal at once (*ImportError), or the plan.
func (a *Accounts) PlanImport(ctx context.Context, rows []userimport.Row, opt ImportOptions) (*ImportPlan, error) {
	var (
		bad    []*RowError
		plan   ImportPlan
		emails = map[string]int{}
		phones = map[string]int{}
		now    = a.Now()
	)
	refuse := func(line int, field string, err error) { bad = append(bad, &RowError{line, field, err}) }
	for _, row := range rows {
		in := NewAccount{Email: row.Email, Name: row.Name, Phone: row.Phone, Groups: row.Groups, NoPassword: true}
		if err := CheckProfile(&in); err != nil {
			field, msg := importField(err, in)
			refuse(row.Line, field, errors.New(msg))
			continue
		}
		scheme := ""
		if row.PasswordHash != "" {
			var err error
			if scheme, err = password.Check(row.PasswordHash); err != nil {
				refuse(row.Line, "password_hash", hashReason(err))
				continue
			}
		}
		if first, dup := emails[in.Email]; dup {
			refuse(row.Line, "email", fmt.Errorf("%s is also on line %d", in.Email, first))
			continue
		}
		emails[in.Email] = row.Line
		if in.Phone != "" {
			if first, dup := phones[in.Phone]; dup {
				refuse(row.Line, "phone", fmt.Errorf("%s is also on line %d", in.Phone, first))
				continue
			}
			phones[in.Phone] = row.Line
		}
		existing, err := a.Users.UserByEmail(ctx, in.Email)
		switch {
		case err == nil && opt.SkipExisting:
			plan.Rows = append(plan.Rows, ImportRow{Line: row.Line, Email: in.Email, Action: ImportSkip, Scheme: scheme, Reason: "an account with this email exists (" + existing.ID + ")"})
			continue
		case err == nil:
			refuse(row.Line, "email", fmt.Errorf("an account with %s exists (--skip-existing leaves it as it is)", in.Email))
			continue
		case !errors.Is(err, store.ErrNotFound):
			return nil, err
		}
		if in.Phone != "" {
			switch _, err := a.Users.UserByPhone(ctx, in.Phone); {
			case err == nil:
				refuse(row.Line, "phone", fmt.Errorf("%s belongs to another account", in.Phone))
				continue
			case !errors.Is(err, store.ErrNotFound):
				return nil, err
			}
		}
		plan.Rows = append(plan.Rows, ImportRow{Line: row.Line, Email: in.Email, Action: ImportCreate, Scheme: scheme, user: importedUser(in, row.PasswordHash, opt, now)})
	}
	if len(bad) > 0 {
		return nil, &ImportError{Rows: bad}
	}
	return &plan, nil
}

// importedUser is the account a row becomes.
func importedUser(in NewAccount, hash string, opt ImportOptions, now time.Time) *store.User {
	u := &store.User{
		ID: keys.NewID(), Email: in.Email, Name: in.Name, Phone: in.Phone, Groups: in.Groups,
		Status: store.StatusActive, PasswordHash: hash, CreatedAt: now, UpdatedAt: now,
	}
	if !opt.Unverified {
		u.EmailVerifiedAt = now
	}
	if opt.PhoneVerified && u.Phone != "" {
		u.PhoneVerifiedAt = now
	}
	return u
}

// Import writes the rows of plan to create and records one user.created
// for each, and reports how many it created. With a store.UserImporter
// the rows go in one transaction (all or none); otherwise one write a row,
// in file order, and an error says how many were written before it.
func (a *Accounts) Import(ctx context.Context, by Actor, plan *ImportPlan) (int, error) {
	var create []*store.User
	var schemes []string
	for _, r := range plan.Rows {
		if r.Action == ImportCreate {
			create = append(create, r.user)
			schemes = append(schemes, r.Scheme)
		}
	}
	if len(create) == 0 {
		return 0, nil
	}
	n := 0
	var err error
	if bi, ok := a.Users.(store.UserImporter); ok {
		if err = bi.CreateUsers(ctx, create); err == nil {
			n = len(create)
		}
	} else {
		for _, u := range create {
			if err = a.Users.CreateUser(ctx, u); err != nil {
				err = fmt.Errorf("%d of %d account(s) created before %s failed: %w", n, len(create), u.Email, err)
				break
			}
			n++
		}
	}
	for i, u := range create[:n] {
		scheme := schemes[i]
		if scheme == "" {
			scheme = "none"
		}
		a.record(ctx, by, audit.Event{Type: audit.UserCreated, UserID: u.ID, Email: u.Email, Detail: map[string]string{
			"via": by.ID, "import": "true", "hash": scheme,
		}})
	}
	return n, err
}

// importField names the field CheckProfile refused and why.
func importField(err error, in NewAccount) (string, string) {
	var ge *GroupError
	switch {
	case errors.Is(err, ErrInvalidPhone):
		return "phone", strconv.Quote(in.Phone) + " is not an E.164 number (+ and 8 to 15 digits)"
	case errors.Is(err, ErrInvalidEmail):
		return "email", strconv.Quote(in.Email) + " is not an email address"
	case errors.Is(err, ErrInvalidName):
		return "name", fmt.Sprintf("control characters are not allowed and at most %d bytes", MaxNameLen)
	case errors.As(err, &ge):
		return "groups", strconv.Quote(ge.Group) + " cannot be a group name (empty, longer than 128 bytes, or with a comma, space or control character)"
	}
	return "account", err.Error()
}

// hashReason words a refusal of password.Check for the operator.
func hashReason(err error) error {
	if errors.Is(err, password.ErrUnsupported) {
		return errors.New("not a supported format (bcrypt $2a$/$2b$/$2y$, $argon2id$, $argon2i$, pbkdf2_sha256$ (Django), $pbkdf2-sha256$ (passlib or PHC), $scrypt$ (passlib))")
	}
	return errors.New(strings.TrimPrefix(err.Error(), password.ErrMalformed.Error()+": "))
}
