package browser

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/caddyauth/gateway/test/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }

// chromiumPath is Debian's chromium package.
const chromiumPath = "/usr/bin/chromium"

const (
	// testBudget bounds one test's browser: when it passes, the browser
	// closes and every pending action fails (no 10-minute hang).
	testBudget = 2 * time.Minute
	// actionTimeout bounds one browser action (a navigation, a query).
	actionTimeout = 20 * time.Second
	// cookieName is the session cookie with `cookie { insecure }`: no
	// __Host- prefix, which needs Secure.
	cookieName = "caddyauth"
)

// Colours of flows/static/style.css as getComputedStyle reports them. A page
// without its stylesheet has a transparent body and grey default buttons.
const (
	accentRGB    = "rgb(36, 87, 214)"   // --accent #2457d6: primary buttons
	secondaryRGB = "rgb(74, 79, 92)"    // button.secondary #4a4f5c
	bodyRGB      = "rgb(243, 244, 247)" // body #f3f4f7
	cardRGB      = "rgb(255, 255, 255)" // .card #fff
)

// ---------------------------------------------------------------------------
// The gateway

// site is one test's deployment: the binary, the echo upstream and (after
// start) Caddy protecting it on http://localhost:<port>.
type site struct {
	t       *testing.T
	bin     string
	up      *httptest.Server
	cfg     harness.GatewayConfig
	cfgPath string
	caddy   *harness.Caddy
}

// newSite prepares a plain-http site (`cookie { insecure }`) whose users and
// sessions live in the default SQLite database of the test's data
// directory. Users can be added before or after start.
func newSite(t *testing.T) *site {
	t.Helper()
	requireChromium(t) // before the slow build
	s := &site{t: t, bin: harness.BuildBinary(t), up: harness.Upstream(t)}
	s.cfg = harness.GatewayConfig{
		Plain:    true,
		Sessions: "database",
		Upstream: harness.UpstreamAddr(s.up),
	}
	s.cfgPath = harness.WriteCaddyfile(t, s.cfg.Caddyfile(t))
	return s
}

func (s *site) start() *site {
	s.t.Helper()
	s.caddy = harness.StartCaddy(s.t, s.bin, s.cfg.Caddyfile(s.t))
	return s
}

// url is the absolute URL of path on the site.
func (s *site) url(path string) string { return s.cfg.SiteURL() + path }

// addUser creates a user with `caddy auth user add` and returns its id.
func (s *site) addUser(email, name, password string, groups ...string) string {
	s.t.Helper()
	return harness.AddUser(s.t, s.bin, s.cfgPath, email, name, password, groups...)
}

// setupPath waits for the first-run log line and returns its setup_path
// ("/auth/setup?token=...").
func (s *site) setupPath() string {
	s.t.Helper()
	entry := s.caddy.WaitLog("no user exists yet", 10*time.Second)
	p, _ := entry["setup_path"].(string)
	if !strings.HasPrefix(p, "/auth/setup?token=") {
		s.t.Fatalf("setup_path in the log = %q", p)
	}
	return p
}

// newPassword is a fresh password of more than 15 characters, registered
// for the harness's leak scan.
func newPassword() string {
	pw := "pw " + harness.RandomSecret()[:24] + " horse"
	harness.Sensitive(pw)
	return pw
}

// ---------------------------------------------------------------------------
// The browser

// browser is one headless chromium with a fresh profile and one tab, seen
// from one test (failures go to t).
type browser struct {
	t *testing.T
	*tab
}

type tab struct {
	ctx context.Context

	mu      sync.Mutex
	console []chromedp.ConsoleMessage
	output  bytes.Buffer // chromium's stdout and stderr
}

// on is the same browser reporting to t (a subtest).
func (b *browser) on(t *testing.T) *browser { return &browser{t: t, tab: b.tab} }

// newBrowser starts chromium for t and closes it at cleanup. A missing
// chromium fails the test with the install command.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	requireChromium(t)
	b := &browser{t: t, tab: &tab{}}
	profile := t.TempDir() // removed after the browser is gone (cleanups run last-in first-out)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.UserDataDir(profile),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests run as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.WindowSize(640, 720),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("disable-client-side-phishing-detection", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider,"+
			"AutofillServerCommunication,PasswordLeakDetection,CertificateTransparencyComponentUpdater"),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
		chromedp.Flag("force-color-profile", "srgb"),
		// No outside network: no proxy from the environment, and no name
		// resolves except the loopback ones the tests use.
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"),
		chromedp.CombinedOutput(lockedWriter{&b.mu, &b.output}),
	}
	budget, cancelBudget := context.WithTimeout(context.Background(), testBudget)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(budget, opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	b.ctx = ctx

	// The first Do starts the browser and opens the tab; Console then
	// records every console and browser-log message of the tab.
	if err := chromedp.Do(ctx); err != nil {
		cancelCtx()
		cancelAlloc()
		cancelBudget()
		b.mu.Lock()
		out := b.output.String()
		b.mu.Unlock()
		t.Fatalf("starting %s: %v\n%s", chromiumPath, err, out)
	}
	messages := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.console = append(b.console, m)
			b.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancelCtx()
		<-done
		cancelAlloc() // waits until chromium has exited
		cancelBudget()
		b.mu.Lock()
		defer b.mu.Unlock()
		harness.AssertNoLeaks(t, "chromium output", b.output.String())
		if t.Failed() {
			for _, m := range b.console {
				t.Logf("browser console: %s %s (%s:%d)", m.Source, m, m.URL, m.Line+1)
			}
		}
	})
	return b
}

// requireChromium fails t (never skips) when Debian's chromium is missing.
func requireChromium(t *testing.T) {
	t.Helper()
	if fi, err := os.Stat(chromiumPath); err != nil || fi.IsDir() {
		t.Fatalf("chromium is not installed at %s (%v): install it with `apt-get install -y chromium` (as root); the browser tests never skip", chromiumPath, err)
	}
}

type lockedWriter struct {
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

// run runs one action with actionTimeout and fails the test on error.
func run[T any](b *browser, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, actionTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("browser: %s: %v (page %s)", what, err, b.locationOrErr())
	}
	return v
}

func (b *browser) locationOrErr() string {
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "unknown: " + err.Error()
	}
	return loc
}

// open navigates to u, waits for the load and returns the response of the
// document (after redirects).
func (b *browser) open(u string) *network.Response {
	b.t.Helper()
	return run(b, "open "+u, chromedp.NavigateResponse(u))
}

// click clicks the element sel (a submit button) like a user would, waits
// for the page it navigates to and returns that page's response.
func (b *browser) click(sel string) *network.Response {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, actionTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		b.t.Fatalf("browser: click %s: %v (page %s)", sel, err, b.locationOrErr())
	}
	if resp == nil {
		b.t.Fatalf("browser: click %s: no document response (page %s)", sel, b.locationOrErr())
	}
	return resp
}

// clickInPlace clicks sel without waiting for a navigation.
func (b *browser) clickInPlace(sel string) {
	b.t.Helper()
	run(b, "click "+sel, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

// typeInto focuses the field sel and types text with key events.
func (b *browser) typeInto(sel, text string) {
	b.t.Helper()
	run(b, "type into "+sel, chromedp.SendKeys(chromedp.CSS(sel), text, chromedp.NodeVisible))
}

// clear empties the field sel.
func (b *browser) clear(sel string) {
	b.t.Helper()
	run(b, "clear "+sel, chromedp.Clear(chromedp.CSS(sel)))
}

func (b *browser) location() string {
	b.t.Helper()
	return run(b, "location", chromedp.Location())
}

// eval evaluates a JavaScript expression through the DevTools protocol (not
// a page script, so the page's CSP does not apply to it) and decodes the
// result into T.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	return run(b, "evaluate", chromedp.Evaluate[T](expr))
}

// focused is the id of the element that has focus once autofocus has run
// (the browser applies it at a rendering update, possibly after the load
// event), or "" if none gets focus within a second.
func (b *browser) focused() string {
	b.t.Helper()
	var id string
	harness.Eventually(time.Second, 20*time.Millisecond, func() bool {
		id = eval[string](b, `document.activeElement && document.activeElement !== document.body ? document.activeElement.id : ''`)
		return id != ""
	})
	return id
}

// cookies are the browser's cookies for u. Their values are registered
// for the harness's leak scan.
func (b *browser) cookies(u string) map[string]*network.Cookie {
	b.t.Helper()
	res := run(b, "get cookies", func(ctx context.Context, t *chromedp.Target) (network.GetCookiesResult, error) {
		return chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{u}})
	})
	out := map[string]*network.Cookie{}
	for _, c := range res.Cookies {
		harness.Sensitive(c.Value)
		out[c.Name] = c
	}
	return out
}

// consoleMessages is a copy of what the tab logged so far.
func (b *browser) consoleMessages() []chromedp.ConsoleMessage {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]chromedp.ConsoleMessage(nil), b.console...)
}

// cspViolations are the console messages that report a Content Security
// Policy violation (Chrome logs them as errors from the "security" source:
// "Refused to apply inline style because it violates ...").
func cspViolations(msgs []chromedp.ConsoleMessage) []string {
	var out []string
	for _, m := range msgs {
		if strings.Contains(m.Text, "Content Security Policy") || strings.Contains(m.Text, "Content-Security-Policy") {
			out = append(out, fmt.Sprintf("%s %s (%s)", m.Source, m, m.URL))
		}
	}
	return out
}

// assertCleanConsole fails if the tab logged a CSP violation, an exception
// or a console error other than the status line of an error page
// ("Failed to load resource: ... 401"), which the browser logs for every
// 4xx document.
func (b *browser) assertCleanConsole() {
	b.t.Helper()
	for _, m := range b.consoleMessages() {
		bad := m.IsException() || m.Source == "security" ||
			strings.Contains(m.Text, "Content Security Policy") ||
			(m.Type == chromedp.ConsoleError && !strings.HasPrefix(m.Text, "Failed to load resource: the server responded with a status of"))
		if bad {
			b.t.Errorf("browser console: %s %s (%s:%d)", m.Source, m, m.URL, m.Line+1)
		}
	}
}

// screenshot saves a PNG of the whole page as docs/img/<name> and returns
// the file's path.
func (b *browser) screenshot(name string) string {
	b.t.Helper()
	buf := run(b, "screenshot", chromedp.FullScreenshot(100))
	img, err := png.Decode(bytes.NewReader(buf))
	if err != nil {
		b.t.Fatalf("screenshot %s is not a PNG: %v", name, err)
	}
	if sz := img.Bounds().Size(); sz.X < 320 || sz.Y < 240 || sz.X > 2000 || sz.Y > 3000 {
		b.t.Errorf("screenshot %s is %dx%d", name, sz.X, sz.Y)
	}
	dir := filepath.Join(harness.ModuleRoot(b.t), "docs", "img")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if old, err := os.ReadFile(p); err == nil && sameImage(old, img) {
		return p // no visible change: leave the file alone (no churn in git)
	}
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s (%d bytes)", p, len(buf))
	return p
}

// sameImage reports whether the PNG old shows the same picture as img, up
// to a blinking text caret: same size, at most 0.2% of pixels differ.
func sameImage(old []byte, img image.Image) bool {
	prev, err := png.Decode(bytes.NewReader(old))
	if err != nil || prev.Bounds() != img.Bounds() {
		return false
	}
	r := img.Bounds()
	diff := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			r1, g1, b1, a1 := prev.At(x, y).RGBA()
			r2, g2, b2, a2 := img.At(x, y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 || a1 != a2 {
				diff++
			}
		}
	}
	return diff*500 <= r.Dx()*r.Dy()
}

// ---------------------------------------------------------------------------
// What a page shows

// pageFacts is what one evaluation reads from the current page.
type pageFacts struct {
	URL         string       `json:"url"`
	Title       string       `json:"title"`
	H1          string       `json:"h1"`
	Text        string       `json:"text"`
	Alert       string       `json:"alert"`
	Scripts     int          `json:"scripts"`
	Handlers    []string     `json:"handlers"`   // inline on* attributes
	StyleAttrs  int          `json:"styleAttrs"` // inline style attributes
	Sheets      int          `json:"sheets"`
	Rules       int          `json:"rules"`
	BodyBG      string       `json:"bodyBG"`
	CardBG      string       `json:"cardBG"`
	CardRadius  string       `json:"cardRadius"`
	Buttons     []buttonFact `json:"buttons"`
	Inputs      []inputFact  `json:"inputs"`
	Forms       []formFact   `json:"forms"`
	LabelsFor   []string     `json:"labelsFor"`   // label[for] values
	LabelsBroke []string     `json:"labelsBroke"` // label[for] naming no input
}

type buttonFact struct {
	Text       string `json:"text"`
	Type       string `json:"type"`
	Class      string `json:"class"`
	Background string `json:"background"`
	Color      string `json:"color"`
}

type inputFact struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	Type         string   `json:"type"`
	Autocomplete string   `json:"autocomplete"`
	Value        string   `json:"value"`
	Required     bool     `json:"required"`
	MinLength    int      `json:"minLength"`
	Checked      bool     `json:"checked"`
	Hidden       bool     `json:"hidden"` // the hidden attribute, and not rendered
	Labels       []string `json:"labels"`
}

type formFact struct {
	Action string `json:"action"`
	Method string `json:"method"`
}

const pageFactsJS = `(() => {
	const txt = e => e ? e.textContent.replace(/\s+/g, ' ').trim() : '';
	const q = s => document.querySelector(s);
	const all = Array.from(document.querySelectorAll('*'));
	const card = q('main.card');
	return {
		url: location.href,
		title: document.title,
		h1: txt(q('h1')),
		text: document.body ? document.body.innerText : '',
		alert: txt(q('[role=alert]')),
		scripts: document.querySelectorAll('script').length,
		handlers: all.flatMap(e => Array.from(e.attributes).filter(a => a.name.startsWith('on')).map(a => e.tagName.toLowerCase() + '[' + a.name + ']')),
		styleAttrs: all.filter(e => e.hasAttribute('style')).length,
		sheets: document.styleSheets.length,
		rules: Array.from(document.styleSheets).reduce((n, s) => n + s.cssRules.length, 0),
		bodyBG: document.body ? getComputedStyle(document.body).backgroundColor : '',
		cardBG: card ? getComputedStyle(card).backgroundColor : '',
		cardRadius: card ? getComputedStyle(card).borderTopLeftRadius : '',
		buttons: Array.from(document.querySelectorAll('button')).map(e => ({
			text: txt(e), type: e.type, class: e.className,
			background: getComputedStyle(e).backgroundColor, color: getComputedStyle(e).color})),
		inputs: Array.from(document.querySelectorAll('input')).map(e => ({
			id: e.id, name: e.name, type: e.type, autocomplete: e.getAttribute('autocomplete') || '',
			value: e.value, required: e.required, minLength: e.minLength, checked: e.checked,
			hidden: e.hidden && e.getClientRects().length === 0,
			labels: Array.from(e.labels || []).map(txt)})),
		forms: Array.from(document.forms).map(f => ({action: f.getAttribute('action'), method: (f.getAttribute('method') || 'get').toLowerCase()})),
		labelsFor: Array.from(document.querySelectorAll('label')).map(l => l.htmlFor),
		labelsBroke: Array.from(document.querySelectorAll('label')).filter(l => !l.control).map(l => txt(l)),
	};
})()`

// page reads the current page.
func (b *browser) page() *pageFacts {
	b.t.Helper()
	p := eval[pageFacts](b, pageFactsJS)
	return &p
}

func (p *pageFacts) input(name string) *inputFact {
	for i := range p.Inputs {
		if p.Inputs[i].Name == name {
			return &p.Inputs[i]
		}
	}
	return nil
}

func (p *pageFacts) button(text string) *buttonFact {
	for i := range p.Buttons {
		if p.Buttons[i].Text == text {
			return &p.Buttons[i]
		}
	}
	return nil
}

// assertPortalPage checks what every portal page must be: served with the
// strict CSP, free of scripts and inline handlers or styles, styled by its
// stylesheet (so the CSP let it load), and every label tied to a field.
func assertPortalPage(t *testing.T, what string, resp *network.Response, p *pageFacts) {
	t.Helper()
	csp := header(resp, "Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "style-src 'self'", "form-action 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("%s: CSP %q lacks %q", what, csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-") {
		t.Errorf("%s: CSP %q allows unsafe sources", what, csp)
	}
	if ct := header(resp, "Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("%s: Content-Type %q", what, ct)
	}
	if p.Scripts != 0 || len(p.Handlers) != 0 || p.StyleAttrs != 0 {
		t.Errorf("%s: %d script elements, inline handlers %v, %d style attributes; want none", what, p.Scripts, p.Handlers, p.StyleAttrs)
	}
	if p.Sheets != 1 || p.Rules < 10 {
		t.Errorf("%s: %d stylesheets with %d rules: the stylesheet did not load", what, p.Sheets, p.Rules)
	}
	if p.BodyBG != bodyRGB || p.CardBG != cardRGB || p.CardRadius != "12px" {
		t.Errorf("%s: body background %q, card background %q radius %q; want %s, %s, 12px (the stylesheet is not applied)",
			what, p.BodyBG, p.CardBG, p.CardRadius, bodyRGB, cardRGB)
	}
	if len(p.LabelsBroke) != 0 {
		t.Errorf("%s: labels tied to no field: %v", what, p.LabelsBroke)
	}
	for _, in := range p.Inputs {
		// A field that is not rendered (type=hidden, or the hidden
		// username beside a new password for password managers) is
		// neither seen nor read out: it needs no label.
		if in.Type != "hidden" && !in.Hidden && len(in.Labels) == 0 {
			t.Errorf("%s: field %q has no label", what, in.Name)
		}
	}
}

// header reads a response header (the protocol keeps the server's case).
func header(resp *network.Response, name string) string {
	for k, v := range resp.Headers {
		if strings.EqualFold(k, name) {
			s, _ := v.(string)
			return s
		}
	}
	return ""
}

// echoSeen decodes the echo upstream's JSON as the browser shows it.
func (b *browser) echoSeen() *harness.Echo {
	b.t.Helper()
	raw := eval[string](b, `(document.querySelector('pre') || document.body).textContent`)
	var e harness.Echo
	if err := json.Unmarshal([]byte(raw), &e); err != nil || !e.Echo {
		b.t.Fatalf("page %s is not the echo upstream's answer: %v\n%s", b.locationOrErr(), err, raw)
	}
	return &e
}

// headerOf is the single value the upstream received for name.
func headerOf(e *harness.Echo, name string) string {
	var vals []string
	for _, v := range e.Values(name) {
		vals = append(vals, v...)
	}
	return strings.Join(vals, " | ")
}

// loginURLFor is where the gateway sends an anonymous browser asking for
// path.
func (s *site) loginURLFor(path string) string {
	return s.url("/auth/login?rd=" + url.QueryEscape(path))
}
