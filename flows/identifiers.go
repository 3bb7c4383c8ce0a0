package flows

// The rules for what people type and identity providers claim (emails,
// phones, group names), in one place for the login, setup, OAuth, the
// admin API and the CLI.

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/caddyauth/gateway/store"
)

// userView is what the API tells a client about its own account.
type userView struct {
	ID     string   `json:"id"`
	Email  string   `json:"email"`
	Name   string   `json:"name"`
	Groups []string `json:"groups"`
}

func viewOf(u *store.User) userView {
	g := u.Groups
	if g == nil {
		g = []string{}
	}
	return userView{ID: u.ID, Email: u.Email, Name: u.Name, Groups: g}
}

// NormalizeEmail is the one place emails are canonicalised (trimmed, ASCII
// case folded, nothing else: store.NormalizeEmail) before lookup or storage.
func NormalizeEmail(e string) string { return store.NormalizeEmail(e) }

// auditIdentifier is what a failed login records of the identifier that was
// typed: the email when it looks like one, otherwise a marker. A password
// typed into the email field must not be kept in the audit trail for years.
func auditIdentifier(email string) string {
	if ValidEmail(email) {
		return email
	}
	return "(not an email address)"
}

// ValidGroup is the rule for group names, wherever they come from (CLI,
// identity provider claims): not empty, at most 128 bytes, valid UTF-8,
// and no comma, whitespace or control character, so Remote-Groups
// (comma-separated) always splits back into the same groups.
func ValidGroup(g string) bool {
	if g == "" || len(g) > 128 || !utf8.ValidString(g) {
		return false
	}
	for _, c := range g {
		if c == ',' || unicode.IsSpace(c) || unicode.IsControl(c) {
			return false
		}
	}
	return true
}

// cleanGroups keeps the valid group names of a provider's claim and logs
// how many it dropped (never their values: a claim is untrusted input).
func (s *Service) cleanGroups(groups []string, provider string) []string {
	out := make([]string, 0, len(groups))
	for _, g := range groups {
		if ValidGroup(g) && !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	if dropped := len(groups) - len(out); dropped > 0 {
		s.log.Warn("dropped group names from an identity provider claim (empty, duplicate, or with commas, spaces or control characters)",
			zap.String("provider", provider), zap.Int("dropped", dropped))
	}
	return out
}

// NormalizePhone drops the spaces, dashes, dots and parentheses people type
// inside a number ("+1 (555) 010-0000"), leaving E.164 if it was one.
func NormalizePhone(p string) string {
	return strings.Map(func(c rune) rune {
		switch c {
		case ' ', '-', '.', '(', ')':
			return -1
		}
		return c
	}, strings.TrimSpace(p))
}

// ValidPhone checks the E.164 shape: "+", a non-zero digit, 8 to 15 digits
// in all.
func ValidPhone(p string) bool {
	if len(p) < 9 || len(p) > 16 || p[0] != '+' || p[1] == '0' {
		return false
	}
	for _, c := range p[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// ValidEmail is a deliberately loose shape check; delivery verification is
// the real test. Only ASCII addresses pass (store.ASCIIEmail): look-alike
// letters must not make a second account that reads as someone else's.
func ValidEmail(e string) bool {
	at := strings.LastIndexByte(e, '@')
	return at > 0 && at < len(e)-1 && len(e) <= 254 && store.ASCIIEmail(e) && !strings.ContainsAny(e, " \t\r\n<>\"(),;:\\[]")
}
