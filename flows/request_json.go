package flows

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

// decodeJSONBody is the one way a portal or admin body in JSON becomes a
// value: one JSON object or value, unknown fields refused, nothing after
// it, and no key given twice in any object at any depth.
//
// encoding/json lets the last copy of a repeated key win, so
// {"email":"nobody@x","email":"bob@x"} passed any check made on the
// first copy (a proxy, a WAF, a log reader) and signed in as bob. It also
// matches field names case-insensitively (Unicode simple folding: "EMAIL",
// "Email" and "\u212aey" for "key"), so keys that fold together are the
// same field here too.
func decodeJSONBody(body []byte, dst any) *APIError {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return invalidInput("Malformed JSON body: " + jsonProblem(err))
	}
	if dec.More() {
		return invalidInput("Malformed JSON body: trailing data.")
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalidInput("Malformed JSON body: trailing data.")
	}
	if key, dup := repeatedKey(body); dup {
		return invalidInput("Malformed JSON body: field " + quoteField(key) + " given more than once.")
	}
	return nil
}

// repeatedKey walks the token stream of the body's first JSON value and
// returns the first key repeated inside one object, comparing keys as
// encoding/json matches field names. The body is well formed (the decode
// before said so); an error ends the walk without a verdict.
func repeatedKey(body []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	type frame struct {
		seen   map[string]bool // nil for an array
		wanted bool            // the next token of this object is a key
	}
	var stack []frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		if len(stack) > 0 {
			top := &stack[len(stack)-1]
			if top.seen != nil && top.wanted {
				if d, ok := tok.(json.Delim); ok && d == '}' {
					stack = stack[:len(stack)-1]
					if len(stack) == 0 {
						return "", false
					}
					continue
				}
				k, _ := tok.(string)
				f := foldKey(k)
				if top.seen[f] {
					return k, true
				}
				top.seen[f] = true
				top.wanted = false
				continue
			}
			if top.seen != nil {
				top.wanted = true // this token is the value; a key comes next
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{seen: map[string]bool{}, wanted: true})
		case json.Delim('['):
			stack = append(stack, frame{})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		if len(stack) == 0 {
			return "", false
		}
	}
}

// foldKey maps s to one representative of its case-folding class: each
// rune becomes the smallest rune of its unicode.SimpleFold orbit, so
// foldKey(a) == foldKey(b) exactly when strings.EqualFold(a, b), the
// comparison encoding/json uses for field names.
func foldKey(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		b.WriteRune(m)
	}
	return b.String()
}

// quoteField names a client's key in a message: quoted, cut, valid UTF-8.
func quoteField(k string) string {
	if !utf8.ValidString(k) {
		k = strings.ToValidUTF8(k, "?")
	}
	return `"` + limitRunes(strings.ReplaceAll(k, `"`, `'`), 64) + `"`
}

// readRequestBody reads at most maxBody bytes of r's body.
func readRequestBody(r *http.Request) ([]byte, *APIError) {
	b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, apiErr(http.StatusRequestEntityTooLarge, CodeRequestTooLarge, "Request body too large.")
		}
		return nil, invalidInput("Unreadable body.")
	}
	return b, nil
}
