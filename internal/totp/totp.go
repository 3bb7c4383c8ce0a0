// Package totp wraps RFC 6238 (pquerna/otp) with what the library leaves to
// its caller: which time step a code matched, so a code is accepted once
// only, and the recovery codes that stand in for a lost authenticator.
package totp

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"image/png"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// Period and Digits are the parameters every authenticator app supports.
const (
	Period = 30
	Digits = 6
	// Skew is how many steps either side of now a code may come from: one
	// step (30 s) of clock drift.
	Skew = 1
)

var opts = totp.ValidateOpts{Period: Period, Skew: 0, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// Enrolment is a new secret with what the user needs to add it to an app.
type Enrolment struct {
	Secret string // base32, as apps expect
	URL    string // otpauth:// URI
	QRPNG  []byte // the URI as a QR code
}

// New makes a 160-bit secret for account at issuer.
func New(issuer, account string) (*Enrolment, error) {
	k, err := totp.Generate(totp.GenerateOpts{
		Issuer: issuer, AccountName: account, Period: Period, SecretSize: 20,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1, Rand: rand.Reader,
	})
	if err != nil {
		return nil, fmt.Errorf("totp: %w", err)
	}
	img, err := k.Image(240, 240)
	if err != nil {
		return nil, fmt.Errorf("totp: qr: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("totp: qr: %w", err)
	}
	return &Enrolment{Secret: k.Secret(), URL: k.URL(), QRPNG: buf.Bytes()}, nil
}

// Step is the RFC 6238 time step of t.
func Step(t time.Time) int64 { return t.Unix() / Period }

// Match checks code against secret at now within the allowed skew and
// returns the step it matched. Steps at or below lastStep are never
// matched: a code that was accepted once (or an older one) is a replay.
// The caller must still record the step atomically (store.UseTOTPStep).
func Match(secret, code string, now time.Time, lastStep int64) (int64, bool) {
	code = strings.TrimSpace(code)
	if len(code) != Digits {
		return 0, false
	}
	for _, c := range code {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	cur := Step(now)
	matched := int64(0)
	found := false
	// Check every candidate, in constant time per candidate, so timing does
	// not reveal which step matched.
	for d := int64(-Skew); d <= Skew; d++ {
		step := cur + d
		want, err := totp.GenerateCodeCustom(secret, time.Unix(step*Period, 0), opts)
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && step > lastStep && !found {
			matched, found = step, true
		}
	}
	return matched, found
}

// Code returns the code for secret at t (tests and tooling).
func Code(secret string, t time.Time) (string, error) {
	return totp.GenerateCodeCustom(secret, t, opts)
}
