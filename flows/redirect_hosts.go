package flows

import (
	"sync"

	"github.com/caddyauth/gateway/internal/redirect"
)

// redirectPolicy is where a return URL may point, and the CSP that lets the
// login form follow it there: built together, swapped together.
type redirectPolicy struct {
	hosts []string
	check *redirect.Checker
	csp   string
}

// admitMu serialises admitRedirectHosts (handlers provision one by one, but
// nothing promises it).
var admitMu sync.Mutex

// admitRedirectHosts adds hosts a return URL may point at: an auth_portal's
// verify lines name hosts whose sign-in comes back to them. The handlers
// add them while Caddy provisions the config, before it serves.
func (s *Service) admitRedirectHosts(hosts []string) error {
	if len(hosts) == 0 {
		return nil
	}
	admitMu.Lock()
	defer admitMu.Unlock()
	old := s.redirects.Load()
	all := append(append([]string(nil), old.hosts...), hosts...)
	rc, err := redirect.New(all, s.cfg.Cookie.Insecure)
	if err != nil {
		return err
	}
	s.redirects.Store(&redirectPolicy{hosts: all, check: rc, csp: buildCSP(all, s.cfg.Cookie.Insecure)})
	return nil
}
