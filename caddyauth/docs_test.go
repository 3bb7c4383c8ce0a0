package caddyauth

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestConfigurationDocumented fails when the Caddyfile parser accepts an
// option that docs/configuration.md does not name in backticks, so the
// reference cannot drift from the parser.
func TestConfigurationDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	keywords := parserKeywords(t)
	// Words inside `code spans` and ``` blocks of the page.
	documented := map[string]bool{}
	for i, part := range strings.Split(string(doc), "`") {
		if i%2 == 0 {
			continue
		}
		for _, w := range strings.FieldsFunc(part, func(r rune) bool { return strings.ContainsRune(" \t\n|[]{}<>()", r) }) {
			documented[w] = true
		}
	}
	for _, kw := range append(keywords, "caddyauth", "protect", "auth_portal") {
		if !documented[kw] {
			t.Errorf("option %q is accepted by the parser but not documented in docs/configuration.md", kw)
		}
	}
}

// parserKeywords are the option names the Caddyfile parsers switch on.
func parserKeywords(t *testing.T) []string {
	t.Helper()
	fset := token.NewFileSet()
	var decls []ast.Decl
	for _, name := range []string{"caddyfile.go", "caddyfile_directives.go", "audit.go", "oauth.go", "notify.go", "tokens.go", "sessions_redis.go", "account.go", "breach.go", "registration.go"} {
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		decls = append(decls, f.Decls...)
	}
	parsers := map[string]bool{"parseAppOption": true, "parseCookie": true, "parseHSTS": true, "parseProtect": true, "parsePortal": true, "parseRateLimit": true, "parseCORS": true, "parseMFA": true, "parseAudit": true, "parseOAuth": true, "parseSender": true, "parseOutbox": true, "parseTokens": true, "parseSessionsRedis": true, "parseAccount": true, "parsePassword": true, "parseBreachCheck": true, "parseRegistration": true}
	var keywords []string
	for _, decl := range decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || !parsers[fn.Name.Name] {
			continue
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			cc, ok := n.(*ast.CaseClause)
			if !ok {
				return true
			}
			for _, e := range cc.List {
				if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					s, _ := strconv.Unquote(lit.Value)
					keywords = append(keywords, s)
				}
			}
			return true
		})
	}
	if len(keywords) < 20 {
		t.Fatalf("found only %d keywords: the parser moved?", len(keywords))
	}
	return keywords
}

// docPages are the pages whose Caddyfile examples and option mentions must
// be real: README.md and every docs/*.md.
func docPages(t *testing.T) map[string]string {
	t.Helper()
	names, _ := filepath.Glob("../docs/*.md")
	names = append(names, "../README.md")
	pages := map[string]string{}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		pages[strings.TrimPrefix(n, "../")] = string(b)
	}
	if len(pages) < 5 {
		t.Fatalf("found only %d pages", len(pages))
	}
	return pages
}

var fenced = regexp.MustCompile("(?ms)^[ \t]*```([a-z]*)\n(.*?)^[ \t]*```")

var quoted = regexp.MustCompile(`"[^"\n]*"`)

// templated: a syntax summary (`<value>`, `a|b`, `[optional]`, `...`)
// rather than a Caddyfile that runs. Quoted values ("Name <a@b>") do not
// count.
func templated(s string) bool {
	s = quoted.ReplaceAllString(s, `""`)
	return strings.ContainsAny(s, "<|[") || strings.Contains(s, "...")
}

// siteDirectives may appear in a syntax summary besides the parsers'
// keywords: this module's directives and the standard ones the examples
// put next to them.
var siteDirectives = map[string]bool{"protect": true, "auth_portal": true, "caddyauth": true, "reverse_proxy": true, "respond": true}

// ruleKinds are the words after `allow` and `deny`.
var ruleKinds = map[string]bool{"user": true, "email": true, "group": true, "role": true}

// notOptions start code spans that name something else: `caddy auth`
// command groups (`audit verify`, `sessions revoke --all`) and Caddy's own
// `log` directive, and the `delete token` of its query filter. A span
// starting with one is checked only when it is a path of option names.
var notOptions = map[string]bool{"audit": true, "sessions": true, "user": true, "methods": true, "secret": true, "log": true, "delete": true}

// testSecret is a literal secret that passes the start-time checks.
const testSecret = "pIVaD2Na78W9WEijW1ydtyQvlHCRzWhlPapG8Uexjks"

// docContexts are the places an option fragment from the docs may belong:
// the caddyauth block, one of its sub-blocks, a site, or a protect block.
var docContexts = []string{
	"{\n\tcaddyauth {\n\t\tsecret " + testSecret + "\n%s\n\t}\n}\n:80 {\n\trespond ok\n}\n",
	"{\n\tcaddyauth {\n\t\tsecret " + testSecret + "\n\t\tcookie {\n%s\n\t\t}\n\t}\n}\n:80 {\n\trespond ok\n}\n",
	"{\n\tcaddyauth {\n\t\tsecret " + testSecret + "\n\t\tmfa {\n%s\n\t\t}\n\t}\n}\n:80 {\n\trespond ok\n}\n",
	"{\n\tcaddyauth {\n\t\tsecret " + testSecret + "\n\t\trate_limit {\n%s\n\t\t}\n\t}\n}\n:80 {\n\trespond ok\n}\n",
	"{\n\tcaddyauth {\n\t\tsecret " + testSecret + "\n\t\tcors {\n%s\n\t\t}\n\t}\n}\n:80 {\n\trespond ok\n}\n",
	"{\n\tcaddyauth {\n\t\tsecret " + testSecret + "\n\t\toutbox {\n%s\n\t\t}\n\t}\n}\n:80 {\n\trespond ok\n}\n",
	"{\n\tcaddyauth {\n\t\tsecret " + testSecret + "\n\t\taccount {\n%s\n\t\t}\n\t}\n}\n:80 {\n\trespond ok\n}\n",
	"{\n\tcaddyauth {\n\t\tsecret " + testSecret + "\n\t\toidc corp {\n\t\t\tissuer https://sso.example.com\n\t\t\tclient_id a\n\t\t\tclient_secret b\n%s\n\t\t}\n\t}\n}\n:80 {\n\trespond ok\n}\n",
	"{\n\tcaddyauth {\n\t\tsecret " + testSecret + "\n\t\temail smtp smtp://mail.example.com:587 {\n\t\t\tfrom no-reply@example.com\n%s\n\t\t}\n\t}\n}\n:80 {\n\trespond ok\n}\n",
	"{\n\tcaddyauth {\n\t\tsecret " + testSecret + "\n\t\tpassword {\n%s\n\t\t}\n\t}\n}\n:80 {\n\trespond ok\n}\n",
	"{\n\tcaddyauth {\n\t\tsecret " + testSecret + "\n\t\tpassword {\n\t\t\tbreach_check https://api.pwnedpasswords.com {\n%s\n\t\t\t}\n\t\t}\n\t}\n}\n:80 {\n\trespond ok\n}\n",
	"{\n\tcaddyauth {\n\t\tsecret " + testSecret + "\n\t}\n}\n:80 {\n%s\n\trespond ok\n}\n",
	"{\n\tcaddyauth {\n\t\tsecret " + testSecret + "\n\t}\n}\n:80 {\n\tprotect {\n%s\n\t}\n\trespond ok\n}\n",
}

// adaptsSomewhere adapts fragment in the first context that takes it.
func adaptsSomewhere(t *testing.T, fragment string) error {
	t.Helper()
	var first error
	for _, c := range docContexts {
		_, err := adapt(t, []byte(strings.Replace(c, "%s", fragment, 1)))
		if err == nil {
			return nil
		}
		if first == nil {
			first = err
		}
	}
	return first
}

// TestDocsOptionsParse fails when README.md or docs/*.md show a Caddyfile
// or name an option that the parser refuses (issue 9: the runbook named
// `registration off`, which does not exist). Every ```caddyfile block is
// adapted (a whole config as written; a fragment inside the caddyauth
// block, a sub-block, a site or a protect block); a syntax summary
// (`<value>`, `a|b`) has every option it names checked against the
// parser's keywords. Every code span in the prose of two words or more
// that starts with an option name (a parser keyword, or an option of the
// design that is not built: registration, passwordless, password_reset)
// must adapt somewhere too, or be a path of option names (`cookie
// domain`).
func TestDocsOptionsParse(t *testing.T) {
	keywords := map[string]bool{}
	for _, k := range parserKeywords(t) {
		keywords[k] = true
	}
	optionWords := maps.Clone(keywords)
	for _, w := range []string{"registration", "passwordless", "password_reset", "breach_check"} {
		optionWords[w] = true
	}
	blocks, spans := 0, 0
	for name, page := range docPages(t) {
		for _, m := range fenced.FindAllStringSubmatch(page, -1) {
			if m[1] != "caddyfile" {
				continue
			}
			blocks++
			block := m[2]
			if templated(block) {
				for _, line := range strings.Split(block, "\n") {
					f := strings.Fields(line)
					if len(f) == 0 || f[0] == "}" || f[0] == "{" || strings.HasPrefix(f[0], "#") || strings.ContainsAny(f[0], ".:") {
						continue
					}
					if !keywords[f[0]] && !siteDirectives[f[0]] {
						t.Errorf("%s: the syntax summary names %q, which the parser does not know:\n%s", name, f[0], block)
					}
				}
				continue
			}
			trimmed := strings.TrimSpace(block)
			var err error
			if strings.HasPrefix(trimmed, "{") || strings.ContainsAny(strings.Fields(trimmed)[0], ".:") {
				_, err = adapt(t, []byte(block))
			} else {
				err = adaptsSomewhere(t, block)
			}
			if err != nil {
				t.Errorf("%s: this Caddyfile example is refused: %v\n%s", name, err, block)
			}
		}
		prose := fenced.ReplaceAllString(page, "")
		for i, span := range strings.Split(prose, "`") {
			f := strings.Fields(span)
			if i%2 == 0 || len(f) < 2 || !optionWords[f[0]] || strings.Contains(span, "\n") || templated(span) {
				continue
			}
			spans++
			path := true // `cookie domain`, `allow group`: option names only
			for _, w := range f {
				path = path && (keywords[w] || ruleKinds[w])
			}
			if path || notOptions[f[0]] {
				continue
			}
			// One line in the prose, one option per line in a Caddyfile.
			one := strings.ReplaceAll(strings.ReplaceAll(span, "{ ", "{\n"), " }", "\n}")
			if err := adaptsSomewhere(t, one); err != nil {
				t.Errorf("%s: names the option `%s`, which the parser refuses: %v", name, span, err)
			}
		}
	}
	if blocks < 8 || spans < 20 {
		t.Fatalf("checked %d Caddyfile blocks and %d option spans: the pages moved?", blocks, spans)
	}
}
