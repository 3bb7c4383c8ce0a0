package flows

import "time"

// Observer hears what the flows do, for metrics. The caddyauth app plugs in
// Prometheus collectors (internal/metrics); the default does nothing.
type Observer interface {
	// Login: method "password"; result success, invalid_credentials,
	// invalid_input, rate_limited, locked, store_error, canceled.
	Login(method, result string, took time.Duration)
	// Decision of the protect handler: allow, public, redirect,
	// unauthenticated, forbidden, error.
	Decision(decision string)
	// Error response by stable code.
	Error(code string)
	// StoreError by operation.
	StoreError(op string)
	// Limited: login_ip, login_identifier or lockout.
	Limited(kind string)
	// BreachCheck: one lookup of a new password on the breached-password
	// range server; result breached, clean or unavailable.
	BreachCheck(result string)
}

type nopObserver struct{}

func (nopObserver) Login(string, string, time.Duration) {}
func (nopObserver) Decision(string)                     {}
func (nopObserver) Error(string)                        {}
func (nopObserver) StoreError(string)                   {}
func (nopObserver) Limited(string)                      {}
func (nopObserver) BreachCheck(string)                  {}
