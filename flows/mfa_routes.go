package flows

import (
	"net/http"
)

// mfaRoutes registers the MFA endpoints.
func (p *portal) mfaRoutes(mux *http.ServeMux) {
	b := p.base + "/mfa"
	mux.HandleFunc("GET "+b+"/challenge", p.withCaller(callerStage, "mfa", p.challengePage))
	mux.HandleFunc("POST "+b+"/challenge", p.stageTokenFromBody(p.withCaller(callerStage, "mfa", p.challenge)))
	mux.HandleFunc("POST "+b+"/send", p.stageTokenFromBody(p.withCaller(callerStage, "mfa", p.sendCode)))
	mux.HandleFunc("GET "+b, p.withCaller(callerFullPage, "mfa", p.mfaSettings))
	mux.HandleFunc("GET "+b+"/setup", p.withCaller(callerSettingsEnrol, "mfa", p.setupTOTPPage))
	mux.HandleFunc("POST "+b+"/totp/setup", p.withCaller(callerSettingsEnrol, "mfa", p.setupTOTP))
	mux.HandleFunc("POST "+b+"/totp/verify", p.withCaller(callerSettingsEnrol, "mfa", p.verifyTOTP))
	mux.HandleFunc("DELETE "+b+"/totp/{id}", p.withCaller(callerSettings, "mfa", p.deleteTOTP))
	mux.HandleFunc("POST "+b+"/totp/{id}/delete", p.withCaller(callerSettings, "mfa", p.deleteTOTP))
	mux.HandleFunc("GET "+b+"/recovery-codes", p.withCaller(callerFull, "recovery codes", p.recoveryCount))
	mux.HandleFunc("POST "+b+"/recovery-codes", p.withCaller(callerSettings, "mfa", p.regenerateRecovery))
	mux.HandleFunc("GET "+b+"/trusted-devices", p.withCaller(callerFull, "trusted devices", p.listTrusted))
	mux.HandleFunc("DELETE "+b+"/trusted-devices/{id}", p.withCaller(callerFull, "trusted devices", p.deleteTrusted))
	mux.HandleFunc("POST "+b+"/trusted-devices/{id}/delete", p.withCaller(callerFull, "trusted devices", p.deleteTrusted))
}
