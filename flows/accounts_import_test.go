package flows

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/pbkdf2"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/password"
	"github.com/caddyauth/gateway/internal/userimport"
	"github.com/caddyauth/gateway/store"
)

func bcryptOf(t *testing.T, pw string) string {
	t.Helper()
	b, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// djangoOf is pw in Django's pbkdf2_sha256 format.
func djangoOf(pw string) string {
	key := pbkdf2.Key([]byte(pw), []byte("seasalt"), 1000, 32, sha256.New)
	return "pbkdf2_sha256$1000$seasalt$" + base64.StdEncoding.EncodeToString(key)
}

// TestImport: a file with a bad row writes nothing and names every bad
// line; a clean one creates every account at once, verified email and
// unverified phone by default, one user.created each.
func TestImport(t *testing.T) {
	for name, open := range accountsBackends {
		t.Run(name, func(t *testing.T) {
			e := newAccountsEnv(t, open(t))
			ctx := context.Background()
			hash := bcryptOf(t, "old app password")
			good := []userimport.Row{
				{Line: 2, Email: "Ann@Example.test", Name: "Ann", Groups: []string{"staff"}, PasswordHash: hash},
				{Line: 3, Email: "cy@example.test", Phone: "+1 555 000 1234", PasswordHash: djangoOf("x")},
				{Line: 4, Email: "dee@example.test"},
			}
			bad := append(append([]userimport.Row{}, good...),
				userimport.Row{Line: 5, Email: "not-an-email"},
				userimport.Row{Line: 6, Email: "eve@example.test", PasswordHash: "$2b$31$" + strings.Repeat("a", 53)},
				userimport.Row{Line: 7, Email: "ANN@example.test"},
				userimport.Row{Line: 8, Email: "bob@example.test"},
				userimport.Row{Line: 9, Email: "md5@example.test", PasswordHash: "5f4dcc3b5aa765d61d8327deb882cf99"},
			)
			_, err := e.acc.PlanImport(ctx, bad, ImportOptions{})
			var ie *ImportError
			if !errors.As(err, &ie) || len(ie.Rows) != 5 {
				t.Fatalf("err = %v", err)
			}
			for i, want := range []string{"line 5: email", "line 6: password_hash: bcrypt cost 31", "line 7: email: ann@example.test is also on line 2", "line 8: email: an account", "line 9: password_hash: not a supported format"} {
				if !strings.HasPrefix(ie.Rows[i].Error(), want) {
					t.Errorf("refusal %d = %q, want %q...", i, ie.Rows[i].Error(), want)
				}
			}
			if _, err := e.be.UserByEmail(ctx, "ann@example.test"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("a row of a refused file was written: %v", err)
			}

			plan, err := e.acc.PlanImport(ctx, append(good, userimport.Row{Line: 8, Email: "bob@example.test"}), ImportOptions{SkipExisting: true})
			if err != nil {
				t.Fatal(err)
			}
			if plan.Count(ImportCreate) != 3 || plan.Count(ImportSkip) != 1 || plan.Rows[0].Scheme != password.SchemeBcrypt || plan.Rows[1].Scheme != password.SchemePBKDF2 {
				t.Fatalf("plan = %+v", plan.Rows)
			}
			n, err := e.acc.Import(ctx, Actor{ID: ActorCLI}, plan)
			if err != nil || n != 3 {
				t.Fatalf("import = %d, %v", n, err)
			}
			ann, err := e.be.UserByEmail(ctx, "ann@example.test")
			if err != nil {
				t.Fatal(err)
			}
			if ann.PasswordHash != hash || ann.EmailVerifiedAt.IsZero() || !ann.Active() || ann.Groups[0] != "staff" {
				t.Fatalf("ann = %+v", ann)
			}
			cy, err := e.be.UserByEmail(ctx, "cy@example.test")
			if err != nil || cy.Phone != "+15550001234" || !cy.PhoneVerifiedAt.IsZero() {
				t.Fatalf("cy = %+v, %v", cy, err)
			}
			ev := e.audit.find(audit.UserCreated, ann.ID)
			if ev == nil || ev.Actor != ActorCLI || ev.Detail["import"] != "true" || ev.Detail["hash"] != "bcrypt" {
				t.Fatalf("audit = %+v", ev)
			}
			if err := e.acc.Hasher.Verify(ctx, ann.PasswordHash, "old app password"); err != nil {
				t.Fatalf("imported hash does not verify: %v", err)
			}
		})
	}
}

func TestImportVerificationOptions(t *testing.T) {
	e := newAccountsEnv(t, accountsBackends["memory"](t))
	ctx := context.Background()
	plan, err := e.acc.PlanImport(ctx, []userimport.Row{{Line: 1, Email: "p@example.test", Phone: "+15550009999"}}, ImportOptions{Unverified: true, PhoneVerified: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.acc.Import(ctx, Actor{ID: ActorCLI}, plan); err != nil {
		t.Fatal(err)
	}
	u, _ := e.be.UserByEmail(ctx, "p@example.test")
	if !u.EmailVerifiedAt.IsZero() || u.VerifiedPhone() != "+15550009999" {
		t.Fatalf("u = %+v", u)
	}
	// A phone in the file twice, or already someone's, is refused.
	_, err = e.acc.PlanImport(ctx, []userimport.Row{
		{Line: 1, Email: "q@example.test", Phone: "+15550009999"},
		{Line: 2, Email: "r@example.test", Phone: "+15550008888"},
		{Line: 3, Email: "s@example.test", Phone: "+15550008888"},
	}, ImportOptions{})
	var ie *ImportError
	if !errors.As(err, &ie) || len(ie.Rows) != 2 || ie.Rows[0].Line != 1 || ie.Rows[1].Line != 3 {
		t.Fatalf("err = %v", err)
	}
}

// TestLoginRehashesImported: a legacy hash signs in and is replaced by
// argon2id at once.
func TestLoginRehashesImported(t *testing.T) {
	for name, legacy := range map[string]func(t *testing.T) string{
		"bcrypt": func(t *testing.T) string { return bcryptOf(t, alicePW) },
		"django": func(*testing.T) string { return djangoOf(alicePW) },
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, Config{}, GuardConfig{})
			if err := e.mem.SetPasswordHash(context.Background(), e.alice.ID, legacy(t), e.alice.UpdatedAt); err != nil {
				t.Fatal(err)
			}
			e.login(alicePW)
			u, _ := e.mem.UserByID(context.Background(), e.alice.ID)
			if password.Scheme(u.PasswordHash) != password.SchemeArgon2id || e.hasher.NeedsRehash(u.PasswordHash) {
				t.Fatalf("after sign-in the hash is %q", u.PasswordHash[:12])
			}
			e.login(alicePW)
		})
	}
}
