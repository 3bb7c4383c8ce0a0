package caddyauth

import (
	"fmt"
	"os"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddyauth/gateway/internal/oauth"
)

// OAuthProvider is one `oidc <name> {...}` or `oauth <preset> {...}`
// option: an identity provider users may sign in with.
type OAuthProvider struct {
	// Name is the provider's name in URLs (/auth/oauth/<name>/start) and
	// in the identities table; for presets it is the preset.
	Name string `json:"name"`
	// Kind is "oidc", "google", "github", "facebook" or "apple".
	Kind string `json:"kind"`
	// DisplayName labels the login button.
	DisplayName string `json:"display_name,omitempty"`
	// Issuer is the OIDC issuer (discovery at <issuer>/.well-known/...).
	Issuer string `json:"issuer,omitempty"`
	// ClientID and ClientSecret accept placeholders ({env.X}, {file./p}).
	ClientID     string `json:"client_id,omitempty"`
	ClientSecret string `json:"client_secret,omitempty"`
	// Scopes override the kind's defaults.
	Scopes []string `json:"scopes,omitempty"`
	// Endpoint overrides.
	AuthURL     string `json:"auth_url,omitempty"`
	TokenURL    string `json:"token_url,omitempty"`
	UserinfoURL string `json:"userinfo_url,omitempty"`
	KeysURL     string `json:"keys_url,omitempty"`
	// ClaimGroups is the claim whose values become the user's groups,
	// replaced at every login.
	ClaimGroups string `json:"claim_groups,omitempty"`
	// AllowedDomains: a verified email in one of these domains may sign
	// up (create an account) at its first login.
	AllowedDomains []string `json:"allowed_domains,omitempty"`
	// Signup lets any verified email sign up at its first login.
	Signup bool `json:"signup,omitempty"`
	// TrustIdPMFA lets the provider's amr/acr satisfy the MFA policy.
	TrustIdPMFA bool `json:"trust_idp_mfa,omitempty"`
	// ACRValues are requested and, with TrustIdPMFA, count as MFA.
	ACRValues []string `json:"acr_values,omitempty"`
	// HostedDomain (google) restricts to a Workspace domain (`hd`).
	HostedDomain string `json:"hosted_domain,omitempty"`
	// Apple: team id, key id and the .p8 private key file.
	TeamID         string `json:"team_id,omitempty"`
	KeyID          string `json:"key_id,omitempty"`
	PrivateKeyFile string `json:"private_key_file,omitempty"`
}

// provider resolves placeholders and builds the provider.
func (o *OAuthProvider) provider() (*oauth.Provider, error) {
	repl := caddy.NewReplacer()
	resolve := func(field, v string) (string, error) {
		out, err := repl.ReplaceOrErr(v, true, true)
		if err != nil {
			return "", fmt.Errorf("caddyauth: %s %s: %s: %w", o.Kind, o.Name, field, err)
		}
		return strings.TrimSpace(out), nil
	}
	id, err := resolve("client_id", o.ClientID)
	if err != nil {
		return nil, err
	}
	secret, err := resolve("client_secret", o.ClientSecret)
	if err != nil {
		return nil, err
	}
	cfg := oauth.Config{
		Name: o.Name, Kind: o.Kind, DisplayName: o.DisplayName, Issuer: o.Issuer,
		ClientID: id, ClientSecret: secret, Scopes: o.Scopes,
		AuthURL: o.AuthURL, TokenURL: o.TokenURL, UserinfoURL: o.UserinfoURL, KeysURL: o.KeysURL,
		ClaimGroups: o.ClaimGroups, HostedDomain: o.HostedDomain,
		TrustIdPMFA: o.TrustIdPMFA, ACRValues: o.ACRValues,
		TeamID: o.TeamID, KeyID: o.KeyID,
		Signup: o.Signup, AllowedDomains: append([]string(nil), o.AllowedDomains...),
	}
	if o.PrivateKeyFile != "" {
		path, err := resolve("private_key_file", o.PrivateKeyFile)
		if err != nil {
			return nil, err
		}
		cfg.PrivateKey, err = os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("caddyauth: %s %s: private_key_file: %w", o.Kind, o.Name, err)
		}
	}
	p, err := oauth.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("caddyauth: %w", err)
	}
	return p, nil
}

// providerNames are the configured identity providers' names (for the
// auth-method switch's list: oauth:<name>).
func (a *App) providerNames() []string {
	var out []string
	for _, o := range a.OAuth {
		out = append(out, o.Name)
	}
	return out
}

// oauthProviders builds the providers; their config (and that no name is
// used twice) was judged by Validate, first in Provision.
func (a *App) oauthProviders() ([]*oauth.Provider, error) {
	var out []*oauth.Provider
	for _, o := range a.OAuth {
		p, err := o.provider()
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// parseOAuth parses an identity provider inside the caddyauth option:
//
//	oidc <name> {
//	    issuer <url>
//	    client_id <id>
//	    client_secret <secret>
//	    scopes openid email profile ...
//	    claim_groups <claim>
//	    allowed_domains <domain...>
//	    signup on|off
//	    trust_idp_mfa
//	    acr_values <value...>
//	    display_name <label>
//	    auth_url|token_url|userinfo_url|keys_url <url>
//	}
//	oauth google|github|facebook|apple {
//	    (the same options; issuer overrides google's and apple's)
//	    hosted_domain <domain>                     # google
//	    team_id <id>  key_id <id>  private_key_file <path>   # apple
//	}
func parseOAuth(d *caddyfile.Dispenser, kind string) (*OAuthProvider, error) {
	o := &OAuthProvider{Kind: kind}
	if !d.NextArg() {
		if kind == oauth.KindOIDC {
			return nil, d.Err("caddyauth: oidc needs a name: oidc <name> { issuer ... }")
		}
		return nil, d.Err("caddyauth: oauth needs a preset: google, github, facebook or apple")
	}
	o.Name = d.Val()
	if kind != oauth.KindOIDC {
		switch o.Name {
		case oauth.KindGoogle, oauth.KindGitHub, oauth.KindFacebook, oauth.KindApple:
			o.Kind = o.Name
		default:
			return nil, d.Errf("caddyauth: unknown oauth preset %q (want google, github, facebook or apple; use `oidc <name>` for any OpenID Connect provider)", o.Name)
		}
	}
	if !oauth.ValidName(o.Name) {
		return nil, d.Errf("caddyauth: provider name %q: use 1-32 of a-z 0-9 _ -", o.Name)
	}
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		switch opt {
		case "scopes", "allowed_domains", "acr_values":
			vals := d.RemainingArgs()
			if len(vals) == 0 {
				return nil, d.ArgErr()
			}
			switch opt {
			case "scopes":
				o.Scopes = append(o.Scopes, vals...)
			case "allowed_domains":
				o.AllowedDomains = append(o.AllowedDomains, vals...)
			default:
				o.ACRValues = append(o.ACRValues, vals...)
			}
			continue
		case "trust_idp_mfa":
			if d.NextArg() {
				return nil, d.ArgErr()
			}
			o.TrustIdPMFA = true
			continue
		case "issuer", "client_id", "client_secret", "claim_groups", "signup", "display_name",
			"auth_url", "token_url", "userinfo_url", "keys_url",
			"hosted_domain", "team_id", "key_id", "private_key_file":
		default:
			return nil, d.Errf("caddyauth: unknown %s option %q", kind, opt)
		}
		v, err := oneArg(d)
		if err != nil {
			return nil, err
		}
		switch opt {
		case "issuer":
			o.Issuer = v
		case "client_id":
			o.ClientID = v
		case "client_secret":
			o.ClientSecret = v
		case "claim_groups":
			o.ClaimGroups = v
		case "display_name":
			o.DisplayName = v
		case "signup":
			if v != "on" && v != "off" {
				return nil, d.Errf("caddyauth: signup %q: want on or off", v)
			}
			o.Signup = v == "on"
		case "auth_url":
			o.AuthURL = v
		case "token_url":
			o.TokenURL = v
		case "userinfo_url":
			o.UserinfoURL = v
		case "keys_url":
			o.KeysURL = v
		case "hosted_domain":
			o.HostedDomain = v
		case "team_id":
			o.TeamID = v
		case "key_id":
			o.KeyID = v
		case "private_key_file":
			o.PrivateKeyFile = v
		}
	}
	if err := checkProvider(o); err != nil {
		return nil, d.Err(err.Error())
	}
	return o, nil
}
