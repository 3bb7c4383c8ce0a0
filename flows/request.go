package flows

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"strings"
)

// maxBody bounds portal request bodies; a login form is a few hundred bytes.
const maxBody = 16 << 10

// isJSON reports whether the request body is JSON.
func isJSON(r *http.Request) bool { return isJSONHeader(r.Header) }

func isJSONHeader(h http.Header) bool {
	mt, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	return mt == "application/json"
}

// wantsHTML: a browser navigation (Accept names text/html) that did not send
// JSON. API clients get JSON.
func wantsHTML(r *http.Request) bool { return acceptsHTML(r.Header) }

// acceptsHTML is wantsHTML on the headers of a request (a verify endpoint's
// target is described, not received).
func acceptsHTML(h http.Header) bool {
	if isJSONHeader(h) {
		return false
	}
	accept := h.Get("Accept")
	if strings.Contains(accept, "application/json") && !strings.Contains(accept, "text/html") {
		return false
	}
	return strings.Contains(accept, "text/html")
}

// wantsJSON is the complement used by endpoints that answer either way.
func wantsJSON(r *http.Request) bool { return !wantsHTML(r) }

// decode reads a JSON object (unknown and repeated fields refused, see
// decodeJSONBody) or a urlencoded form into dst. Form fields are matched
// to dst's json tags.
func decode(r *http.Request, dst any, fields map[string]*string) *APIError {
	if isJSON(r) {
		body, e := readRequestBody(r)
		if e != nil {
			return e
		}
		return decodeJSONBody(body, dst)
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "multipart/form-data" {
		return invalidInput("Send the form urlencoded.")
	}
	if mt != "application/x-www-form-urlencoded" {
		return apiErr(http.StatusUnsupportedMediaType, CodeUnsupportedMedia, "Send application/json or a form.")
	}
	body, e := readRequestBody(r)
	if e != nil {
		return e
	}
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return invalidInput("Malformed form body.")
	}
	for k, v := range vals {
		p, ok := fields[k]
		if !ok {
			return invalidInput("Unknown field " + strings.ToValidUTF8(k, "?") + ".")
		}
		if len(v) != 1 {
			return invalidInput("Field " + k + " given more than once.")
		}
		*p = v[0]
	}
	return nil
}

func jsonProblem(err error) string {
	// Say what is wrong in the client's terms: field names and JSON types,
	// never Go type names (loginInput.email) and never the values sent.
	var typeErr *json.UnmarshalTypeError
	var synErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return "the body must be a JSON object."
		}
		return fmt.Sprintf("field %q must be %s.", limitRunes(typeErr.Field, 64), jsonKind(typeErr.Type))
	case errors.As(err, &synErr):
		return fmt.Sprintf("syntax error at byte %d.", synErr.Offset)
	case errors.Is(err, io.EOF):
		return "empty body."
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the body ends too early."
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	if rest, ok := strings.CutPrefix(msg, "unknown field "); ok {
		// The field name is the client's own, quoted by encoding/json.
		return "unknown field " + limitRunes(rest, 66) + "."
	}
	return "not valid JSON."
}

// jsonKind names the JSON type a Go type decodes from.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "of another type"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "of another type"
}

func requestScheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}
