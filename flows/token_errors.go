package flows

import "net/http"

// Bearer-mode error codes (contract: DESIGN.md, issue 13).
const (
	CodeTokenInvalid        = "TOKEN_INVALID"
	CodeTokenExpired        = "TOKEN_EXPIRED"
	CodeRefreshTokenInvalid = "REFRESH_TOKEN_INVALID"
)

var (
	errTokenInvalid        = apiErr(http.StatusUnauthorized, CodeTokenInvalid, "The access token is not valid.")
	errTokenExpired        = apiErr(http.StatusUnauthorized, CodeTokenExpired, "The access token has expired. Refresh it.")
	errRefreshTokenInvalid = apiErr(http.StatusUnauthorized, CodeRefreshTokenInvalid, "The refresh token is not valid. Sign in again.")
	errRefreshLimited      = apiErr(http.StatusTooManyRequests, CodeRateLimited, "Too many token refreshes. Wait a moment and try again.")
)
