package browser

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// TestTextContrast: every piece of text on the portal pages (setup, login
// error, signed-in, not-found) is readable in both colour schemes the
// stylesheet supports (`color-scheme: light dark`): WCAG 2 AA contrast,
// 4.5:1 for body text and 3:1 for large text, measured on the colours
// the browser computes, with translucent backgrounds composited.
func TestTextContrast(t *testing.T) {
	t.Parallel()
	s := newSite(t).start()
	link := s.setupPath()
	b := newBrowser(t)

	measure := func(page string) {
		t.Helper()
		for _, scheme := range []string{"light", "dark"} {
			b.colorScheme(scheme)
			texts := eval[[]textSample](b, textSamplesJS)
			t.Run(page+"/"+scheme, func(t *testing.T) {
				if len(texts) < 3 {
					t.Fatalf("only %d text samples found", len(texts))
				}
				for _, x := range texts {
					if r, min := x.ratio(), x.minimum(); r < min {
						t.Errorf("%s %q: %s on %s is %.2f:1, below %.1f:1", x.Element, x.Text, x.fg(), x.bg(), r, min)
					}
				}
			})
		}
		b.colorScheme("light")
	}

	b.open(s.url(link))
	measure("setup")

	pw := newPassword()
	s.addUser("lin@example.test", "Lin", pw)
	b.open(s.url("/auth/login"))
	b.typeInto("#email", "lin@example.test")
	b.typeInto("#password", "not the password")
	b.click("button[type=submit]")
	measure("login-error")

	b.typeInto("#password", pw)
	b.click("button[type=submit]")
	measure("signed-in")

	b.open(s.url("/auth/no-such-page"))
	measure("not-found")
}

// colorScheme emulates prefers-color-scheme.
func (b *browser) colorScheme(scheme string) {
	b.t.Helper()
	run(b, "emulate "+scheme, func(ctx context.Context, t *chromedp.Target) (cdp.Empty, error) {
		return chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		})
	})
}

// textSample is one element with text of its own: its colours (alpha
// composited onto what is below) and font.
type textSample struct {
	Element string     `json:"element"`
	Text    string     `json:"text"`
	FG      [3]float64 `json:"fg"`
	BG      [3]float64 `json:"bg"`
	Size    float64    `json:"size"`
	Weight  int        `json:"weight"`
}

const textSamplesJS = `(() => {
	const parse = s => {
		const m = /rgba?\(([^)]*)\)/.exec(s);
		if (!m) return [0, 0, 0, 0];
		const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(parseFloat);
		return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
	};
	const over = (top, below) => [0, 1, 2].map(i => top[i] * top[3] + below[i] * (1 - top[3])).concat([1]);
	const background = el => {
		const chain = [];
		for (let e = el; e; e = e.parentElement) chain.push(parse(getComputedStyle(e).backgroundColor));
		let bg = [255, 255, 255, 1];
		for (let i = chain.length - 1; i >= 0; i--) bg = over(chain[i], bg);
		return bg;
	};
	const out = [];
	for (const el of document.querySelectorAll('body *')) {
		const isField = el.tagName === 'INPUT' && el.type !== 'hidden' && el.value !== '';
		const ownText = Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim() !== '');
		if (!(isField || ownText) || el.getClientRects().length === 0) continue;
		const cs = getComputedStyle(el);
		const bg = background(el);
		const fg = over(parse(cs.color), bg);
		out.push({
			element: el.tagName.toLowerCase() + (el.className ? '.' + el.className.split(' ').join('.') : ''),
			text: (isField ? el.value : el.textContent).replace(/\s+/g, ' ').trim().slice(0, 48),
			fg: fg.slice(0, 3), bg: bg.slice(0, 3),
			size: parseFloat(cs.fontSize), weight: parseInt(cs.fontWeight, 10),
		});
	}
	return out;
})()`

// ratio is the WCAG 2 contrast ratio.
func (x textSample) ratio() float64 {
	l1, l2 := luminance(x.FG), luminance(x.BG)
	if l1 < l2 {
		l1, l2 = l2, l1
	}
	return (l1 + 0.05) / (l2 + 0.05)
}

// minimum is the AA threshold: 3:1 for large text (24px, or 18.66px
// bold), 4.5:1 otherwise.
func (x textSample) minimum() float64 {
	if x.Size >= 24 || (x.Size >= 18.66 && x.Weight >= 700) {
		return 3
	}
	return 4.5
}

func (x textSample) fg() string { return hexColor(x.FG) }
func (x textSample) bg() string { return hexColor(x.BG) }

func luminance(c [3]float64) float64 {
	lin := func(v float64) float64 {
		v /= 255
		if v <= 0.03928 {
			return v / 12.92
		}
		return math.Pow((v+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(c[0]) + 0.7152*lin(c[1]) + 0.0722*lin(c[2])
}

func hexColor(c [3]float64) string {
	return fmt.Sprintf("#%02x%02x%02x", int(math.Round(c[0])), int(math.Round(c[1])), int(math.Round(c[2])))
}
