package e2e

import (
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/pbkdf2"
	"golang.org/x/crypto/scrypt"
	_ "modernc.org/sqlite" // to read the gateway's database afterwards

	"github.com/caddyauth/gateway/test/harness"
)

// TestImportThousands (issue 12 item 7): 2,000 accounts with mixed legacy
// hashes (real bcrypt, PBKDF2 in Django's and passlib's spelling, scrypt
// and argon2i, at the low costs old applications used) are imported in
// one command; every one signs in through the gateway with its old
// password, and afterwards every stored hash is argon2id.
func TestImportThousands(t *testing.T) {
	t.Parallel()
	const n = 2000
	g := newGateway(t, nil)
	pw := "legacy " + harness.RandomSecret()[:20] + " passphrase"
	harness.Sensitive(pw)
	s := []byte("0123456789abcdef")
	bc, err := bcrypt.GenerateFromPassword([]byte(pw), 4)
	if err != nil {
		t.Fatal(err)
	}
	sk, err := scrypt.Key([]byte(pw), s, 1<<10, 8, 1, 32)
	if err != nil {
		t.Fatal(err)
	}
	ab64 := func(b []byte) string { return strings.ReplaceAll(b64.EncodeToString(b), "+", ".") }
	hashes := []string{
		string(bc),
		"pbkdf2_sha256$1000$saltsaltsalt$" + base64.StdEncoding.EncodeToString(pbkdf2.Key([]byte(pw), []byte("saltsaltsalt"), 1000, 32, sha256.New)),
		"$pbkdf2-sha256$1000$" + ab64(s) + "$" + ab64(pbkdf2.Key([]byte(pw), s, 1000, 32, sha256.New)),
		"$scrypt$ln=10,r=8,p=1$" + b64.EncodeToString(s) + "$" + b64.EncodeToString(sk),
		"$argon2i$v=19$m=1024,t=1,p=1$" + b64.EncodeToString(s) + "$" + b64.EncodeToString(argon2.Key([]byte(pw), s, 1, 1024, 1, 32)),
	}
	var jsonl strings.Builder
	for i := range n {
		fmt.Fprintf(&jsonl, `{"email":"u%04d@legacy.test","name":"User %d","password_hash":%q}`+"\n", i, i, hashes[i%len(hashes)])
	}
	file := filepath.Join(t.TempDir(), "users.jsonl")
	if err := os.WriteFile(file, []byte(jsonl.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	out, errOut, code := g.cli("", "auth", "user", "import", "--config", g.cfgPath, file)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("imported %d user(s)", n)) {
		t.Fatalf("import: exit %d\n%s%s", code, out, errOut)
	}
	t.Logf("imported %d users in %s", n, time.Since(start).Round(time.Millisecond))
	g.start()

	start = time.Now()
	var ok, bad atomic.Int64
	work := make(chan int)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range work {
				r := g.client().PostJSON("/auth/login", map[string]string{"email": fmt.Sprintf("u%04d@legacy.test", i), "password": pw})
				if r.StatusCode == http.StatusOK {
					ok.Add(1)
				} else if bad.Add(1) < 5 {
					t.Errorf("u%04d (%s...): %s", i, hashes[i%len(hashes)][:8], r)
				}
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	t.Logf("%d sign-ins (each verifies a legacy hash and rehashes to argon2id) in %s", ok.Load(), time.Since(start).Round(time.Millisecond))
	if ok.Load() != n {
		t.Fatalf("%d of %d imported users signed in", ok.Load(), n)
	}

	db, err := sql.Open("sqlite", "file:"+filepath.Join(harness.Home(t), ".local", "share", "caddy", "caddyauth", "caddyauth.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var total, argon int
	if err := db.QueryRow(`SELECT count(*), coalesce(sum(password_hash LIKE '$argon2id$%'), 0) FROM users WHERE email LIKE '%@legacy.test'`).Scan(&total, &argon); err != nil {
		t.Fatal(err)
	}
	if total != n || argon != n {
		t.Fatalf("after sign-in: %d of %d stored hashes are argon2id", argon, total)
	}
}
