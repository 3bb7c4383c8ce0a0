package flows

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// FuzzDecodeJSONBody: any body gets nil or a 400 INVALID_INPUT, never a
// panic; whatever is accepted has no key repeated (checked against a
// second, naive walk over the decoded value) and the verdict on repeats
// agrees with a brute-force EqualFold comparison.
func FuzzDecodeJSONBody(f *testing.F) {
	for _, s := range []string{
		`{"email":"a","password":"b"}`, `{"email":"a","EMAIL":"b"}`, `{"a":[{"x":1,"x":2}]}`,
		`{"k":1,"\u212a":2}`, `[]`, `"x"`, `{"a":{"b":{"c":[]}}}`, `{"a":1}{"a":1}`, `{"a":1,}`, `{"\ud800":1,"\ud801":2}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var v any
		e := decodeJSONBody(body, &v)
		if e != nil {
			if e.Code != CodeInvalidInput || e.Status != 400 {
				t.Fatalf("%q: %+v", body, e)
			}
			if strings.Contains(e.Message, "more than once") && !naiveRepeat(t, body) {
				t.Fatalf("%q refused as repeated but no key repeats: %s", body, e.Message)
			}
			return
		}
		if naiveRepeat(t, body) {
			t.Fatalf("%q accepted with a repeated key", body)
		}
	})
}

// naiveRepeat reports whether some object of body's first value has two
// keys that strings.EqualFold calls equal (pairwise, no cleverness).
func naiveRepeat(t *testing.T, body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var walk func() (bool, bool) // repeat found, ok
	walk = func() (bool, bool) {
		tok, err := dec.Token()
		if err != nil {
			return false, false
		}
		switch tok {
		case json.Delim('{'):
			var keys []string
			rep := false
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return false, false
				}
				k := kt.(string)
				for _, o := range keys {
					if strings.EqualFold(o, k) {
						rep = true
					}
				}
				keys = append(keys, k)
				r, ok := walk()
				if !ok {
					return false, false
				}
				rep = rep || r
			}
			_, err := dec.Token()
			return rep, err == nil
		case json.Delim('['):
			rep := false
			for dec.More() {
				r, ok := walk()
				if !ok {
					return false, false
				}
				rep = rep || r
			}
			_, err := dec.Token()
			return rep, err == nil
		}
		return false, true
	}
	rep, _ := walk()
	return rep
}

// FuzzFoldMatchesDecoder: every key that encoding/json maps onto a field
// folds (foldKey) to that field's name, so two keys the decoder would put
// in one field are always seen as a repeat, whatever the Go version's
// matching rules (case, and underscores or dashes should they ever be
// ignored).
func FuzzFoldMatchesDecoder(f *testing.F) {
	for _, s := range []string{"email", "EMAIL", "\u212aey", "user_name", "user-name", "USERNAME", "ſ", "current_password"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		var v struct {
			Email    string `json:"email"`
			Key      string `json:"key"`
			UserName string `json:"user_name"`
			S        string `json:"s"`
		}
		k, _ := json.Marshal(key)
		if json.Unmarshal([]byte(`{`+string(k)+`:"x"}`), &v) != nil {
			return
		}
		for name, got := range map[string]string{"email": v.Email, "key": v.Key, "user_name": v.UserName, "s": v.S} {
			if got == "x" && foldKey(key) != foldKey(name) {
				t.Fatalf("the decoder maps %q onto %q but foldKey keeps them apart", key, name)
			}
		}
	})
}
