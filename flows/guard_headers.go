package flows

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/caddyauth/gateway/internal/session"
)

// Default identity headers (contract).
var DefaultHeaders = []HeaderTemplate{
	{Name: "Remote-User", Template: "{http.auth.user.id}"},
	{Name: "Remote-Email", Template: "{http.auth.user.email}"},
	{Name: "Remote-Name", Template: "{http.auth.user.name}"},
	{Name: "Remote-Groups", Template: "{http.auth.user.groups}"},
}

// HeaderTemplate sets one upstream header from the identity. Template may
// use {http.auth.user.id|email|name|groups}; an empty template removes a
// default header.
type HeaderTemplate struct {
	Name     string `json:"name"`
	Template string `json:"template"`
}

type compiledHeader struct {
	name  string
	parts []headerPart
}

type headerPart struct {
	lit   string
	field string // "", id, email, name, groups
}

// StripIdentityHeaders deletes every configured identity header in any
// case and with "_" for "-": CGI and PHP turn Remote_User into
// REMOTE_USER, the same variable as Remote-User (GHSA-f59h-q822-g45g).
func (g *Guard) StripIdentityHeaders(h http.Header) {
	for name := range h {
		for _, s := range g.strip {
			if sameHeader(name, s) {
				delete(h, name)
				break
			}
		}
	}
}

func (g *Guard) setIdentityHeaders(h http.Header, id *session.Identity) {
	// One backing array for every header's value slice: this runs on every
	// protected request, so allocations count.
	vals := make([]string, len(g.headers))
	for i, ch := range g.headers {
		if len(ch.parts) == 1 && ch.parts[0].field != "" {
			vals[i] = sanitizeHeaderValue(IdentityField(id, ch.parts[0].field))
		} else {
			var b strings.Builder
			for _, p := range ch.parts {
				if p.field == "" {
					b.WriteString(p.lit)
					continue
				}
				b.WriteString(sanitizeHeaderValue(IdentityField(id, p.field)))
			}
			vals[i] = b.String()
		}
		h[ch.name] = vals[i : i+1 : i+1]
	}
}

// Identity fields, as header templates and Caddy placeholders name them
// ({http.auth.user.<field>}; contract).
const (
	FieldID     = "id"
	FieldEmail  = "email"
	FieldName   = "name"
	FieldGroups = "groups"
	// FieldMFA is the placeholder of the second factor the session passed
	// ("" for none); it is not a header template field.
	FieldMFA = "mfa"
	// FieldMethod is the first factor of the request: password,
	// passwordless, setup, oauth:<provider>, or api_key.
	FieldMethod = "method"
)

// PlaceholderPrefix begins every identity placeholder.
const PlaceholderPrefix = "http.auth.user."

// IdentityField returns one identity attribute by placeholder name.
func IdentityField(id *session.Identity, field string) string {
	switch field {
	case FieldID:
		return id.User.ID
	case FieldEmail:
		return id.User.Email
	case FieldName:
		return id.User.Name
	case FieldGroups:
		return id.Groups()
	case FieldMethod:
		return id.Session.AuthMethod
	}
	return ""
}

func compileTemplate(t string) ([]headerPart, error) {
	var parts []headerPart
	for t != "" {
		i := strings.Index(t, "{"+PlaceholderPrefix)
		if i < 0 {
			parts = append(parts, headerPart{lit: t})
			break
		}
		if i > 0 {
			parts = append(parts, headerPart{lit: t[:i]})
		}
		end := strings.IndexByte(t[i:], '}')
		if end < 0 {
			return nil, fmt.Errorf("unterminated placeholder in %q", t)
		}
		field := t[i+len("{"+PlaceholderPrefix) : i+end]
		switch field {
		case FieldID, FieldEmail, FieldName, FieldGroups, FieldMethod:
		default:
			return nil, fmt.Errorf("unknown placeholder {http.auth.user.%s}", field)
		}
		parts = append(parts, headerPart{field: field})
		t = t[i+end+1:]
	}
	for _, p := range parts {
		if sanitizeHeaderValue(p.lit) != p.lit {
			return nil, fmt.Errorf("control character in template")
		}
	}
	return parts, nil
}

// sanitizeHeaderValue drops control characters so a user's name can never
// split or smuggle a header.
func sanitizeHeaderValue(v string) string {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c == 0x7f {
			return strings.Map(func(r rune) rune {
				if r < 0x20 || r == 0x7f {
					return -1
				}
				return r
			}, v)
		}
	}
	return v
}

// normHeader lower-cases a header name and maps '_' to '-'.
func normHeader(n string) string {
	return strings.ReplaceAll(strings.ToLower(n), "_", "-")
}

// sameHeader compares name with an already normalised header name, treating
// case and '_'/'-' as equal, without allocating.
func sameHeader(name, norm string) bool {
	if len(name) != len(norm) {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		} else if c == '_' {
			c = '-'
		}
		if c != norm[i] {
			return false
		}
	}
	return true
}

func validHeaderName(n string) bool {
	if n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
