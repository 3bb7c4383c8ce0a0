package flows

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/store"
)

// trustedDevice reports whether the client presents (cookie or header) a
// valid trust token of u.
func (s *Service) trustedDevice(r *http.Request, u *store.User) bool {
	ctx := r.Context()
	if ok, _ := s.trust.Usable(ctx, u, nil); !ok {
		return false
	}
	var toks []string
	if c, err := r.Cookie(s.cfg.MFA.TrustCookie); err == nil {
		toks = append(toks, c.Value)
	}
	if h, ok := ctx.Value(trustHeaderKey{}).(string); ok {
		toks = append(toks, h)
	}
	c := &factorCall{u: u, now: s.cfg.Now()}
	for _, t := range toks {
		if s.trust.Verify(ctx, c, t) == nil {
			return true
		}
	}
	return false
}

type trustHeaderKey struct{}

// takeTrustHeader moves the trust token out of the request headers (so it
// is neither logged by the access log nor sent upstream) into the context.
// Both spellings are read: Caddy drops header names with underscores unless
// the server lists them in expected_underscore_headers, so clients behind a
// default Caddy send Nest-Auth-Device-Trust.
func (s *Service) takeTrustHeader(r *http.Request) *http.Request {
	name := s.cfg.MFA.TrustHeader
	alt := strings.ReplaceAll(name, "_", "-")
	v := r.Header.Get(name)
	if v == "" {
		v = r.Header.Get(alt)
	}
	if v == "" {
		return r
	}
	r.Header.Del(name)
	r.Header.Del(alt)
	return r.WithContext(context.WithValue(r.Context(), trustHeaderKey{}, v))
}

// TrustHeader is the configured trusted-device header name.
func (s *Service) TrustHeader() string { return s.cfg.MFA.TrustHeader }

// trustThisDevice stores a trust token and sets its cookie; the token is
// also returned for non-browser clients (they send it in TrustHeader).
func (p *portal) trustThisDevice(w http.ResponseWriter, r *http.Request, u *store.User) string {
	now := p.s.cfg.Now()
	tok := keys.NewToken()
	d := &store.TrustedDevice{
		ID: keys.HashToken(tok), UserID: u.ID, UserAgent: limitRunes(r.UserAgent(), 512),
		IP: p.s.cfg.ClientIP(r), CreatedAt: now, ExpiresAt: now.Add(p.s.cfg.MFA.TrustedDevice),
	}
	if err := p.s.deps.MFA.CreateTrustedDevice(r.Context(), d); err != nil {
		p.s.log.Error("trusted device not saved", zapUser(u.ID), zapErr(err))
		return ""
	}
	http.SetCookie(w, &http.Cookie{
		Name: p.s.cfg.MFA.TrustCookie, Value: tok, Path: "/", Domain: p.s.cfg.Cookie.Domain,
		Expires: d.ExpiresAt, MaxAge: int(p.s.cfg.MFA.TrustedDevice.Seconds()),
		HttpOnly: true, Secure: !p.s.cfg.Cookie.Insecure, SameSite: http.SameSiteLaxMode,
	})
	p.s.audit(r, audit.Event{Type: audit.TrustedDeviceAdded, UserID: u.ID, Email: u.Email, Detail: map[string]string{"device": publicSessionID(d.ID)}})
	return tok
}

type trustedView struct {
	ID        string `json:"id"`
	UserAgent string `json:"user_agent"`
	IP        string `json:"ip"`
	CreatedAt string `json:"created_at"`
	ExpiresAt string `json:"expires_at"`
}

func (p *portal) trustedViews(ctx context.Context, userID string) ([]trustedView, error) {
	list, err := p.s.deps.MFA.ListTrustedDevices(ctx, userID, p.s.cfg.Now())
	if err != nil {
		return nil, err
	}
	out := make([]trustedView, 0, len(list))
	for _, d := range list {
		out = append(out, trustedView{
			ID: publicSessionID(d.ID), UserAgent: d.UserAgent, IP: d.IP,
			CreatedAt: d.CreatedAt.UTC().Format(time.RFC3339), ExpiresAt: d.ExpiresAt.UTC().Format(time.RFC3339),
		})
	}
	return out, nil
}

func (p *portal) listTrusted(w http.ResponseWriter, r *http.Request, c *caller) {
	id := c.id
	list, err := p.trustedViews(r.Context(), id.User.ID)
	if err != nil {
		p.s.storeFailure(w, r, "trusted devices", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"trusted_devices": list})
}

func (p *portal) deleteTrusted(w http.ResponseWriter, r *http.Request, c *caller) {
	// Forgetting a device only lowers trust: a full session is enough.
	id := c.id
	ctx := r.Context()
	want := r.PathValue("id")
	list, err := p.s.deps.MFA.ListTrustedDevices(ctx, id.User.ID, p.s.cfg.Now())
	if err != nil {
		p.s.storeFailure(w, r, "trusted devices", err)
		return
	}
	for _, d := range list {
		if publicSessionID(d.ID) == want {
			if err := p.s.deps.MFA.DeleteTrustedDevice(ctx, id.User.ID, d.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
				p.s.storeFailure(w, r, "trusted devices", err)
				return
			}
			p.s.audit(r, audit.Event{Type: audit.TrustedDeviceGone, UserID: id.User.ID, Email: id.User.Email, Detail: map[string]string{"device": want}})
			p.settingsDone(w, r, map[string]any{"deleted": true})
			return
		}
	}
	p.s.writeError(w, r, errNotFound)
}
