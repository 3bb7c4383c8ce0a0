package flows

import (
	"html/template"
	"net/http"

	"github.com/caddyauth/gateway/store"
)

// view is what render takes: one page's data. Each page has its own type
// carrying only what its template reads; page names the template file.
type view interface {
	page() string
	frame() *layout
}

// layout is the part of every view that layout.html reads.
type layout struct {
	Title string
	// Base is the portal base path; render fills it from the request.
	Base string
	// NoReferrer: the page's URL carries a secret (the setup token), so
	// the browser must not send it on in a Referer header.
	NoReferrer bool
}

func (l *layout) frame() *layout { return l }

// errorView: error.html, what writeError shows a browser.
type errorView struct {
	layout
	shownError
}

// loginView: login.html, the sign-in form or, signed in, who you are.
type loginView struct {
	layout
	shownError
	RD string
	// Email is the identifier typed (email, username or phone).
	Email string
	// User is set when the caller is signed in.
	User *store.User
	// PasswordOff hides the password form (the method is switched off).
	PasswordOff bool
	// OAuth: provider buttons and, signed in, linked accounts; render
	// fills it when nil.
	OAuth *oauthView
	// PhoneLogin labels the login field "Email or phone number"; render
	// sets it.
	PhoneLogin bool
	// ForgotPassword links to forgot-password (reset.go); Passwordless
	// offers "Email me a sign-in link" (passwordless.go). Render sets them.
	ForgotPassword bool
	Passwordless   bool
	// Register links to sign-up (register.go). Render sets it.
	Register bool
}

// setupView: setup.html, the first administrator's form.
type setupView struct {
	layout
	shownError
	SetupToken string
	Email      string
	Name       string
}

// mfaChallengeView: mfa_challenge.html, a second factor asked for.
type mfaChallengeView struct {
	layout
	shownError
	RD      string
	Methods []string
	// Method is the one selected.
	Method string
	// Sent is the masked destination of a code just sent.
	Sent      string
	TrustDays int
	// StepUp: the session is full; the factor is asked for again.
	StepUp bool
}

// mfaSetupView: mfa_setup.html, naming an authenticator, then its QR code.
type mfaSetupView struct {
	layout
	shownError
	RD       string
	Secret   string
	QR       template.URL // data: URI of the PNG we generated (safe by construction)
	DeviceID string
	// Enrol: setting up is the condition of signing in.
	Enrol bool
}

// mfaCodesView: mfa_codes.html, recovery codes shown once.
type mfaCodesView struct {
	layout
	RD            string
	RecoveryCodes []string
}

// mfaSettingsView: mfa.html, the user's factors and trusted devices.
type mfaSettingsView struct {
	layout
	Devices      []deviceView
	Trusted      []trustedView
	RecoveryLeft int
	Required     bool
	// StepUp: changes need a real second factor first.
	StepUp bool
}

// accountDeleteView: account_delete.html, the confirmation form of
// deleting one's own account and its result.
type accountDeleteView struct {
	layout
	shownError
	Email string
	// Needs says which fields the form asks for.
	Needs leaveNeeds
	// Done: the account is gone.
	Done bool
}

// passwordView: password.html, the change-password form and its result.
type passwordView struct {
	layout
	shownError
	// Email names the account (and feeds password managers).
	Email string
	// Done: the change went through.
	Done bool
	// LogoutOthers is the state of the form's checkbox.
	LogoutOthers bool
	// SignedOut: the change went through but the caller must sign in again.
	SignedOut bool
}

// forgotView: forgot.html, asking for a reset link, then "check your
// messages".
type forgotView struct {
	layout
	shownError
	Email string
	// PhoneLogin: the field also takes a phone number (an SMS sender).
	PhoneLogin bool
	Done       bool
}

// resetView: reset.html, the new-password form of a reset link, code or
// invitation, then its result.
type resetView struct {
	layout
	shownError
	// ResetToken is the link's token, carried by the form (none: the
	// email-and-code form).
	ResetToken string
	Email      string
	PhoneLogin bool
	Done       bool
	// Expired: the link or code is no longer valid (offer a new one).
	Expired bool
}

// passwordlessView: passwordless.html, the one-button page of a magic
// link, the code form, and "check your messages".
type passwordlessView struct {
	layout
	shownError
	// ResetToken is the magic link's token, carried by the form.
	ResetToken string
	Email      string
	RD         string
	Done       bool
	Expired    bool
}

func (*errorView) page() string         { return "error.html" }
func (*loginView) page() string         { return "login.html" }
func (*setupView) page() string         { return "setup.html" }
func (*mfaChallengeView) page() string  { return "mfa_challenge.html" }
func (*mfaSetupView) page() string      { return "mfa_setup.html" }
func (*mfaCodesView) page() string      { return "mfa_codes.html" }
func (*mfaSettingsView) page() string   { return "mfa.html" }
func (*passwordView) page() string      { return "password.html" }
func (*forgotView) page() string        { return "forgot.html" }
func (*resetView) page() string         { return "reset.html" }
func (*passwordlessView) page() string  { return "passwordless.html" }
func (*accountDeleteView) page() string { return "account_delete.html" }

// views is one of each view type: loadTemplates refuses a template no
// view names, so a page cannot be added without its type.
var views = []view{
	&errorView{}, &loginView{}, &setupView{}, &mfaChallengeView{},
	&mfaSetupView{}, &mfaCodesView{}, &mfaSettingsView{}, &passwordView{},
	&forgotView{}, &resetView{}, &passwordlessView{}, &registerView{}, &verifyEmailView{}, &accountDeleteView{},
}

// registerView: register.html, the sign-up form.
type registerView struct {
	layout
	shownError
	Email, Name string
	// Phone offers the phone field (an SMS sender is configured).
	Phone bool
}

// verifyEmailView: verify_email.html: "check your mail" with the code form
// and the resend button, the confirm button of a link, or the result.
type verifyEmailView struct {
	layout
	shownError
	Email string
	// Token is a live link's token, carried by the confirm form.
	Token string
	// Sent: a message was (or would have been) sent.
	Sent bool
	// Verified: done; Approval: an administrator still has to approve.
	Verified, Approval bool
}

func (*registerView) page() string    { return "register.html" }
func (*verifyEmailView) page() string { return "verify_email.html" }

func (v *verifyEmailView) prepare(*Service, *http.Request) {
	v.NoReferrer = v.Token != ""
}
