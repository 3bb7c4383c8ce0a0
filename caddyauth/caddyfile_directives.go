package caddyauth

import (
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddyauth/gateway/flows"
	"github.com/caddyauth/gateway/internal/policy"
)

// The site directives' parsers (auth_portal, protect); the global option's
// are in caddyfile.go.

// parsePortal parses:
//
//	auth_portal [<base>] {
//	    verify <host>[:<port>][/<path prefix>] [{ <protect options> }]
//	}
func parsePortal(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	p := new(Portal)
	h.Next()
	if h.NextArg() {
		p.Base = h.Val()
		if err := checkBase("auth_portal", p.Base); err != nil {
			return nil, h.Err(err.Error())
		}
	}
	if h.NextArg() {
		return nil, h.ArgErr()
	}
	for h.NextBlock(0) {
		if h.Val() != "verify" {
			return nil, h.Errf("auth_portal: unknown option %q (want verify)", h.Val())
		}
		l, err := parseVerifyLine(h)
		if err != nil {
			return nil, err
		}
		p.Verify = append(p.Verify, l)
	}
	return p, nil
}

// parseProtect parses:
//
//	protect [<matcher>] {
//	    base <path>                      # portal base path, default /auth
//	    portal <url>                     # send anonymous browsers to another host's portal
//	    allow user|email|group|role|method <values...>
//	    deny  user|email|group|role|method <values...>
//	    public <paths...>                # exact, or prefix with a trailing *
//	    header <Name> [<template>]       # no template: do not send that header
//	    require mfa                      # only sessions that passed a second factor
//	    require verified_email           # only users whose email is verified
//	    assertion [header <name>]        # a signed identity JWT, default Remote-Assertion
//	}
func parseProtect(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	p := new(Protect)
	h.Next()
	if h.NextArg() {
		return nil, h.ArgErr()
	}
	for h.NextBlock(0) {
		opt := h.Val()
		switch opt {
		case "base":
			v, err := oneArg(h.Dispenser)
			if err != nil {
				return nil, err
			}
			if err := checkBase("protect", v); err != nil {
				return nil, h.Err(err.Error())
			}
			p.Base = v
		case "portal":
			v, err := oneArg(h.Dispenser)
			if err != nil {
				return nil, err
			}
			if p.Portal, err = portalURL(v); err != nil {
				return nil, h.Errf("%v", err)
			}
		case "allow", "deny":
			args := h.RemainingArgs()
			if len(args) < 2 {
				return nil, h.Errf("protect: %s needs a kind (user, email, group, role, method) and at least one value", opt)
			}
			rule := policy.Rule{Kind: args[0], Values: args[1:]}
			if err := rule.Validate(); err != nil {
				return nil, h.Errf("protect: %s: %v", opt, err)
			}
			if opt == "allow" {
				p.Allow = append(p.Allow, rule)
			} else {
				p.Deny = append(p.Deny, rule)
			}
		case "public":
			paths := h.RemainingArgs()
			if len(paths) == 0 {
				return nil, h.ArgErr()
			}
			for _, pth := range paths {
				if !strings.HasPrefix(pth, "/") {
					return nil, h.Errf("protect: public path %q must start with /", pth)
				}
			}
			p.Public = append(p.Public, paths...)
		case "header":
			args := h.RemainingArgs()
			if len(args) < 1 || len(args) > 2 {
				return nil, h.ArgErr()
			}
			ht := flows.HeaderTemplate{Name: args[0]}
			if len(args) == 2 {
				ht.Template = args[1]
			}
			p.Headers = append(p.Headers, ht)
		case "require":
			what, err := oneArg(h.Dispenser)
			if err != nil {
				return nil, err
			}
			switch what {
			case "mfa":
				p.RequireMFA = true
			case "verified_email":
				p.RequireVerifiedEmail = true
			default:
				return nil, h.Errf("protect: require %q: want `require mfa` or `require verified_email`", what)
			}
		case "assertion":
			a, err := parseAssertion(h)
			if err != nil {
				return nil, err
			}
			p.Assertion = a
		default:
			return nil, h.Errf("protect: unknown option %q", opt)
		}
	}
	return p, nil
}
