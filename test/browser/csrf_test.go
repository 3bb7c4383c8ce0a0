package browser

import (
	"context"
	"encoding/json"
	"html/template"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/caddyauth/gateway/test/harness"
)

// attackerPage auto-submits a POST form to target with the given fields as
// soon as it loads: the page a victim is lured to. (Our pages allow no
// script; the attacker's may have some.)
var attackerPage = template.Must(template.New("evil").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>You won a prize</title></head>
<body><h1>Claim your prize</h1>
<form id="f" method="post" action="{{.Target}}">
{{range $k, $v := .Fields}}<input type="hidden" name="{{$k}}" value="{{$v}}">
{{end}}</form>
<script>document.getElementById('f').submit();</script>
</body></html>
`))

// TestCrossSiteFormPost: a signed-in user visits pages on other origins
// that auto-submit forms to the portal (sign out, sign out everywhere, sign
// in as the attacker). The portal's CSRF protection refuses each with 403,
// and the user's session survives: still signed in as themselves, the
// cookie still in the browser.
func TestCrossSiteFormPost(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	alicePW, malloryPW := newPassword(), newPassword()
	s.addUser("alice@example.test", "Alice", alicePW)
	s.addUser("mallory@example.test", "Mallory", malloryPW)
	s.start()

	// The attacker's server. Reached as http://127.0.0.1:<port> it is
	// another site (the Lax cookie stays home); as http://localhost:<port>
	// it is the same site on another port, another origin, so the browser
	// does send the session cookie and only the CSRF check stands between.
	var evilMu sync.Mutex
	evil := struct {
		Target string
		Fields map[string]string
	}{}
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		evilMu.Lock()
		defer evilMu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = attackerPage.Execute(w, evil)
	}))
	t.Cleanup(attacker.Close)
	crossSite := attacker.URL // http://127.0.0.1:<port>
	sameSite := strings.Replace(attacker.URL, "127.0.0.1", "localhost", 1)

	b := newBrowser(t)
	b.open(s.url("/auth/login"))
	b.typeInto("#email", "alice@example.test")
	b.typeInto("#password", alicePW)
	b.click("button[type=submit]")
	before := b.cookies(s.url("/"))[cookieName]
	if before == nil {
		t.Fatalf("not signed in: no %s cookie", cookieName)
	}
	assertSignedInAs(t, b, s, "alice@example.test")

	cases := []struct {
		name, from, path string
		fields           map[string]string
		site             string // Sec-Fetch-Site the browser must send
		cookie           bool   // whether the browser sends the session cookie
	}{
		{"logout from another site", crossSite, "/auth/logout", nil, "cross-site", false},
		{"logout from a sibling origin", sameSite, "/auth/logout", nil, "same-site", true},
		{"logout-all from a sibling origin", sameSite, "/auth/logout-all", nil, "same-site", true},
		{
			"login as the attacker from a sibling origin", sameSite, "/auth/login",
			map[string]string{"email": "mallory@example.test", "password": malloryPW},
			"same-site", true,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := b.on(t)
			target := s.url(c.path)
			evilMu.Lock()
			evil.Target, evil.Fields = target, c.fields
			evilMu.Unlock()

			post := b.watchPost(target, func() { b.open(c.from + "/prize") })
			if post.status != http.StatusForbidden {
				t.Errorf("POST %s from %s answered %d, want 403", c.path, c.from, post.status)
			}
			if post.site != c.site {
				t.Errorf("the browser sent Sec-Fetch-Site %q, want %q: the test does not exercise what it says", post.site, c.site)
			}
			if post.cookie != c.cookie {
				t.Errorf("the browser sent the session cookie: %v, want %v", post.cookie, c.cookie)
			}
			if post.setCookie != "" {
				t.Errorf("the refused POST set a cookie: %s", post.setCookie)
			}

			// What the victim sees: our error page, not a signed-out state.
			b.waitLoaded(target)
			p := b.page()
			if p.URL != target || p.H1 != "Forbidden" || p.Alert != "Cross-origin request refused." || !strings.Contains(p.Text, "CROSS_ORIGIN_REQUEST") {
				t.Errorf("after the forged POST: at %s, h1 %q, alert %q, text %q; want the 403 error page", p.URL, p.H1, p.Alert, p.Text)
			}

			after := b.cookies(s.url("/"))[cookieName]
			if after == nil || after.Value != before.Value {
				t.Errorf("the session cookie changed or vanished after the forged POST")
			}
			assertSignedInAs(t, b, s, "alice@example.test")
		})
	}
	b.assertCleanConsole()
}

// waitLoaded waits until the tab shows u, fully loaded.
func (b *browser) waitLoaded(u string) {
	b.t.Helper()
	expr := "(location.href + ' ' + document.readyState) === " + jsString(u+" complete")
	ok, took := harness.Eventually(5*time.Second, 20*time.Millisecond, func() bool {
		// Errors are expected while the tab is between documents.
		ctx, cancel := context.WithTimeout(b.ctx, time.Second)
		defer cancel()
		done, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		return err == nil && done
	})
	if !ok {
		b.t.Fatalf("the tab did not load %s within %s; it shows %s", u, took, b.locationOrErr())
	}
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	q, _ := json.Marshal(s)
	return string(q)
}

// postSeen is what the browser sent and got for one POST.
type postSeen struct {
	status    int
	site      string // Sec-Fetch-Site
	cookie    bool   // the session cookie was sent
	setCookie string
}

// watchPost runs trigger and waits for the browser's POST to target to be
// answered, recording the raw request headers and the response.
func (b *browser) watchPost(target string, trigger func()) postSeen {
	b.t.Helper()
	var (
		mu      sync.Mutex
		reqID   network.RequestID
		seen    postSeen
		headers = map[network.RequestID]network.Headers{}
		setCk   = map[network.RequestID]string{}
		status  = map[network.RequestID]int{}
	)
	lctx, stop := context.WithCancel(b.ctx)
	defer stop()
	err := chromedp.Listen(lctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		// Keep the first of each per request id: a redirect reuses the id
		// for the next hop, and the POST's own answer is what counts.
		case *network.EventRequestWillBeSent:
			if ev.Request.URL == target && ev.Request.Method == http.MethodPost && reqID == "" {
				reqID = ev.RequestID
			}
			if r := ev.RedirectResponse; r != nil && status[ev.RequestID] == 0 {
				status[ev.RequestID] = int(r.Status)
			}
		case *network.EventRequestWillBeSentExtraInfo:
			if _, ok := headers[ev.RequestID]; !ok {
				headers[ev.RequestID] = ev.Headers
			}
		case *network.EventResponseReceivedExtraInfo:
			if v, ok := headerValue(ev.Headers, "Set-Cookie"); ok && setCk[ev.RequestID] == "" {
				setCk[ev.RequestID] = v
			}
		case *network.EventResponseReceived:
			if status[ev.RequestID] == 0 {
				status[ev.RequestID] = int(ev.Response.Status)
			}
		}
	})
	if err != nil {
		b.t.Fatalf("listen: %v", err)
	}
	trigger()
	ok, _ := harness.Eventually(actionTimeout, 20*time.Millisecond, func() bool {
		mu.Lock()
		defer mu.Unlock()
		_, h := headers[reqID]
		_, s := status[reqID]
		return reqID != "" && h && s
	})
	mu.Lock()
	defer mu.Unlock()
	if !ok {
		b.t.Fatalf("the browser sent no POST to %s (or got no answer) within %s; page %s", target, actionTimeout, b.locationOrErr())
	}
	seen.status = status[reqID]
	seen.site, _ = headerValue(headers[reqID], "Sec-Fetch-Site")
	ck, _ := headerValue(headers[reqID], "Cookie")
	seen.cookie = strings.Contains(ck, cookieName+"=")
	seen.setCookie = setCk[reqID]
	return seen
}

func headerValue(h network.Headers, name string) (string, bool) {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			s, _ := v.(string)
			return s, true
		}
	}
	return "", false
}

// assertSignedInAs asks /auth/session in the browser who it is.
func assertSignedInAs(t *testing.T, b *browser, s *site, email string) {
	t.Helper()
	resp := b.open(s.url("/auth/session"))
	raw := eval[string](b, `(document.querySelector('pre') || document.body).textContent`)
	var who struct {
		Authenticated bool `json:"authenticated"`
		User          struct {
			Email string `json:"email"`
		} `json:"user"`
	}
	if err := json.Unmarshal([]byte(raw), &who); err != nil || resp.Status != http.StatusOK || !who.Authenticated || who.User.Email != email {
		t.Errorf("/auth/session: status %d, %s; want signed in as %s", resp.Status, raw, email)
	}
}
