package flows

import (
	"net/http"
	"unicode/utf8"
)

// Non-ASCII email addresses (issue 9, item 12). Only ASCII case folds
// (store.NormalizeEmail), and the portal, the CLI and the identity
// providers' sign-in refuse addresses outside printable ASCII: a Kelvin
// sign or a Cyrillic "е" makes an address that reads as someone else's.

// CodeOAuthEmailUnsupported: the provider's email address has characters
// outside ASCII, so it neither links an account nor creates one.
const CodeOAuthEmailUnsupported = "OAUTH_EMAIL_UNSUPPORTED"

var (
	errEmailNotASCII      = invalidInput("Email addresses here use plain ASCII letters, digits and symbols only. Check for look-alike characters.")
	errOAuthEmailNotASCII = apiErr(http.StatusForbidden, CodeOAuthEmailUnsupported, "The identity provider gave an email address with characters outside plain ASCII, which this site does not accept. Sign in another way, or ask an administrator.")
)

// nonASCII reports a character beyond ASCII. Other bad shapes (spaces,
// control characters) keep their own answers: no account has them, and
// the login form answers them like a wrong password, as before.
func nonASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return true
		}
	}
	return false
}
