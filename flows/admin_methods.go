package flows

import (
	"net/http"
	"strings"
)

// CodeMethodUnknown: an auth-method switch names a method this
// configuration does not offer (contract: documented in
// docs/configuration.md).
const CodeMethodUnknown = "METHOD_UNKNOWN"

// errMethodUnknown refuses a switch for a method that does not exist and
// names those that do (the caller is an admin who passed MFA).
func errMethodUnknown(offered []string) *APIError {
	return apiErr(http.StatusNotFound, CodeMethodUnknown,
		"No such sign-in method in this configuration; it offers "+strings.Join(offered, ", ")+".")
}
