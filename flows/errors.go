package flows

import (
	"encoding/json"
	"net/http"
)

// Stable error codes (contract: clients switch on these, never on messages).
const (
	CodeInvalidCredentials = "INVALID_CREDENTIALS"
	CodeInvalidInput       = "INVALID_INPUT"
	CodeUnauthenticated    = "UNAUTHENTICATED"
	CodeSessionExpired     = "SESSION_EXPIRED"
	CodeForbidden          = "FORBIDDEN"
	CodeNotFound           = "NOT_FOUND"
	CodeMethodNotAllowed   = "METHOD_NOT_ALLOWED"
	CodeStoreUnavailable   = "STORE_UNAVAILABLE"
	CodeInternal           = "INTERNAL"
	CodeCrossOrigin        = "CROSS_ORIGIN_REQUEST"
	CodeUnsupportedMedia   = "UNSUPPORTED_MEDIA_TYPE"
	CodeRequestTooLarge    = "REQUEST_TOO_LARGE"
	CodeConflict           = "CONFLICT"
	CodeRateLimited        = "RATE_LIMITED"
	CodeAccountLocked      = "ACCOUNT_LOCKED"

	CodeMFARequired           = "MFA_REQUIRED"
	CodeMFACodeInvalid        = "MFA_CODE_INVALID"
	CodeMFACodeExpired        = "MFA_CODE_EXPIRED"
	CodeMFAMethodNotAvailable = "MFA_METHOD_NOT_AVAILABLE"
	CodeMethodDisabled        = "METHOD_DISABLED"
	// OAuth/OIDC sign-in (oauth.go).
	CodeOAuthStateInvalid        = "OAUTH_STATE_INVALID"
	CodeOAuthProviderError       = "OAUTH_PROVIDER_ERROR"
	CodeOAuthProviderUnavailable = "OAUTH_PROVIDER_UNAVAILABLE"
	CodeOAuthTokenInvalid        = "OAUTH_TOKEN_INVALID"
	CodeOAuthEmailUnverified     = "OAUTH_EMAIL_UNVERIFIED"
	CodeOAuthProviderDisabled    = "OAUTH_PROVIDER_DISABLED"
	CodeOAuthIdentityTaken       = "OAUTH_IDENTITY_TAKEN"
	CodeSignupDisabled           = "SIGNUP_DISABLED"
	CodeLastLoginMethod          = "LAST_LOGIN_METHOD"
	CodeOAuthUnlinked            = "OAUTH_UNLINKED"
	CodeAccountDisabled          = "ACCOUNT_DISABLED"
)

// APIError is the JSON error body: {"code","message","status"}.
type APIError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Status  int    `json:"status"`
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

func apiErr(status int, code, msg string) *APIError {
	return &APIError{Code: code, Message: msg, Status: status}
}

var (
	errInvalidCredentials = apiErr(http.StatusUnauthorized, CodeInvalidCredentials, "The email or password is incorrect.")
	errUnauthenticated    = apiErr(http.StatusUnauthorized, CodeUnauthenticated, "Sign in to continue.")
	errSessionExpired     = apiErr(http.StatusUnauthorized, CodeSessionExpired, "Your session has ended. Sign in again.")
	errForbidden          = apiErr(http.StatusForbidden, CodeForbidden, "You are signed in but not allowed to access this resource.")
	errStoreUnavailable   = apiErr(http.StatusServiceUnavailable, CodeStoreUnavailable, "The sign-in service is temporarily unavailable. Try again shortly.")
	errInternal           = apiErr(http.StatusInternalServerError, CodeInternal, "Something went wrong on our side.")
	errNotFound           = apiErr(http.StatusNotFound, CodeNotFound, "There is nothing here.")
	errMethodNotAllowed   = apiErr(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "This method is not allowed here.")
	errCrossOrigin        = apiErr(http.StatusForbidden, CodeCrossOrigin, "Cross-origin request refused.")
	errMethodDisabled     = apiErr(http.StatusForbidden, CodeMethodDisabled, "This sign-in method is turned off right now.")
)

func invalidInput(msg string) *APIError {
	return apiErr(http.StatusBadRequest, CodeInvalidInput, msg)
}

// writeJSON sends v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
