package flows

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyauth/gateway/internal/policy"
	"github.com/caddyauth/gateway/store"
)

// countingKeys counts last_used_at writes and can be switched to fail.
type countingKeys struct {
	store.APIKeyStore
	touches atomic.Int32
	mu      sync.Mutex
	down    bool
}

func (c *countingKeys) TouchAPIKey(ctx context.Context, id string, at time.Time) error {
	c.touches.Add(1)
	return c.APIKeyStore.TouchAPIKey(ctx, id, at)
}

func (c *countingKeys) APIKey(ctx context.Context, id string) (*store.APIKey, error) {
	c.mu.Lock()
	down := c.down
	c.mu.Unlock()
	if down {
		return nil, store.ErrUnavailable
	}
	return c.APIKeyStore.APIKey(ctx, id)
}

func newKeyEnv(t *testing.T, gcfg GuardConfig) (*env, *countingKeys, *clock) {
	t.Helper()
	clk := newClock()
	var keys *countingKeys
	e := newEnvWith(t, Config{Now: clk.Now}, gcfg, func(d *Deps) {
		keys = &countingKeys{APIKeyStore: d.Users.(store.APIKeyStore)}
		d.APIKeys = keys
	})
	return e, keys, clk
}

// createKey makes a key through POST /auth/api-keys with a cookie.
func (e *env) createKey(c *http.Cookie, body string) (string, map[string]any) {
	e.t.Helper()
	res := e.do(withCookie(jsonReq("POST", "/auth/api-keys", body), c))
	if res.StatusCode != http.StatusCreated {
		e.t.Fatalf("create key: %d %v", res.StatusCode, decodeErr(e.t, res))
	}
	m := body0(e.t, res)
	k, _ := m["api_key"].(string)
	if !strings.HasPrefix(k, "cak_") {
		e.t.Fatalf("create key answer = %v", m)
	}
	return k, m
}

func body0(t *testing.T, res *http.Response) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.NewDecoder(res.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func keyReq(path, key string, viaHeader bool) *http.Request {
	r := jsonReq("GET", path, "")
	if viaHeader {
		r.Header.Set("X-API-Key", key)
	} else {
		r.Header.Set("Authorization", "Bearer "+key)
	}
	return r
}

func TestAPIKeyOpensProtectedSite(t *testing.T) {
	e, keys, _ := newKeyEnv(t, GuardConfig{})
	c := e.login(alicePW)
	key, created := e.createKey(c, `{"name":"ci deploy","expires":"90d"}`)
	if created["expires_at"] == nil || created["name"] != "ci deploy" {
		t.Fatalf("created = %v", created)
	}
	for _, viaHeader := range []bool{false, true} {
		r := keyReq("/app", key, viaHeader)
		r.Header.Set("Remote-User", "admin") // spoofed: replaced
		res := e.do(r)
		if res.StatusCode != 200 {
			t.Fatalf("key (X-API-Key %v): %d %v", viaHeader, res.StatusCode, decodeErr(t, res))
		}
		var got map[string][]string
		_ = json.NewDecoder(res.Body).Decode(&got)
		if strings.Join(got["Remote-User"], ",") != e.alice.ID || strings.Join(got["Remote-Email"], ",") != "alice@example.test" {
			t.Errorf("identity upstream = %v", got)
		}
		if len(got["Authorization"]) != 0 || len(got["X-Api-Key"]) != 0 {
			t.Errorf("the key reached the upstream: %v", got)
		}
	}
	// Two uses in the hour: one last_used_at write.
	if n := keys.touches.Load(); n != 1 {
		t.Errorf("last_used_at written %d times for two uses; want 1", n)
	}
	list := body0(t, e.do(withCookie(jsonReq("GET", "/auth/api-keys", ""), c)))
	items, _ := list["api_keys"].([]any)
	if len(items) != 1 {
		t.Fatalf("list = %v", list)
	}
	item := items[0].(map[string]any)
	if item["last_used_at"] == nil || item["id"] != created["id"] {
		t.Errorf("listed key = %v", item)
	}
	b, _ := json.Marshal(list)
	if strings.Contains(string(b), key[len(key)-64:]) {
		t.Error("the listing shows the secret")
	}
}

func TestAPIKeyNeverOpensThePortal(t *testing.T) {
	e, _, _ := newKeyEnv(t, GuardConfig{})
	key, _ := e.createKey(e.login(alicePW), `{"name":"k"}`)
	for _, path := range []string{"/auth/session", "/auth/api-keys", "/auth/sessions"} {
		if res := e.do(keyReq(path, key, false)); res.StatusCode != 401 {
			t.Errorf("GET %s with a key: %d, want 401", path, res.StatusCode)
		}
	}
	r := jsonReq("POST", "/auth/api-keys", `{"name":"minted"}`)
	r.Header.Set("X-API-Key", key)
	if res := e.do(r); res.StatusCode != 401 {
		t.Errorf("a key minted a key: %d", res.StatusCode)
	}
}

func TestAPIKeyRefusals(t *testing.T) {
	e, _, clk := newKeyEnv(t, GuardConfig{})
	c := e.login(alicePW)
	key, created := e.createKey(c, `{"name":"short","expires":"1h"}`)
	wrongSecret := key[:len(key)-1] + map[bool]string{true: "0", false: "1"}[key[len(key)-1] != '0']
	for name, r := range map[string]*http.Request{
		"wrong secret": keyReq("/app", wrongSecret, false),
		"truncated":    keyReq("/app", key[:len(key)-5], false),
		"unknown id":   keyReq("/app", "cak_0000000000000000_"+key[len(key)-64:], true),
		"empty header": keyReq("/app", "", true),
		"garbage":      keyReq("/app", "cak_%00\xff", false),
		"two key lines": func() *http.Request {
			r := keyReq("/app", key, true)
			r.Header.Add("X-API-Key", key)
			return r
		}(),
	} {
		res := e.do(r)
		if got := decodeErr(t, res); res.StatusCode != 401 || got.Code != CodeTokenInvalid {
			t.Errorf("%s: %d %+v, want 401 TOKEN_INVALID", name, res.StatusCode, got)
		}
	}
	clk.Advance(time.Hour)
	if got := decodeErr(t, e.do(keyReq("/app", key, false))); got.Code != CodeTokenExpired {
		t.Errorf("expired key: %+v", got)
	}
	// Revoke: refused on the next request.
	key2, created2 := e.createKey(c, `{"name":"revoked"}`)
	if res := e.do(keyReq("/app", key2, false)); res.StatusCode != 200 {
		t.Fatalf("fresh key: %d", res.StatusCode)
	}
	res := e.do(withCookie(jsonReq("DELETE", "/auth/api-keys/"+created2["id"].(string), ""), c))
	if res.StatusCode != 200 {
		t.Fatalf("revoke: %d", res.StatusCode)
	}
	if got := decodeErr(t, e.do(keyReq("/app", key2, false))); got.Code != CodeTokenInvalid {
		t.Errorf("revoked key: %+v", got)
	}
	if res := e.do(withCookie(jsonReq("DELETE", "/auth/api-keys/"+created2["id"].(string), ""), c)); res.StatusCode != 404 {
		t.Errorf("revoke twice: %d, want 404", res.StatusCode)
	}
	_ = created
}

func TestAPIKeyOwnerDisabledAtOnce(t *testing.T) {
	e, _, _ := newKeyEnv(t, GuardConfig{})
	key, _ := e.createKey(e.login(alicePW), `{"name":"k"}`)
	u, _ := e.mem.UserByID(context.Background(), e.alice.ID)
	u.Status = store.StatusDisabled
	if err := e.mem.UpdateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	if got := decodeErr(t, e.do(keyReq("/app", key, false))); got.Code != CodeTokenInvalid {
		t.Errorf("disabled owner's key: %+v", got)
	}
}

func TestAPIKeyOtherUsersKeyNotRevocable(t *testing.T) {
	e, _, _ := newKeyEnv(t, GuardConfig{})
	ctx := context.Background()
	bob := &store.User{ID: "bob", Email: "bob@example.test", Status: store.StatusActive}
	if err := e.mem.CreateUser(ctx, bob); err != nil {
		t.Fatal(err)
	}
	made, err := e.svc.Accounts().CreateAPIKey(ctx, Actor{ID: ActorCLI}, bob, "bob's", 0)
	if err != nil {
		t.Fatal(err)
	}
	c := e.login(alicePW)
	if res := e.do(withCookie(jsonReq("DELETE", "/auth/api-keys/"+made.Key.ID, ""), c)); res.StatusCode != 404 {
		t.Errorf("alice revoked bob's key: %d", res.StatusCode)
	}
	if res := e.do(keyReq("/app", made.Value, true)); res.StatusCode != 200 {
		t.Errorf("bob's key after alice's attempt: %d", res.StatusCode)
	}
}

func TestAPIKeyRequireMFAAndMethodRules(t *testing.T) {
	mfa, _, _ := newKeyEnv(t, GuardConfig{RequireMFA: true})
	key, _ := mfa.createKey(mfa.login(alicePW), `{"name":"k"}`)
	if res := mfa.do(keyReq("/app", key, false)); res.StatusCode != 403 || decodeErr(t, res).Code != CodeMFARequired {
		t.Errorf("require mfa admitted a key: %d", res.StatusCode)
	}
	deny, _, _ := newKeyEnv(t, GuardConfig{Policy: policy.Policy{Deny: []policy.Rule{{Kind: policy.KindMethod, Values: []string{"api_key"}}}}})
	c := deny.login(alicePW)
	key, _ = deny.createKey(c, `{"name":"k"}`)
	if res := deny.do(keyReq("/app", key, false)); res.StatusCode != 403 {
		t.Errorf("deny method api_key admitted a key: %d", res.StatusCode)
	}
	if res := deny.do(withCookie(jsonReq("GET", "/app", ""), c)); res.StatusCode != 200 {
		t.Errorf("deny method api_key refused a password session: %d", res.StatusCode)
	}
	hdr, _, _ := newKeyEnv(t, GuardConfig{Headers: []HeaderTemplate{{Name: "X-Method", Template: "{http.auth.user.method}"}}})
	key, _ = hdr.createKey(hdr.login(alicePW), `{"name":"k"}`)
	var got map[string][]string
	_ = json.NewDecoder(hdr.do(keyReq("/app", key, false)).Body).Decode(&got)
	if strings.Join(got["X-Method"], ",") != "api_key" {
		t.Errorf("X-Method = %v, want api_key", got["X-Method"])
	}
}

func TestAPIKeyStoreDownFailsClosed(t *testing.T) {
	e, keys, _ := newKeyEnv(t, GuardConfig{})
	key, _ := e.createKey(e.login(alicePW), `{"name":"k"}`)
	keys.mu.Lock()
	keys.down = true
	keys.mu.Unlock()
	res := e.do(keyReq("/app", key, false))
	if got := decodeErr(t, res); res.StatusCode != 503 || got.Code != CodeStoreUnavailable {
		t.Errorf("store down: %d %+v, want 503", res.StatusCode, got)
	}
}

func TestAPIKeyCreateInput(t *testing.T) {
	e, _, _ := newKeyEnv(t, GuardConfig{})
	c := e.login(alicePW)
	for _, b := range []string{
		`{"name":""}`, `{"name":"a\u0007b"}`, `{"name":"` + strings.Repeat("x", 101) + `"}`,
		`{"name":"k","expires":"-1d"}`, `{"name":"k","expires":"0d"}`, `{"name":"k","expires":"10y"}`,
		`{"name":"k","expires":"99999999999999999999d"}`, `{"name":"k","expires":"30s"}`, `{"name":"k","expires":"1900d"}`,
		`{"name":"k","scope":"admin"}`,
	} {
		res := e.do(withCookie(jsonReq("POST", "/auth/api-keys", b), c))
		if got := decodeErr(t, res); res.StatusCode != 400 || got.Code != CodeInvalidInput {
			t.Errorf("%s: %d %+v, want 400 INVALID_INPUT", b, res.StatusCode, got)
		}
	}
	for range MaxAPIKeysPerUser {
		e.createKey(c, `{"name":"k"}`)
	}
	res := e.do(withCookie(jsonReq("POST", "/auth/api-keys", `{"name":"one too many"}`), c))
	if got := decodeErr(t, res); res.StatusCode != 409 || got.Code != CodeAPIKeyLimit {
		t.Errorf("key %d: %d %+v", MaxAPIKeysPerUser+1, res.StatusCode, got)
	}
}

func TestParseLifetime(t *testing.T) {
	for in, want := range map[string]time.Duration{"": 0, "90d": 90 * 24 * time.Hour, "12h": 12 * time.Hour, " 1d ": 24 * time.Hour} {
		if got, err := ParseLifetime(in); err != nil || got != want {
			t.Errorf("ParseLifetime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"d", "-1d", "+1d", "0d", "1.5d", "1w", "-5m", "0s", "abc", "36501d"} {
		if _, err := ParseLifetime(in); !errors.Is(err, errLifetime) {
			t.Errorf("ParseLifetime(%q) accepted", in)
		}
	}
}

func FuzzParseLifetime(f *testing.F) {
	for _, s := range []string{"90d", "12h", "", "-1d", "9223372036854775807d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseLifetime(s)
		if err == nil && d < 0 {
			t.Fatalf("ParseLifetime(%q) = %v: negative", s, d)
		}
	})
}
