package caddyauth

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/caddyauth/gateway/flows"
	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/internal/password"
	"github.com/caddyauth/gateway/store"
	sqlstore "github.com/caddyauth/gateway/store/sql"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "auth",
		Usage: "user|sessions|apikey|methods|secret|audit ...",
		Short: "Manage caddyauth users, sessions and secrets; verify the audit trail",
		Long: `Manage caddyauth from the command line. The commands read the same
config as the server (--config, --adapter), so they open the same database.`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.AddCommand(userCommand(), sessionsCommand(), apikeyCommand(), methodsCommand(), secretCommand(), auditCommand())
		},
	})
}

func configFlags(c *cobra.Command) {
	c.Flags().StringP("config", "c", "", "Caddy config file (the server's)")
	c.Flags().StringP("adapter", "a", "", "Config adapter (default: caddyfile for files named Caddyfile*)")
}

// cliEnv is what a command needs: the app config and its stores.
type cliEnv struct {
	app *App
	db  *sqlstore.DB
	// stores are the server's stores, opened as Provision opens them.
	stores *backend
	// audit records what the command did (actor "cli"): the chain over
	// the database when the secret resolves, else a recorder that fails.
	audit audit.Recorder
	chain *audit.Chain // closed by Close (flushes the sinks)
	// breach is the config's breached-password check (nil: none).
	breach *flows.BreachCheck
}

// record writes an audit event for a CLI action. A failure is reported on
// stderr but does not undo the action, which has already happened.
func (e *cliEnv) record(ctx context.Context, ev audit.Event) {
	if ev.Actor == "" {
		ev.Actor = "cli"
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	if err := e.audit.Record(ctx, ev); err != nil {
		fmt.Fprintf(os.Stderr, "warning: audit record not written: %v\n", err)
	}
}

func (e *cliEnv) Close() {
	if e.chain != nil {
		_ = e.chain.Close()
	}
	if e.stores != nil {
		e.stores.Close()
	}
}

// loadEnv reads the config like `caddy run` would and opens its stores
// with openBackend, as the server does.
// Without --config it uses ./Caddyfile when there is one, else the defaults.
func loadEnv(c *cobra.Command) (*cliEnv, error) {
	cfgFile, _ := c.Flags().GetString("config")
	adapter, _ := c.Flags().GetString("adapter")
	if cfgFile == "" && adapter == "" {
		if _, err := os.Stat("Caddyfile"); err == nil {
			cfgFile, adapter = "Caddyfile", "caddyfile"
		}
	}
	app := new(App)
	if cfgFile != "" || adapter != "" {
		raw, _, _, err := caddycmd.LoadConfig(cfgFile, adapter)
		if err != nil {
			return nil, err
		}
		var full struct {
			Apps map[string]json.RawMessage `json:"apps"`
		}
		if err := json.Unmarshal(raw, &full); err != nil {
			return nil, fmt.Errorf("reading config: %w", err)
		}
		if a, ok := full.Apps["caddyauth"]; ok {
			if err := json.Unmarshal(a, app); err != nil {
				return nil, fmt.Errorf("reading caddyauth config: %w", err)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := openBackend(ctx, app)
	if err != nil {
		return nil, err
	}
	env := &cliEnv{app: app, db: b.db, stores: b}
	if env.breach, err = app.breachCheck(func(err error) {
		fmt.Fprintf(c.ErrOrStderr(), "warning: the breached-password check could not be done (on_error allow: the password is accepted): %v\n", err)
	}); err != nil {
		b.Close()
		return nil, err
	}
	env.openAudit()
	return env, nil
}

// withUser opens the environment, finds the user by email and runs fn.
func withUser(c *cobra.Command, email string, fn func(env *cliEnv, u *store.User) error) error {
	env, err := loadEnv(c)
	if err != nil {
		return err
	}
	defer env.Close()
	u, err := env.lookup(c.Context(), email)
	if err != nil {
		return err
	}
	return fn(env, u)
}

func userCommand() *cobra.Command {
	user := &cobra.Command{Use: "user", Short: "Add, list, disable users and set passwords"}

	add := &cobra.Command{
		Use:   "add --email <email> [--name <name>] [--phone <+E.164> [--phone-verified]] [--group <group>]... [--must-change-password] [--unverified] --password-stdin",
		Short: "Create a user (reads the password from standard input)",
		RunE: func(c *cobra.Command, _ []string) error {
			email, _ := c.Flags().GetString("email")
			name, _ := c.Flags().GetString("name")
			groups, _ := c.Flags().GetStringArray("group")
			phone, _ := c.Flags().GetString("phone")
			in := flows.NewAccount{Email: email, Name: name, Phone: phone, Groups: groups}
			if err := profileError(flows.CheckProfile(&in), in); err != nil {
				return err
			}
			env, err := loadEnv(c)
			if err != nil {
				return err
			}
			defer env.Close()
			acc := env.accounts()
			if in.Password, err = passwordFromStdin(c, append([]string{in.Email, in.Name}, env.app.ContextWords...)...); err != nil {
				return err
			}
			u, err := acc.Draft(c.Context(), in)
			if err != nil {
				return cliPasswordError(err)
			}
			u.MustChangePassword, _ = c.Flags().GetBool("must-change-password")
			// The operator vouches for the phone only when they say so:
			// an unverified phone gets no SMS and no sign-in.
			if pv, _ := c.Flags().GetBool("phone-verified"); pv {
				if u.Phone == "" {
					return errors.New("--phone-verified needs --phone")
				}
				u.PhoneVerifiedAt = u.CreatedAt
			}
			// An account an operator makes counts as verified (issue 12
			// item 2) unless they say otherwise; `require verified_email`
			// sites then refuse it until the user verifies.
			if unv, _ := c.Flags().GetBool("unverified"); !unv {
				u.EmailVerifiedAt = u.CreatedAt
			}
			if err := acc.Create(c.Context(), cliActor, u); err != nil {
				if errors.Is(err, store.ErrConflict) {
					if u.Phone != "" {
						return fmt.Errorf("a user with email %s or phone %s already exists", u.Email, u.Phone)
					}
					return fmt.Errorf("a user with email %s already exists", u.Email)
				}
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "created user %s (%s)\n", u.Email, u.ID)
			return nil
		},
	}
	configFlags(add)
	add.Flags().String("email", "", "Email address (login name)")
	add.Flags().String("name", "", "Display name")
	add.Flags().String("phone", "", "Mobile number in E.164 form (+15551234567), for SMS codes once verified")
	add.Flags().Bool("phone-verified", false, "Count --phone as verified (the operator vouches for it): it may receive SMS codes and sign in")
	add.Flags().StringArray("group", nil, "Group (repeatable)")
	add.Flags().Bool("password-stdin", false, "Read the password from standard input")
	add.Flags().Bool("must-change-password", false, "Require a new password at the first sign-in")
	add.Flags().Bool("unverified", false, "Do not count the email as verified (`require verified_email` sites refuse the user until they verify it)")

	list := &cobra.Command{
		Use:   "list",
		Short: "List users",
		RunE: func(c *cobra.Command, _ []string) error {
			env, err := loadEnv(c)
			if err != nil {
				return err
			}
			defer env.Close()
			users, err := env.db.ListUsers(c.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(c.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "EMAIL\tNAME\tGROUPS\tSTATUS\tID")
			for _, u := range users {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.Email, u.Name, strings.Join(u.Groups, ","), u.Status, u.ID)
			}
			return tw.Flush()
		},
	}
	configFlags(list)

	setStatus := func(use, status, short string) *cobra.Command {
		cmd := &cobra.Command{
			Use:   use + " <email>",
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: func(c *cobra.Command, args []string) error {
				return withUser(c, args[0], func(env *cliEnv, u *store.User) error {
					n, err := env.accounts().SetStatus(c.Context(), cliActor, u, status)
					msg := fmt.Sprintf("user %s is now %s", u.Email, status)
					if cause := missedStep(err); cause != nil {
						return fmt.Errorf("%s, but revoking sessions failed: %w", msg, cause)
					} else if err != nil {
						return err
					}
					if status == store.StatusDisabled {
						env.recordRevoked(c.Context(), u, n)
						msg += fmt.Sprintf("; %d session(s) revoked", n)
					}
					fmt.Fprintln(c.OutOrStdout(), msg)
					return nil
				})
			},
		}
		configFlags(cmd)
		return cmd
	}

	passwd := &cobra.Command{
		Use:   "passwd <email> [--must-change-password] --password-stdin",
		Short: "Set a user's password (reads it from standard input) and end their sessions",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			pw, err := passwordFromStdin(c, args[0])
			if err != nil {
				return err
			}
			return withUser(c, args[0], func(env *cliEnv, u *store.User) error {
				// Checked again (by the service) now that the account's
				// name is known.
				n, err := env.accounts().SetPassword(c.Context(), cliActor, u, pw)
				if cause := missedStep(err); errors.Is(err, flows.ErrSessionsNotRevoked) {
					return fmt.Errorf("password changed, but revoking sessions failed: %w", cause)
				} else if errors.Is(err, flows.ErrDevicesNotForgotten) {
					return fmt.Errorf("password changed, but forgetting trusted devices failed: %w", cause)
				} else if err != nil {
					return cliPasswordError(err)
				}
				env.recordRevoked(c.Context(), u, n)
				fmt.Fprintf(c.OutOrStdout(), "password changed for %s; %d session(s) revoked, trusted devices forgotten\n", u.Email, n)
				if must, _ := c.Flags().GetBool("must-change-password"); must {
					if err := env.accounts().RequirePasswordChange(c.Context(), cliActor, u, true); err != nil {
						return fmt.Errorf("password changed, but requiring a new one at sign-in failed: %w", err)
					}
					fmt.Fprintf(c.OutOrStdout(), "%s must choose a new password at the next sign-in\n", u.Email)
				}
				return nil
			})
		},
	}
	configFlags(passwd)
	passwd.Flags().Bool("password-stdin", false, "Read the password from standard input")
	passwd.Flags().Bool("must-change-password", false, "Require the user to choose a new password at the next sign-in")

	user.AddCommand(add, list,
		setStatus("disable", store.StatusDisabled, "Disable a user and end their sessions"),
		setStatus("enable", store.StatusActive, "Enable a disabled user"),
		passwd, inviteCommand(), approveCommand(), importCommand())
	user.AddCommand(adminUserCommands()...)
	return user
}

func sessionsCommand() *cobra.Command {
	s := &cobra.Command{Use: "sessions", Short: "Revoke sessions"}
	revoke := &cobra.Command{
		Use:   "revoke --user <email> | --all",
		Short: "End every session of a user (or of everyone), on every instance",
		RunE: func(c *cobra.Command, _ []string) error {
			email, _ := c.Flags().GetString("user")
			if all, _ := c.Flags().GetBool("all"); all {
				if email != "" {
					return errors.New("give --user or --all, not both")
				}
				return revokeAllCommand(c)
			}
			if email == "" {
				return errors.New("--user or --all is required")
			}
			return withUser(c, email, func(env *cliEnv, u *store.User) error {
				return logoutUser(c, env, u, func(n int) { env.recordRevoked(c.Context(), u, n) })
			})
		},
	}
	configFlags(revoke)
	revoke.Flags().String("user", "", "Email of the user")
	revoke.Flags().Bool("all", false, "Every session of every user (leaked-secret runbook)")
	s.AddCommand(revoke)
	return s
}

// logoutUser ends every session of u on every instance, records it with
// record and reports: `sessions revoke --user`, which records
// session.revoked (`user logout-all` goes through the account service and
// records logout_all).
func logoutUser(c *cobra.Command, env *cliEnv, u *store.User, record func(n int)) error {
	n, err := env.revokeSessions(c.Context(), u.ID)
	if err != nil {
		return err
	}
	record(n)
	fmt.Fprintf(c.OutOrStdout(), "%d session(s) of %s revoked\n", n, u.Email)
	return nil
}

func secretCommand() *cobra.Command {
	s := &cobra.Command{Use: "secret", Short: "Secrets"}
	gen := &cobra.Command{
		Use:   "generate",
		Short: "Print a new random master secret (256 bits, base64url)",
		RunE: func(c *cobra.Command, _ []string) error {
			fmt.Fprintln(c.OutOrStdout(), keys.NewToken())
			return nil
		},
	}
	reseal := &cobra.Command{
		Use:   "reseal --config <file>",
		Short: "Re-encrypt stored authenticator secrets under the current secret (run after a rotation, before dropping previous_secret)",
		RunE: func(c *cobra.Command, _ []string) error {
			env, err := loadEnv(c)
			if err != nil {
				return err
			}
			defer env.Close()
			ring, err := env.ring()
			if err != nil {
				return err
			}
			n, failed, err := resealTOTP(c.Context(), env.db, ring)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "%d authenticator secret(s) re-encrypted under the current secret\n", n)
			if failed > 0 {
				return fmt.Errorf("%d authenticator secret(s) open with neither secret: those users need `caddy auth user reset-mfa`", failed)
			}
			return nil
		},
	}
	configFlags(reseal)
	s.AddCommand(gen, reseal)
	return s
}

// recordRevoked records that every session of u was ended (n of them).
func (e *cliEnv) recordRevoked(ctx context.Context, u *store.User, n int) {
	e.record(ctx, audit.Event{
		Type: audit.SessionRevoked, UserID: u.ID, Email: u.Email,
		Detail: map[string]string{"scope": "all", "sessions": strconv.Itoa(n)},
	})
}

// resealTOTP seals every TOTP secret again under the current key (it opens
// with the current or the previous one) and reports how many it did and how
// many opened with neither.
func resealTOTP(ctx context.Context, st store.MFAStore, ring *keys.Ring) (n, failed int, err error) {
	devs, err := st.AllTOTP(ctx)
	if err != nil {
		return 0, 0, err
	}
	for _, d := range devs {
		secret, err := ring.Open("totp", d.Secret, []byte(d.UserID))
		if err != nil {
			failed++
			continue
		}
		if err := st.ResealTOTP(ctx, d.UserID, d.ID, ring.Seal("totp", secret, []byte(d.UserID))); err != nil {
			return n, failed, err
		}
		n++
	}
	return n, failed, nil
}

func (e *cliEnv) lookup(ctx context.Context, email string) (*store.User, error) {
	u, err := e.db.UserByEmail(ctx, flows.NormalizeEmail(email))
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("no user with email %s", email)
	}
	return u, err
}

// revokeSessions deletes a user's sessions in the configured session store
// and tells running instances (Redis pub/sub), which stop honouring them
// at once; without Redis, within the session cache TTL.
func (e *cliEnv) revokeSessions(ctx context.Context, userID string) (int, error) {
	ss, done, err := e.sessionStore()
	if err != nil {
		return 0, err
	}
	defer done()
	ids, err := ss.DeleteUserSessions(ctx, userID)
	if bus := e.stores.revocations; bus != nil && err == nil {
		// Running instances drop them from their caches now.
		_ = bus.PublishRevoked(ctx, ids)
	}
	return len(ids), err
}

// passwordFromStdin requires --password-stdin and reads a new password that
// the policy accepts with context.
func passwordFromStdin(c *cobra.Command, context ...string) (string, error) {
	if stdin, _ := c.Flags().GetBool("password-stdin"); !stdin {
		return "", errors.New("--password-stdin is required: pass the password on standard input, never as an argument")
	}
	return readPassword(c.InOrStdin(), context...)
}

// readPassword reads the whole of r and drops one trailing newline; the
// password is otherwise taken exactly as given (no trimming). It must pass
// the new-password policy with context.
func readPassword(r io.Reader, context ...string) (string, error) {
	b, err := io.ReadAll(bufio.NewReader(io.LimitReader(r, password.MaxLength+2)))
	if err != nil {
		return "", err
	}
	pw := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if err := flows.CheckNewPassword(pw, context...); err != nil {
		return "", err
	}
	return pw, nil
}

// profileError words a refusal of flows.CheckProfile for the flag that
// carries the field (in is normalised).
func profileError(err error, in flows.NewAccount) error {
	var ge *flows.GroupError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flows.ErrInvalidPhone):
		return fmt.Errorf("--phone: %q is not an E.164 number (+ and 8 to 15 digits)", in.Phone)
	case errors.Is(err, flows.ErrInvalidEmail):
		return fmt.Errorf("--email: %q is not an email address", in.Email)
	case errors.Is(err, flows.ErrInvalidName):
		return fmt.Errorf("--name: control characters are not allowed and at most %d bytes", flows.MaxNameLen)
	case errors.As(err, &ge):
		return fmt.Errorf("--group %q: group names cannot be empty or longer than 128 bytes, or contain commas, spaces or control characters", ge.Group)
	}
	return err
}
