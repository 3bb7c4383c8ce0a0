package flows

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/internal/oauth"
	"github.com/caddyauth/gateway/store"
)

// oauthTTL bounds a sign-in at a provider: the state cookie dies after it
// (ASVS 10.4.3 asks codes to live at most 10 minutes).
const oauthTTL = 10 * time.Minute

var (
	errOAuthState       = apiErr(http.StatusBadRequest, CodeOAuthStateInvalid, "This sign-in link is invalid or has expired. Start again from the sign-in page.")
	errOAuthToken       = apiErr(http.StatusUnauthorized, CodeOAuthTokenInvalid, "The identity provider's answer could not be verified. Start again from the sign-in page.")
	errOAuthUnavailable = apiErr(http.StatusBadGateway, CodeOAuthProviderUnavailable, "The identity provider cannot be reached right now. Try again shortly.")
	errOAuthExchange    = apiErr(http.StatusBadRequest, CodeOAuthProviderError, "The identity provider refused this sign-in. Start again from the sign-in page.")
	errOAuthDisabled    = apiErr(http.StatusForbidden, CodeOAuthProviderDisabled, "Signing in with this provider is switched off right now. Use another way to sign in.")
	errEmailUnverified  = apiErr(http.StatusForbidden, CodeOAuthEmailUnverified, "The identity provider did not confirm your email address, so it cannot be used to sign in here. Verify it at the provider, or sign in another way.")
	errSignupDisabled   = apiErr(http.StatusForbidden, CodeSignupDisabled, "There is no account for this identity and sign-up is not open. Ask an administrator for an account.")
	errIdentityTaken    = apiErr(http.StatusConflict, CodeOAuthIdentityTaken, "This account at the provider is already linked to another user, or you already linked one there.")
	errLastLoginMethod  = apiErr(http.StatusConflict, CodeLastLoginMethod, "This is your only way to sign in: set a password or link another provider first.")
	errAccountDisabled  = apiErr(http.StatusForbidden, CodeAccountDisabled, "This account is disabled.")
)

// oauthFlows is the OAuth/OIDC part of the service.
type oauthFlows struct {
	providers map[string]*oauth.Provider
	order     []*oauth.Provider
	codec     *oauth.StateCodec
	ids       store.IdentityStore
}

func newOAuthFlows(cfg Config, deps Deps) (*oauthFlows, error) {
	o := &oauthFlows{providers: map[string]*oauth.Provider{}, ids: deps.Identities}
	if len(cfg.OAuth) == 0 {
		return o, nil
	}
	if deps.Identities == nil {
		return nil, errors.New("flows: oauth providers need an identity store")
	}
	codec, err := oauth.NewStateCodec(cfg.OAuthStateKeys)
	if err != nil {
		return nil, fmt.Errorf("flows: oauth state: %w", err)
	}
	o.codec = codec
	for _, p := range cfg.OAuth {
		if _, dup := o.providers[p.Name()]; dup {
			return nil, fmt.Errorf("flows: oauth provider %q configured twice", p.Name())
		}
		if p.FormPost() && cfg.Cookie.Insecure {
			// The form POST is cross-site: only a SameSite=None (so
			// Secure) state cookie comes back with it.
			return nil, fmt.Errorf("flows: oauth provider %q answers with a cross-site form POST and needs secure cookies (remove cookie insecure)", p.Name())
		}
		o.providers[p.Name()] = p
		o.order = append(o.order, p)
	}
	return o, nil
}

// oauthRoutes registers the OAuth/OIDC endpoints.
func (p *portal) oauthRoutes(mux *http.ServeMux) {
	if len(p.s.oauth.order) == 0 {
		return
	}
	mux.HandleFunc("GET "+p.base+"/oauth/{provider}/start", p.oauthStart)
	mux.HandleFunc("GET "+p.base+"/oauth/{provider}/callback", p.oauthCallback)
	mux.HandleFunc("POST "+p.base+"/oauth/{provider}/callback", p.oauthCallback)
	mux.HandleFunc("POST "+p.base+"/oauth/{provider}/unlink", p.withCaller(callerSignedIn, "oauth unlink", p.oauthUnlink))
	mux.HandleFunc("GET "+p.base+"/oauth/identities", p.withCaller(callerSignedIn, "oauth identities", p.oauthIdentities))
}

// oauthCSRFBypass exempts exactly the callbacks of providers that answer
// with a cross-site form POST (Apple): the sealed state cookie, the state
// parameter and PKCE protect them instead.
func (p *portal) oauthCSRFBypass(csrf *http.CrossOriginProtection) {
	for _, prov := range p.s.oauth.order {
		if prov.FormPost() {
			csrf.AddInsecureBypassPattern("POST " + p.base + "/oauth/" + prov.Name() + "/callback")
		}
	}
}

func (p *portal) oauthProvider(w http.ResponseWriter, r *http.Request) *oauth.Provider {
	prov := p.s.oauth.providers[r.PathValue("provider")]
	if prov == nil {
		p.s.writeError(w, r, errNotFound)
		return nil
	}
	if e := p.s.methodGate(r.Context(), store.AuthOAuth(prov.Name()), errOAuthDisabled); e != nil {
		p.s.writeError(w, r, e)
		return nil
	}
	return prov
}

// stateCookieName is per provider, so two sign-ins in two tabs at two
// providers do not overwrite each other.
func (p *portal) stateCookieName(provider string) string {
	if p.s.cfg.Cookie.Insecure {
		return "caddyauth_oauth_" + provider
	}
	return "__Host-caddyauth_oauth_" + provider
}

func (p *portal) setStateCookie(w http.ResponseWriter, prov *oauth.Provider, value string, maxAge int) {
	sameSite := http.SameSiteLaxMode
	if prov.FormPost() {
		sameSite = http.SameSiteNoneMode
	}
	http.SetCookie(w, &http.Cookie{
		Name:     p.stateCookieName(prov.Name()),
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   !p.s.cfg.Cookie.Insecure,
		SameSite: sameSite,
	})
}

// redirectURL is this portal's callback for the provider on the request's
// host (Caddy only routes configured hosts here).
func (p *portal) redirectURL(r *http.Request, provider string) string {
	return requestScheme(r) + "://" + r.Host + p.base + "/oauth/" + provider + "/callback"
}

// oauthStart sends the browser to the provider. With link=1 a signed-in
// user links the provider to the account instead of signing in.
func (p *portal) oauthStart(w http.ResponseWriter, r *http.Request) {
	prov := p.oauthProvider(w, r)
	if prov == nil {
		return
	}
	q := r.URL.Query()
	tx := &oauth.Transaction{
		Provider: prov.Name(),
		State:    oauth.RandomString(32),
		Verifier: oauth.RandomString(32),
		Nonce:    oauth.RandomString(32),
		RD:       p.returnTo(r, q.Get("rd")),
		Expires:  p.s.cfg.Now().Add(oauthTTL).Unix(),
	}
	if q.Get("link") != "" {
		// Linking changes the account: only from our own pages (a
		// cross-site page must not start it), only signed in.
		if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
			p.s.writeError(w, r, errCrossOrigin)
			return
		}
		c, ok := p.callerOf(w, r, callerSignedIn, "oauth link")
		if !ok {
			return
		}
		tx.LinkUser = c.id.User.ID
		tx.RD = p.base + "/login"
	}
	target, err := prov.AuthCodeURL(r.Context(), p.redirectURL(r, prov.Name()), tx.State, tx.Nonce, tx.Verifier)
	if err != nil {
		p.s.log.Error("oauth provider unavailable", zap.String("provider", prov.Name()), zapErr(err))
		p.s.writeError(w, r, errOAuthUnavailable)
		return
	}
	sealed, err := p.s.oauth.codec.Seal(tx)
	if err != nil {
		p.s.log.Error("oauth state not sealed", zapErr(err))
		p.s.writeError(w, r, errInternal)
		return
	}
	p.setStateCookie(w, prov, sealed, int(oauthTTL.Seconds()))
	http.Redirect(w, r, target, http.StatusFound)
}

// providerErrors are the OAuth error codes we name to the user; anything
// else is reported as a generic refusal (never echoed).
var providerErrors = map[string]string{
	"access_denied":              "The sign-in was cancelled or refused at the identity provider.",
	"login_required":             "The identity provider asks you to sign in there first.",
	"consent_required":           "The identity provider needs your consent to share your identity.",
	"interaction_required":       "The identity provider needs you to complete the sign-in there.",
	"temporarily_unavailable":    "The identity provider is temporarily unavailable. Try again shortly.",
	"server_error":               "The identity provider had an error. Try again shortly.",
	"invalid_scope":              "The identity provider refused the requested permissions (configuration problem).",
	"unauthorized_client":        "The identity provider does not accept this site (configuration problem).",
	"user_cancelled_authorize":   "The sign-in was cancelled.",
	"user_cancelled_login":       "The sign-in was cancelled.",
	"account_selection_required": "Choose an account at the identity provider.",
}

// maxCallbackParam bounds each callback parameter we read.
const maxCallbackParam = 4096

// callbackParams reads the callback's query (GET) or form (POST) with a
// bounded body, and refuses repeated or oversized parameters.
func callbackParams(r *http.Request) (url.Values, *APIError) {
	vals := r.URL.Query()
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(nil, r.Body, maxBody)
		if err := r.ParseForm(); err != nil {
			return nil, invalidInput("Malformed callback form.")
		}
		vals = r.PostForm
	}
	for k, v := range vals {
		if len(v) != 1 {
			return nil, invalidInput("Callback parameter " + k + " given more than once.")
		}
		if len(v[0]) > maxCallbackParam {
			return nil, invalidInput("Callback parameter too long.")
		}
	}
	return vals, nil
}

func (p *portal) oauthCallback(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	// The state cookie is single use: gone whatever happens next,
	// including a refusal because the provider is switched off (a sign-in
	// in flight when the switch is thrown must not complete once it is
	// thrown back).
	var cookie *http.Cookie
	if known := p.s.oauth.providers[r.PathValue("provider")]; known != nil {
		cookie, _ = r.Cookie(p.stateCookieName(known.Name()))
		p.setStateCookie(w, known, "", -1)
	}
	prov := p.oauthProvider(w, r)
	if prov == nil {
		return
	}
	method := store.AuthOAuth(prov.Name())
	result := "store_error"
	defer func() { p.s.obs.Login(method, result, time.Since(start)) }()
	fail := func(reason string, e *APIError, ev audit.Event) {
		result = reason
		ev.Type = audit.LoginFailed
		ev.Reason = reason
		ev.Detail = map[string]string{"method": method}
		p.s.audit(r, ev)
		p.s.log.Info("oauth sign-in failed", zap.String("provider", prov.Name()), zap.String("reason", reason), zapIP(p.s.cfg.ClientIP(r)))
		p.s.writeError(w, r, e)
	}
	vals, bad := callbackParams(r)
	if bad != nil {
		fail("invalid_input", bad, audit.Event{})
		return
	}
	if code := vals.Get("error"); code != "" {
		msg, ok := providerErrors[code]
		if !ok {
			msg = "The identity provider refused the sign-in."
		}
		fail("provider_error", apiErr(http.StatusBadRequest, CodeOAuthProviderError, msg), audit.Event{})
		return
	}
	value := ""
	if cookie != nil {
		value = cookie.Value
	}
	tx, err := p.s.oauth.codec.Open(value, prov.Name(), vals.Get("state"), p.s.cfg.Now())
	if err != nil {
		fail("state_invalid", errOAuthState, audit.Event{})
		return
	}
	ident, err := prov.Exchange(r.Context(), oauth.Callback{
		Code:        vals.Get("code"),
		Form:        vals,
		RedirectURL: p.redirectURL(r, prov.Name()),
		Verifier:    tx.Verifier,
		Nonce:       tx.Nonce,
	})
	if err != nil {
		p.s.log.Warn("oauth exchange failed", zap.String("provider", prov.Name()), zapErr(err))
		switch {
		case errors.Is(err, oauth.ErrInvalidToken):
			fail("token_invalid", errOAuthToken, audit.Event{})
		case errors.Is(err, oauth.ErrExchange):
			fail("code_refused", errOAuthExchange, audit.Event{})
		default:
			fail("provider_unavailable", errOAuthUnavailable, audit.Event{})
		}
		return
	}
	if tx.LinkUser != "" {
		if p.oauthLink(w, r, prov, ident, tx.LinkUser) {
			result = "linked"
		}
		return
	}
	u, e, err := p.resolveOAuthUser(r, prov, ident)
	if err != nil {
		p.s.storeFailure(w, r, "oauth account", err)
		return
	}
	if e != nil {
		ev := audit.Event{Email: ident.Email}
		if u != nil {
			ev.UserID = u.ID
		}
		fail(map[*APIError]string{
			errEmailUnverified: "email_unverified", errSignupDisabled: "signup_disabled",
			errAccountDisabled: "disabled", errIdentityTaken: "identity_taken", errOAuthUnlinked: "unlinked",
			errOAuthEmailNotASCII: "email_not_ascii",
		}[e], e, ev)
		return
	}
	if p.completeLogin(w, r, u, firstFactor{Method: method, IdPMFA: ident.MFA}, tx.RD) {
		result = "success"
	}
}

// resolveOAuthUser finds or creates the account for a verified identity:
//  1. an identity already linked signs in its user (groups refreshed);
//  2. otherwise the provider must vouch for the email (verified): an
//     account with that email gets the identity linked;
//  3. otherwise an account is created when the provider allows sign-up
//     (`signup on`, or the email's domain is in allowed_domains);
//  4. otherwise the sign-in is refused with a stable code.
func (p *portal) resolveOAuthUser(r *http.Request, prov *oauth.Provider, ident *oauth.Identity) (*store.User, *APIError, error) {
	if ident.Groups != nil {
		ident.Groups = p.s.cleanGroups(ident.Groups, prov.Name())
	}
	ctx := r.Context()
	ids := p.s.oauth.ids
	now := p.s.cfg.Now()
	link, err := ids.IdentityBySubject(ctx, prov.Name(), ident.Subject)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, nil, err
	}
	if link != nil {
		u, err := p.s.deps.Users.UserByID(ctx, link.UserID)
		if err != nil {
			return nil, nil, err
		}
		if !u.Active() {
			return u, errAccountDisabled, nil
		}
		if err := ids.TouchIdentity(ctx, prov.Name(), ident.Subject, ident.Email, now); err != nil {
			return nil, nil, err
		}
		return p.refreshProfile(r, prov, u, ident)
	}
	if nonASCII(ident.Email) {
		// Refused, not compared: no look-alike of an ASCII address may
		// link that account or become an account of its own.
		return nil, errOAuthEmailNotASCII, nil
	}
	if ident.Email == "" || !ident.EmailVerified || !ValidEmail(ident.Email) {
		return nil, errEmailUnverified, nil
	}
	u, err := p.s.deps.Users.UserByEmail(ctx, ident.Email)
	switch {
	case err == nil:
		if !u.Active() {
			return u, errAccountDisabled, nil
		}
		// The user unlinked this provider account: the email rule must
		// not put it back (it may be the reason they unlinked it).
		if tok, terr := p.s.deps.Tokens.PeekToken(ctx, unlinkedMarker(prov.Name(), ident.Subject), unlinkedPurpose, now); terr == nil && tok.UserID == u.ID {
			return u, errOAuthUnlinked, nil
		} else if terr != nil && !errors.Is(terr, store.ErrNotFound) {
			return nil, nil, terr
		}
		if err := p.linkIdentity(r, u, prov, ident, "verified_email"); err != nil {
			if errors.Is(err, store.ErrConflict) {
				// The user already has another account at this
				// provider linked: do not replace it silently.
				return u, errIdentityTaken, nil
			}
			return nil, nil, err
		}
		return p.refreshProfile(r, prov, u, ident)
	case !errors.Is(err, store.ErrNotFound):
		return nil, nil, err
	}
	// The runtime "registration" switch closes OAuth sign-up too.
	if !prov.Signup(ident.Email) || !p.s.methodEnabled(ctx, "registration") {
		return nil, errSignupDisabled, nil
	}
	u, err = p.signupUser(r, prov, ident)
	if errors.Is(err, store.ErrConflict) {
		return nil, errIdentityTaken, nil
	} else if err != nil {
		return nil, nil, err
	}
	if groupsDiffer(nil, u.Groups) {
		p.auditGroupChange(r, u, nil, prov)
	}
	if err := p.linkIdentity(r, u, prov, ident, "signup"); err != nil {
		return nil, nil, err
	}
	return u, nil, nil
}

// signupUser creates the account of a verified identity through the
// account service (actor "oauth:<provider>"). The provider's name is
// untrusted input: one the account rules refuse is dropped, like invalid
// group names, rather than refusing the sign-up.
func (p *portal) signupUser(r *http.Request, prov *oauth.Provider, ident *oauth.Identity) (*store.User, error) {
	acc := p.s.Accounts()
	in := NewAccount{Email: ident.Email, Name: ident.Name, Groups: ident.Groups, NoPassword: true}
	if !ValidName(in.Name) {
		p.s.log.Warn("dropped the name from an identity provider claim (control characters or too long)", zap.String("provider", prov.Name()))
		in.Name = ""
	}
	u, err := acc.Draft(r.Context(), in)
	if err != nil {
		return nil, err
	}
	if ident.EmailVerified {
		// The provider vouches for the address (issue 12 item 2).
		u.EmailVerifiedAt = u.CreatedAt
	}
	if err := acc.Create(r.Context(), p.s.actor(r, store.AuthOAuth(prov.Name())), u); err != nil {
		return nil, err
	}
	return u, nil
}

func (p *portal) linkIdentity(r *http.Request, u *store.User, prov *oauth.Provider, ident *oauth.Identity, how string) error {
	now := p.s.cfg.Now()
	err := p.s.oauth.ids.CreateIdentity(r.Context(), &store.Identity{Provider: prov.Name(), Subject: ident.Subject, UserID: u.ID, Email: ident.Email, CreatedAt: now, LastLoginAt: now})
	if err != nil {
		return err
	}
	p.s.log.Info("oauth identity linked", zapUser(u.ID), zap.String("provider", prov.Name()), zap.String("how", how))
	p.s.audit(r, audit.Event{Type: audit.OAuthLinked, UserID: u.ID, Email: u.Email, Detail: map[string]string{"provider": prov.Name(), "how": how}})
	return nil
}

// refreshProfile applies what the provider is authoritative for: the
// groups when claim_groups is configured (replaced at every login, each
// change audited), and a name the account does not have yet.
func (p *portal) refreshProfile(r *http.Request, prov *oauth.Provider, u *store.User, ident *oauth.Identity) (*store.User, *APIError, error) {
	changed := false
	var groupsBefore []string
	groupsChanged := ident.Groups != nil && groupsDiffer(u.Groups, ident.Groups)
	if groupsChanged {
		groupsBefore = u.Groups
		u.Groups = slices.Clone(ident.Groups)
		changed = true
	}
	if u.Name == "" && ident.Name != "" && ValidName(ident.Name) {
		u.Name = ident.Name
		changed = true
	}
	if changed {
		u.UpdatedAt = time.Time{}
		if err := p.s.deps.Users.UpdateUser(r.Context(), u); err != nil {
			return nil, nil, err
		}
	}
	if groupsChanged {
		p.auditGroupChange(r, u, groupsBefore, prov)
	}
	return u, nil, nil
}

// oauthLink finishes a link started by a signed-in user (the sealed state
// names the user). It reports whether the identity was linked.
func (p *portal) oauthLink(w http.ResponseWriter, r *http.Request, prov *oauth.Provider, ident *oauth.Identity, userID string) bool {
	ctx := r.Context()
	// The link finishes only for the account that started it and is still
	// signed in here: on a shared computer another person signing in at
	// the provider in that tab must not attach their account to it.
	if cur, _, err := p.s.identify(r); err != nil {
		p.s.storeFailure(w, r, "oauth link", err)
		return false
	} else if cur == nil || cur.User.ID != userID {
		p.s.writeError(w, r, errOAuthState)
		return false
	}
	u, err := p.s.deps.Users.UserByID(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		p.s.writeError(w, r, errOAuthState)
		return false
	}
	if err != nil {
		p.s.storeFailure(w, r, "oauth link", err)
		return false
	}
	existing, err := p.s.oauth.ids.IdentityBySubject(ctx, prov.Name(), ident.Subject)
	switch {
	case err == nil && existing.UserID == u.ID:
		// Already linked to this user: nothing to do.
	case err == nil:
		p.s.writeError(w, r, errIdentityTaken)
		return false
	case !errors.Is(err, store.ErrNotFound):
		p.s.storeFailure(w, r, "oauth link", err)
		return false
	default:
		if err := p.linkIdentity(r, u, prov, ident, "portal"); err != nil {
			if errors.Is(err, store.ErrConflict) {
				p.s.writeError(w, r, errIdentityTaken)
				return false
			}
			p.s.storeFailure(w, r, "oauth link", err)
			return false
		}
	}
	// Linked again on purpose: the unlink marker no longer applies.
	_, _ = p.s.deps.Tokens.ConsumeToken(ctx, unlinkedMarker(prov.Name(), ident.Subject), unlinkedPurpose, p.s.cfg.Now())
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{"linked": prov.Name()})
		return true
	}
	http.Redirect(w, r, p.base+"/login", http.StatusSeeOther)
	return true
}

// An unlink leaves a marker (a one-time token keyed by provider and subject)
// for ten years: only the signed-in user's explicit link removes it.
const (
	unlinkedPurpose = "oauth_unlinked"
	unlinkedFor     = 10 * 365 * 24 * time.Hour
)

func unlinkedMarker(provider, subject string) string {
	return keys.HashToken("oauth-unlinked:" + provider + ":" + subject)
}

var errOAuthUnlinked = apiErr(http.StatusForbidden, CodeOAuthUnlinked, "This provider account was unlinked from your account. Sign in another way and link it again from your account page.")

// oauthUnlink removes the signed-in user's identity at a provider, unless
// it is the user's last way to sign in.
func (p *portal) oauthUnlink(w http.ResponseWriter, r *http.Request, c *caller) {
	id := c.id
	ctx := r.Context()
	name := r.PathValue("provider")
	u, err := p.s.deps.Users.UserByID(ctx, id.User.ID)
	if err != nil {
		p.s.storeFailure(w, r, "oauth unlink", err)
		return
	}
	list, err := p.s.oauth.ids.UserIdentities(ctx, u.ID)
	if err != nil {
		p.s.storeFailure(w, r, "oauth unlink", err)
		return
	}
	if !slices.ContainsFunc(list, func(i *store.Identity) bool { return i.Provider == name }) {
		p.s.writeError(w, r, errNotFound)
		return
	}
	if u.PasswordHash == "" && len(list) <= 1 {
		p.s.writeError(w, r, errLastLoginMethod)
		return
	}
	var subject string
	for _, i := range list {
		if i.Provider == name {
			subject = i.Subject
		}
	}
	if err := p.s.oauth.ids.DeleteIdentity(ctx, u.ID, name); err != nil {
		// Unlinked meanwhile: 404.
		p.s.storeError(w, r, "oauth unlink", err)
		return
	}
	// Remember the unlink, so the verified-email rule cannot link this
	// provider account again by itself, and end the sessions it opened.
	now := p.s.cfg.Now()
	if err := p.s.deps.Tokens.CreateToken(ctx, &store.OneTimeToken{
		Hash: unlinkedMarker(name, subject), Purpose: unlinkedPurpose,
		UserID: u.ID, ExpiresAt: now.Add(unlinkedFor),
	}); err != nil && !errors.Is(err, store.ErrConflict) {
		p.s.storeFailure(w, r, "oauth unlink", err)
		return
	}
	sessions, err := p.s.deps.Sessions.List(ctx, u.ID)
	if err != nil {
		p.s.storeFailure(w, r, "oauth unlink", err)
		return
	}
	for _, s := range sessions {
		if s.AuthMethod == store.AuthOAuth(name) && s.ID != id.Session.ID {
			if err := p.s.deps.Sessions.RevokeID(ctx, s.ID); err != nil {
				p.s.storeFailure(w, r, "oauth unlink", err)
				return
			}
		}
	}
	p.s.log.Info("oauth identity unlinked", zapUser(u.ID), zap.String("provider", name))
	p.s.audit(r, audit.Event{Type: audit.OAuthUnlinked, UserID: u.ID, Email: u.Email, Detail: map[string]string{"provider": name}})
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{"unlinked": name})
		return
	}
	http.Redirect(w, r, p.base+"/login", http.StatusSeeOther)
}

type identityView struct {
	Provider    string `json:"provider"`
	Email       string `json:"email"`
	LinkedAt    string `json:"linked_at"`
	LastLoginAt string `json:"last_login_at"`
}

// oauthIdentities lists the signed-in user's linked providers.
func (p *portal) oauthIdentities(w http.ResponseWriter, r *http.Request, c *caller) {
	id := c.id
	list, err := p.s.oauth.ids.UserIdentities(r.Context(), id.User.ID)
	if err != nil {
		p.s.storeFailure(w, r, "oauth identities", err)
		return
	}
	out := []identityView{}
	for _, i := range list {
		out = append(out, identityView{
			Provider: i.Provider, Email: i.Email,
			LinkedAt: i.CreatedAt.UTC().Format(time.RFC3339), LastLoginAt: i.LastLoginAt.UTC().Format(time.RFC3339),
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"identities": out})
}

// oauthView feeds the login page: a button per enabled provider and, for a
// signed-in user, which are linked.
type oauthView struct {
	Providers []providerButton
}

type providerButton struct {
	Name        string
	DisplayName string
	Linked      bool
}

func (s *Service) oauthView(r *http.Request, u *store.User) *oauthView {
	v := &oauthView{}
	if s.oauth == nil {
		return v
	}
	var linked []*store.Identity
	if u != nil && s.oauth.ids != nil {
		l, err := s.oauth.ids.UserIdentities(r.Context(), u.ID)
		if err != nil {
			s.log.Warn("linked identities unreadable", zapErr(err))
		}
		linked = l
	}
	for _, prov := range s.oauth.order {
		isLinked := slices.ContainsFunc(linked, func(i *store.Identity) bool { return i.Provider == prov.Name() })
		if !isLinked && !s.methodEnabled(r.Context(), store.AuthOAuth(prov.Name())) {
			continue
		}
		v.Providers = append(v.Providers, providerButton{Name: prov.Name(), DisplayName: prov.DisplayName(), Linked: isLinked})
	}
	return v
}
