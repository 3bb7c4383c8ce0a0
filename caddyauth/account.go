package caddyauth

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddyauth/gateway/flows"
)

// AccountConfig is the `account` option: the operator's switch for the
// self-service export (GET /auth/account/export) and deletion (POST
// /auth/account/delete). Both are on unless turned off here; `registration
// off` does not touch them (a closed site still owes its users their data
// and the way out).
type AccountConfig struct {
	// ExportOff and DeleteOff remove the route (404 NOT_FOUND).
	ExportOff bool `json:"export_off,omitempty"`
	DeleteOff bool `json:"delete_off,omitempty"`
}

// parseAccount parses `account { export on|off  delete on|off }`.
func parseAccount(d *caddyfile.Dispenser) (*AccountConfig, error) {
	if d.NextArg() {
		return nil, d.Err("caddyauth: account takes a block: account { export on|off  delete on|off }")
	}
	c := new(AccountConfig)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		switch opt {
		case "export", "delete":
		default:
			return nil, d.Errf("caddyauth: account: unknown option %q (want export or delete)", opt)
		}
		v, err := oneArg(d)
		if err != nil {
			return nil, err
		}
		var off bool
		switch v {
		case "on":
		case "off":
			off = true
		default:
			return nil, d.Errf("caddyauth: account %s %q (want on or off)", opt, v)
		}
		if opt == "export" {
			c.ExportOff = off
		} else {
			c.DeleteOff = off
		}
	}
	return c, nil
}

// account is the flows' view of the option.
func (a *App) account() flows.AccountConfig {
	if a.Account == nil {
		return flows.AccountConfig{}
	}
	return flows.AccountConfig{ExportOff: a.Account.ExportOff, DeleteOff: a.Account.DeleteOff}
}
