package harness

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Client is an HTTP client for one gateway site: it keeps cookies in a jar,
// never follows redirects, trusts any certificate (loopback test servers
// with a throwaway CA) and registers every cookie value it is sent as
// sensitive for the leak scan.
type Client struct {
	*http.Client
	t testing.TB
	// Base is the site URL requests are relative to.
	Base string
}

// ClientOption tunes NewClient.
type ClientOption func(*clientOptions)

type clientOptions struct {
	http2   bool
	timeout time.Duration
	dialTo  string
	// loopback: 127.0.0.1 on the address's own port (DialLoopback).
	loopback bool
}

// HTTP2 makes the client negotiate HTTP/2 (default HTTP/1.1, which keeps
// header names exactly as written, so spelling variants reach the server).
func HTTP2() ClientOption { return func(o *clientOptions) { o.http2 = true } }

// DialTo sends every connection to addr (host:port) whatever the URL's
// host, so a test can use names such as app.example.test without DNS.
func DialTo(addr string) ClientOption { return func(o *clientOptions) { o.dialTo = addr } }

// DialLoopback sends every connection to 127.0.0.1 on the URL's own port,
// so one client (one cookie jar) reaches named hosts on several local
// servers (an nginx and the gateway).
func DialLoopback() ClientOption { return func(o *clientOptions) { o.loopback = true } }

// Timeout sets the per-request timeout (default 15s).
func Timeout(d time.Duration) ClientOption { return func(o *clientOptions) { o.timeout = d } }

// NewClient returns a client for base (e.g. Caddy.URL).
func NewClient(t testing.TB, base string, opts ...ClientOption) *Client {
	t.Helper()
	o := clientOptions{timeout: 15 * time.Second}
	for _, f := range opts {
		f(&o)
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // loopback test server
		ForceAttemptHTTP2: o.http2,
		MaxIdleConns:      10,
		IdleConnTimeout:   30 * time.Second,
	}
	if !o.http2 {
		tr.TLSClientConfig.NextProtos = []string{"http/1.1"}
	}
	if o.dialTo != "" {
		var d net.Dialer
		tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, o.dialTo)
		}
	}
	if o.loopback {
		var d net.Dialer
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
		}
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &Client{
		t:    t,
		Base: strings.TrimRight(base, "/"),
		Client: &http.Client{
			Jar:       jar,
			Timeout:   o.timeout,
			Transport: recordingTransport{tr},
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
	}
}

type recordingTransport struct{ rt http.RoundTripper }

func (r recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.rt.RoundTrip(req)
	if err == nil {
		for _, c := range resp.Cookies() {
			sensitiveKind("cookie "+c.Name, c.Value)
		}
	}
	return resp, err
}

// Response is a response with its body read.
type Response struct {
	*http.Response
	Body []byte
	t    testing.TB
}

// JSON decodes the body as a JSON object (failing the test otherwise).
func (r *Response) JSON() map[string]any {
	r.t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		r.t.Fatalf("%s %s: status %d, body is not a JSON object: %v\n%s", r.Request.Method, r.Request.URL, r.StatusCode, err, r.Body)
	}
	return m
}

// Code is the "code" field of a JSON error body ("" if absent or not JSON).
func (r *Response) Code() string {
	var m struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(r.Body, &m)
	return m.Code
}

// Echo decodes the echo upstream's answer (failing the test if the
// response did not come from the upstream).
func (r *Response) Echo() *Echo {
	r.t.Helper()
	var e Echo
	if err := json.Unmarshal(r.Body, &e); err != nil || !e.Echo {
		r.t.Fatalf("%s %s: status %d: not an echo upstream answer\n%s", r.Request.Method, r.Request.URL, r.StatusCode, r.Body)
	}
	return &e
}

// FromUpstream reports whether the echo upstream produced the response.
func (r *Response) FromUpstream() bool {
	return r.Header.Get("X-Echo-Upstream") == "1"
}

// String summarises the response for failure messages.
func (r *Response) String() string {
	body := string(r.Body)
	if len(body) > 600 {
		body = body[:600] + "..."
	}
	return r.Request.Method + " " + r.Request.URL.String() + " -> " + r.Status + " Location=" + r.Header.Get("Location") + " body=" + body
}

// SetCookie returns the raw Set-Cookie header for cookie name ("" if none).
func (r *Response) SetCookie(name string) string {
	for _, v := range r.Header.Values("Set-Cookie") {
		if strings.HasPrefix(v, name+"=") {
			return v
		}
	}
	return ""
}

// URL resolves path against Base (absolute URLs are kept).
func (c *Client) URL(path string) string {
	if strings.HasPrefix(path, "http://") || strings.HasPrefix(path, "https://") {
		return path
	}
	return c.Base + path
}

// NewRequest builds a request. headers are name, value pairs, set with the
// exact spelling given (no canonicalisation), and repeatable.
func (c *Client) NewRequest(method, path string, body io.Reader, headers ...string) *http.Request {
	c.t.Helper()
	req, err := http.NewRequest(method, c.URL(path), body)
	if err != nil {
		c.t.Fatal(err)
	}
	if len(headers)%2 != 0 {
		c.t.Fatalf("NewRequest: odd number of header arguments")
	}
	for i := 0; i < len(headers); i += 2 {
		k, v := headers[i], headers[i+1]
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header[k] = append(req.Header[k], v)
	}
	return req
}

// Do sends req and reads the whole body; a transport error fails the test.
func (c *Client) Do(req *http.Request) *Response {
	c.t.Helper()
	resp, err := c.TryDo(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	return resp
}

// TryDo is Do returning the transport error instead of failing.
func (c *Client) TryDo(req *http.Request) (*Response, error) {
	resp, err := c.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &Response{Response: resp, Body: b, t: c.t}, nil
}

// Get sends a GET.
func (c *Client) Get(path string, headers ...string) *Response {
	c.t.Helper()
	return c.Do(c.NewRequest(http.MethodGet, path, nil, headers...))
}

// PostForm sends a urlencoded form.
func (c *Client) PostForm(path string, form url.Values, headers ...string) *Response {
	c.t.Helper()
	h := append([]string{"Content-Type", "application/x-www-form-urlencoded"}, headers...)
	return c.Do(c.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()), h...))
}

// PostJSON sends v as JSON with Accept: application/json.
func (c *Client) PostJSON(path string, v any, headers ...string) *Response {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	h := append([]string{"Content-Type", "application/json", "Accept", "application/json"}, headers...)
	return c.Do(c.NewRequest(http.MethodPost, path, bytes.NewReader(b), h...))
}

// Login signs in through the JSON API (POST /auth/login) and fails the
// test unless it answers 200. The password is registered as sensitive.
func (c *Client) Login(email, password string) *Response {
	c.t.Helper()
	Sensitive(password)
	r := c.PostJSON("/auth/login", map[string]string{"email": email, "password": password})
	if r.StatusCode != http.StatusOK {
		c.t.Fatalf("login as %s: %s", email, r)
	}
	return r
}

// Cookie returns the jar's value of cookie name for Base ("" if none).
func (c *Client) Cookie(name string) string {
	u, err := url.Parse(c.Base)
	if err != nil {
		c.t.Fatal(err)
	}
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

// ClearCookies empties the jar.
func (c *Client) ClearCookies() {
	jar, _ := cookiejar.New(nil)
	c.Jar = jar
}

// ClearCookiesExcept empties the jar but keeps the named cookies (a
// browser that signed out still holds its trusted-device cookie).
func (c *Client) ClearCookiesExcept(names ...string) {
	u, err := url.Parse(c.Base)
	if err != nil {
		c.t.Fatal(err)
	}
	var keep []*http.Cookie
	for _, ck := range c.Jar.Cookies(u) {
		for _, n := range names {
			if ck.Name == n {
				// Cookies() returns name and value only; restore the
				// attributes a __Host- cookie needs.
				keep = append(keep, &http.Cookie{Name: ck.Name, Value: ck.Value, Path: "/", Secure: true, HttpOnly: true})
			}
		}
	}
	c.ClearCookies()
	if len(keep) > 0 {
		c.Jar.SetCookies(u, keep)
	}
}
