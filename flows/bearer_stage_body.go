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
// identified and becomes that header; the body is handed on unchanged
// (the handler's strict decoding judges it, and its input accepts the
// field). A request that already has an Authorization header keeps it.
func (p *portal) stageTokenFromBody(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if isJSON(r) && len(r.Header["Authorization"]) == 0 {
			body, e := readRequestBody(r)
			if e != nil {
				p.s.writeError(w, r, e)
				return
			}
			var peek struct {
				MFAToken string `json:"mfa_token"`
			}
			// A malformed body is the handler's to refuse.
			if json.Unmarshal(body, &peek) == nil && peek.MFAToken != "" {
				r.Header.Set("Authorization", "Bearer "+peek.MFAToken)
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		h(w, r)
	}
}
