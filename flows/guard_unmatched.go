package flows

import (
	"net/http"

	"github.com/caddyauth/gateway/internal/session"
)

// Unmatched prepares a request that this guard does not protect (outside
// its `protect <matcher>`) for the next handler, which may be the app: the
// client's copies of this guard's identity headers go, and the headers an
// earlier guard of the same request set for prior come back (set by that
// guard, earlier; none when either is nil); the gateway's credentials (the
// session and trusted-device cookies, the trust header) go, so the app and
// its logs never hold a token that replays a session or skips MFA (issue
// 9, item 1); and Connection can no longer name an identity header.
//
// It reports whether it rewrote the Cookie header to remove a gateway
// cookie: a later guard of the same request (a site-wide `protect` written
// after this one) then needs the client's Cookie lines back to find the
// session itself; the glue keeps them for it.
func (g *Guard) Unmatched(h http.Header, prior *session.Identity, earlier *Guard) (cookieRemoved bool) {
	g.StripIdentityHeaders(h)
	if prior != nil && earlier != nil {
		earlier.setIdentityHeaders(h, prior)
	}
	g.dropTrustHeader(h)
	cookieRemoved = g.dropSessionCookie(h)
	g.scrubConnection(h)
	return cookieRemoved
}
