package flows

import (
	"context"
	"net/http"
	"strconv"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/store"
)

// CodePasswordChangeRequired: the account must change its password before
// it may use a protected app (contract).
const CodePasswordChangeRequired = "PASSWORD_CHANGE_REQUIRED"

var errPasswordChangeRequired = apiErr(http.StatusForbidden, CodePasswordChangeRequired,
	"Your administrator requires a new password. Change it to continue.")

// RequirePasswordChange sets or clears the account's must-change flag
// (the CLI's --must-change-password, the admin API) and records it. A
// successful password change clears it by itself (store.ChangePassword).
func (a *Accounts) RequirePasswordChange(ctx context.Context, by Actor, u *store.User, must bool) error {
	if err := a.Users.SetMustChangePassword(ctx, u.ID, must); err != nil {
		return err
	}
	u.MustChangePassword = must
	a.record(ctx, by, audit.Event{
		Type: audit.PasswordChangeRequired, UserID: u.ID, Email: u.Email,
		Detail: map[string]string{"via": by.ID, "required": strconv.FormatBool(must)},
	})
	return nil
}
