package flows

import (
	"net/http"
)

var (
	errMFARequired       = apiErr(http.StatusUnauthorized, CodeMFARequired, "A second factor is required. Sign in again to continue.")
	errMFAStepUp         = apiErr(http.StatusForbidden, CodeMFARequired, "This requires a second factor. Verify with your authenticator to continue.")
	errMFACodeInvalid    = apiErr(http.StatusUnauthorized, CodeMFACodeInvalid, "That code is not valid.")
	errMFACodeExpired    = apiErr(http.StatusUnauthorized, CodeMFACodeExpired, "That code has expired. Request a new one.")
	errMFAMethodNA       = apiErr(http.StatusBadRequest, CodeMFAMethodNotAvailable, "That verification method is not available for this account.")
	errMFATooManyTries   = apiErr(http.StatusUnauthorized, CodeMFARequired, "Too many wrong codes. Sign in again.")
	errMFARateLimited    = apiErr(http.StatusTooManyRequests, CodeRateLimited, "Too many attempts. Wait a moment and try again.")
	errMFALastFactor     = apiErr(http.StatusConflict, CodeConflict, "A second factor is required here; add another authenticator before removing this one.")
	errMFANotEnrolled    = apiErr(http.StatusConflict, CodeConflict, "There is no authenticator waiting for confirmation. Start the setup again.")
	errMFAEnrolNeedsStep = apiErr(http.StatusForbidden, CodeMFARequired, "Verify with your current second factor before changing your MFA settings.")
	errPasswordNeedsStep = apiErr(http.StatusForbidden, CodeMFARequired, "Verify with your second factor before changing your password.")
)
