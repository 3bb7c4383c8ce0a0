package caddyauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/caddyauth/gateway/flows"
	"github.com/caddyauth/gateway/internal/notify"
	"github.com/caddyauth/gateway/store"
)

// inviteCommand: caddy auth user invite --config <f> --email <e> [--name]
// [--group]... [--url <portal>]. The link points at the portal the config
// serves (the first site with auth_portal, else with protect); --url
// names it when the config cannot (a catch-all site, a proxy in front).
func inviteCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "invite --email <email> [--name <name>] [--group <group>]... [--url <portal URL>]",
		Short: "Create an account without a password and email it a link to set one (7 days)",
		RunE: func(c *cobra.Command, _ []string) error {
			email, _ := c.Flags().GetString("email")
			name, _ := c.Flags().GetString("name")
			groups, _ := c.Flags().GetStringArray("group")
			portal, _ := c.Flags().GetString("url")
			env, err := loadEnv(c)
			if err != nil {
				return err
			}
			defer env.Close()
			if env.app.Email == nil {
				return errors.New("invitations are sent by email: the config has no `email` sender")
			}
			if portal == "" {
				if portal, err = portalFromConfig(c); err != nil {
					return err
				}
			}
			portal = strings.TrimSuffix(portal, "/")
			q, err := env.outbox()
			if err != nil {
				return err
			}
			inv := flows.Invitation{Grants: env.db, Outbox: q, Portal: portal}
			u, again, err := env.accounts().Invite(c.Context(), cliActor, flows.NewAccount{Email: email, Name: name, Groups: groups}, inv)
			switch {
			case errors.Is(err, flows.ErrNotInvitable), errors.Is(err, store.ErrConflict):
				return fmt.Errorf("a user with email %s exists and is not waiting for an invitation", email)
			case err != nil:
				return profileError(err, flows.NewAccount{Email: email, Name: name, Groups: groups})
			}
			verb := "invited"
			if again {
				verb = "invited again (the earlier link no longer works)"
			}
			fmt.Fprintf(c.OutOrStdout(), "%s %s (%s); the link goes out through the outbox\n", verb, u.Email, u.ID)
			return nil
		},
	}
	configFlags(cmd)
	cmd.Flags().String("email", "", "Email address of the new account")
	cmd.Flags().String("name", "", "Display name")
	cmd.Flags().StringArray("group", nil, "Group (repeatable)")
	cmd.Flags().String("url", "", "The portal's URL for the link (default: found in the config)")
	return cmd
}

// outbox is the server's outbox over the CLI's database: the running
// servers' workers deliver what it queues.
func (e *cliEnv) outbox() (notify.Queue, error) {
	r, err := e.ring()
	if err != nil {
		return nil, fmt.Errorf("queueing a message needs the server's secret: %w", err)
	}
	sealer, err := notify.NewSealer(r.Key("outbox"), r.VerifyKeys("outbox"))
	if err != nil {
		return nil, err
	}
	channels := []string{notify.Email}
	if e.app.SMS != nil {
		channels = append(channels, notify.SMS)
	}
	return notify.NewOutbox(e.db, sealer, channels...), nil
}

// portalFromConfig reads the config again, whole, for the portal's URL.
func portalFromConfig(c *cobra.Command) (string, error) {
	cfgFile, _ := c.Flags().GetString("config")
	adapter, _ := c.Flags().GetString("adapter")
	raw, _, _, err := caddycmd.LoadConfig(cfgFile, adapter)
	if err != nil {
		return "", err
	}
	u, ok := portalURLOf(raw)
	if !ok {
		return "", errors.New("no site with a host name serves the portal in this config: pass --url https://<host>/<base>")
	}
	return u, nil
}

// portalURLOf finds, in a Caddy JSON config, the first route with a host
// matcher whose handlers include auth_portal (else protect), and builds
// https://<host>[:<port>]<base> from it and its server's listen address.
func portalURLOf(raw []byte) (string, bool) {
	var cfg struct {
		Apps struct {
			HTTP struct {
				Servers map[string]struct {
					Listen []string          `json:"listen"`
					Routes []json.RawMessage `json:"routes"`
				} `json:"servers"`
			} `json:"http"`
		} `json:"apps"`
	}
	if json.Unmarshal(raw, &cfg) != nil {
		return "", false
	}
	for _, want := range []string{"auth_portal", "protect"} {
		for _, srv := range cfg.Apps.HTTP.Servers {
			for _, rt := range srv.Routes {
				var r struct {
					Match []struct {
						Host []string `json:"host"`
					} `json:"match"`
				}
				if json.Unmarshal(rt, &r) != nil || len(r.Match) == 0 || len(r.Match[0].Host) == 0 {
					continue
				}
				base, ok := handlerBase(rt, want)
				if !ok {
					continue
				}
				host := r.Match[0].Host[0]
				if strings.ContainsAny(host, "*") {
					continue
				}
				return "https://" + withPort(host, srv.Listen) + base, true
			}
		}
	}
	return "", false
}

// handlerBase looks for a handler named want anywhere under a route and
// returns its base path (default /auth).
func handlerBase(v json.RawMessage, want string) (string, bool) {
	var node any
	if json.Unmarshal(v, &node) != nil {
		return "", false
	}
	var walk func(any) (string, bool)
	walk = func(n any) (string, bool) {
		switch t := n.(type) {
		case map[string]any:
			if t["handler"] == want {
				base, _ := t["base"].(string)
				if base == "" {
					base = "/auth"
				}
				return flows.CleanBase(base), true
			}
			for _, c := range t {
				if b, ok := walk(c); ok {
					return b, true
				}
			}
		case []any:
			for _, c := range t {
				if b, ok := walk(c); ok {
					return b, true
				}
			}
		}
		return "", false
	}
	return walk(node)
}

// withPort adds the listen port unless it is 443.
func withPort(host string, listen []string) string {
	for _, l := range listen {
		if _, port, err := net.SplitHostPort(strings.TrimPrefix(l, "tcp/")); err == nil && port != "" && port != "443" && port != "80" {
			return net.JoinHostPort(host, port)
		}
	}
	return host
}
