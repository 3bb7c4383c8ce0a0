package flows

import (
	"net/url"
	"strings"
	"unicode/utf8"
)

// maxPathDecodings is how many extra rounds of percent-decoding a public
// path is judged under (an app that decodes again, or a chain of proxies
// that each decode once). A path still changing after that is not public.
const maxPathDecodings = 3

// plainPath reports whether no upstream resolves a segment of p as a dot
// segment: not as sent, and not after up to maxPathDecodings further rounds
// of decoding (%hh in any case, and IIS's %uhhhh). path.Clean sees only
// "." and ".." separated by "/"; servers read more (issue 9, item 4):
//
//   - Tomcat, Jetty and Spring cut `;` parameters off each segment, so
//     "/public/..;/admin" and "/public/..;jsessionid=x/admin" are
//     "/public/../admin";
//   - IIS and Windows servers read `\` as `/` and trim trailing dots and
//     spaces ("..\admin", "...", "..%20");
//   - C code stops at NUL ("..%00"); some normalise full-width `．` `／` `＼`.
//
// So a path with a backslash or a control character in any round, or a
// segment that is only dots and spaces once its parameters are cut, is
// not plain. p is usually plain and has no '%': then it allocates nothing.
func plainPath(p string) bool {
	for round := 0; ; round++ {
		if !plainSegments(p) {
			return false
		}
		if strings.IndexByte(p, '%') < 0 {
			return true
		}
		next := unescapeLenient(p)
		if next == p {
			return true
		}
		if round == maxPathDecodings {
			return false
		}
		p = next
	}
}

// plainSegments checks one round of plainPath: p read as it is.
func plainSegments(p string) bool {
	dots, other, params := false, false, false
	for i := 0; i < len(p); {
		c, n := pathChar(p[i:])
		i += n
		switch {
		case c == '\\' || c < 0x20 || c == 0x7f:
			return false
		case c == '/':
			if dots && !other {
				return false
			}
			dots, other, params = false, false, false
		case params:
		case c == ';':
			params = true
		case c == '.':
			dots = true
		case c == ' ':
			// Neutral: Windows trims trailing spaces ("..%20").
		default:
			other = true
		}
	}
	return !dots || other
}

// pathChar returns the ASCII character the first character of s stands
// for where some server folds it ('.', '/', '\', ';' for their
// full-width and division-slash forms; 0x80 for any other non-ASCII
// rune), and its length in bytes.
func pathChar(s string) (byte, int) {
	if s[0] < utf8.RuneSelf {
		return s[0], 1
	}
	// Overlong UTF-8 forms, which old decoders (Tomcat's CVE-2008-2938,
	// IIS's CVE-2000-0884) read as the ASCII character.
	for _, o := range overlong {
		if strings.HasPrefix(s, o.seq) {
			return o.c, len(o.seq)
		}
	}
	r, n := utf8.DecodeRuneInString(s)
	return foldRune(r), n
}

var overlong = [...]struct {
	seq string
	c   byte
}{{"\xc0\xae", '.'}, {"\xc0\xaf", '/'}, {"\xc1\x9c", '\\'}, {"\xe0\x80\xae", '.'}, {"\xe0\x80\xaf", '/'}}

// foldRune maps the non-ASCII forms that Unicode normalisation (NFKC) or
// an ANSI "best fit" conversion turns into '.', '/', '\' or ';'.
func foldRune(r rune) byte {
	switch r {
	case '．', '․', '‥', '﹒':
		return '.'
	case '／', '∕':
		return '/'
	case '＼', '∖', '﹨':
		return '\\'
	case '；', '﹔':
		return ';'
	}
	return 0x80
}

// unescapeLenient decodes every valid %hh and %uhhhh escape of p and keeps
// the invalid ones as they are, the way a forgiving upstream decodes.
func unescapeLenient(p string) string {
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		if p[i] != '%' {
			b.WriteByte(p[i])
			continue
		}
		if i+5 < len(p) && (p[i+1] == 'u' || p[i+1] == 'U') {
			if r, ok := hex4(p[i+2 : i+6]); ok {
				b.WriteRune(r)
				i += 5
				continue
			}
		}
		if i+2 < len(p) {
			if h, ok := unhex(p[i+1]); ok {
				if l, ok := unhex(p[i+2]); ok {
					b.WriteByte(h<<4 | l)
					i += 2
					continue
				}
			}
		}
		b.WriteByte('%')
	}
	return b.String()
}

func hex4(s string) (rune, bool) {
	var r rune
	for i := 0; i < 4; i++ {
		v, ok := unhex(s[i])
		if !ok {
			return 0, false
		}
		r = r<<4 | rune(v)
	}
	return r, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// PlainRequestPath reports whether no upstream resolves a segment of the
// request path as a dot segment (plainPath on the decoded and the raw
// path). A request outside a `protect <matcher>` whose path is not plain
// is protected anyway: Caddy's matcher reads "/x/..;/admin" as outside
// /admin*, the Servlet container behind it as /admin.
func PlainRequestPath(u *url.URL) bool {
	return plainPath(u.Path) && (u.RawPath == "" || plainPath(u.RawPath))
}
