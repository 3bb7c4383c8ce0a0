package caddyauth

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
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
	fset := token.NewFileSet()
	var decls []ast.Decl
	for _, name := range []string{"caddyfile.go", "audit.go", "oauth.go", "notify.go"} {
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		decls = append(decls, f.Decls...)
	}
	parsers := map[string]bool{"parseAppOption": true, "parseCookie": true, "parseHSTS": true, "parseProtect": true, "parsePortal": true, "parseRateLimit": true, "parseCORS": true, "parseMFA": true, "parseAudit": true, "parseOAuth": true, "parseSender": true}
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
