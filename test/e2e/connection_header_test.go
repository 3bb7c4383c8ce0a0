package e2e

import (
	"bytes"
	"crypto/tls"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/caddyauth/gateway/test/harness"
)

// TestConnectionCannotDropIdentityHeaders (issue 9, item 2): a client that
// names identity headers in Connection (RFC 9110 7.6.1 hop-by-hop) must not
// make Caddy's reverse_proxy drop the headers the gateway injected. With a
// site-wide protect (a custom header too) and a stricter `protect /admin*`
// after it, every identity header arrives whatever Connection names: the
// issue's request, other spellings, several Connection lines, the trust
// header, the session cookie's name and Cookie. Harmless tokens still work
// (a Connection: close request is answered and closed). HTTP/2 cannot carry
// Connection: Go's server refuses the request with 400 before the gateway
// or the app see it.
func TestConnectionCannotDropIdentityHeaders(t *testing.T) {
	t.Parallel()
	g := newGateway(t, func(c *harness.GatewayConfig) {
		c.ProtectOptions = []string{"public /health", "header X-Auth-Who {http.auth.user.email}"}
		c.SiteExtra = []string{"protect /admin* {", "\tallow group admins", "\theader X-Strict-User {http.auth.user.email}", "}"}
	})
	pw := newPassword()
	id := g.addUser("root@example.test", "Root", pw, "admins", "ops")
	g.start()
	c := g.client()
	c.Login("root@example.test", pw)
	session := withCookie(c.Cookie(cookieName))
	want := map[string]string{
		"Remote-User": id, "Remote-Email": "root@example.test", "Remote-Name": "Root",
		"Remote-Groups": "admins,ops", "X-Auth-Who": "root@example.test",
	}
	for _, conn := range [][]string{
		{"Connection", "Remote-User, Remote-Groups"},
		{"Connection", "remote-user,REMOTE-EMAIL,remote-name,Remote-Groups,x-auth-who,X-Strict-User"},
		{"Connection", "Remote_User, remote_groups, X_AUTH_WHO"},
		{"Connection", "keep-alive", "Connection", "Remote-User", "CONNECTION", " Remote-Groups\t, x-auth-who "},
		{"Connection", "nest_auth_device_trust, Nest-Auth-Device-Trust, " + cookieName + ", Cookie, Remote-User"},
		{"Connection", ",, Remote-Email ,,"},
	} {
		for _, p := range []string{"/app", "/admin/x"} {
			r := rawGet(t, g, p, hdr(api, session, conn)...)
			if !r.fromUpstream() {
				t.Errorf("GET %s %v: %d %s, want the upstream", p, conn, r.StatusCode, r.body)
				continue
			}
			e := r.echo(t)
			for h, v := range want {
				if got := e.Values(h); len(got) != 1 || len(got[h]) != 1 || got[h][0] != v {
					t.Errorf("GET %s with %v: upstream %s = %v, want %q", p, conn, h, got, v)
				}
			}
			if got := e.Values("X-Strict-User"); p == "/admin/x" && (len(got["X-Strict-User"]) != 1 || got["X-Strict-User"][0] != "root@example.test") {
				t.Errorf("GET %s with %v: upstream X-Strict-User = %v", p, conn, got)
			}
		}
	}
	// A public path: no identity, and Connection cannot smuggle one in.
	r := rawGet(t, g, "/health", hdr(api, session, []string{"Connection", "Remote-User"}, spoofed)...)
	if !r.fromUpstream() {
		t.Fatalf("GET /health: %d %s", r.StatusCode, r.body)
	}
	checkNoSpoof(t, r.echo(t))

	status, body := rawH2Get(t, g, "/app", hdr(api, session, []string{"connection", "Remote-User, Remote-Groups"})...)
	if status != 400 || bytes.Contains(body, []byte(`"echo"`)) {
		t.Errorf("HTTP/2 request with Connection: %d %s, want Go's 400 before the gateway", status, body)
	}
	// The control: the same HTTP/2 request without Connection passes.
	if status, body := rawH2Get(t, g, "/app", hdr(api, session)...); status != 200 || !bytes.Contains(body, []byte(`"echo"`)) {
		t.Errorf("HTTP/2 request: %d %s", status, body)
	}
}

// rawH2Get sends one HTTP/2 GET with exactly the given header fields (Go's
// client drops connection-specific ones) and returns the status and body.
func rawH2Get(t *testing.T, g *gateway, path string, headers ...string) (int, []byte) {
	t.Helper()
	u, err := url.Parse(g.url())
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", u.Host,
		&tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}, ServerName: u.Hostname()}) //nolint:gosec // loopback test server
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
	if p := conn.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("negotiated %q, want h2", p)
	}
	if _, err := conn.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	fields := []string{":method", "GET", ":scheme", "https", ":authority", u.Host, ":path", path}
	for i := 0; i+1 < len(headers); i += 2 {
		fields = append(fields, strings.ToLower(headers[i]), headers[i+1])
	}
	for i := 0; i+1 < len(fields); i += 2 {
		_ = enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	status := 0
	var body []byte
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("HTTP/2 GET %s: %v (status %d, body %s)", path, err, status, body)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = fr.WriteSettingsAck()
			}
		case *http2.MetaHeadersFrame:
			if f.StreamID == 1 && status == 0 {
				for _, hf := range f.Fields {
					if hf.Name == ":status" {
						status, _ = strconv.Atoi(hf.Value)
					}
				}
			}
			if f.StreamID == 1 && f.StreamEnded() {
				return status, body
			}
		case *http2.DataFrame:
			if f.StreamID == 1 {
				body = append(body, f.Data()...)
				if f.StreamEnded() {
					return status, body
				}
			}
		case *http2.RSTStreamFrame:
			if f.StreamID == 1 {
				return status, append(body, []byte(" RST_STREAM "+f.ErrCode.String())...)
			}
		case *http2.GoAwayFrame:
			return status, append(body, []byte(" GOAWAY "+f.ErrCode.String())...)
		}
	}
}
