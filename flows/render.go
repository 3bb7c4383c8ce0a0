package flows

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"

	"github.com/caddyauth/gateway/internal/notify"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/style.css
var styleCSS []byte

type templates map[string]*template.Template

// loadTemplates parses the embedded templates.
func loadTemplates() (templates, error) { return parseTemplates(templateFS) }

// parseTemplates parses every page in fsys's templates/ (each with
// layout.html) and refuses one that no view type names.
func parseTemplates(fsys fs.FS) (templates, error) {
	pages, err := fs.Glob(fsys, "templates/*.html")
	if err != nil {
		return nil, err
	}
	named := map[string]bool{}
	for _, v := range views {
		named[v.page()] = true
	}
	t := templates{}
	for _, path := range pages {
		page := strings.TrimPrefix(path, "templates/")
		if page == "layout.html" {
			continue
		}
		if !named[page] {
			return nil, fmt.Errorf("template %s has no view type", page)
		}
		tp, err := template.New(page).ParseFS(fsys, "templates/layout.html", path)
		if err != nil {
			return nil, err
		}
		t[page] = tp
	}
	return t, nil
}

// preparer is a view that fills some of its fields from the service and
// the request just before it renders.
type preparer interface {
	prepare(s *Service, r *http.Request)
}

func (v *loginView) prepare(s *Service, r *http.Request) {
	if v.OAuth == nil {
		v.OAuth = s.oauthView(r, v.User)
	}
	// With an SMS sender phones matter: the one field takes either.
	v.PhoneLogin = s.hasChannel(notify.SMS)
	v.ForgotPassword = s.resetOn(r.Context())
	v.Passwordless = s.passwordlessOn(r.Context())
	v.Register = v.User == nil && s.registrationOn(r.Context())
}

func (v *setupView) prepare(*Service, *http.Request) {
	v.NoReferrer = v.SetupToken != ""
}

func (s *Service) render(w http.ResponseWriter, r *http.Request, status int, v view) {
	if l := v.frame(); l.Base == "" {
		l.Base = baseOf(r)
	}
	if p, ok := v.(preparer); ok {
		p.prepare(s, r)
	}
	var buf bytes.Buffer
	if err := s.tmpl[v.page()].ExecuteTemplate(&buf, "layout", v); err != nil {
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
