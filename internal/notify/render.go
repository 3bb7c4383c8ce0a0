package notify

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	texttemplate "text/template"
)

// Rendered is a message ready for a sender. Text is the plain body (for
// SMS: the whole message); HTML is empty for SMS.
type Rendered struct {
	ID      string // outbox id, stable across retries (idempotency key)
	Kind    string
	Channel string
	To      string
	UserID  string
	Subject string
	Text    string
	HTML    string
}

//go:embed templates/*
var embedded embed.FS

// Templates holds the parsed templates of every kind. Per kind:
//
//	<kind>.txt      "Subject: ..." line, an empty line, the text body
//	<kind>.html     the HTML body (html/template: data is escaped)
//	<kind>.sms.txt  optional SMS text; without it SMS gets the text body
//
// A file of the same name in the override directory replaces the embedded
// one.
type Templates struct {
	subject map[string]*texttemplate.Template
	text    map[string]*texttemplate.Template
	sms     map[string]*texttemplate.Template
	html    map[string]*htmltemplate.Template
}

// LoadTemplates parses the embedded templates, each replaced by the file of
// the same name in dir when dir is set and has one. Every kind must end
// with a subject, a text body and an HTML body, so a broken override fails
// at startup, not at send time.
func LoadTemplates(dir string) (*Templates, error) {
	read := func(name string) (string, bool, error) {
		if dir != "" {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err == nil {
				return string(b), true, nil
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return "", false, fmt.Errorf("notify: template %s: %w", name, err)
			}
		}
		b, err := embedded.ReadFile("templates/" + name)
		if errors.Is(err, fs.ErrNotExist) {
			return "", false, nil
		}
		return string(b), true, err
	}
	if dir != "" {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("notify: templates directory %q is not a readable directory", dir)
		}
	}
	t := &Templates{
		subject: map[string]*texttemplate.Template{}, text: map[string]*texttemplate.Template{},
		sms: map[string]*texttemplate.Template{}, html: map[string]*htmltemplate.Template{},
	}
	for _, k := range Kinds {
		src, ok, err := read(k + ".txt")
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("notify: no template %s.txt", k)
		}
		first, body, _ := strings.Cut(src, "\n")
		subj, ok := strings.CutPrefix(strings.TrimSpace(first), "Subject:")
		if !ok {
			return nil, fmt.Errorf("notify: template %s.txt must start with a \"Subject: ...\" line", k)
		}
		if t.subject[k], err = texttemplate.New(k + ".subject").Option("missingkey=zero").Parse(strings.TrimSpace(subj)); err != nil {
			return nil, fmt.Errorf("notify: template %s.txt subject: %w", k, err)
		}
		if t.text[k], err = texttemplate.New(k + ".txt").Option("missingkey=zero").Parse(strings.TrimLeft(body, "\r\n")); err != nil {
			return nil, fmt.Errorf("notify: template %s.txt: %w", k, err)
		}
		src, ok, err = read(k + ".html")
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("notify: no template %s.html", k)
		}
		if t.html[k], err = htmltemplate.New(k + ".html").Option("missingkey=zero").Parse(src); err != nil {
			return nil, fmt.Errorf("notify: template %s.html: %w", k, err)
		}
		src, ok, err = read(k + ".sms.txt")
		if err != nil {
			return nil, err
		}
		if ok {
			if t.sms[k], err = texttemplate.New(k + ".sms.txt").Option("missingkey=zero").Parse(src); err != nil {
				return nil, fmt.Errorf("notify: template %s.sms.txt: %w", k, err)
			}
		}
	}
	return t, nil
}

func run[T interface {
	Execute(w io.Writer, data any) error
}](tpl T, data map[string]string) (string, error) {
	var b bytes.Buffer
	if err := tpl.Execute(&b, data); err != nil {
		return "", err
	}
	return b.String(), nil
}

// Render builds the message of kind for channel from data.
func (t *Templates) Render(kind, channel string, data map[string]string) (Rendered, error) {
	r := Rendered{Kind: kind, Channel: channel}
	if _, ok := t.text[kind]; !ok {
		return r, fmt.Errorf("notify: no template for kind %q", kind)
	}
	if data == nil {
		data = map[string]string{}
	}
	var err error
	if r.Subject, err = run(t.subject[kind], data); err != nil {
		return r, fmt.Errorf("notify: render %s subject: %w", kind, err)
	}
	r.Subject = strings.Join(strings.Fields(r.Subject), " ") // one header line
	if channel == SMS {
		tpl := t.text[kind]
		if s, ok := t.sms[kind]; ok {
			tpl = s
		}
		if r.Text, err = run(tpl, data); err != nil {
			return r, fmt.Errorf("notify: render %s sms: %w", kind, err)
		}
		r.Text = strings.TrimSpace(r.Text)
		return r, nil
	}
	if r.Text, err = run(t.text[kind], data); err != nil {
		return r, fmt.Errorf("notify: render %s text: %w", kind, err)
	}
	if r.HTML, err = run(t.html[kind], data); err != nil {
		return r, fmt.Errorf("notify: render %s html: %w", kind, err)
	}
	return r, nil
}
