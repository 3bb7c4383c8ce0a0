package caddyauth

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/caddyauth/gateway/flows"
	"github.com/caddyauth/gateway/store"
)

// approveCommand is `caddy auth user approve <email>`: let a registered,
// verified account in (`registration { approval }`).
func approveCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "approve <email>",
		Short: "Approve a registered account waiting for an administrator",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return withUser(c, args[0], func(env *cliEnv, u *store.User) error {
				err := env.accounts().Approve(c.Context(), cliActor, u)
				switch {
				case errors.Is(err, flows.ErrEmailUnverified):
					return fmt.Errorf("user %s has not verified their email address yet", u.Email)
				case errors.Is(err, flows.ErrNotAwaitingApproval):
					return fmt.Errorf("user %s is %s, not waiting for approval", u.Email, u.Status)
				case err != nil:
					return err
				}
				fmt.Fprintf(c.OutOrStdout(), "user %s is approved and active\n", u.Email)
				return nil
			})
		},
	}
	configFlags(cmd)
	return cmd
}
