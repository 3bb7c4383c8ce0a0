package userimport

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestCSV(t *testing.T) {
	in := "\xef\xbb\xbfEmail,name,groups,password_hash,phone\n" +
		"a@example.com,Ann,staff;admin,$2b$10$x,\n" +
		"\n" +
		"b@example.com,\"Bo, Jr\",\"ops,dev\",,+15550001111\n"
	rows, err := Parse("users.csv", strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Line != 2 || rows[1].Line != 4 {
		t.Fatalf("rows = %+v", rows)
	}
	if !slices.Equal(rows[0].Groups, []string{"staff", "admin"}) || !slices.Equal(rows[1].Groups, []string{"ops", "dev"}) {
		t.Fatalf("groups = %q, %q", rows[0].Groups, rows[1].Groups)
	}
	if rows[0].PasswordHash != "$2b$10$x" || rows[1].Name != "Bo, Jr" || rows[1].Phone != "+15550001111" {
		t.Fatalf("rows = %+v", rows)
	}
}

func TestCSVErrors(t *testing.T) {
	for in, line := range map[string]int{
		"email,password\nx@example.com,h\n":      1, // unknown column
		"name\nAnn\n":                            1, // no email column
		"email,name\na@example.com,A\nb@x.com\n": 3, // field count
		"email,name\na@example.com,\"A\n":        2, // open quote
	} {
		_, err := Parse("u.csv", strings.NewReader(in))
		var le *LineError
		if !errors.As(err, &le) || le.Line != line {
			t.Errorf("%q: got %v, want line %d", in, err, line)
		}
	}
}

func TestJSONLines(t *testing.T) {
	in := `{"email":"a@example.com","groups":["staff"],"password_hash":"$argon2id$x"}

{"email":"b@example.com","pasword_hash":"typo"}
not json
{"email":"c@example.com","name":"C"}
`
	rows, err := Parse("users.jsonl", strings.NewReader(in))
	var bad Errors
	if !errors.As(err, &bad) || len(bad) != 2 || bad[0].Line != 3 || bad[1].Line != 4 {
		t.Fatalf("err = %v", err)
	}
	if len(rows) != 2 || rows[0].Line != 1 || rows[1].Line != 5 || rows[1].Name != "C" {
		t.Fatalf("rows = %+v", rows)
	}
}

func TestJSONArray(t *testing.T) {
	in := "[\n  {\"email\": \"a@example.com\"},\n  {\"email\": \"b@example.com\",\n   \"name\": \"B\"}\n]\n"
	rows, err := Parse("export", strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Line != 2 || rows[1].Line != 3 {
		t.Fatalf("rows = %+v", rows)
	}
}

func TestDetect(t *testing.T) {
	for _, c := range []struct{ name, head, want string }{
		{"u.jsonl", "email", FormatJSON},
		{"u.JSON", "", FormatJSON},
		{"u.csv", "{", FormatCSV},
		{"dump", "  {\"email\"", FormatJSON},
		{"dump", "[", FormatJSON},
		{"-", "email,name", FormatCSV},
	} {
		if got := Detect(c.name, []byte(c.head)); got != c.want {
			t.Errorf("Detect(%q, %q) = %s", c.name, c.head, got)
		}
	}
}

func TestEmpty(t *testing.T) {
	if _, err := Parse("u.csv", strings.NewReader("email\n")); err == nil {
		t.Fatal("empty file accepted")
	}
}
