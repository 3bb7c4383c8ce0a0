package metrics

import "github.com/prometheus/client_golang/prometheus"

// Channels are the label values of the outbox counters; anything else is
// ignored, so input never creates a series.
var Channels = []string{"email", "sms"}

// Outbox implements notify.Observer.
type Outbox struct {
	depth    prometheus.Gauge
	sent     map[string]prometheus.Counter
	failures map[string]prometheus.Counter
}

// NewOutbox creates the outbox collectors and registers them on reg (a
// second call on one registry shares them).
func NewOutbox(reg prometheus.Registerer) (*Outbox, error) {
	depth := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "caddy", Subsystem: "auth", Name: "outbox_depth",
		Help: "Messages waiting in the outbox (pending, including those being sent).",
	})
	sent := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "auth", Name: "outbox_sent_total",
		Help: "Messages delivered, by channel.",
	}, []string{"channel"})
	failures := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "auth", Name: "outbox_failures_total",
		Help: "Failed delivery attempts (retried or dead), by channel.",
	}, []string{"channel"})
	var err error
	if depth, err = register(reg, depth); err != nil {
		return nil, err
	}
	if sent, err = register(reg, sent); err != nil {
		return nil, err
	}
	if failures, err = register(reg, failures); err != nil {
		return nil, err
	}
	o := &Outbox{depth: depth, sent: map[string]prometheus.Counter{}, failures: map[string]prometheus.Counter{}}
	for _, ch := range Channels {
		o.sent[ch] = sent.WithLabelValues(ch)
		o.failures[ch] = failures.WithLabelValues(ch)
	}
	return o, nil
}

// Sent counts one delivered message.
func (o *Outbox) Sent(channel string) {
	if c, ok := o.sent[channel]; ok {
		c.Inc()
	}
}

// Failed counts one failed delivery attempt.
func (o *Outbox) Failed(channel string) {
	if c, ok := o.failures[channel]; ok {
		c.Inc()
	}
}

// Depth sets the queue depth.
func (o *Outbox) Depth(n int) { o.depth.Set(float64(n)) }
