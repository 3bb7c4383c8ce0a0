package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/caddyauth/gateway/store"
)

// TestUserEmailFolding: emails compare with ASCII case folding only. A
// Unicode case mapping must not turn one address into another: the Kelvin
// sign (U+212A) lower-cases to "k" with strings.ToLower, which let
// "\u212Aate@example.com" find kate@example.com (issue 9, item 12).
func TestUserEmailFolding(t *testing.T, open func(t *testing.T) store.UserStore) {
	ctx := context.Background()
	now := time.Now()

	t.Run("ASCIICaseFolds", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		must(t, "create", s.CreateUser(ctx, user("kate", "Kate@Example.COM", now)))
		for _, e := range []string{"kate@example.com", "KATE@EXAMPLE.COM", "kAtE@eXaMpLe.CoM"} {
			got, err := s.UserByEmail(ctx, e)
			must(t, "by "+e, err)
			if got.ID != "kate" || got.Email != "kate@example.com" {
				t.Errorf("by %s: %+v", e, got)
			}
		}
	})

	t.Run("UnicodeDoesNotFold", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		must(t, "create kate", s.CreateUser(ctx, user("kate", "kate@example.com", now)))
		must(t, "create sam", s.CreateUser(ctx, user("sam", "sam@example.com", now)))
		for _, e := range []string{
			"\u212Aate@example.com",  // KELVIN SIGN -> k
			"\u212Aate@example.com ", // and a space to trim
			"kate@example.\u212Aom",  // in the domain (no such domain, but it must not be example.com either)
			"\u017Fam@example.com",   // LATIN SMALL LETTER LONG S: EqualFold says it is s
			"kat\u0130@example.com",  // DOTTED CAPITAL I -> i with a combining dot
		} {
			if u, err := s.UserByEmail(ctx, e); err == nil {
				t.Errorf("UserByEmail(%q) found %s (%s): only ASCII case may fold", e, u.ID, u.Email)
			} else {
				wantErr(t, "by "+e, err, store.ErrNotFound)
			}
		}
	})

	t.Run("StoredAsGivenBeyondASCII", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		// A non-ASCII address that reaches the store (the flows refuse
		// them; an older account may have one) keeps its non-ASCII
		// characters: only A-Z are lowered.
		must(t, "create", s.CreateUser(ctx, user("zoe", "Zo\u00C9@Example.com", now)))
		got, err := s.UserByID(ctx, "zoe")
		must(t, "by id", err)
		if got.Email != "zo\u00C9@example.com" {
			t.Errorf("stored email = %q, want %q", got.Email, "zo\u00C9@example.com")
		}
		if _, err := s.UserByEmail(ctx, "zo\u00E9@example.com"); err == nil {
			t.Error("a lower-case \u00E9 found the account stored with \u00C9")
		}
		if _, err := s.UserByEmail(ctx, "ZO\u00C9@EXAMPLE.COM"); err != nil {
			t.Errorf("ASCII case of the same address: %v", err)
		}
	})
}
