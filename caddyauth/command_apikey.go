package caddyauth

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/caddyauth/gateway/flows"
	"github.com/caddyauth/gateway/store"
)

// apikeyCommand is `caddy auth apikey create|list|revoke` (issue 13 item
// 3): the account service's key operations with actor "cli".
func apikeyCommand() *cobra.Command {
	k := &cobra.Command{Use: "apikey", Short: "Create, list and revoke API keys"}

	create := &cobra.Command{
		Use:   "create --user <email> --name <name> [--expires 90d]",
		Short: "Create an API key for a user; the key is printed once and never again",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			email, _ := c.Flags().GetString("user")
			name, _ := c.Flags().GetString("name")
			exp, _ := c.Flags().GetString("expires")
			if email == "" || name == "" {
				return errors.New("apikey create: --user and --name are required")
			}
			life, err := flows.ParseLifetime(exp)
			if err != nil {
				return fmt.Errorf("apikey create: --expires: %w", err)
			}
			return withUser(c, email, func(env *cliEnv, u *store.User) error {
				made, err := env.accounts().CreateAPIKey(c.Context(), cliActor, u, name, life)
				if err != nil {
					return fmt.Errorf("apikey create: %w", err)
				}
				// The key alone on stdout, so `key=$(caddy auth apikey create ...)` works;
				// what it is goes to stderr.
				fmt.Fprintln(c.OutOrStdout(), made.Value)
				expires := "never"
				if !made.Key.ExpiresAt.IsZero() {
					expires = made.Key.ExpiresAt.UTC().Format(time.RFC3339)
				}
				fmt.Fprintf(c.ErrOrStderr(), "created API key %s (%q) for %s, expires %s; it is not shown again\n",
					made.Key.ID, made.Key.Name, u.Email, expires)
				return nil
			})
		},
	}
	create.Flags().String("user", "", "Owner's email")
	create.Flags().String("name", "", "What the key is for")
	create.Flags().String("expires", "", `Lifetime: "90d" or a duration such as "720h" (default: no expiry)`)
	configFlags(create)

	list := &cobra.Command{
		Use:   "list [--user <email>]",
		Short: "List API keys, of one user or of everyone (never the keys themselves)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			email, _ := c.Flags().GetString("user")
			env, err := loadEnv(c)
			if err != nil {
				return err
			}
			defer env.Close()
			var users []*store.User
			if email != "" {
				u, err := env.lookup(c.Context(), email)
				if err != nil {
					return err
				}
				users = []*store.User{u}
			} else if users, err = env.db.ListUsers(c.Context()); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(c.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tOWNER\tCREATED\tEXPIRES\tLAST USED")
			for _, u := range users {
				keys, err := env.accounts().APIKeysOf(c.Context(), u)
				if err != nil {
					return err
				}
				for _, k := range keys {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, u.Email, k.CreatedAt.UTC().Format(time.RFC3339),
						timeOr(k.ExpiresAt, "never"), timeOr(k.LastUsedAt, "never"))
				}
			}
			return tw.Flush()
		},
	}
	list.Flags().String("user", "", "Owner's email")
	configFlags(list)

	revoke := &cobra.Command{
		Use:   "revoke <id> | --user <email> --all",
		Short: "Revoke an API key by its id, or every key of a user; refused on the next request everywhere",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			email, _ := c.Flags().GetString("user")
			all, _ := c.Flags().GetBool("all")
			switch {
			case len(args) == 1 && email == "" && !all:
			case len(args) == 0 && email != "" && all:
				return withUser(c, email, func(env *cliEnv, u *store.User) error {
					n, err := env.accounts().RevokeAllAPIKeys(c.Context(), cliActor, u)
					if err != nil {
						return fmt.Errorf("apikey revoke: %w (%d revoked before the failure)", err, n)
					}
					fmt.Fprintf(c.OutOrStdout(), "revoked %d API key(s) of %s\n", n, u.Email)
					return nil
				})
			default:
				return errors.New("apikey revoke: give a key id, or --user <email> --all")
			}
			env, err := loadEnv(c)
			if err != nil {
				return err
			}
			defer env.Close()
			k, err := env.db.APIKey(c.Context(), args[0])
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("apikey revoke: no API key %q", args[0])
			}
			if err != nil {
				return err
			}
			u, err := env.db.UserByID(c.Context(), k.UserID)
			if err != nil {
				return err
			}
			if err := env.accounts().RevokeAPIKey(c.Context(), cliActor, u, k.ID); err != nil {
				return fmt.Errorf("apikey revoke: %w", err)
			}
			fmt.Fprintf(c.OutOrStdout(), "revoked API key %s (%q) of %s\n", k.ID, k.Name, u.Email)
			return nil
		},
	}
	revoke.Flags().String("user", "", "With --all: the owner's email")
	revoke.Flags().Bool("all", false, "Revoke every key of --user")
	configFlags(revoke)

	k.AddCommand(create, list, revoke)
	return k
}

func timeOr(t time.Time, none string) string {
	if t.IsZero() {
		return none
	}
	return t.UTC().Format(time.RFC3339)
}
