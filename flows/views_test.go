package flows

import (
	"io/fs"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

// TestEveryTemplateHasAView: the pages discovered in templates/ are
// exactly the pages the view types name, each parses, and each view
// renders its page.
func TestEveryTemplateHasAView(t *testing.T) {
	tm, err := loadTemplates()
	if err != nil {
		t.Fatal(err)
	}
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil || len(files) < 2 {
		t.Fatalf("templates found: %v, %v", files, err)
	}
	named := map[string]bool{}
	for _, v := range views {
		if named[v.page()] {
			t.Errorf("two view types name %s", v.page())
		}
		named[v.page()] = true
	}
	for _, f := range files {
		page := strings.TrimPrefix(f, "templates/")
		if page == "layout.html" {
			continue
		}
		if !named[page] || tm[page] == nil {
			t.Errorf("%s: view type %v, parsed %v", page, named[page], tm[page] != nil)
		}
		delete(named, page)
	}
	for page := range named {
		t.Errorf("view type for %s, which is not a template", page)
	}

	e := newEnv(t, Config{}, GuardConfig{})
	for _, v := range views {
		rec := httptest.NewRecorder()
		e.svc.render(rec, httptest.NewRequest("GET", "/auth/x", nil), 200, v)
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), "<title>") || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
			t.Errorf("%s: %d %q", v.page(), rec.Code, rec.Body.String())
		}
	}
}

// TestTemplateWithoutView: a page added to templates/ without a view type
// stops the service from starting.
func TestTemplateWithoutView(t *testing.T) {
	layout, _ := fs.ReadFile(templateFS, "templates/layout.html")
	fsys := fstest.MapFS{
		"templates/layout.html": {Data: layout},
		"templates/error.html":  {Data: []byte(`{{define "content"}}x{{end}}`)},
		"templates/new.html":    {Data: []byte(`{{define "content"}}y{{end}}`)},
	}
	if _, err := parseTemplates(fsys); err == nil || !strings.Contains(err.Error(), "new.html") {
		t.Fatalf("parseTemplates = %v, want a refusal naming new.html", err)
	}
	delete(fsys, "templates/new.html")
	if tm, err := parseTemplates(fsys); err != nil || tm["error.html"] == nil {
		t.Fatalf("parseTemplates = %v, %v", tm, err)
	}
}
