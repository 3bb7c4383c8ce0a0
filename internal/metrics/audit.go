package metrics

import "github.com/prometheus/client_golang/prometheus"

// AuditSinks are the extra audit sinks whose failures are counted; their
// series exist from the start (at 0), so increase() sees the first one.
var AuditSinks = []string{"file", "webhook"}

// Audit counts what the audit chain failed to store.
type Audit struct {
	writeFailures prometheus.Counter
	sinkFailures  *prometheus.CounterVec
}

// NewAudit creates the audit collectors and registers them on reg (a
// second call on one registry shares them, as a config reload does).
func NewAudit(reg prometheus.Registerer) (*Audit, error) {
	write := prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "auth", Name: "audit_write_failures_total",
		Help: "Audit events the database did not store (the event happened; its record is missing).",
	})
	sinks := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "auth", Name: "audit_sink_failures_total",
		Help: "Audit records an extra sink (file, webhook) failed to take; the database still has them.",
	}, []string{"sink"})
	var err error
	if write, err = register(reg, write); err != nil {
		return nil, err
	}
	if sinks, err = register(reg, sinks); err != nil {
		return nil, err
	}
	for _, s := range AuditSinks {
		sinks.WithLabelValues(s)
	}
	return &Audit{writeFailures: write, sinkFailures: sinks}, nil
}

// WriteFailed counts one event the database did not store.
func (a *Audit) WriteFailed() { a.writeFailures.Inc() }

// SinkFailed counts one record an extra sink did not take. sink is a
// configured sink's name (never request input).
func (a *Audit) SinkFailed(sink string) { a.sinkFailures.WithLabelValues(sink).Inc() }
