package oauth

import (
	"encoding/json"
	"slices"
	"testing"
)

// TestClaimStringsNeverSplits: a claim sent as one string is one value. A
// provider that sends "groups": "helpdesk admin" must not hand out the
// group admin (issue 9, item 11); the array form keeps its elements.
func TestClaimStringsNeverSplits(t *testing.T) {
	for _, tc := range []struct {
		name  string
		claim any
		want  []string
	}{
		{"array", []any{"helpdesk", "admin"}, []string{"helpdesk", "admin"}},
		{"array skips non-strings and empties", []any{"eng", 7.0, "", true, nil, "ops"}, []string{"eng", "ops"}},
		{"one name", "helpdesk", []string{"helpdesk"}},
		{"space is not a separator", "helpdesk admin", []string{"helpdesk admin"}},
		{"comma is not a separator", "helpdesk,admin", []string{"helpdesk,admin"}},
		{"tab and newline are not separators", "helpdesk\tadmin\nroot", []string{"helpdesk\tadmin\nroot"}},
		{"unicode spaces are not separators", "helpdesk\u00a0admin\u2028root", []string{"helpdesk\u00a0admin\u2028root"}},
		{"leading and trailing space kept, so the name is refused later", " admin ", []string{" admin "}},
		{"empty string", "", []string{}},
		{"number", 12.0, []string{}},
		{"object", map[string]any{"admin": true}, []string{}},
		{"nested array is not flattened", []any{[]any{"admin"}}, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := claimStrings(map[string]any{"groups": tc.claim}, "groups")
			if !slices.Equal(got, tc.want) || got == nil {
				t.Errorf("claimStrings(%#v) = %#v, want %#v", tc.claim, got, tc.want)
			}
		})
	}
	if got := claimStrings(map[string]any{}, "groups"); got == nil || len(got) != 0 {
		t.Errorf("absent claim = %#v, want empty and not nil (clears the groups)", got)
	}
}

// TestIdentityGroupsFromStringClaim: the groups of an identity built from
// ID-token claims, with the claim as a string or an array.
func TestIdentityGroupsFromStringClaim(t *testing.T) {
	cfg := &Config{Name: "corp", ClaimGroups: "groups"}
	for _, tc := range []struct {
		raw  string
		want []string
	}{
		{`{"sub":"1","groups":"helpdesk admin"}`, []string{"helpdesk admin"}},
		{`{"sub":"1","groups":"admin"}`, []string{"admin"}},
		{`{"sub":"1","groups":["helpdesk","admin"]}`, []string{"helpdesk", "admin"}},
		{`{"sub":"1"}`, []string{}},
	} {
		var claims map[string]any
		if err := json.Unmarshal([]byte(tc.raw), &claims); err != nil {
			t.Fatal(err)
		}
		if got := identityFromClaims(cfg, claims).Groups; !slices.Equal(got, tc.want) {
			t.Errorf("%s: groups = %#v, want %#v", tc.raw, got, tc.want)
		}
	}
}

// FuzzClaimStrings: whatever JSON a provider sends as the claim, every
// value returned is the whole string or one whole element of the array,
// never a piece of one.
func FuzzClaimStrings(f *testing.F) {
	for _, s := range []string{`"helpdesk admin"`, `"a,b"`, `["a","b c"]`, `[1,"x",null]`, `{"a":1}`, `""`, `"\u00a0"`, `[["admin"]]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		var v any
		if json.Unmarshal([]byte(raw), &v) != nil {
			return
		}
		got := claimStrings(map[string]any{"g": v}, "g")
		var allowed []string
		switch x := v.(type) {
		case string:
			allowed = []string{x}
		case []any:
			for _, e := range x {
				if s, ok := e.(string); ok {
					allowed = append(allowed, s)
				}
			}
		}
		if len(got) > len(allowed) {
			t.Fatalf("%s: %d values from %d strings: %q", raw, len(got), len(allowed), got)
		}
		for _, g := range got {
			if g == "" || !slices.Contains(allowed, g) {
				t.Fatalf("%s: value %q is not one of the claim's strings %q", raw, g, allowed)
			}
		}
	})
}
