package flows

import (
	"context"
	"net/http"
	"testing"

	"github.com/caddyauth/gateway/store"
)

// TestOAuthEmailUnicodeSpaceRefused: a provider-verified email with a
// Unicode space before or after it (which strings.TrimSpace removed) is not
// kate's address: it neither links her account nor creates one (found in
// the review of issue 9, item 12).
func TestOAuthEmailUnicodeSpaceRefused(t *testing.T) {
	for _, email := range []string{"kate@example.com\u00A0", "\u00A0kate@example.com", "kate@example.com\u0085", "\u3000kate@example.com", "kate@example.com\u2003"} {
		t.Run(email, func(t *testing.T) { oauthEmailRefused(t, email) })
	}
}

// oauthEmailRefused signs in through a GitHub provider (sign-up open for
// example.com) whose verified email is email, next to an account
// kate@example.com, and checks the sign-in is refused 403
// OAUTH_EMAIL_UNSUPPORTED with no session, no identity linked to kate and
// no account made. It returns the audit recorder.
func oauthEmailRefused(t *testing.T, email string) *recorder {
	t.Helper()
	idp := fakeGitHubFor(t, "4711", email)
	cfg := githubCfg()
	cfg.AuthURL, cfg.TokenURL, cfg.UserinfoURL = idp.URL+"/authorize", idp.URL+"/token", idp.URL+"/user"
	cfg.AllowedDomains = []string{"example.com"} // sign-up open for the domain
	h, _, rec, svc, mem := oauthServiceFull(t, Config{}, cfg)
	ctx := context.Background()
	kate := &store.User{ID: "kate", Email: "kate@example.com", Status: store.StatusActive, PasswordHash: "x", Groups: []string{"staff"}}
	if err := mem.CreateUser(ctx, kate); err != nil {
		t.Fatal(err)
	}
	w := githubSignIn(t, h, "")
	if e := decodeErr(t, w.Result()); e.Code != CodeOAuthEmailUnsupported || e.Status != http.StatusForbidden {
		t.Fatalf("sign-in with %q: %+v, want 403 %s", email, e, CodeOAuthEmailUnsupported)
	}
	for _, c := range w.Result().Cookies() {
		if c.Name == svc.CookieName() && c.Value != "" {
			t.Fatal("a session cookie was set")
		}
	}
	if ids, _ := mem.UserIdentities(ctx, "kate"); len(ids) != 0 {
		t.Fatalf("kate's account got the identity: %+v", ids)
	}
	if n, _ := mem.CountUsers(ctx); n != 1 {
		t.Fatalf("%d users: a look-alike account was created", n)
	}
	return rec
}
