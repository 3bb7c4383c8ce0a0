package flows

import (
	"net/http"
	"strings"

	"github.com/caddyauth/gateway/internal/disposable"
)

// Codes of the registration and verification flows (issue 12, DESIGN.md).
const (
	CodeEmailDomainNotAllowed = "EMAIL_DOMAIN_NOT_ALLOWED"
	CodeEmailNotVerified      = "EMAIL_NOT_VERIFIED"
	CodeApprovalPending       = "APPROVAL_PENDING"
	CodeVerificationInvalid   = "VERIFICATION_INVALID"
	CodeRegistrationDisabled  = "REGISTRATION_DISABLED"
)

var (
	errEmailDomainNotAllowed = apiErr(http.StatusForbidden, CodeEmailDomainNotAllowed,
		"Sign-up is not open to addresses at this email domain.")
	errEmailNotVerified = apiErr(http.StatusForbidden, CodeEmailNotVerified,
		"Verify your email address first: open the link or enter the code we sent you.")
	errApprovalPending = apiErr(http.StatusForbidden, CodeApprovalPending,
		"Your account is waiting for an administrator's approval.")
	errVerificationInvalid = apiErr(http.StatusBadRequest, CodeVerificationInvalid,
		"This verification link or code is not valid any more. Ask for a new one.")
	errRegistrationDisabled = apiErr(http.StatusForbidden, CodeRegistrationDisabled,
		"Sign-up is not open here.")
)

// RegistrationConfig is the `registration` option as the flows see it.
type RegistrationConfig struct {
	// On: self-registration is offered (the runtime switch can still turn it off).
	On bool
	// Domains, when not empty, are the only email domains that may sign up.
	Domains []string
	// Disposable is disposable.ModeBlock (default when empty), ModeFlag or ModeOff.
	Disposable string
	// DisposableList is the built-in list with the operator's file applied;
	// nil means the built-in list.
	DisposableList *disposable.List
	// Approval: new accounts wait for an administrator.
	Approval bool
}

// AdmitEmail applies the domain rules to a sign-up address (already
// validated as an email): the `domains` list first, then the disposable
// list. It answers whether the address is disposable and admitted only
// under `disposable flag` (the caller audits `disposable_email`), or the
// error to send: 403 EMAIL_DOMAIN_NOT_ALLOWED. The same error serves both
// rules, so the answer does not say which list refused.
func (c RegistrationConfig) AdmitEmail(email string) (flagged bool, err *APIError) {
	at := strings.LastIndexByte(email, '@')
	if at < 0 || at == len(email)-1 {
		return false, invalidInput("Enter a valid email address.")
	}
	domain := email[at+1:]
	if !disposable.DomainAllowed(c.Domains, domain) {
		return false, errEmailDomainNotAllowed
	}
	mode := c.Disposable
	if mode == "" {
		mode = disposable.ModeBlock
	}
	if mode == disposable.ModeOff {
		return false, nil
	}
	list := c.DisposableList
	if list == nil {
		list = builtinDisposable()
	}
	if !list.Disposable(domain) {
		return false, nil
	}
	if mode == disposable.ModeFlag {
		return true, nil
	}
	return false, errEmailDomainNotAllowed
}
