package flows

import (
	"strings"
	"testing"
)

// TestMalformedJSONMessages: a malformed body gets INVALID_INPUT with a
// message in the client's terms (JSON field and type names), never a Go
// type name or the value sent.
func TestMalformedJSONMessages(t *testing.T) {
	e := newEnv(t, Config{}, GuardConfig{})
	for _, tc := range []struct{ body, want string }{
		{`{"email":123,"password":"x"}`, `field "email" must be a string.`},
		{`{"email":["a"],"password":"x"}`, `field "email" must be a string.`},
		{`["email"]`, `the body must be a JSON object.`},
		{`{"email":"a@b.c",`, `the body ends too early.`},
		{`{"email" "a"}`, `syntax error at byte`},
		{``, `empty body.`},
		{`{"emial":"secret-value"}`, `unknown field "emial".`},
	} {
		res := e.do(jsonReq("POST", "/auth/login", tc.body))
		got := decodeErr(t, res)
		if res.StatusCode != 400 || got.Code != CodeInvalidInput {
			t.Errorf("%s: %d %+v, want 400 INVALID_INPUT", tc.body, res.StatusCode, got)
			continue
		}
		if !strings.Contains(got.Message, tc.want) {
			t.Errorf("%s: message %q lacks %q", tc.body, got.Message, tc.want)
		}
		for _, leak := range []string{"loginInput", "Go struct", "secret-value", "json:"} {
			if strings.Contains(got.Message, leak) {
				t.Errorf("%s: message %q contains %q", tc.body, got.Message, leak)
			}
		}
	}
}
