// Package policy decides whether an authenticated user may reach a site:
// `allow` and `deny` rules by user id, email (with "*@domain"), group, or
// the method the request was authenticated with (`deny method api_key`
// keeps API keys off a site).
package policy

import (
	"fmt"
	"strings"

	"github.com/caddyauth/gateway/store"
)

// Rule kinds (the first argument of `allow` / `deny`). "role" is an alias of
// "group" until roles exist as their own concept.
const (
	KindUser  = "user"
	KindEmail = "email"
	KindGroup = "group"
	KindRole  = "role"
	// KindMethod matches the first factor of the request: password,
	// passwordless, setup, api_key, oauth:<provider>, or oauth for any
	// provider.
	KindMethod = "method"
)

// Rule matches users by one attribute.
type Rule struct {
	Kind   string   `json:"kind"`
	Values []string `json:"values"`
}

// Validate rejects unknown kinds and empty value lists.
func (r Rule) Validate() error {
	switch r.Kind {
	case KindUser, KindEmail, KindGroup, KindRole, KindMethod:
	default:
		return fmt.Errorf("unknown rule kind %q (want user, email, group, role or method)", r.Kind)
	}
	if len(r.Values) == 0 {
		return fmt.Errorf("%s rule needs at least one value", r.Kind)
	}
	for _, v := range r.Values {
		if v == "" {
			return fmt.Errorf("%s rule has an empty value", r.Kind)
		}
		if r.Kind == KindEmail && strings.Contains(v, "*") && !strings.HasPrefix(v, "*@") {
			return fmt.Errorf("email pattern %q: only *@domain is supported", v)
		}
	}
	return nil
}

// Matches reports whether u, authenticated by method, matches the rule.
func (r Rule) Matches(u *store.User, method string) bool {
	for _, v := range r.Values {
		switch r.Kind {
		case KindMethod:
			if v == method || v == "oauth" && strings.HasPrefix(method, store.AuthOAuthPrefix) {
				return true
			}
		case KindUser:
			if u.ID == v {
				return true
			}
		case KindEmail:
			if dom, ok := strings.CutPrefix(v, "*@"); ok {
				at := strings.LastIndexByte(u.Email, '@')
				// ASCII case only: strings.EqualFold takes the Kelvin
				// sign for "k" (a look-alike would pass another's rule).
				if at >= 0 && store.EqualEmail(u.Email[at+1:], dom) {
					return true
				}
			} else if store.EqualEmail(u.Email, v) {
				return true
			}
		case KindGroup, KindRole:
			for _, g := range u.Groups {
				if g == v {
					return true
				}
			}
		}
	}
	return false
}

// Policy is a site's rules. Deny wins; with no allow rules every
// authenticated user is allowed; with allow rules one must match.
type Policy struct {
	Allow []Rule `json:"allow,omitempty"`
	Deny  []Rule `json:"deny,omitempty"`
}

// Validate checks every rule.
func (p *Policy) Validate() error {
	for _, r := range p.Allow {
		if err := r.Validate(); err != nil {
			return fmt.Errorf("allow: %w", err)
		}
	}
	for _, r := range p.Deny {
		if err := r.Validate(); err != nil {
			return fmt.Errorf("deny: %w", err)
		}
	}
	return nil
}

// Allowed reports whether u, authenticated by method (a session's first
// factor, or api_key), may pass.
func (p *Policy) Allowed(u *store.User, method string) bool {
	for _, r := range p.Deny {
		if r.Matches(u, method) {
			return false
		}
	}
	if len(p.Allow) == 0 {
		return true
	}
	for _, r := range p.Allow {
		if r.Matches(u, method) {
			return true
		}
	}
	return false
}
