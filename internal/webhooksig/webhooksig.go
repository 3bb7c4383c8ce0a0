// Package webhooksig signs the JSON bodies caddyauth POSTs to webhooks
// (message delivery and audit copies), one scheme for every receiver:
//
//	X-Caddyauth-Timestamp: <Unix seconds>
//	X-Caddyauth-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
//
// A receiver recomputes the HMAC over the raw body, compares in constant
// time, and rejects timestamps more than a few minutes away (replay).
package webhooksig

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"time"
)

// Header names.
const (
	HeaderTimestamp = "X-Caddyauth-Timestamp"
	HeaderSignature = "X-Caddyauth-Signature"
)

// Sign returns the signature header value for body sent at timestamp.
func Sign(secret []byte, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(timestamp))
	mac.Write([]byte("."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// SetHeaders stamps req (whose body is body) with the timestamp and the
// signature.
func SetHeaders(req *http.Request, secret, body []byte, now time.Time) {
	ts := strconv.FormatInt(now.Unix(), 10)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, Sign(secret, ts, body))
}

// Verify is what a receiver does: constant-time comparison and a freshness
// window either side of now.
func Verify(secret []byte, timestamp, signature string, body []byte, now time.Time, window time.Duration) bool {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return false
	}
	if d := now.Sub(time.Unix(ts, 0)); d > window || d < -window {
		return false
	}
	return hmac.Equal([]byte(Sign(secret, timestamp, body)), []byte(signature))
}
