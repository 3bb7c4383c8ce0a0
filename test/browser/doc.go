// Package browser tests the gateway's pages in a real browser: Debian's
// chromium (/usr/bin/chromium), driven from Go with chromedp, against the
// built Caddy binary with the caddyauth module (started by test/harness) in
// front of the harness's echo upstream. The site is plain http on
// localhost with `cookie { insecure }`; users live in the default SQLite
// database of the test's private data directory.
//
//	go test -race -count=1 ./test/browser/
//
// chromium must be installed (apt-get install -y chromium); a missing
// browser fails the tests, it never skips them. The browser runs headless
// with a fresh profile, and a host-resolver rule that resolves nothing but
// localhost and 127.0.0.1, so it cannot reach the internet.
//
// TestPagesUnderStrictCSP also refreshes docs/img/setup.png, login.png and
// login-error.png when a page changes visibly; TestMFAJourney and
// TestChangePasswordJourney refresh mfa-challenge.png and
// change-password.png.
package browser
