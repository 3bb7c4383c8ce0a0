package store

import "strings"

// asciiSpace is the white space trimmed around an email: ASCII only.
const asciiSpace = " \t\n\v\f\r"

func trimASCIISpace(s string) string { return strings.Trim(s, asciiSpace) }

// NormalizeEmail is the one canonical form of an email address, used by
// every backend to store and look up, and by the flows, the CLI and (when
// it lands) import: surrounding ASCII white space trimmed and ASCII A-Z
// lowered. Nothing else folds: strings.ToLower maps the Kelvin sign U+212A to "k",
// so "\u212Aate@example.com" would become kate@example.com and sign in to
// her account. The flows refuse non-ASCII addresses (ASCIIEmail); this
// keeps one that reaches a store apart from every ASCII one. Nor is any
// Unicode space trimmed (strings.TrimSpace would): "kate@example.com\u00A0"
// from a provider would become kate's address and pass the ASCII check.
func NormalizeEmail(e string) string {
	e = trimASCIISpace(e)
	for i := 0; i < len(e); i++ {
		if c := e[i]; 'A' <= c && c <= 'Z' {
			return lowerASCII(e)
		}
	}
	return e
}

func lowerASCII(e string) string {
	b := []byte(e)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

// EqualEmail reports whether a and b are the same address under
// NormalizeEmail's rule (ASCII case only), without allocating: the
// protected-request path compares `allow email` rules with it. Unlike
// strings.EqualFold it does not take "\u212A" for "k" or "\u017F" for "s".
func EqualEmail(a, b string) bool {
	a, b = trimASCIISpace(a), trimASCIISpace(b)
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if foldASCII(a[i]) != foldASCII(b[i]) {
			return false
		}
	}
	return true
}

func foldASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// ASCIIEmail reports whether e has only printable ASCII characters. The
// portal, the CLI and the identity-provider sign-in accept only such
// addresses: internationalised ones (RFC 6531) have many spellings that
// look alike, and no case rule that is safe to compare them with.
func ASCIIEmail(e string) bool {
	for i := 0; i < len(e); i++ {
		if e[i] < 0x21 || e[i] > 0x7e {
			return false
		}
	}
	return true
}
