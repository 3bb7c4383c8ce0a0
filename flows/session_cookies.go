package flows

import (
	"net/http"

	"github.com/caddyauth/gateway/internal/session"
)

// maxSessionCookies is how many session cookie values one request may make
// the gateway try: findSession validates at most this many (its buffer),
// and logout and login rotation revoke at most this many, so a request
// stuffed with made-up cookies costs a bounded number of store commands
// (issue 9: 300 cookies on one logout cost about 1,200).
const maxSessionCookies = 4

// sessionCookies returns the first maxSessionCookies values of the session
// cookie, the ones findSession would try.
func (s *Service) sessionCookies(r *http.Request, buf *[maxSessionCookies]string) []string {
	vals := session.CookieValues(r.Header, s.cfg.Cookie.Name, buf[:0])
	return vals[:min(len(vals), maxSessionCookies)]
}
