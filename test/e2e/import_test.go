package e2e

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/pbkdf2"
	"golang.org/x/crypto/scrypt"
)

// legacyUser is an account of an earlier application: its password and
// the hash that application stored, in one format.
type legacyUser struct {
	email, scheme, pw, hash string
}

func salt16(t *testing.T) []byte {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

var b64 = base64.RawStdEncoding

// legacyHashes makes one hash of pw per format the import accepts, each
// written as the application that uses the format writes it.
func legacyHashes(t *testing.T) []legacyUser {
	t.Helper()
	var out []legacyUser
	add := func(name, scheme string, hash func(pw string) string) {
		pw := newPassword()
		out = append(out, legacyUser{email: name + "@legacy.test", scheme: scheme, pw: pw, hash: hash(pw)})
	}
	for _, prefix := range []string{"2a", "2b", "2y"} {
		add("bcrypt-"+prefix, "bcrypt", func(pw string) string {
			h, err := bcrypt.GenerateFromPassword([]byte(pw), 10)
			if err != nil {
				t.Fatal(err)
			}
			return "$" + prefix + string(h[3:])
		})
	}
	add("argon2id", "argon2id", func(pw string) string {
		s := salt16(t)
		return "$argon2id$v=19$m=65536,t=3,p=4$" + b64.EncodeToString(s) + "$" + b64.EncodeToString(argon2.IDKey([]byte(pw), s, 3, 65536, 4, 32))
	})
	add("argon2i", "argon2i", func(pw string) string {
		s := salt16(t)
		return "$argon2i$v=19$m=4096,t=3,p=1$" + b64.EncodeToString(s) + "$" + b64.EncodeToString(argon2.Key([]byte(pw), s, 3, 4096, 1, 32))
	})
	add("django", "pbkdf2-sha256", func(pw string) string {
		// Django: the salt is text, the key padded base64.
		return "pbkdf2_sha256$600000$Xo0mQ3lTnS5dYbqZk2cQ1w$" + base64.StdEncoding.EncodeToString(pbkdf2.Key([]byte(pw), []byte("Xo0mQ3lTnS5dYbqZk2cQ1w"), 600000, 32, sha256.New))
	})
	add("passlib-pbkdf2", "pbkdf2-sha256", func(pw string) string {
		// passlib: adapted base64, "." for "+".
		s := salt16(t)
		ab64 := func(b []byte) string { return strings.ReplaceAll(b64.EncodeToString(b), "+", ".") }
		return "$pbkdf2-sha256$29000$" + ab64(s) + "$" + ab64(pbkdf2.Key([]byte(pw), s, 29000, 32, sha256.New))
	})
	add("phc-pbkdf2", "pbkdf2-sha256", func(pw string) string {
		s := salt16(t)
		return "$pbkdf2-sha256$i=100000,l=32$" + b64.EncodeToString(s) + "$" + b64.EncodeToString(pbkdf2.Key([]byte(pw), s, 100000, 32, sha256.New))
	})
	add("scrypt", "scrypt", func(pw string) string {
		s := salt16(t)
		k, err := scrypt.Key([]byte(pw), s, 1<<16, 8, 1, 32)
		if err != nil {
			t.Fatal(err)
		}
		return "$scrypt$ln=16,r=8,p=1$" + b64.EncodeToString(s) + "$" + b64.EncodeToString(k)
	})
	return out
}

// TestImportUsers (issue 12 item 7): `caddy auth user import` brings
// accounts of an earlier application over from CSV and JSON lines, one per
// hash format; a file with a bad row names its line and creates nobody, a
// dry run creates nobody, an existing email is refused (or skipped with
// --skip-existing); then every account signs in through the gateway with
// its old password, and its stored hash is argon2id from then on.
func TestImportUsers(t *testing.T) {
	t.Parallel()
	g := newGateway(t, nil)
	cfg := g.cfgPath
	dir := t.TempDir()
	users := legacyHashes(t)
	csvUsers, jsonUsers := users[:5], users[5:]

	// argon2 and scrypt hashes hold commas: CSV quotes them.
	var csv strings.Builder
	csv.WriteString("email,name,groups,password_hash\n")
	for i, u := range csvUsers {
		fmt.Fprintf(&csv, "%s,User %d,\"staff,%s\",\"%s\"\n", u.email, i, strings.ReplaceAll(u.scheme, "-", ""), u.hash)
	}
	var jsonl strings.Builder
	for _, u := range jsonUsers {
		fmt.Fprintf(&jsonl, `{"email":%q,"name":"Legacy","groups":["staff"],"password_hash":%q,"phone":""}`+"\n", u.email, u.hash)
	}
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	csvPath, jsonlPath := write("users.csv", csv.String()), write("users.jsonl", jsonl.String())
	absent := func(when string) {
		t.Helper()
		for _, u := range users {
			if _, errOut, code := g.cli("", "auth", "user", "show", u.email, "--config", cfg); code == 0 || !strings.Contains(errOut, "no user") {
				t.Fatalf("%s: %s exists (exit %d)", when, u.email, code)
			}
		}
	}

	// A bad row (a bcrypt cost that would make each sign-in take hours)
	// at line 4: nothing is written, the line is named.
	bad := strings.Split(csv.String(), "\n")
	bad[3] = "slow@legacy.test,Slow,,$2b$31$" + strings.Repeat("a", 53)
	out, errOut, code := g.cli("", "auth", "user", "import", "--config", cfg, write("bad.csv", strings.Join(bad, "\n")))
	if code == 0 || !strings.Contains(errOut, "line 4: password_hash: bcrypt cost 31 is outside the accepted bounds 4..14") || !strings.Contains(errOut, "nothing written") {
		t.Fatalf("bad file: exit %d\n%s%s", code, out, errOut)
	}
	absent("after a refused file")

	out, errOut, code = g.cli("", "auth", "user", "import", "--dry-run", "--config", cfg, csvPath)
	if code != 0 || !strings.Contains(out, "dry run: 5 user(s) to create, 0 to skip; nothing written") || !strings.Contains(out, "line 2: create bcrypt-2a@legacy.test (bcrypt)") {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, errOut)
	}
	absent("after a dry run")

	for path, n := range map[string]int{csvPath: len(csvUsers), jsonlPath: len(jsonUsers)} {
		out, errOut, code = g.cli("", "auth", "user", "import", "--config", cfg, path)
		if code != 0 || !strings.Contains(out, fmt.Sprintf("imported %d user(s), skipped 0", n)) {
			t.Fatalf("import %s: exit %d\n%s%s", path, code, out, errOut)
		}
	}
	out, errOut, code = g.cli("", "auth", "user", "import", "--config", cfg, jsonlPath)
	if code == 0 || !strings.Contains(errOut, "line 1: email: an account with django@legacy.test exists") {
		t.Fatalf("import again: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = g.cli("", "auth", "user", "import", "--skip-existing", "--config", cfg, jsonlPath)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("imported 0 user(s), skipped %d", len(jsonUsers))) {
		t.Fatalf("import --skip-existing: exit %d\n%s%s", code, out, errOut)
	}

	show := func(email string) string {
		t.Helper()
		out, errOut, code := g.cli("", "auth", "user", "show", email, "--config", cfg)
		if code != 0 {
			t.Fatalf("user show %s: exit %d\n%s%s", email, code, out, errOut)
		}
		return out
	}
	scheme := regexp.MustCompile(`password hash\s+(\S+)`)
	for _, u := range users {
		s := show(u.email)
		if m := scheme.FindStringSubmatch(s); m == nil || m[1] != u.scheme || !regexp.MustCompile(`email verified\s+true`).MatchString(s) {
			t.Fatalf("%s before sign-in:\n%s", u.email, s)
		}
	}

	g.start()
	for _, u := range users {
		c := g.client()
		expectError(t, c.PostJSON("/auth/login", map[string]string{"email": u.email, "password": u.pw + "!"}), http.StatusUnauthorized, "INVALID_CREDENTIALS")
		c.Login(u.email, u.pw)
		expectStatus(t, c.Get("/app", api...), http.StatusOK)
		if m := scheme.FindStringSubmatch(show(u.email)); m == nil || m[1] != "argon2id" {
			t.Fatalf("%s (%s): after sign-in the hash is %v", u.email, u.scheme, m)
		}
		// The rehashed password still signs in.
		g.client().Login(u.email, u.pw)
	}
}
