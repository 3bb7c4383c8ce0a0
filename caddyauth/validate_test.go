package caddyauth

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddyauth/gateway/internal/password"
)

// jsonApp decodes an app config the way Caddy does for JSON users, who
// never meet the Caddyfile parser.
func jsonApp(t *testing.T, raw string) *App {
	t.Helper()
	a := new(App)
	if err := json.Unmarshal([]byte(raw), a); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return a
}

// TestValidateJSONRefusals: every value the Caddyfile parser refuses is
// refused in JSON too, with the parser's words.
func TestValidateJSONRefusals(t *testing.T) {
	for _, tc := range []struct{ json, want string }{
		{`{"database":{"driver":"mysql","dsn":"root@/x"}}`, `unknown database driver "mysql"`},
		{`{"database":{"driver":"postgres"}}`, "database postgres needs a connection string"},
		{`{"sessions":{"backend":"mongo"}}`, `unknown sessions backend "mongo"`},
		{`{"sessions":{"backend":"redis"}}`, "sessions redis needs a URL"},
		{`{"sessions":{"backend":"redis","url":"redis://h:6379","cluster":["h:7000"]}}`, "give exactly one of url, sentinel or cluster"},
		{`{"sessions":{"backend":"redis","sentinel":{"master":"m","addresses":["h:26379"]},"cluster":["h:7000"]}}`, "give exactly one of url, sentinel or cluster"},
		{`{"sessions":{"backend":"redis","sentinel":{"addresses":["h:26379"]}}}`, "sentinel needs a master name"},
		{`{"sessions":{"backend":"redis","sentinel":{"master":"m"}}}`, "sentinel needs at least one sentinel address"},
		{`{"sessions":{"backend":"redis","sentinel":{"master":"m","addresses":["h"]}}}`, `address "h": want host:port`},
		{`{"sessions":{"backend":"redis","cluster":["h:99999"]}}`, "port must be 1..65535"},
		{`{"sessions":{"backend":"redis","cluster":["h:7000"],"db":1}}`, "a Redis Cluster has only database 0"},
		{`{"sessions":{"backend":"redis","cluster":["h:7000"],"sentinel":{"password":"x"}}}`, "sentinel_password applies to sentinel only"},
		{`{"sessions":{"backend":"redis","sentinel":{"master":"m","addresses":["h:26379"]},"db":-1}}`, "db must not be negative"},
		{`{"sessions":{"backend":"redis","url":"redis://h:6379","password":"hunter2"}}`, "with url, give the username, password and db in the URL"},
		{`{"sessions":{"backend":"redis","cluster":["h:7000"],"password":"x{env.P}"}}`, "sessions redis password: a placeholder must be the whole value"},
		{`{"sessions":{"backend":"redis","sentinel":{"master":"m","addresses":["h:1"],"password":"{file./p}x"}}}`, "sessions redis sentinel_password: a placeholder must be the whole value"},
		{`{"session_cache":"10s"}`, "session_cache must be between"},
		{`{"password":{"breach_check":{}}}`, "password breach_check needs a URL"},
		{`{"password":{"breach_check":{"url":"range.example.com"}}}`, `password breach_check "range.example.com" is not an http(s) URL`},
		{`{"password":{"breach_check":{"url":"https://range.example.com?k=1"}}}`, "without credentials, query or fragment"},
		{`{"password":{"breach_check":{"url":"https://range.example.com","timeout":"50ms"}}}`, "password breach_check timeout must be between 100ms and 10s"},
		{`{"password":{"breach_check":{"url":"https://range.example.com","on_error":"Refuse"}}}`, `password breach_check on_error "Refuse"`},
		{`{"tokens":{"access_lifetime":"2h"}}`, "tokens access_lifetime must be between 1m and 1h"},
		{`{"tokens":{"assertion_lifetime":"1s"}}`, "tokens assertion_lifetime must be between 10s and 10m"},
		{`{"tokens":{"issuer":"my gateway"}}`, "tokens issuer must be"},
		{`{"outbox":{"send_timeout":"20s","lease":"15s"}}`, "outbox lease (15s) must be longer than send_timeout (20s)"},
		{`{"outbox":{"lease":"30s"}}`, "outbox lease (30s) must be longer than send_timeout (30s)"},
		{`{"outbox":{"send_timeout":"11m"}}`, "outbox send_timeout must be between 1s and 10m"},
		{`{"outbox":{"lease":"2h"}}`, "outbox lease must be at most 1h"},
		{`{"cookie":{"name":"a;b"}}`, `cookie name "a;b" has characters`},
		{`{"cookie":{"name":"a b"}}`, `cookie name "a b" has characters`},
		{`{"cookie":{"domain":"https://example.com"}}`, `cookie domain "https://example.com" is not a domain name`},
		{`{"cookie":{"domain":"*.example.com"}}`, "is not a domain name"},
		{`{"cookie":{"domain":"example.com:443"}}`, "is not a domain name"},
		{`{"cookie":{"domain":"."}}`, "is not a domain name"},
		{`{"cookie":{"same_site":"lenient"}}`, `same_site "lenient"`},
		{`{"cookie":{"lifetime":"500ms"}}`, "cookie lifetime must be at least 1s"},
		{`{"cookie":{"idle":"-1s"}}`, "cookie idle must be at least 1s"},
		{`{"cookie":{"same_site":"none","insecure":true}}`, "same_site none needs a secure cookie"},
		{`{"max_sessions_per_user":-1}`, "max_sessions_per_user must be a positive integer"},
		{`{"hash_concurrency":-2}`, "hash_concurrency must be a positive integer"},
		{`{"session_cache_entries":-1}`, "session_cache_entries must be a positive integer"},
		{`{"limit_keys":-5}`, "limit_keys must be a positive integer"},
		{`{"hsts":{"max_age":"-1h"}}`, "hsts max-age cannot be negative"},
		{`{"redirect_hosts":["evil.example.com:99999"]}`, "redirect_hosts: invalid redirect host"},
		{`{"context_words":["io"]}`, `context_words: "io" is shorter than 4 characters`},
		{`{"rate_limit":{"login_ip":"5"}}`, "rate_limit login_ip"},
		{`{"rate_limit":{"mfa_send":"fast"}}`, "rate_limit mfa_send"},
		{`{"lockout":{"max":1000,"window":"15m","duration":"15m"}}`, "lockout failures must be 1..100"},
		{`{"lockout":{"max":0,"window":"15m","duration":"15m"}}`, "lockout failures must be 1..100"},
		{`{"lockout":{"max":10,"window":"0s","duration":"15m"}}`, "lockout window and duration must be positive"},
		{`{"mfa":{"methods":["totp","carrier_pigeon"]}}`, `unknown method "carrier_pigeon"`},
		{`{"mfa":{"trusted_device":"9601h"}}`, "mfa trusted_device must be between 1s and 400d"},
		{`{"password_reset":{"ttl":"30s"}}`, "password_reset ttl must be between 1m and 24h"},
		{`{"passwordless":{"channels":["email"]}}`, "passwordless email needs an `email` sender"},
		{`{"passwordless":{"channels":["fax"]}}`, `passwordless channel "fax"`},
		{`{"passwordless":{}}`, "passwordless needs a channel"},
		{`{"email":{"sender":"log"},"passwordless":{"channels":["email"],"ttl":"2h"}}`, "passwordless ttl must be between 1m and 1h"},
		{`{"password_reset":{"ttl":"25h"}}`, "password_reset ttl must be between 1m and 24h"},
		{`{"cors":{"origins":["*"]}}`, "a wildcard with credentials"},
		{`{"cors":{"origins":["https://spa.example.com/app"]}}`, `cors origin "https://spa.example.com/app": want scheme://host[:port], no path`},
		{`{"oauth":[{"kind":"gitlab","name":"gitlab","client_id":"i","client_secret":"s"}]}`, `unknown identity provider kind "gitlab"`},
		{`{"oauth":[{"kind":"oidc","name":"Corp SSO","issuer":"https://id.example.com","client_id":"i","client_secret":"s"}]}`, `provider name "Corp SSO"`},
		{`{"oauth":[{"kind":"oidc","name":"corp","client_id":"i","client_secret":"s"}]}`, "oidc corp: issuer is required"},
		{`{"oauth":[{"kind":"github","name":"github","client_secret":"s"}]}`, "oauth github: client_id is required"},
		{`{"oauth":[{"kind":"github","name":"github","client_id":"i"}]}`, "oauth github: client_secret is required"},
		{`{"oauth":[{"kind":"apple","name":"apple","client_id":"i"}]}`, "team_id, key_id and private_key_file are required"},
		{`{"oauth":[{"kind":"github","name":"github","client_id":"i","client_secret":"s","hosted_domain":"example.com"}]}`, "hosted_domain is a google option"},
		{`{"oauth":[{"kind":"github","name":"gh","client_id":"i","client_secret":"s"},{"kind":"github","name":"gh","client_id":"i","client_secret":"s"}]}`, `identity provider "gh" configured twice`},
		{`{"email":{"sender":"pigeon"}}`, `unknown email sender "pigeon"`},
		{`{"sms":{"sender":"smtp","url":"smtp://h:25","from":"a@example.com"}}`, "sms smtp: SMTP delivers email only"},
		{`{"email":{"sender":"webhook"}}`, "email webhook needs a URL"},
		{`{"email":{"sender":"smtp","url":"smtp://h:587"}}`, "email smtp needs a `from <address>`"},
		{`{"sms":{"sender":"webhook","url":"https://sms.example.com"}}`, "sms webhook needs a `secret <secret>`"},
		{`{"email":{"sender":"smtp","url":"smtp://h:25","from":"a@example.com","plaintext":true,"insecure_skip_verify":true}}`, "plaintext and insecure_skip_verify exclude each other"},
		{`{"audit":{"webhook":{"url":"","secret":"s"}}}`, "audit webhook needs a URL"},
		{`{"audit":{"webhook":{"url":"ftp://x","secret":"s"}}}`, `audit webhook "ftp://x" is not an http(s) URL`},
		{`{"audit":{"webhook":{"url":"https://x.example.com"}}}`, "audit webhook needs a block with `secret <secret>`"},
	} {
		err := jsonApp(t, tc.json).Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.json, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: the error shows the password: %v", tc.json, err)
		}
	}
}

// TestValidateJSONAccepts: the JSON spellings of defaults and "off" that the
// parser itself writes stay valid.
func TestValidateJSONAccepts(t *testing.T) {
	for _, raw := range []string{
		`{}`,
		`{"session_cache":-1}`,
		`{"session_cache":"5s"}`,
		`{"cookie":{"name":"sid","domain":".Example.com","same_site":"Strict","lifetime":"12h","idle":"1s"}}`,
		`{"mfa":{"trusted_device":-1,"methods":["totp","recovery"]}}`,
		`{"mfa":{"trusted_device":"9600h"}}`,
		`{"lockout":{"off":true}}`,
		`{"password_reset":{"off":true}}`,
		`{"email":{"sender":"log"},"passwordless":{"channels":["email"],"ttl":"10m"}}`,
		`{"password_reset":{"ttl":"15m"}}`,
		`{"password":{}}`,
		`{"password":{"breach_check":{"url":"https://api.pwnedpasswords.com"}}}`,
		`{"password":{"breach_check":{"url":"{env.RANGE_URL}","timeout":"10s","on_error":"allow"}}}`,
		`{"password":{"breach_check":{"url":"http://127.0.0.1:8080/pwned/","timeout":"100ms","on_error":"refuse"}}}`,
		`{"lockout":{"max":100,"window":"1m","duration":"1m"}}`,
		`{"rate_limit":{"off":true,"login_ip":"off"}}`,
		`{"cors":{"origins":["https://App.example.com"]}}`,
		`{"database":{"driver":"sqlite"}}`,
		`{"sessions":{"backend":"redis","url":"{env.REDIS_URL}"}}`,
		`{"sessions":{"backend":"redis","sentinel":{"master":"{env.M}","addresses":["10.0.0.1:26379","{env.SENTINEL2}"],"password":"{env.SP}"},"username":"u","password":"{env.P}","db":3,"tls":true}}`,
		`{"sessions":{"backend":"redis","cluster":["{env.NODE1}","[::1]:7001"],"password":"p"}}`,
		`{"email":{"sender":"log"},"sms":{"sender":"webhook","url":"{env.SMS_URL}","secret":"{env.SMS_SECRET}"}}`,
		`{"audit":{"webhook":{"url":"{env.AUDIT_URL}","secret":"{env.AUDIT_SECRET}"}}}`,
		`{"oauth":[{"kind":"google","name":"google","client_id":"{env.ID}","client_secret":"{env.S}","hosted_domain":"example.com"},{"kind":"oidc","name":"corp","issuer":"https://id.example.com","client_id":"i","client_secret":"s"}]}`,
	} {
		if err := jsonApp(t, raw).Validate(); err != nil {
			t.Errorf("%s refused: %v", raw, err)
		}
	}
}

// TestValidateReportsEveryProblem: one error names each refused value, so
// an operator fixes a config in one pass.
func TestValidateReportsEveryProblem(t *testing.T) {
	a := jsonApp(t, `{
		"session_cache": "1m",
		"cookie": {"name": "a;b", "domain": "https://x", "same_site": "lenient"},
		"lockout": {"max": 1000, "window": "0s", "duration": "15m"},
		"mfa": {"trusted_device": "10000h"},
		"cors": {"origins": ["*"]}
	}`)
	err := a.Validate()
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"session_cache", "cookie name", "cookie domain", "same_site", "lockout failures", "lockout window", "trusted_device", "wildcard"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) || len(joined.Unwrap()) < 7 {
		t.Errorf("want the problems joined, one each: %v", err)
	}
}

// TestProvisionJudgesBeforeAcquiring: a refused value stops Provision
// before the database is opened (the SQLite file is never created), and the
// secret's problem is reported with the others.
func TestProvisionJudgesBeforeAcquiring(t *testing.T) {
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	path := filepath.Join(t.TempDir(), "users.db")
	a := &App{
		Secret:   "too-short",
		Database: &DatabaseConfig{Driver: "sqlite", DSN: path},
		Lockout:  &LockoutConfig{Max: 1000, Window: caddy.Duration(60e9), Duration: caddy.Duration(60e9)},
	}
	err := a.Provision(ctx)
	if err == nil {
		_ = a.Cleanup()
		t.Fatal("provisioned")
	}
	for _, want := range []string{"at least 32 bytes", "lockout failures must be 1..100"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if _, statErr := os.Stat(path); !errors.Is(statErr, os.ErrNotExist) {
		t.Errorf("the database was opened before the config was judged: %v", statErr)
	}
}

// TestBreachCheckBuilt: the option becomes the flows' check with its
// timeout (2s by default) and on_error, a placeholder URL resolved and
// judged once resolved; no option, no check.
func TestBreachCheckBuilt(t *testing.T) {
	if b, err := jsonApp(t, `{}`).breachCheck(nil); b != nil || err != nil {
		t.Fatalf("no option: %v %v", b, err)
	}
	t.Setenv("CADDYAUTH_TEST_RANGE", "https://range.example.com/pwned")
	for _, tc := range []struct {
		json, url string
		timeout   time.Duration
		refuse    bool
	}{
		{`{"password":{"breach_check":{"url":"https://api.pwnedpasswords.com"}}}`, "https://api.pwnedpasswords.com", 2 * time.Second, false},
		{`{"password":{"breach_check":{"url":"{env.CADDYAUTH_TEST_RANGE}","timeout":"500ms","on_error":"refuse"}}}`, "https://range.example.com/pwned", 500 * time.Millisecond, true},
	} {
		b, err := jsonApp(t, tc.json).breachCheck(nil)
		if err != nil {
			t.Fatal(err)
		}
		c, ok := b.Counter.(*password.BreachChecker)
		if !ok || c.URL != tc.url || c.Timeout != tc.timeout || b.RefuseOnError != tc.refuse {
			t.Fatalf("%s: built %+v %+v", tc.json, b, c)
		}
	}
	t.Setenv("CADDYAUTH_TEST_RANGE", "ftp://range.example.com")
	if _, err := jsonApp(t, `{"password":{"breach_check":{"url":"{env.CADDYAUTH_TEST_RANGE}"}}}`).breachCheck(nil); err == nil || !strings.Contains(err.Error(), "is not an http(s) URL") {
		t.Fatalf("resolved to ftp: %v", err)
	}
	if _, err := jsonApp(t, `{"password":{"breach_check":{"url":"{env.CADDYAUTH_TEST_UNSET_RANGE}"}}}`).breachCheck(nil); err == nil {
		t.Fatal("an unset placeholder built a check")
	}
	if d := jsonApp(t, `{"password":{"breach_check":{"url":"https://api.pwnedpasswords.com/x"}}}`).describeBreachCheck(); d != "https://api.pwnedpasswords.com (on_error allow)" {
		t.Fatalf("describe %q", d)
	}
}
