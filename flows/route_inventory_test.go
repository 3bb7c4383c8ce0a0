package flows

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestRouteInventoryDocumented (ASVS 6.1.3, 6.3.4: no undocumented
// pathway): every route the portal registers, found in the source as
// written (mux.HandleFunc with a method), is named with its method on one
// line of docs/configuration.md, so an endpoint cannot be added without
// the operator's reference saying what it does.
func TestRouteInventoryDocumented(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	route := regexp.MustCompile(`mux\.HandleFunc\("(GET|POST|PUT|DELETE) "\+(p\.base|base|a|b)(?:\+"([^"]*)")?`)
	prefix := map[string]string{"p.base": "/auth", "base": "/auth", "a": "/auth/admin", "b": "/auth/mfa"}
	type rt struct{ method, path, file string }
	var routes []rt
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range route.FindAllStringSubmatch(string(src), -1) {
			routes = append(routes, rt{m[1], prefix[m[2]] + m[3], f})
		}
	}
	if len(routes) < 60 {
		t.Fatalf("found only %d routes: the pattern no longer matches how routes are registered", len(routes))
	}
	doc, err := os.ReadFile(filepath.Join("..", "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(doc), "\n")
	// The docs name a provider <name>; the rest of the parameters as in
	// the patterns.
	docPath := strings.NewReplacer("{provider}", "<name>").Replace
	for _, r := range routes {
		p := docPath(r.path)
		found := false
		for _, l := range lines {
			i := strings.Index(l, p)
			for i >= 0 {
				end := i + len(p)
				// The path must end there (not be the prefix of a longer one).
				if end == len(l) || strings.ContainsRune("` ?,[|", rune(l[end])) {
					if strings.Contains(l, r.method) {
						found = true
					}
					break
				}
				next := strings.Index(l[end:], p)
				if next < 0 {
					break
				}
				i = end + next
			}
			if found {
				break
			}
		}
		if !found {
			t.Errorf("%s %s (%s) is not documented with its method in docs/configuration.md", r.method, p, r.file)
		}
	}
	t.Logf("%d routes, each documented", len(routes))
}
