package caddyauth

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/caddyserver/caddy/v2"
)

// secrets resolves the current and previous secrets.
func (a *App) secrets() (string, string, error) {
	secret, err := resolveSecret("secret", a.Secret, true)
	if err != nil {
		return "", "", err
	}
	if secret == "" && a.SecretFile != "" {
		b, err := os.ReadFile(a.SecretFile)
		if err != nil {
			return "", "", fmt.Errorf("caddyauth: secret_file: %w", err)
		}
		secret = strings.TrimSpace(string(b))
	}
	if secret == "" {
		return "", "", errors.New("caddyauth: no secret configured (or it resolved to empty): add `secret {env.CADDYAUTH_SECRET}` or `secret_file <path>` to the caddyauth global option; generate one with `caddy auth secret generate`")
	}
	previous, err := resolveSecret("previous_secret", a.PreviousSecret, false)
	if err != nil {
		return "", "", err
	}
	return secret, previous, nil
}

// placeholderRE matches a value that is one whole env or file placeholder,
// the only global placeholders that can hold a secret. Any other value,
// braces or not, is a literal.
var placeholderRE = regexp.MustCompile(`^\{(env|file)\.[^{}]+\}$`)

// isPlaceholder reports whether the secret option value v is a single
// placeholder such as {env.CADDYAUTH_SECRET} or {file./run/secrets/caddyauth}.
func isPlaceholder(v string) bool { return placeholderRE.MatchString(v) }

// mixesPlaceholder reports whether v holds an env or file placeholder
// along with other text, which a secret option does not support.
func mixesPlaceholder(v string) bool {
	return !isPlaceholder(v) && (strings.Contains(v, "{env.") || strings.Contains(v, "{file."))
}

// errMixedPlaceholder is the error for such a value of option opt.
func errMixedPlaceholder(opt string) error {
	return fmt.Errorf("caddyauth: %s: a placeholder must be the whole value, such as {env.CADDYAUTH_SECRET}", opt)
}

// resolveSecret resolves v when it is a single placeholder and returns any
// other value as written. Errors name the option and the placeholder, never
// a literal value. An empty placeholder is an error only when required.
func resolveSecret(opt, v string, required bool) (string, error) {
	if !isPlaceholder(v) {
		if mixesPlaceholder(v) {
			return "", errMixedPlaceholder(opt)
		}
		return v, nil
	}
	s, err := caddy.NewReplacer().ReplaceOrErr(v, required, true)
	if err != nil {
		return "", fmt.Errorf("caddyauth: %s: %w", opt, err)
	}
	return s, nil
}

// secretSource names where the failing secret came from (never its value),
// so the operator knows which placeholder or file to fix.
func (a *App) secretSource() string {
	if a.Secret == "" && a.SecretFile != "" {
		return "secret_file " + a.SecretFile
	}
	return secretOption("secret", a.Secret)
}

// secretOption echoes a placeholder such as {env.X}, never a literal value.
func secretOption(opt, v string) string {
	if isPlaceholder(v) {
		return opt + " " + v
	}
	return opt
}
