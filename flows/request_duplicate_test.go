package flows

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestDuplicateJSONKeysRefused: a JSON body that names a key twice, at
// any depth, in any case that encoding/json would fold onto the same
// field, is refused as INVALID_INPUT. Without this the last copy wins:
// {"email":"nobody@...","email":"bob@..."} signed in as bob (issue 9).
func TestDuplicateJSONKeysRefused(t *testing.T) {
	for _, tc := range []struct{ name, body string }{
		{"same key", `{"email":"nobody@example.test","email":"alice@example.test","password":"x"}`},
		{"case variant", `{"email":"nobody@example.test","EMAIL":"alice@example.test","password":"x"}`},
		{"mixed case", `{"Password":"a","passWord":"b","email":"alice@example.test"}`},
		{"kelvin sign folds to k", `{"k":1,"\u212a":2}`},
		{"long s folds to s", `{"s":1,"\u017f":2}`},
		{"escaped spelling", `{"email":"a@example.test","\u0065mail":"b@example.test"}`},
		{"nested object", `{"a":{"x":1,"x":2}}`},
		{"object in array", `{"a":[1,{"x":1,"X":2}]}`},
		{"deep", `{"a":[[{"b":{"c":[{"d":1,"d":1}]}}]]}`},
		{"dup after nested", `{"a":{"b":1},"a":{"b":1}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v map[string]any
			e := decodeJSONBody([]byte(tc.body), &v)
			if e == nil || e.Code != CodeInvalidInput || e.Status != http.StatusBadRequest {
				t.Fatalf("%s: %+v, want 400 INVALID_INPUT", tc.body, e)
			}
			if !strings.Contains(e.Message, "more than once") {
				t.Errorf("message %q does not say a field was repeated", e.Message)
			}
		})
	}
	// The same key in sibling objects is not a repeat.
	for _, ok := range []string{`{"a":{"x":1},"b":{"x":2}}`, `[{"x":1},{"x":2}]`, `{"x":{"x":{"x":1}}}`, `{"ß":1,"ss":2}`, `{}`} {
		var v any
		if e := decodeJSONBody([]byte(ok), &v); e != nil {
			t.Errorf("%s refused: %+v", ok, e)
		}
	}
}

// TestLoginDuplicateEmailRefused: the attack of issue 9 through the
// portal: the second email does not win, the request is refused and no
// session is opened.
func TestLoginDuplicateEmailRefused(t *testing.T) {
	e := newEnv(t, Config{}, GuardConfig{})
	for _, b := range []string{
		`{"email":"nobody@example.test","email":"alice@example.test","password":"` + alicePW + `"}`,
		`{"email":"nobody@example.test","Email":"alice@example.test","password":"` + alicePW + `"}`,
		`{"email":"alice@example.test","password":"wrong","PASSWORD":"` + alicePW + `"}`,
	} {
		res := e.do(jsonReq("POST", "/auth/login", b))
		got := decodeErr(t, res)
		if res.StatusCode != 400 || got.Code != CodeInvalidInput {
			t.Errorf("%s: %d %+v, want 400 INVALID_INPUT", b, res.StatusCode, got)
		}
		for _, c := range res.Cookies() {
			if c.Name == e.svc.CookieName() && c.Value != "" {
				t.Errorf("%s: a session cookie was set", b)
			}
		}
	}
}

// TestEveryJSONEndpointRefusesDuplicates enumerates the endpoints that
// read a JSON body (portal, MFA, change-password, setup, admin API) and
// sends each a body with a repeated key, in the session state it needs to
// get as far as reading the body.
func TestEveryJSONEndpointRefusesDuplicates(t *testing.T) {
	m := newMFAEnv(t, MFAConfig{}, GuardConfig{})
	_, _, full := m.enrol(m.login(alicePW))
	stage, _ := m.passwordStage()
	a := newAdminEnv(t, nil)
	admin := a.session(a.root, "totp")

	type ep struct {
		name, method, path, body string
		do                       func(r *http.Request) *http.Response
	}
	portal := func(c *http.Cookie) func(r *http.Request) *http.Response {
		return func(r *http.Request) *http.Response {
			if c != nil {
				r = withCookie(r, c)
			}
			return m.do(r)
		}
	}
	adminDo := func(r *http.Request) *http.Response {
		r.AddCookie(&http.Cookie{Name: a.svc.CookieName(), Value: admin})
		rec := httptest.NewRecorder()
		a.portal.ServeHTTP(rec, r)
		return rec.Result()
	}
	cases := []ep{
		{"login", "POST", "/auth/login", `{"email":"a@example.test","email":"b@example.test","password":"x"}`, portal(nil)},
		{"mfa challenge", "POST", "/auth/mfa/challenge", `{"method":"totp","code":"000000","CODE":"111111"}`, portal(stage)},
		{"mfa send", "POST", "/auth/mfa/send", `{"method":"email","method":"sms"}`, portal(stage)},
		{"totp setup", "POST", "/auth/mfa/totp/setup", `{"name":"a","Name":"b"}`, portal(full)},
		{"totp verify", "POST", "/auth/mfa/totp/verify", `{"code":"1","code":"2"}`, portal(full)},
		{"change password", "POST", "/auth/change-password", `{"current_password":"a","new_password":"b","new_password":"c"}`, portal(full)},
		{"setup", "POST", "/auth/setup", `{"token":"t","email":"a@example.test","email":"b@example.test"}`, portal(nil)},
		{"admin method switch", "PUT", "/auth/admin/methods/password", `{"enabled":true,"enabled":false}`, adminDo},
		{"admin method switch (case)", "POST", "/auth/admin/methods/password", `{"enabled":true,"Enabled":false}`, adminDo},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := c.do(jsonReq(c.method, c.path, c.body))
			got := decodeErr(t, res)
			if res.StatusCode != 400 || got.Code != CodeInvalidInput || !strings.Contains(got.Message, "more than once") {
				t.Fatalf("%s %s %s: %d %+v, want 400 INVALID_INPUT (repeated field)", c.method, c.path, c.body, res.StatusCode, got)
			}
		})
	}
	// The admin actions take an empty body or {}: any key is refused.
	for _, action := range []string{"disable", "logout-all", "reset-mfa", "unlock", "enable"} {
		res := adminDo(jsonReq("POST", "/auth/admin/users/"+a.bob.ID+"/"+action, `{"x":1,"x":2}`))
		if got := decodeErr(t, res); res.StatusCode != 400 || got.Code != CodeInvalidInput {
			t.Errorf("admin %s with a body: %d %+v", action, res.StatusCode, got)
		}
	}
	if ok, _ := a.sw.Enabled(context.Background(), "password"); !ok {
		t.Error("a refused switch body still switched password off")
	}
}
