// Package metrics counts what the gateway does, in Prometheus form, under
// the caddy_auth_ prefix. Collectors are registered on the registry the
// caller passes (Caddy's, from the caddyauth app), so they are scraped at
// Caddy's /metrics endpoint.
package metrics

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Decisions of the protect handler (label values of protect_decisions_total).
var Decisions = []string{"allow", "public", "redirect", "unauthenticated", "forbidden", "step_up", "password_change", "error"}

// Metrics implements flows.Observer.
type Metrics struct {
	logins    *prometheus.CounterVec
	loginTime *prometheus.HistogramVec
	decisions map[string]prometheus.Counter // resolved once: the hot path does no label lookup
	errors    *prometheus.CounterVec
	storeErrs *prometheus.CounterVec
	limited   *prometheus.CounterVec
	breach    *prometheus.CounterVec
}

// New creates the collectors and registers them on reg. Registering twice
// on one registry reuses the collectors already there.
func New(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "caddy", Subsystem: "auth", Name: "logins_total",
			Help: "Login attempts by method and result.",
		}, []string{"method", "result"}),
		loginTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "caddy", Subsystem: "auth", Name: "login_duration_seconds",
			Help:    "Time to answer a login attempt, by method.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"method"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "caddy", Subsystem: "auth", Name: "errors_total",
			Help: "Error responses by stable error code.",
		}, []string{"code"}),
		storeErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "caddy", Subsystem: "auth", Name: "store_errors_total",
			Help: "Session or user store failures by operation.",
		}, []string{"op"}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "caddy", Subsystem: "auth", Name: "rate_limited_total",
			Help: "Requests refused by a rate limit or lockout, by kind.",
		}, []string{"kind"}),
		breach: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "caddy", Subsystem: "auth", Name: "breach_checks_total",
			Help: "Lookups of new passwords on the breached-password range server, by result (breached, clean, unavailable).",
		}, []string{"result"}),
	}
	decisions := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "auth", Name: "protect_decisions_total",
		Help: "Decisions of the protect handler.",
	}, []string{"decision"})
	var err error
	if m.logins, err = register(reg, m.logins); err != nil {
		return nil, err
	}
	if m.loginTime, err = register(reg, m.loginTime); err != nil {
		return nil, err
	}
	if m.errors, err = register(reg, m.errors); err != nil {
		return nil, err
	}
	if m.storeErrs, err = register(reg, m.storeErrs); err != nil {
		return nil, err
	}
	if m.limited, err = register(reg, m.limited); err != nil {
		return nil, err
	}
	if m.breach, err = register(reg, m.breach); err != nil {
		return nil, err
	}
	if decisions, err = register(reg, decisions); err != nil {
		return nil, err
	}
	m.decisions = map[string]prometheus.Counter{}
	for _, d := range Decisions {
		m.decisions[d] = decisions.WithLabelValues(d)
	}
	return m, nil
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, err
	}
	return c, nil
}

// Login records one login attempt.
func (m *Metrics) Login(method, result string, took time.Duration) {
	m.logins.WithLabelValues(method, result).Inc()
	m.loginTime.WithLabelValues(method).Observe(took.Seconds())
}

// Decision records one protect decision.
func (m *Metrics) Decision(d string) {
	if c, ok := m.decisions[d]; ok {
		c.Inc()
	}
}

// Error records an error response by code.
func (m *Metrics) Error(code string) { m.errors.WithLabelValues(code).Inc() }

// StoreError records a store failure.
func (m *Metrics) StoreError(op string) { m.storeErrs.WithLabelValues(op).Inc() }

// Limited records a refusal by a rate limit ("login_ip", "login_identifier")
// or the lockout ("lockout").
func (m *Metrics) Limited(kind string) { m.limited.WithLabelValues(kind).Inc() }

// BreachCheck records one breached-password lookup by result.
func (m *Metrics) BreachCheck(result string) { m.breach.WithLabelValues(result).Inc() }
