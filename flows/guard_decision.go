package flows

import (
	"context"
	"net/http"
	"net/url"

	"github.com/caddyauth/gateway/internal/session"
	"github.com/caddyauth/gateway/store"
)

// Target is the request a guard decides on. For `protect` it is the
// request itself; for a verify endpoint (nginx auth_request, Traefik
// ForwardAuth) it is the original request the proxy describes, while the
// credentials still come from the headers the proxy passed on.
type Target struct {
	Method string
	// Scheme and Host are the ones the client used ("https",
	// "app.example.com"): a login on an external portal comes back to them.
	Scheme string
	Host   string
	// URL holds the path and query (Path, RawPath, RawQuery); the scheme
	// and host in it, if any, are not read.
	URL *url.URL
	// Header carries the credentials (Cookie, later Authorization) and
	// Accept, which tells a browser navigation from an API call.
	Header http.Header
	// verified: the target came through a verify endpoint, for another
	// proxy's site: the portal's paths there are that site's own paths,
	// judged by the rules like any other.
	verified bool
}

// TargetOf is the Target of a request that is itself the protected one.
func TargetOf(r *http.Request) Target {
	return Target{Method: r.Method, Scheme: requestScheme(r), Host: r.Host, URL: r.URL, Header: r.Header}
}

// browserNavigation: a GET or HEAD a browser makes to show a page, the
// one kind of request that may be redirected to a sign-in page.
func (t *Target) browserNavigation() bool {
	return (t.Method == http.MethodGet || t.Method == http.MethodHead) && acceptsHTML(t.Header)
}

// Verdict is what a guard decided about a Target.
type Verdict uint8

const (
	// VerdictPortal: the target is one of the portal's own paths; the
	// portal answers it (protect serves the portal there).
	VerdictPortal Verdict = iota
	// VerdictPublic: a public path; pass without identity. Identity is
	// whoever is signed in, if anyone, for a stricter guard later in the
	// same request.
	VerdictPublic
	// VerdictAllow: Identity may pass.
	VerdictAllow
	// VerdictAnonymous: no live credential (SawCredential says whether a
	// dead or unknown one was presented).
	VerdictAnonymous
	// VerdictStage: a session that is still at the MFA challenge or
	// enrolment stage; the user must finish it.
	VerdictStage
	// VerdictForbidden: signed in, refused by the policy.
	VerdictForbidden
	// VerdictStepUp: signed in without a second factor where one is
	// required.
	VerdictStepUp
	// VerdictUnavailable: the store failed (Cause); fail closed.
	VerdictUnavailable
	// VerdictPasswordChange: signed in, but an operator requires a new
	// password first (store.User.MustChangePassword).
	VerdictPasswordChange
	// VerdictUnverified: signed in, but the email address is not verified
	// (a registered account still pending, or `require verified_email`):
	// browsers go to the "check your mail" page, others get 403
	// EMAIL_NOT_VERIFIED.
	VerdictUnverified
)

// Decision is a guard's judgement of a Target, apart from how it is
// answered: Guard.CheckAfter answers it as `protect` does, a verify
// endpoint answers the same decision in its proxy's dialect.
type Decision struct {
	Verdict  Verdict
	Identity *session.Identity
	// Source is the credential Identity came from: what logout,
	// change-password and rotation revoke.
	Source        CredentialSource
	SawCredential bool
	// Err is the answer's error body for the refusing verdicts
	// (anonymous, stage, forbidden, step-up, unavailable).
	Err *APIError
	// Cause is the store error behind VerdictUnavailable.
	Cause error
	// pending is the stage (store.PendingEnrol or the challenge) of a
	// VerdictStage session.
	pending string

	g *Guard
	t Target
}

// Decide judges t for this guard. prior is an identity an earlier guard
// of the same request admitted (it removed the cookie): this guard applies
// its own rules to it instead of looking a credential up. Decide writes
// nothing and changes nothing in t; it does not allocate on the protected
// request's cached path.
func (g *Guard) Decide(ctx context.Context, t Target, prior *session.Identity) Decision {
	d := Decision{g: g, t: t}
	if !t.verified && InBase(g.cfg.Base, t.URL.Path) {
		d.Verdict = VerdictPortal
		return d
	}
	if g.isPublic(t.URL) {
		// Who is signed in, if anyone, for a stricter guard later in
		// this request (`protect /docs/admin*` after a site-wide
		// `public /docs/*`). A public path never fails on it.
		d.Verdict, d.Identity = VerdictPublic, prior
		if prior == nil && g.s.guardCreds.presented(t.Header) {
			f, _ := g.s.guardCreds.find(ctx, t.Header, false)
			d.Identity, d.Source = f.ID, f.Source
		}
		return d
	}
	var refused *APIError
	if prior != nil {
		d.Identity, d.SawCredential = prior, true
	} else {
		f, err := g.s.guardCreds.find(ctx, t.Header, false)
		if err != nil {
			d.Verdict, d.Cause, d.Err, d.SawCredential = VerdictUnavailable, err, errStoreUnavailable, true
			return d
		}
		d.Identity, d.Source, d.SawCredential, refused = f.ID, f.Source, f.Presented, f.Refused
	}
	switch {
	case d.Identity == nil:
		d.Verdict, d.Err = VerdictAnonymous, refusal(d.SawCredential, refused)
		if d.SawCredential && g.cfg.PortalURL == "" {
			// Only on this failure path is the credential looked at
			// again, for a challenge- or enrolment-stage session.
			if f, err := g.s.creds.find(ctx, t.Header, true); err == nil && f.ID != nil && !f.ID.Session.Full() {
				d.Verdict, d.Err, d.pending = VerdictStage, errMFARequired, f.ID.Session.Pending
			}
		}
	case d.Identity.User.Status == store.StatusPending ||
		g.cfg.RequireVerifiedEmail && d.Identity.User.EmailVerifiedAt.IsZero():
		d.Verdict, d.Err = VerdictUnverified, errEmailNotVerified
	case d.Identity.User.Status == store.StatusApproval:
		d.Verdict, d.Err = VerdictForbidden, errApprovalPending
	case !g.cfg.Policy.Allowed(&d.Identity.User, d.Identity.Session.AuthMethod):
		d.Verdict, d.Err = VerdictForbidden, errForbidden
	case d.Identity.User.MustChangePassword:
		d.Verdict, d.Err = VerdictPasswordChange, errPasswordChangeRequired
	case g.cfg.RequireMFA && d.Identity.Session.AuthMethod == store.AuthAPIKey:
		// A key is one factor and cannot step up.
		d.Verdict, d.Err = VerdictForbidden, errAPIKeySingleFactor
	case g.cfg.RequireMFA && d.Identity.Session.MFAMethod == "":
		d.Verdict, d.Err = VerdictStepUp, errMFAStepUp
	default:
		d.Verdict = VerdictAllow
	}
	return d
}

// Redirect is where a browser goes to resolve a refusing decision: the
// sign-in page (anonymous), the MFA challenge or enrolment page (stage,
// step-up), each with the way back in rd. It is "" for the other verdicts.
// It is computed on demand: API clients and allowed requests never pay
// for it.
func (d *Decision) Redirect() string {
	g, t := d.g, &d.t
	switch d.Verdict {
	case VerdictAnonymous:
		if g.cfg.PortalURL != "" {
			return loginURL(g.cfg.PortalURL, t.absoluteURI())
		}
		return loginURL(g.cfg.Base, t.URL.RequestURI())
	case VerdictStage:
		next := g.cfg.Base + "/mfa/challenge"
		if d.pending == store.PendingEnrol {
			next = g.cfg.Base + "/mfa/setup"
		}
		return next + "?rd=" + url.QueryEscape(t.URL.RequestURI())
	case VerdictPasswordChange:
		if g.cfg.PortalURL != "" {
			return g.cfg.PortalURL + "/change-password"
		}
		return g.cfg.Base + "/change-password"
	case VerdictUnverified:
		if g.cfg.PortalURL != "" {
			return g.cfg.PortalURL + "/verify-email"
		}
		return g.cfg.Base + "/verify-email"
	case VerdictStepUp:
		if g.cfg.PortalURL != "" {
			return g.cfg.PortalURL + "/mfa/challenge?rd=" + url.QueryEscape(t.absoluteURI())
		}
		return g.cfg.Base + "/mfa/challenge?rd=" + url.QueryEscape(t.URL.RequestURI())
	}
	return ""
}

// absoluteURI is the target as the client addressed it, for an external
// portal to send the browser back to.
func (t *Target) absoluteURI() string {
	return t.Scheme + "://" + t.Host + t.URL.RequestURI()
}
