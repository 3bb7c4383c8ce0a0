package caddyauth

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"

	"github.com/caddyauth/gateway/flows"
)

// parseAssertion parses the rest of an `assertion [header <name>]` line of
// protect (contract).
func parseAssertion(h httpcaddyfile.Helper) (*flows.AssertionConfig, error) {
	args := h.RemainingArgs()
	a := &flows.AssertionConfig{}
	switch {
	case len(args) == 0:
	case len(args) == 2 && args[0] == "header":
		a.Header = args[1]
	default:
		return nil, h.Errf("protect: assertion takes nothing or `header <name>`")
	}
	if err := flows.CheckAssertionHeader(a.Header); err != nil {
		return nil, h.Errf("protect: %v", err)
	}
	return a, nil
}
