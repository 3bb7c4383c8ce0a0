// Package oauth signs users in with external identity providers: any OpenID
// Connect provider (discovery and ID-token verification by
// github.com/coreos/go-oidc/v3) and the presets google (OIDC), github,
// facebook and apple (OAuth 2 by golang.org/x/oauth2 plus each provider's
// own user endpoint). It knows nothing of HTTP routes or accounts: the flows
// ask it for the authorization URL and hand it the callback, and it returns
// the verified Identity.
package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/caddyauth/gateway/store"
)

// Kinds of provider.
const (
	KindOIDC     = "oidc"
	KindGoogle   = "google"
	KindGitHub   = "github"
	KindFacebook = "facebook"
	KindApple    = "apple"
)

// Errors a callback can end with. Callers switch on them with errors.Is.
var (
	// ErrUnavailable: the provider could not be reached (discovery, token
	// or user endpoint down or answering garbage).
	ErrUnavailable = errors.New("identity provider unavailable")
	// ErrExchange: the provider refused the code (replayed, expired, bad
	// PKCE verifier, wrong client credentials).
	ErrExchange = errors.New("identity provider refused the authorization code")
	// ErrInvalidToken: the ID token failed verification (signature,
	// issuer, audience, expiry, nonce, hosted domain).
	ErrInvalidToken = errors.New("invalid ID token")
)

// Config is one configured provider.
type Config struct {
	// Name is the provider's name in URLs and identities ("google",
	// "corp" for `oidc corp {...}`): [a-z0-9_-], at most 32 characters.
	Name string
	// Kind is KindOIDC or a preset.
	Kind string
	// DisplayName labels the login button (default: from Name).
	DisplayName string
	// Issuer is the OIDC issuer URL (oidc; optional override for google
	// and apple).
	Issuer       string
	ClientID     string
	ClientSecret string
	// Scopes requested (defaults per kind).
	Scopes []string
	// Endpoint overrides: authorization, token, user info (GitHub: the
	// /user URL, its /emails below it; Facebook: the Graph /me URL) and the
	// JWKS URL.
	AuthURL, TokenURL, UserinfoURL, KeysURL string
	// ClaimGroups names the ID-token/userinfo claim that carries groups.
	ClaimGroups string
	// HostedDomain (google) sends `hd` and requires the token's `hd` claim.
	HostedDomain string
	// TrustIdPMFA lets the provider's amr/acr satisfy the MFA policy.
	TrustIdPMFA bool
	// ACRValues are sent as acr_values and count as MFA when the token's
	// acr is one of them (with TrustIdPMFA).
	ACRValues []string
	// Apple: team id, key id and the ES256 private key (PEM) that sign
	// the client secret.
	TeamID, KeyID string
	PrivateKey    []byte
	// Signup lets a first login create an account; AllowedDomains does so
	// for verified emails in those domains only.
	Signup         bool
	AllowedDomains []string
	// HTTPClient talks to the provider (default: 10s timeout).
	HTTPClient *http.Client
	// Now is the clock (tests).
	Now func() time.Time
}

// Identity is what a provider says about the user after a verified login.
type Identity struct {
	Subject       string
	Email         string // store.NormalizeEmail: ASCII case folded only
	EmailVerified bool
	Name          string
	// Groups from the ClaimGroups claim (nil when not configured).
	Groups []string
	// MFA: the provider asserted a multi-factor login (amr/acr) and the
	// operator trusts it (TrustIdPMFA).
	MFA bool
}

// Callback is what came back to the redirect URI.
type Callback struct {
	Code string
	// Form is the whole callback query or form (Apple's `user` field).
	Form url.Values
	// RedirectURL must equal the one sent at the start.
	RedirectURL string
	Verifier    string
	Nonce       string
}

// backend is one kind of provider.
type backend interface {
	authURL(ctx context.Context, redirectURL, state, nonce, challenge string) (string, error)
	exchange(ctx context.Context, cb Callback) (*Identity, error)
}

// Provider is a configured, ready provider. Safe for concurrent use.
type Provider struct {
	cfg Config
	b   backend
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// ValidName reports whether s can name a provider.
func ValidName(s string) bool { return nameRE.MatchString(s) }

// New checks cfg and builds the provider. It does not contact the provider:
// OIDC discovery happens at first use and is retried until it succeeds, so a
// provider that is down at startup does not stop the server.
func New(cfg Config) (*Provider, error) {
	if !ValidName(cfg.Name) {
		return nil, fmt.Errorf("oauth: provider name %q: use 1-32 of a-z 0-9 _ -", cfg.Name)
	}
	if cfg.ClientID == "" {
		return nil, fmt.Errorf("oauth %s: client_id is required", cfg.Name)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	for i, d := range cfg.AllowedDomains {
		cfg.AllowedDomains[i] = store.NormalizeEmail(strings.TrimPrefix(d, "@"))
	}
	if cfg.DisplayName == "" {
		cfg.DisplayName = displayName(cfg.Name)
	}
	var (
		b   backend
		err error
	)
	switch cfg.Kind {
	case KindOIDC, KindGoogle:
		b, err = newOIDC(&cfg)
	case KindGitHub:
		b, err = newGitHub(&cfg)
	case KindFacebook:
		b, err = newFacebook(&cfg)
	case KindApple:
		b, err = newApple(&cfg)
	default:
		return nil, fmt.Errorf("oauth %s: unknown kind %q", cfg.Name, cfg.Kind)
	}
	if err != nil {
		return nil, err
	}
	return &Provider{cfg: cfg, b: b}, nil
}

func displayName(name string) string {
	switch name {
	case "github":
		return "GitHub"
	case "google", "facebook", "apple":
		return strings.ToUpper(name[:1]) + name[1:]
	}
	return name
}

func needSecret(cfg *Config) error {
	if cfg.ClientSecret == "" {
		return fmt.Errorf("oauth %s: client_secret is required (a confidential client authenticates at the token endpoint)", cfg.Name)
	}
	return nil
}

// Name is the provider's configured name.
func (p *Provider) Name() string { return p.cfg.Name }

// Kind is the provider's kind.
func (p *Provider) Kind() string { return p.cfg.Kind }

// DisplayName labels the login button.
func (p *Provider) DisplayName() string { return p.cfg.DisplayName }

// FormPost reports whether the provider answers with a cross-site form
// POST to the callback (Apple).
func (p *Provider) FormPost() bool { return p.cfg.Kind == KindApple }

// Signup reports whether a first login may create an account for email
// (verified): `signup on`, or its domain is in allowed_domains.
func (p *Provider) Signup(email string) bool {
	if p.cfg.Signup {
		return true
	}
	at := strings.LastIndexByte(email, '@')
	return at >= 0 && slices.ContainsFunc(p.cfg.AllowedDomains, func(d string) bool { return store.EqualEmail(d, email[at+1:]) })
}

// AuthCodeURL is where the browser goes to sign in. verifier is the PKCE
// code verifier (its S256 challenge is sent), nonce binds the ID token.
func (p *Provider) AuthCodeURL(ctx context.Context, redirectURL, state, nonce, verifier string) (string, error) {
	return p.b.authURL(ctx, redirectURL, state, nonce, oauth2.S256ChallengeFromVerifier(verifier))
}

// Exchange redeems the callback's code and returns the verified identity.
func (p *Provider) Exchange(ctx context.Context, cb Callback) (*Identity, error) {
	if cb.Code == "" {
		return nil, fmt.Errorf("%w: no code", ErrExchange)
	}
	id, err := p.b.exchange(ctx, cb)
	if err != nil {
		return nil, err
	}
	if id.Subject == "" {
		return nil, fmt.Errorf("%w: no subject", ErrInvalidToken)
	}
	// ASCII case only: strings.ToLower would turn the Kelvin sign into
	// "k" and link kate@ to a look-alike address (the flows refuse
	// non-ASCII addresses).
	id.Email = store.NormalizeEmail(id.Email)
	return id, nil
}

// oauth2Config builds the x/oauth2 client for a kind with default
// endpoints, overridden by the configured URLs.
func oauth2Config(cfg *Config, def oauth2.Endpoint, scopes []string) *oauth2.Config {
	ep := def
	if cfg.AuthURL != "" {
		ep.AuthURL = cfg.AuthURL
	}
	if cfg.TokenURL != "" {
		ep.TokenURL = cfg.TokenURL
	}
	if len(cfg.Scopes) > 0 {
		scopes = cfg.Scopes
	}
	return &oauth2.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, Endpoint: ep, Scopes: scopes}
}

// authURLFor renders the authorization URL with state, PKCE S256 and, for
// OIDC, the nonce.
func authURLFor(oc *oauth2.Config, redirectURL, state, nonce, challenge string, extra ...oauth2.AuthCodeOption) string {
	c := *oc
	c.RedirectURL = redirectURL
	opts := []oauth2.AuthCodeOption{
		oauth2.SetAuthURLParam("code_challenge", challenge),
		oauth2.SetAuthURLParam("code_challenge_method", "S256"),
	}
	if nonce != "" {
		opts = append(opts, oauth2.SetAuthURLParam("nonce", nonce))
	}
	return c.AuthCodeURL(state, append(opts, extra...)...)
}

// exchangeCode redeems the code with the PKCE verifier. Transport trouble is
// ErrUnavailable; a refusal is ErrExchange.
func exchangeCode(ctx context.Context, cfg *Config, oc *oauth2.Config, cb Callback) (*oauth2.Token, error) {
	c := *oc
	c.RedirectURL = cb.RedirectURL
	ctx = context.WithValue(ctx, oauth2.HTTPClient, cfg.HTTPClient)
	tok, err := c.Exchange(ctx, cb.Code, oauth2.VerifierOption(cb.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return nil, fmt.Errorf("%w: %s", ErrExchange, retrieveSummary(re))
		}
		return nil, fmt.Errorf("%w: token endpoint: %w", ErrUnavailable, err)
	}
	return tok, nil
}

// retrieveSummary keeps the provider's error code, never its body (which
// could echo the code or a secret).
func retrieveSummary(re *oauth2.RetrieveError) string {
	s := "status " + re.Response.Status
	if re.ErrorCode != "" {
		s += ", error " + re.ErrorCode
	}
	return s
}

// mfaAsserted reports whether amr/acr claim a multi-factor login.
func mfaAsserted(cfg *Config, amr []string, acr string) bool {
	for _, m := range amr {
		switch strings.ToLower(m) {
		case "mfa", "otp", "hwk", "swk", "sms", "fido", "u2f", "webauthn", "totp":
			return true
		}
	}
	return acr != "" && slices.Contains(cfg.ACRValues, acr)
}

// S256 is the PKCE challenge of verifier (exported for tests of providers).
func S256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
