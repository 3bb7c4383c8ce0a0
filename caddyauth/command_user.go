package caddyauth

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/caddyauth/gateway/flows"
	"github.com/caddyauth/gateway/internal/password"
	"github.com/caddyauth/gateway/store"
)

// The operator's controls on the command line: `caddy auth user
// show|delete|logout-all|unlock|reset-mfa` here, `caddy auth methods ...`
// in command_methods.go and `caddy auth sessions revoke --all` in
// command_sessions.go. They act on the same database (and session store)
// as the running servers, which notice within seconds.

// adminUserCommands are the `user` subcommands added by the admin feature.
func adminUserCommands() []*cobra.Command {
	show := &cobra.Command{
		Use:   "show <email>",
		Short: "Show a user, their sessions and lockouts",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return withUser(c, args[0], func(env *cliEnv, u *store.User) error {
				tw := tabwriter.NewWriter(c.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintf(tw, "id\t%s\n", u.ID)
				fmt.Fprintf(tw, "email\t%s\n", u.Email)
				if u.Phone != "" {
					fmt.Fprintf(tw, "phone\t%s\n", u.Phone)
					fmt.Fprintf(tw, "phone verified\t%v\n", !u.PhoneVerifiedAt.IsZero())
				}
				fmt.Fprintf(tw, "name\t%s\n", u.Name)
				fmt.Fprintf(tw, "groups\t%s\n", strings.Join(u.Groups, ","))
				fmt.Fprintf(tw, "status\t%s\n", u.Status)
				fmt.Fprintf(tw, "password\t%v\n", u.PasswordHash != "")
				if u.PasswordHash != "" {
					// An imported hash stays in its format until the
					// user's next sign-in rehashes it to argon2id.
					fmt.Fprintf(tw, "password hash\t%s\n", orUnknown(password.Scheme(u.PasswordHash)))
				}
				fmt.Fprintf(tw, "email verified\t%v\n", !u.EmailVerifiedAt.IsZero())
				fmt.Fprintf(tw, "created\t%s\n", u.CreatedAt.UTC().Format(time.RFC3339))
				fmt.Fprintf(tw, "updated\t%s\n", u.UpdatedAt.UTC().Format(time.RFC3339))
				if err := tw.Flush(); err != nil {
					return err
				}
				ss, done, err := env.sessionStore()
				if err != nil {
					fmt.Fprintf(c.OutOrStdout(), "sessions\t(%v)\n", err)
					return nil
				}
				defer done()
				list, err := ss.ListUserSessions(c.Context(), u.ID)
				if err != nil {
					return err
				}
				fmt.Fprintf(c.OutOrStdout(), "\n%d session(s)\n", len(list))
				tw = tabwriter.NewWriter(c.OutOrStdout(), 0, 4, 2, ' ', 0)
				if len(list) > 0 {
					fmt.Fprintln(tw, "ID\tCREATED\tLAST SEEN\tIP\tMETHOD\tMFA")
				}
				for _, s := range list {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.ID[:16], s.CreatedAt.UTC().Format(time.RFC3339),
						s.LastSeenAt.UTC().Format(time.RFC3339), s.IP, s.AuthMethod, s.MFAMethod)
				}
				return tw.Flush()
			})
		},
	}
	configFlags(show)

	del := &cobra.Command{
		Use:   "delete <email> [--yes]",
		Short: "Delete a user and everything that hangs off it (sessions, factors, tokens)",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return withUser(c, args[0], func(env *cliEnv, u *store.User) error {
				if yes, _ := c.Flags().GetBool("yes"); !yes {
					fmt.Fprintf(c.ErrOrStderr(), "Delete %s (%s) for good? Type the email again to confirm: ", u.Email, u.ID)
					line, _ := bufio.NewReader(c.InOrStdin()).ReadString('\n')
					if flows.NormalizeEmail(line) != u.Email {
						return errors.New("not confirmed; nothing deleted (use --yes in scripts)")
					}
				}
				acc := env.accounts()
				acc.Sessions = revokerFunc(func(ctx context.Context, userID string) (int, error) {
					if env.app.sessionsBackend() == "memory" {
						// In-memory sessions die with the user: a server
						// drops sessions whose user is gone.
						return 0, nil
					}
					n, err := env.revokeSessions(ctx, userID)
					if err != nil {
						return n, fmt.Errorf("revoking sessions failed, nothing deleted: %w", err)
					}
					return n, nil
				})
				n, err := acc.Delete(c.Context(), cliActor, u)
				if cause := missedStep(err); cause != nil {
					fmt.Fprintf(c.ErrOrStderr(), "warning: lockout entries not cleared: %v\n", cause)
				} else if err != nil {
					return err
				}
				fmt.Fprintf(c.OutOrStdout(), "deleted user %s; %d session(s) revoked\n", u.Email, n)
				return nil
			})
		},
	}
	configFlags(del)
	del.Flags().Bool("yes", false, "Do not ask for confirmation")

	logoutAll := &cobra.Command{
		Use:   "logout-all <email>",
		Short: "End every session of a user, on every instance",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return withUser(c, args[0], func(env *cliEnv, u *store.User) error {
				n, err := env.accounts().LogoutAll(c.Context(), cliActor, u)
				if err != nil {
					return err
				}
				fmt.Fprintf(c.OutOrStdout(), "%d session(s) of %s revoked\n", n, u.Email)
				return nil
			})
		},
	}
	configFlags(logoutAll)

	unlock := &cobra.Command{
		Use:   "unlock <email>",
		Short: "Lift the login lockout of an email, from every address, on every instance",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			env, err := loadEnv(c)
			if err != nil {
				return err
			}
			defer env.Close()
			// Unknown emails can be locked too (the lockout does not
			// reveal who exists), so no user lookup is required.
			email := flows.NormalizeEmail(args[0])
			n, err := env.accounts().Unlock(c.Context(), cliActor, email)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "%s unlocked (%d locked address(es) cleared)\n", email, n)
			return nil
		},
	}
	configFlags(unlock)

	resetMFA := &cobra.Command{
		Use:   "reset-mfa <email>",
		Short: "Remove a user's authenticators, recovery codes and trusted devices, and end their sessions",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return withUser(c, args[0], func(env *cliEnv, u *store.User) error {
				// Refused before anything changes when the sessions are
				// out of reach (in a server's memory).
				if _, _, err := env.sessionStore(); err != nil {
					return err
				}
				if err := env.accounts().ResetMFA(c.Context(), cliActor, u); err != nil {
					return err
				}
				fmt.Fprintf(c.OutOrStdout(), "MFA reset for %s; factors removed, sessions revoked\n", u.Email)
				return nil
			})
		},
	}
	configFlags(resetMFA)
	return []*cobra.Command{show, del, logoutAll, unlock, resetMFA}
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
