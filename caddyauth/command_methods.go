package caddyauth

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/methods"
)

// methodsCommand: `caddy auth methods list|enable|disable`.
func methodsCommand() *cobra.Command {
	m := &cobra.Command{
		Use:   "methods",
		Short: "Turn auth methods (password, oauth:<provider>, registration) off and on at runtime",
		Long: `The switch lives in the database every instance shares; running servers
re-read it every 2 seconds. A method nobody switched is enabled: the switch
can turn off what the configuration offers, never add what it does not.
Only the configuration's methods exist here: password, oauth:<name> for each
configured oauth/oidc provider, and registration when a provider may create
accounts (signup on or allowed_domains); "methods list" shows them.`,
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "Show which auth methods are enabled",
		RunE: func(c *cobra.Command, _ []string) error {
			env, err := loadEnv(c)
			if err != nil {
				return err
			}
			defer env.Close()
			states, err := methods.New(env.db, -1, env.app.offeredMethods()).List(c.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(c.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "METHOD\tSTATE")
			for _, s := range states {
				state := "enabled"
				if !s.Enabled {
					state = "disabled"
				}
				fmt.Fprintf(tw, "%s\t%s\n", s.Method, state)
			}
			return tw.Flush()
		},
	}
	configFlags(list)
	set := func(enabled bool) *cobra.Command {
		verb, typ := "disable", audit.MethodDisabled
		if enabled {
			verb, typ = "enable", audit.MethodEnabled
		}
		cmd := &cobra.Command{
			Use:   verb + " <method>",
			Short: strings.ToUpper(verb[:1]) + verb[1:] + " an auth method on every instance within seconds",
			Args:  cobra.ExactArgs(1),
			RunE: func(c *cobra.Command, args []string) error {
				env, err := loadEnv(c)
				if err != nil {
					return err
				}
				defer env.Close()
				// Only a method this configuration offers: a typo
				// (oauth:githb) is refused, not stored and audited.
				if err := methods.New(env.db, -1, env.app.offeredMethods()).Set(c.Context(), args[0], enabled); err != nil {
					return err
				}
				env.record(c.Context(), audit.Event{Type: typ, Detail: map[string]string{"method": args[0]}})
				fmt.Fprintf(c.OutOrStdout(), "%s %sd; running instances follow within %s\n", args[0], verb, methods.DefaultTTL)
				return nil
			},
		}
		configFlags(cmd)
		return cmd
	}
	m.AddCommand(list, set(false), set(true))
	return m
}
