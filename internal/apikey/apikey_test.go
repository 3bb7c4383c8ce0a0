package apikey

import (
	"strings"
	"testing"
)

func TestNewParsesBack(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		k, err := New()
		if err != nil {
			t.Fatal(err)
		}
		if len(k.Value) != Len || !strings.HasPrefix(k.Value, Prefix+"_") {
			t.Fatalf("key %q: wrong shape", k.Value)
		}
		id, secret, ok := Parse(k.Value)
		if !ok || id != k.ID {
			t.Fatalf("Parse(%q) = %q, %v; want id %q", k.Value, id, ok, k.ID)
		}
		if !Matches(k.Hash, secret) {
			t.Fatal("the secret does not match its own hash")
		}
		if strings.Contains(k.Hash, secret) || strings.Contains(k.Value, k.Hash) {
			t.Fatal("the stored hash reveals the secret")
		}
		if seen[k.ID] {
			t.Fatalf("id %s made twice", k.ID)
		}
		seen[k.ID] = true
	}
}

func TestParseRefuses(t *testing.T) {
	k, err := New()
	if err != nil {
		t.Fatal(err)
	}
	id, secret, _ := Parse(k.Value)
	for name, v := range map[string]string{
		"empty":          "",
		"prefix only":    Prefix + "_",
		"truncated":      k.Value[:Len-1],
		"one extra":      k.Value + "0",
		"upper case":     Prefix + "_" + strings.ToUpper(id) + "_" + secret,
		"other prefix":   "xyz_" + id + "_" + secret,
		"wrong split":    Prefix + "_" + id[:15] + "_0" + secret,
		"not hex":        Prefix + "_" + id + "_" + strings.Repeat("g", secretLen),
		"space inside":   Prefix + "_" + id + "_" + secret[:10] + " " + secret[11:],
		"a JWT":          "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2ln",
		"unicode digits": Prefix + "_" + strings.Repeat("٣", 8) + "_" + secret,
	} {
		if _, _, ok := Parse(v); ok {
			t.Errorf("%s: Parse(%q) accepted", name, v)
		}
	}
	if Matches(k.Hash, secret[:63]+"0") && secret[63] != '0' {
		t.Error("a different secret matched")
	}
}

func FuzzParse(f *testing.F) {
	k, _ := New()
	f.Add(k.Value)
	f.Add(Prefix + "_")
	f.Add("cak_0123456789abcdef_")
	f.Fuzz(func(t *testing.T, v string) {
		id, secret, ok := Parse(v)
		if !ok {
			return
		}
		if v != Prefix+"_"+id+"_"+secret || len(id) != idLen || len(secret) != secretLen || !lowerHex(id+secret) {
			t.Fatalf("Parse(%q) accepted a value that is not a key: %q, %q", v, id, secret)
		}
		if !Looks(v) {
			t.Fatalf("Parse accepted %q but Looks does not", v)
		}
	})
}
