// Package disposable tells whether an email domain belongs to a disposable
// (throw-away) mail service, for the `registration { disposable ... }` option.
//
// The built-in list (domains.txt, embedded) comes from the CC0 list at
// https://github.com/disposable-email-domains/disposable-email-domains; its
// header names the commit and date. An operator file adds domains (one per
// line) or allows them (a line "-domain"); "#" starts a comment.
//
// A domain matches when it or one of its parent domains is listed, so
// "x.mailinator.com" is disposable because "mailinator.com" is. The most
// specific listed name decides: an allowed "corp.example" wins over a listed
// "example", and a listed "tmp.corp.example" wins over an allowed "corp.example".
package disposable

import (
	"bufio"
	_ "embed"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/net/idna"
)

//go:embed domains.txt
var builtin string

// Modes of the `disposable` option.
const (
	ModeBlock = "block" // refuse with EMAIL_DOMAIN_NOT_ALLOWED (default)
	ModeFlag  = "flag"  // admit, audit `disposable_email`
	ModeOff   = "off"   // do not look
)

// CheckMode says whether m is a mode the option accepts.
func CheckMode(m string) error {
	switch m {
	case ModeBlock, ModeFlag, ModeOff:
		return nil
	}
	return fmt.Errorf("disposable %q (want block, flag or off)", m)
}

// List is a set of disposable domains and of allowed exceptions. It is
// read-only once built and safe for concurrent use.
type List struct {
	listed map[string]bool // true: disposable; false: allowed by the operator
}

// Builtin is the embedded list alone.
func Builtin() *List {
	l := &List{listed: make(map[string]bool, 9000)}
	if err := l.read(strings.NewReader(builtin), "built-in list"); err != nil {
		panic(err) // the embedded file is checked by the tests
	}
	return l
}

// Load is the built-in list with the operator's file applied on top; an
// empty path is the built-in list alone.
func Load(path string) (*List, error) {
	l := Builtin()
	if path == "" {
		return l, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("disposable file: %w", err)
	}
	defer f.Close()
	if err := l.read(f, path); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *List) read(r io.Reader, name string) error {
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		disposable := true
		if strings.HasPrefix(line, "-") {
			disposable = false
			line = strings.TrimSpace(line[1:])
		}
		d, ok := Normalize(line)
		if !ok || !strings.Contains(d, ".") {
			return fmt.Errorf("%s line %d: %q is not a domain name", name, n, line)
		}
		l.listed[d] = disposable
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// Len is the number of names listed (disposable or allowed).
func (l *List) Len() int { return len(l.listed) }

// Disposable reports whether domain (the part after "@") is disposable.
// A name that is not a valid domain is not judged disposable; the caller's
// email validation refuses it.
func (l *List) Disposable(domain string) bool {
	d, ok := Normalize(domain)
	if !ok {
		return false
	}
	for {
		if v, found := l.listed[d]; found {
			return v
		}
		i := strings.IndexByte(d, '.')
		if i < 0 {
			return false
		}
		d = d[i+1:]
		if !strings.Contains(d, ".") { // never judge a whole TLD
			return false
		}
	}
}

// Normalize lower-cases a domain, drops one trailing dot and turns an
// internationalised name into its ASCII (punycode) form, so "MAILINATOR.com."
// and a Unicode spelling match the list. It reports false for a name that
// is not a valid domain.
func Normalize(domain string) (string, bool) {
	d := strings.TrimSuffix(strings.TrimSpace(domain), ".")
	if d == "" {
		return "", false
	}
	a, err := idna.Lookup.ToASCII(d)
	if err != nil || a == "" {
		return "", false
	}
	return strings.ToLower(a), true
}

// DomainAllowed is the `domains` rule: an empty list allows every domain;
// otherwise the email's domain must equal one of them (case-insensitive,
// no subdomains: list each one that may sign up).
func DomainAllowed(allowed []string, domain string) bool {
	if len(allowed) == 0 {
		return true
	}
	d, ok := Normalize(domain)
	if !ok {
		return false
	}
	for _, a := range allowed {
		if n, ok := Normalize(a); ok && n == d {
			return true
		}
	}
	return false
}
