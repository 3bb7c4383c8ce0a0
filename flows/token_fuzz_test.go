package flows

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddyauth/gateway/internal/keys"
)

func fuzzTokenKeys(f *testing.F) *tokenKeys {
	ring, err := keys.NewRing("aZWvfu3FphMY0K5UmMrLNf7wo59gAMFMtrCn2Mwn", "KkRIOFeAsBhXAjFyF_y9XJ5x-USkb4VaPtydAJ2a")
	if err != nil {
		f.Fatal(err)
	}
	t, err := newTokenKeys(TokenConfig{}, ring, nil, 0)
	if err != nil {
		f.Fatal(err)
	}
	return t
}

// FuzzParseRefresh: no input panics, and only a token we issued parses,
// back to the session and generation it was issued for.
func FuzzParseRefresh(f *testing.F) {
	t := fuzzTokenKeys(f)
	sid := strings.Repeat("ab", 32)
	good := t.issueRefresh(sid, 7)
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add("rt.")
	f.Add("rt." + strings.Repeat("A", 96))
	f.Add(strings.TrimPrefix(good, refreshPrefix))
	f.Fuzz(func(tt *testing.T, tok string) {
		gotSID, gen, ok := t.parseRefresh(tok)
		if !ok {
			return
		}
		if tok != good || gotSID != sid || gen != 7 {
			tt.Fatalf("forged refresh token parsed: %q -> %s/%d", tok, gotSID, gen)
		}
	})
}

// FuzzBearerValue: any Authorization header is judged without a panic,
// and only a value with two dots or the mfa. prefix is ours to judge
// (an API key passes on to the next strategy).
func FuzzBearerValue(f *testing.F) {
	t := fuzzTokenKeys(f)
	for _, s := range []string{"Bearer a.b.c", "bearer mfa.x", "Bearer cak_1_2", "Basic dXNlcjpwdw==", "Bearer ", "Bearer", "BEARER  a.b.c  "} {
		f.Add(s)
	}
	f.Fuzz(func(tt *testing.T, line string) {
		h := http.Header{"Authorization": {line}}
		v, ok := bearerValue(h)
		if !ok {
			if (bearerCredential{}).presented(h) {
				tt.Fatal("presented without a bearer value")
			}
			return
		}
		if !ours(v) && v != "" && (bearerCredential{}).presented(h) {
			tt.Fatalf("claimed a value that is not ours: %q", v)
		}
		if ours(v) && !strings.HasPrefix(v, mfaTokenPrefix) {
			if _, err := t.parseAccess(v, time.Now); err == nil {
				tt.Fatalf("an access token verified from fuzz input: %q", v)
			}
		}
	})
}
