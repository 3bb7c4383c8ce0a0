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
	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/methods"
	"github.com/caddyauth/gateway/internal/session"
	"github.com/caddyauth/gateway/store"
)

// The operator's controls on the command line: `caddy auth user
// show|delete|logout-all|unlock|reset-mfa`, `caddy auth methods ...` and
// `caddy auth sessions revoke --all`. They act on the same database (and
// session store) as the running servers, which notice within seconds.

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
				}
				fmt.Fprintf(tw, "name\t%s\n", u.Name)
				fmt.Fprintf(tw, "groups\t%s\n", strings.Join(u.Groups, ","))
				fmt.Fprintf(tw, "status\t%s\n", u.Status)
				fmt.Fprintf(tw, "password\t%v\n", u.PasswordHash != "")
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

// sessionStore is the server's session store for the CLI (opened by
// loadEnv); done releases it. Sessions in a server's memory are out of
// reach.
func (e *cliEnv) sessionStore() (store.SessionStore, func(), error) {
	if e.app.sessionsBackend() == "memory" {
		return nil, nil, errors.New("sessions are kept in the server's memory (sessions memory): restart it to end them")
	}
	return e.stores.sessions, func() {}, nil
}

// sessionManager is a session manager over the configured store that tells
// running instances about revocations (Redis pub/sub) like a server does.
func (e *cliEnv) sessionManager() (*session.Manager, func(), error) {
	ss, done, err := e.sessionStore()
	if err != nil {
		return nil, nil, err
	}
	mgr, err := session.New(ss, e.db, session.Config{CacheTTL: -1})
	if err != nil {
		done()
		return nil, nil, err
	}
	if bus := e.stores.revocations; bus != nil {
		mgr.SetBroadcaster(bus)
	}
	return mgr, done, nil
}

// revokeAll ends every session of every user (the leaked-secret runbook).
func (e *cliEnv) revokeAll(ctx context.Context) (int, error) {
	mgr, done, err := e.sessionManager()
	if err != nil {
		return 0, err
	}
	defer done()
	users, err := e.db.ListUsers(ctx)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, u := range users {
		n, err := mgr.RevokeUser(ctx, u.ID)
		total += n
		if err != nil {
			return total, fmt.Errorf("after %d session(s): %w", total, err)
		}
	}
	return total, nil
}

// revokeAllCommand is `caddy auth sessions revoke --all`.
func revokeAllCommand(c *cobra.Command) error {
	env, err := loadEnv(c)
	if err != nil {
		return err
	}
	defer env.Close()
	n, err := env.revokeAll(c.Context())
	if err != nil {
		return err
	}
	env.record(c.Context(), audit.Event{Type: audit.LogoutAll, Reason: "all_users", Detail: map[string]string{"sessions": fmt.Sprint(n)}})
	fmt.Fprintf(c.OutOrStdout(), "%d session(s) revoked for every user\n", n)
	return nil
}
