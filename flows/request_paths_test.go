package flows

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOneJSONDecodingPath: no handler in flows reads a request body or
// decodes JSON except through decode / decodeJSONBody, so every endpoint
// that takes JSON (portal, MFA, change-password, setup, admin API) gets
// the refusal of unknown and repeated fields. Functions allowed to touch
// a body: the readers themselves, the admin API's empty-body check (which
// hands the bytes to decode) and the OAuth callback's form (Apple posts a
// form, never JSON; its parameters are refused when repeated) and the
// bearer stage token's peek, which puts the bytes back for decode
// (rereadableBody).
func TestOneJSONDecodingPath(t *testing.T) {
	allowedBody := map[string]bool{"readRequestBody": true, "noBody": true, "callbackParams": true, "rereadableBody": true}
	allowedJSON := map[string]bool{"decodeJSONBody": true, "repeatedKey": true}
	files, _ := filepath.Glob("*.go")
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			checked++
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				pos := fset.Position(sel.Pos())
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == "json" &&
					(sel.Sel.Name == "NewDecoder" || sel.Sel.Name == "Unmarshal") && !allowedJSON[fn.Name.Name] {
					t.Errorf("%s: %s decodes JSON with json.%s: use decode", pos, fn.Name.Name, sel.Sel.Name)
				}
				if (sel.Sel.Name == "Body" || sel.Sel.Name == "ParseForm" || sel.Sel.Name == "FormValue" ||
					sel.Sel.Name == "PostFormValue" || sel.Sel.Name == "ParseMultipartForm") && isRequestVar(sel.X) && !allowedBody[fn.Name.Name] {
					t.Errorf("%s: %s reads the request body (.%s): use decode", pos, fn.Name.Name, sel.Sel.Name)
				}
				return true
			})
		}
	}
	if checked < 100 {
		t.Fatalf("checked only %d functions: files moved?", checked)
	}
}

func isRequestVar(e ast.Expr) bool {
	id, ok := e.(*ast.Ident)
	return ok && (id.Name == "r" || id.Name == "req")
}
