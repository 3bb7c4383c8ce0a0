package flows

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"

	"github.com/caddyauth/gateway/internal/notify"
	"github.com/caddyauth/gateway/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/style.css
var styleCSS []byte

type templates map[string]*template.Template

func loadTemplates() (templates, error) {
	t := templates{}
	for _, page := range []string{"login.html", "error.html", "setup.html", "mfa_challenge.html", "mfa_setup.html", "mfa_codes.html", "mfa.html", "password.html", "forgot.html", "reset.html", "passwordless.html"} {
		tp, err := template.New(page).ParseFS(templateFS, "templates/layout.html", "templates/"+page)
		if err != nil {
			return nil, err
		}
		t[page] = tp
	}
	return t, nil
}

// pageData feeds every template.
type pageData struct {
	Title      string
	Base       string
	Error      *APIError
	RD         string
	Email      string
	Name       string
	User       *store.User
	SetupToken string
	MFA        *mfaPage
	// PasswordOff hides the password form (the method is switched off).
	PasswordOff bool
	// OAuth: provider buttons and, signed in, linked accounts (login page).
	OAuth *oauthView
	// Done: the change the page was for went through.
	Done bool
	// LogoutOthers is the state of the change-password page's checkbox.
	LogoutOthers bool
	// SignedOut: the change went through but the caller must sign in again.
	SignedOut bool
	// PhoneLogin labels the login field "Email or phone number".
	PhoneLogin bool
	// ForgotPassword links the login page to forgot-password (reset.go);
	// Passwordless offers "Email me a sign-in link" (passwordless.go).
	ForgotPassword bool
	Passwordless   bool
	// ResetToken is the reset link's token, carried by the reset form;
	// Expired: the link or code is no longer valid (offer a new one).
	ResetToken string
	Expired    bool
}

func (s *Service) render(w http.ResponseWriter, r *http.Request, status int, page string, d pageData) {
	if d.Base == "" {
		d.Base = baseOf(r)
	}
	if page == "login.html" {
		if d.OAuth == nil {
			d.OAuth = s.oauthView(r, d)
		}
		// With an SMS sender phones matter: the one field takes either.
		d.PhoneLogin = s.hasChannel(notify.SMS)
		d.ForgotPassword = s.resetOn(r.Context())
		d.Passwordless = s.passwordlessOn(r.Context())
	}
	var buf bytes.Buffer
	if err := s.tmpl[page].ExecuteTemplate(&buf, "layout", d); err != nil {
		s.log.Error("template failed", zapErr(err))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

type baseKey struct{}

// baseOf is the portal base path of the current request (set by the
// portal and guard handlers through the request context).
func baseOf(r *http.Request) string {
	if b, ok := r.Context().Value(baseKey{}).(string); ok {
		return b
	}
	return "/auth"
}

func (p *portal) css(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/css; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(styleCSS)
}
