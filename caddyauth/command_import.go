package caddyauth

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/caddyauth/gateway/flows"
	"github.com/caddyauth/gateway/internal/userimport"
)

// importCommand is `caddy auth user import`: accounts of an earlier
// application, with the password hashes they have (issue 12 item 7).
// Every row is judged before any is written; then all are created in one
// transaction. Formats, bounds and options: docs/configuration.md.
func importCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import [--dry-run] [--skip-existing] [--unverified] [--phone-verified] <file.jsonl|file.csv|->",
		Short: "Create users from a JSON lines or CSV file, keeping their bcrypt, argon2, PBKDF2 or scrypt password hashes",
		Long: `Create users from a file of accounts: JSON lines (.jsonl, .json: one
object a line, or one array) or CSV (.csv, a header row), with the fields
email, name, phone, groups and password_hash ("-" reads standard input;
without a known extension the first character decides). CSV groups are one
field separated by ";" or "," (quote a field holding a comma).

Hashes: bcrypt ($2a$, $2b$, $2y$), argon2id and argon2i ($argon2id$v=19$...),
PBKDF2-SHA256 as Django (pbkdf2_sha256$...), passlib ($pbkdf2-sha256$<rounds>$...)
or PHC ($pbkdf2-sha256$i=...) writes it, and passlib's scrypt
($scrypt$ln=..,r=..,p=..$...). Each is rehashed to argon2id at its first
sign-in. An empty password_hash makes an account without a password.

Every row is checked first; a bad row is reported with its line and nothing
is written. An existing email is an error unless --skip-existing.`,
		Args: cobra.ExactArgs(1),
		RunE: runImport,
	}
	configFlags(cmd)
	cmd.Flags().Bool("dry-run", false, "Check the file and print what would be done, writing nothing")
	cmd.Flags().Bool("skip-existing", false, "Leave accounts whose email exists as they are, instead of refusing the file")
	cmd.Flags().Bool("unverified", false, "Do not count the imported emails as verified")
	cmd.Flags().Bool("phone-verified", false, "Count the imported phones as verified (they may receive SMS codes and sign in)")
	return cmd
}

func runImport(c *cobra.Command, args []string) error {
	rows, err := readImportFile(c, args[0])
	if err != nil {
		return importRefused(err)
	}
	var opt flows.ImportOptions
	opt.SkipExisting, _ = c.Flags().GetBool("skip-existing")
	opt.Unverified, _ = c.Flags().GetBool("unverified")
	opt.PhoneVerified, _ = c.Flags().GetBool("phone-verified")
	dry, _ := c.Flags().GetBool("dry-run")
	env, err := loadEnv(c)
	if err != nil {
		return err
	}
	defer env.Close()
	acc := env.accounts()
	plan, err := acc.PlanImport(c.Context(), rows, opt)
	if err != nil {
		return importRefused(err)
	}
	out := c.OutOrStdout()
	for _, r := range plan.Rows {
		if !dry && r.Action == flows.ImportCreate {
			continue
		}
		detail := r.Scheme
		if r.Action == flows.ImportSkip {
			detail = r.Reason
		} else if detail == "" {
			detail = "no password"
		}
		fmt.Fprintf(out, "line %d: %s %s (%s)\n", r.Line, r.Action, r.Email, detail)
	}
	creates, skips := plan.Count(flows.ImportCreate), plan.Count(flows.ImportSkip)
	if dry {
		fmt.Fprintf(out, "dry run: %d user(s) to create, %d to skip; nothing written\n", creates, skips)
		return nil
	}
	n, err := acc.Import(c.Context(), cliActor, plan)
	if err != nil {
		return fmt.Errorf("import failed, %d user(s) created: %w", n, err)
	}
	fmt.Fprintf(out, "imported %d user(s), skipped %d\n", n, skips)
	return nil
}

func readImportFile(c *cobra.Command, name string) ([]userimport.Row, error) {
	if name == "-" {
		return userimport.Parse(name, c.InOrStdin())
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return userimport.Parse(name, f)
}

// importRefused says that nothing was written, then every reason.
func importRefused(err error) error {
	var ie *flows.ImportError
	var bad userimport.Errors
	var le *userimport.LineError
	if errors.As(err, &ie) || errors.As(err, &bad) || errors.As(err, &le) {
		return fmt.Errorf("import refused, nothing written:\n%w", err)
	}
	return fmt.Errorf("import refused, nothing written: %w", err)
}
