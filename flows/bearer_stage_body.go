package flows

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
)

// stageTokenFromBody lets a bearer client send its mfa_token as a field
// of the JSON body of a challenge endpoint, as well as in
// `Authorization: Bearer`. The field is read before the caller is
// identified and becomes that header; the body is handed on unchanged to
// the handler's decode, whose input accepts the field. A request that
// already has an Authorization header keeps it.
func (p *portal) stageTokenFromBody(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if isJSON(r) && len(r.Header["Authorization"]) == 0 {
			body, e := rereadableBody(r)
			if e != nil {
				p.s.writeError(w, r, e)
				return
			}
			if tok := stageTokenField(body); tok != "" {
				r.Header.Set("Authorization", "Bearer "+tok)
			}
		}
		h(w, r)
	}
}

// rereadableBody reads r's body through readRequestBody (size cap
// included) and puts the same bytes back for the handler's decode.
func rereadableBody(r *http.Request) ([]byte, *APIError) {
	body, e := readRequestBody(r)
	if e != nil {
		return nil, e
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return body, nil
}

// stageTokenField is the body's "mfa_token" string, "" when there is none
// or the body is not one JSON object without repeated keys (the handler's
// decode then refuses it). It decodes through decodeJSONBody, like every
// body in flows.
func stageTokenField(body []byte) string {
	var fields map[string]json.RawMessage
	if decodeJSONBody(body, &fields) != nil {
		return ""
	}
	raw, ok := fields["mfa_token"]
	if !ok {
		return ""
	}
	var tok string
	if decodeJSONBody(raw, &tok) != nil {
		return ""
	}
	return tok
}
