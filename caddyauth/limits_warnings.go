package caddyauth

import (
	"fmt"

	"github.com/caddyauth/gateway/flows"
)

// limitWarnings are the start-up warnings for limits the configuration
// turns off (issue 9 #16): each names the setting, what it removes, and
// what accounts in the admin group keep regardless.
func limitWarnings(l flows.Limits) []string {
	var out []string
	if l.LoginIP.Off() {
		out = append(out, "SECURITY: rate_limit login_ip is off: one address may try passwords against any number of accounts at full speed (password spraying)")
	}
	if l.LoginIdentifier.Off() {
		w := "SECURITY: rate_limit login_identifier is off: any number of addresses may guess one account's password at full speed"
		if !l.AdminIdentifier.Off() {
			w += fmt.Sprintf("; accounts in the admin group keep a budget of %d failures per %s from all addresses", l.AdminIdentifier.N, l.AdminIdentifier.Per)
		}
		out = append(out, w)
	}
	if l.MFA.Off() {
		out = append(out, "SECURITY: rate_limit mfa is off: second-factor codes are not paced per account; each challenge still ends after 5 codes and the account's second factor still locks after repeated wrong codes")
	}
	if l.MFASend.Off() {
		out = append(out, "SECURITY: rate_limit mfa_send is off: codes by email or SMS may be requested without limit (mail and SMS flooding, provider cost)")
	}
	if l.RecoverySend.Off() || l.RecoverySendIP.Off() {
		out = append(out, "SECURITY: rate_limit recovery_send or recovery_send_ip is off: reset messages may be requested without limit (mail and SMS flooding, provider cost)")
	}
	if l.RecoveryCheck.Off() || l.RecoveryCheckIP.Off() {
		out = append(out, "SECURITY: rate_limit recovery_check or recovery_check_ip is off: reset codes are not paced; each grant still ends after 5 wrong codes")
	}
	if l.Verify.Off() {
		out = append(out, "SECURITY: rate_limit verify is off: GET /auth/verify answers any number of guessed cookies and tokens per client")
	}
	if l.LockoutMax <= 0 {
		w := "SECURITY: lockout is off: repeated wrong passwords never lock an (account, address) pair"
		if l.AdminLockoutMax > 0 {
			w += fmt.Sprintf("; accounts in the admin group keep a lockout of %d failures in %s for %s", l.AdminLockoutMax, l.AdminLockoutWindow, l.AdminLockoutDuration)
		}
		out = append(out, w)
	}
	return out
}
