package e2e

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/caddyauth/gateway/test/harness"
)

// TestChangePassword: through the binary, with sessions in Redis (the
// default 5 s session cache, so only pub/sub can make a revocation felt
// within a second) and mail through mailpit. A user made with the CLI is
// signed in on two clients. A cross-site form post is refused and changes
// nothing; a wrong current password is refused and audited; the right one
// changes the password: the caller's cookie is replaced (the old one is
// dead, the new one reaches the upstream with the identity), the other
// client's session ends within a second, the old password no longer signs
// in and the new one does, the password_changed mail arrives without
// either password in it, and `audit tail --user` shows the failure and the
// change while `audit verify` passes.
func TestChangePassword(t *testing.T) {
	t.Parallel()
	mp := harness.StartMailpit(t)
	g := newGateway(t, func(c *harness.GatewayConfig) {
		c.SessionCache = "" // the default 5s: the poll below needs pub/sub
		c.AppOptions = append(c.AppOptions, mp.EmailOption())
	})
	const email = "erin@example.test"
	oldPW, newPW := newPassword(), newPassword()
	wrong := "wrong " + newPassword()
	harness.Sensitive(wrong)
	id := g.addUser(email, "Erin Example", oldPW)
	g.start()

	a, b := g.client(), g.client()
	a.Login(email, oldPW)
	b.Login(email, oldPW)
	oldA, tokB := a.Cookie(cookieName), b.Cookie(cookieName)
	harness.Sensitive(oldA, tokB)
	if oldA == "" || tokB == "" || oldA == tokB {
		t.Fatalf("two logins did not give two sessions")
	}
	// B's session is now in the instance's cache.
	expectStatus(t, b.Get("/app", api...), http.StatusOK)

	change := func(current, next string) map[string]any {
		return map[string]any{"current_password": current, "new_password": next, "confirm": next}
	}

	t.Run("a cross-site form post is refused and changes nothing", func(t *testing.T) {
		form := url.Values{"current_password": {oldPW}, "new_password": {newPW}, "confirm": {newPW}, "logout_others": {"on"}}
		r := a.PostForm("/auth/change-password", form, hdr(api, []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"})...)
		expectError(t, r, http.StatusForbidden, "CROSS_ORIGIN_REQUEST")
		if r.SetCookie(cookieName) != "" {
			t.Errorf("the refused post set a session cookie")
		}
		expectStatus(t, a.Get("/app", api...), http.StatusOK)
		expectError(t, g.client().PostJSON("/auth/login", map[string]string{"email": email, "password": newPW}),
			http.StatusUnauthorized, "INVALID_CREDENTIALS")
	})

	t.Run("a wrong current password is refused", func(t *testing.T) {
		r := a.PostJSON("/auth/change-password", change(wrong, newPW))
		expectError(t, r, http.StatusUnauthorized, "INVALID_CREDENTIALS")
		if r.SetCookie(cookieName) != "" {
			t.Errorf("the refused change set a session cookie")
		}
		// The caller keeps its session; nothing else changed.
		expectStatus(t, a.Get("/app", api...), http.StatusOK)
		expectStatus(t, b.Get("/app", api...), http.StatusOK)
	})
	if t.Failed() {
		t.FailNow()
	}

	// The change.
	r := a.PostJSON("/auth/change-password", change(oldPW, newPW))
	expectStatus(t, r, http.StatusOK)
	ans := r.JSON()
	if ans["password_changed"] != true || ans["sessions_ended"] != float64(1) {
		t.Errorf("answer: %s", r)
	}
	checkSessionCookie(t, r)
	newA := a.Cookie(cookieName)
	harness.Sensitive(newA)
	if newA == "" || newA == oldA {
		t.Fatalf("the caller's session cookie was not replaced")
	}

	t.Run("the caller's old cookie is dead and the new one works", func(t *testing.T) {
		expectError(t, g.client().Get("/app", hdr(api, withCookie(oldA))...), http.StatusUnauthorized, "SESSION_EXPIRED")
		r := a.Get("/app/after-change", api...)
		expectStatus(t, r, http.StatusOK)
		e := r.Echo()
		if got := e.Values("Remote-User"); len(got["Remote-User"]) != 1 || got["Remote-User"][0] != id {
			t.Errorf("Remote-User = %v, want %s", got, id)
		}
		if got := e.Values("Remote-Email"); len(got["Remote-Email"]) != 1 || got["Remote-Email"][0] != email {
			t.Errorf("Remote-Email = %v, want %s", got, email)
		}
	})

	t.Run("the other session ends within a second", func(t *testing.T) {
		_, took := waitStatus(t, b, "/app", http.StatusUnauthorized, time.Second, api...)
		t.Logf("B refused %s after the change (session cache 5s)", took.Round(time.Millisecond))
		expectError(t, b.Get("/app", api...), http.StatusUnauthorized, "SESSION_EXPIRED")
	})

	t.Run("only the new password signs in", func(t *testing.T) {
		expectError(t, g.client().PostJSON("/auth/login", map[string]string{"email": email, "password": oldPW}),
			http.StatusUnauthorized, "INVALID_CREDENTIALS")
		c := g.client()
		c.Login(email, newPW)
		expectStatus(t, c.Get("/app", api...), http.StatusOK)
	})

	t.Run("the password_changed mail arrives without the passwords", func(t *testing.T) {
		const subject = "Your password was changed"
		var mails []*harness.Mail
		ok, _ := harness.Eventually(20*time.Second, 100*time.Millisecond, func() bool {
			all, err := mp.MessagesTo(email)
			if err != nil {
				return false
			}
			mails = mails[:0]
			for _, m := range all {
				if m.Subject == subject {
					mails = append(mails, m)
				}
			}
			return len(mails) > 0
		})
		if !ok {
			t.Fatalf("no %q mail to %s within 20s\nmailpit logs:\n%s", subject, email, mp.Logs())
		}
		// The worker may still be sending: give a duplicate time to show.
		time.Sleep(500 * time.Millisecond)
		all, err := mp.MessagesTo(email)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, m := range all {
			if m.Subject == subject {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d %q mails, want 1", n, subject)
		}
		m := mails[0]
		if m.From != harness.MailFrom || !strings.Contains(m.Text, "Erin Example") || !strings.Contains(m.Text, "was changed") {
			t.Errorf("mail from %q, text:\n%s", m.From, m.Text)
		}
		for _, s := range []string{oldPW, newPW, wrong, oldA, newA} {
			if strings.Contains(m.Subject+m.Text+m.HTML, s) {
				t.Errorf("the password_changed mail holds a password or token")
			}
		}
	})

	t.Run("audit tail shows the failure and the change; verify passes", func(t *testing.T) {
		out, errOut, code := g.cli("", "auth", "audit", "tail", "--user", email, "-n", "50", "--config", g.cfgPath)
		if code != 0 {
			t.Fatalf("audit tail: exit %d\n%s%s", code, out, errOut)
		}
		t.Logf("audit tail --user %s:\n%s", email, out)
		var types []string
		var changed string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Fields(l)
			if len(f) < 3 {
				t.Fatalf("tail line %q", l)
			}
			types = append(types, f[2])
			if f[2] == "password.changed" {
				changed = l
			}
		}
		got := strings.Join(types, " ")
		// The first login.failed is the cross-site check trying the new
		// password; the second, the old password after the change.
		if !regexp.MustCompile(`^user\.created login\.succeeded login\.succeeded login\.failed password\.change_failed password\.changed login\.failed login\.succeeded$`).MatchString(got) {
			t.Errorf("events: %s", got)
		}
		if fieldOf(changed, "via") != "via=self" || fieldOf(changed, "email") != "email="+email {
			t.Errorf("password.changed line: %q", changed)
		}
		if !strings.Contains(out, "reason=invalid_credentials") {
			t.Errorf("the failed change has no reason:\n%s", out)
		}
		for _, s := range []string{oldPW, newPW, wrong, oldA, newA, tokB} {
			if strings.Contains(out, s) {
				t.Errorf("audit tail output holds a password or token")
			}
		}
		out, errOut, code = g.cli("", "auth", "audit", "verify", "--config", g.cfgPath)
		if code != 0 || !strings.HasPrefix(out, "ok: ") {
			t.Fatalf("audit verify: exit %d\n%s%s", code, out, errOut)
		}
	})
}

// TestChangePasswordLockout: wrong current passwords count toward the login
// lockout of the account and address, so a stolen session cannot be used to
// guess the password faster than the login form allows: once locked, the
// right current password is refused, and so is a login.
func TestChangePasswordLockout(t *testing.T) {
	t.Parallel()
	g := newGateway(t, func(c *harness.GatewayConfig) {
		c.Limits = true
		c.AppOptions = append(c.AppOptions, "rate_limit off", "lockout 3 15m 15m")
	})
	const email = "frank@example.test"
	pw, next := newPassword(), newPassword()
	wrong := "wrong " + newPassword()
	harness.Sensitive(wrong)
	g.addUser(email, "Frank", pw)
	g.start()
	c := g.client()
	c.Login(email, pw)
	for i := 0; i < 3; i++ {
		expectError(t, c.PostJSON("/auth/change-password", map[string]any{"current_password": wrong, "new_password": next}),
			http.StatusUnauthorized, "INVALID_CREDENTIALS")
	}
	r := c.PostJSON("/auth/change-password", map[string]any{"current_password": pw, "new_password": next})
	expectError(t, r, http.StatusTooManyRequests, "ACCOUNT_LOCKED")
	if r.Header.Get("Retry-After") != "900" {
		t.Errorf("Retry-After %q, want 900", r.Header.Get("Retry-After"))
	}
	expectError(t, g.client().PostJSON("/auth/login", map[string]string{"email": email, "password": pw}),
		http.StatusTooManyRequests, "ACCOUNT_LOCKED")
	// The password did not change: after an unlock the old one signs in.
	if out, errOut, code := g.cli("", "auth", "user", "unlock", email, "--config", g.cfgPath); code != 0 {
		t.Fatalf("unlock: exit %d\n%s%s", code, out, errOut)
	}
	expectError(t, g.client().PostJSON("/auth/login", map[string]string{"email": email, "password": next}),
		http.StatusUnauthorized, "INVALID_CREDENTIALS")
	g.client().Login(email, pw)
}

// TestChangePasswordKeepOthers: with "logout_others": false the caller's
// session is still replaced (no fixation across a credential change) but
// the user's other sessions live on.
func TestChangePasswordKeepOthers(t *testing.T) {
	t.Parallel()
	g := newGateway(t, nil)
	const email = "grace@example.test"
	pw, next := newPassword(), newPassword()
	g.addUser(email, "Grace", pw)
	g.start()
	a, b := g.client(), g.client()
	a.Login(email, pw)
	b.Login(email, pw)
	oldA := a.Cookie(cookieName)
	harness.Sensitive(oldA)
	r := a.PostJSON("/auth/change-password", map[string]any{"current_password": pw, "new_password": next, "logout_others": false})
	expectStatus(t, r, http.StatusOK)
	if r.JSON()["sessions_ended"] != float64(0) {
		t.Errorf("answer: %s", r)
	}
	if a.Cookie(cookieName) == oldA {
		t.Fatalf("the caller's session cookie was not replaced")
	}
	expectError(t, g.client().Get("/app", hdr(api, withCookie(oldA))...), http.StatusUnauthorized, "SESSION_EXPIRED")
	expectStatus(t, a.Get("/app", api...), http.StatusOK)
	// Past the 1s session cache: B's session is really alive in the store.
	time.Sleep(1200 * time.Millisecond)
	expectStatus(t, b.Get("/app", api...), http.StatusOK)
}
