package oauth

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func codec(t testing.TB, keys ...[]byte) *StateCodec {
	t.Helper()
	c, err := NewStateCodec(keys)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var (
	keyA = bytes.Repeat([]byte{1}, 32)
	keyB = bytes.Repeat([]byte{2}, 32)
)

func TestStateRoundTrip(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	tx := &Transaction{Provider: "corp", State: RandomString(32), Verifier: RandomString(32), Nonce: "n", RD: "/x", Expires: now.Add(10 * time.Minute).Unix()}
	sealed, err := codec(t, keyA).Seal(tx)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, tx.Verifier) || strings.Contains(sealed, "corp") {
		t.Fatal("sealed state is readable")
	}
	got, err := codec(t, keyB, keyA).Open(sealed, "corp", tx.State, now)
	if err != nil || *got != *tx {
		t.Fatalf("open with the key as previous: %+v, %v", got, err)
	}
	for _, tc := range []struct {
		name, value, provider, state string
		now                          time.Time
		c                            *StateCodec
	}{
		{"other provider (mix-up)", sealed, "github", tx.State, now, codec(t, keyA)},
		{"wrong state", sealed, "corp", tx.State + "x", now, codec(t, keyA)},
		{"empty state", sealed, "corp", "", now, codec(t, keyA)},
		{"expired", sealed, "corp", tx.State, now.Add(10 * time.Minute), codec(t, keyA)},
		{"other key", sealed, "corp", tx.State, now, codec(t, keyB)},
		{"flipped byte", sealed[:10] + string(sealed[10]^1) + sealed[11:], "corp", tx.State, now, codec(t, keyA)},
		{"truncated", sealed[:20], "corp", tx.State, now, codec(t, keyA)},
		{"empty", "", "corp", tx.State, now, codec(t, keyA)},
		{"not base64", "!!!", "corp", tx.State, now, codec(t, keyA)},
		{"huge", strings.Repeat("A", 5000), "corp", tx.State, now, codec(t, keyA)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.c.Open(tc.value, tc.provider, tc.state, tc.now); !errors.Is(err, ErrState) {
				t.Fatalf("err = %v, want ErrState", err)
			}
		})
	}
}

func FuzzStateOpen(f *testing.F) {
	c := codec(f, keyA)
	now := time.Unix(1_800_000_000, 0)
	good, _ := c.Seal(&Transaction{Provider: "corp", State: "s", Verifier: "v", Expires: now.Unix() + 60})
	f.Add(good, "s")
	f.Add("", "")
	f.Add("AAAA", "s")
	f.Fuzz(func(t *testing.T, value, state string) {
		tx, err := c.Open(value, "corp", state, now)
		if err == nil && (tx.State != state || tx.Provider != "corp" || tx.Verifier == "") {
			t.Fatalf("accepted a transaction that does not match: %+v", tx)
		}
	})
}

func FuzzAppleName(f *testing.F) {
	f.Add(`{"name":{"firstName":"Ann","lastName":"Lee"},"email":"a@b"}`)
	f.Add(`{"name":1}`)
	f.Fuzz(func(t *testing.T, raw string) {
		if n := appleName(raw); len(n) > 200 {
			t.Fatalf("name of %d bytes", len(n))
		}
	})
}

func TestClaimHelpers(t *testing.T) {
	c := map[string]any{"g": []any{"a", 1, "b", ""}, "s": "x, y z", "v": "true", "f": float64(42)}
	if got := claimStrings(c, "g"); strings.Join(got, "|") != "a|b" {
		t.Errorf("groups array = %q", got)
	}
	if got := claimStrings(c, "s"); strings.Join(got, "|") != "x, y z" {
		t.Errorf("groups string = %q, want one value, never split", got)
	}
	if got := claimStrings(c, "missing"); got == nil || len(got) != 0 {
		t.Errorf("missing claim = %#v, want empty", got)
	}
	if !claimBool(c, "v") || claimBool(c, "s") {
		t.Error("claimBool")
	}
	if claimString(c, "f") != "42" {
		t.Error("numeric claim")
	}
	claims := map[string]any{"sub": "s", "amr": []any{"pwd", "mfa"}, "groups": []any{"g"}}
	if id := identityFromClaims(&Config{}, claims); id.MFA || id.Groups != nil {
		t.Errorf("without trust_idp_mfa and claim_groups: %+v", id)
	}
	if id := identityFromClaims(&Config{TrustIdPMFA: true, ClaimGroups: "groups"}, claims); !id.MFA || len(id.Groups) != 1 {
		t.Errorf("with trust_idp_mfa and claim_groups: %+v", id)
	}
	cfg := &Config{ACRValues: []string{"gold"}}
	for _, tc := range []struct {
		amr  []string
		acr  string
		want bool
	}{{nil, "", false}, {[]string{"pwd"}, "", false}, {[]string{"pwd", "mfa"}, "", true}, {[]string{"OTP"}, "", true}, {[]string{"hwk"}, "", true}, {nil, "gold", true}, {nil, "silver", false}} {
		if got := mfaAsserted(cfg, tc.amr, tc.acr); got != tc.want {
			t.Errorf("mfaAsserted(%v, %q) = %v", tc.amr, tc.acr, got)
		}
	}
}
