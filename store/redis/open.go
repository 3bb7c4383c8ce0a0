package redisstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Config says how to reach Redis: exactly one of URL (standalone),
// MasterName with Sentinels (Sentinel) or Cluster (node addresses). The
// other fields apply to Sentinel and Cluster; a URL carries its own.
type Config struct {
	URL string

	MasterName string
	Sentinels  []string
	// SentinelPassword authenticates to the sentinels themselves (their
	// requirepass); Username and Password are for the data nodes.
	SentinelPassword string

	Cluster []string

	Username string
	Password string
	DB       int
	TLS      bool
}

// Mode names the topology c describes: "standalone", "sentinel",
// "cluster", or "" when c names none or more than one.
func (c Config) Mode() string {
	n, mode := 0, ""
	if c.URL != "" {
		n, mode = n+1, "standalone"
	}
	if c.MasterName != "" || len(c.Sentinels) > 0 {
		n, mode = n+1, "sentinel"
	}
	if len(c.Cluster) > 0 {
		n, mode = n+1, "cluster"
	}
	if n != 1 {
		return ""
	}
	return mode
}

// Check refuses a Config Open could not use, without connecting. Messages
// never include a password.
func (c Config) Check() error {
	switch c.Mode() {
	case "":
		return errors.New("give exactly one of url, sentinel or cluster")
	case "standalone":
		if c.Username != "" || c.Password != "" || c.DB != 0 || c.TLS || c.SentinelPassword != "" {
			return errors.New("with url, give the username, password and db in the URL (redis://user:password@host:port/db) and use rediss:// for TLS")
		}
	case "sentinel":
		if c.MasterName == "" {
			return errors.New("sentinel needs a master name")
		}
		if len(c.Sentinels) == 0 {
			return errors.New("sentinel needs at least one sentinel address (host:port)")
		}
	case "cluster":
		if c.DB != 0 {
			return errors.New("a Redis Cluster has only database 0")
		}
		if c.SentinelPassword != "" {
			return errors.New("sentinel_password applies to sentinel only")
		}
	}
	if c.DB < 0 {
		return errors.New("db must not be negative")
	}
	for _, a := range append(slices.Clone(c.Sentinels), c.Cluster...) {
		if err := CheckAddr(a); err != nil {
			return err
		}
	}
	return nil
}

// CheckAddr refuses a node or sentinel address that is not host:port.
func CheckAddr(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil || host == "" {
		return fmt.Errorf("address %q: want host:port", a)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("address %q: port must be 1..65535", a)
	}
	return nil
}

// Fail fast when Redis is down: a protected request should get its 503 in
// about a second, not after go-redis's default 5s dial, five dial attempts
// and three retries.
const (
	failFastTimeout = time.Second
	failFastRetries = 1
	failFastDials   = 1
)

// Open connects as c says (see Config) and uses DefaultPrefix. Sentinel
// gives a client that follows the master through failovers; Cluster one
// that routes each key to its slot's node.
func Open(c Config) (*Store, error) {
	if err := c.Check(); err != nil {
		return nil, fmt.Errorf("redisstore: %w", err)
	}
	if c.Mode() == "standalone" {
		return NewFromURL(c.URL)
	}
	o := &redis.UniversalOptions{
		Username:         c.Username,
		Password:         c.Password,
		DB:               c.DB,
		SentinelPassword: c.SentinelPassword,
		DialTimeout:      failFastTimeout,
		ReadTimeout:      failFastTimeout,
		WriteTimeout:     failFastTimeout,
		MaxRetries:       failFastRetries,
		DialerRetries:    failFastDials,
	}
	if c.TLS {
		o.Dialer = tlsDialer()
	}
	if c.Mode() == "sentinel" {
		o.MasterName, o.Addrs = c.MasterName, c.Sentinels
	} else {
		o.Addrs, o.IsClusterMode = c.Cluster, true
	}
	return New(redis.NewUniversalClient(o), DefaultPrefix), nil
}

// tlsDialer dials TLS and verifies each server against the host of the
// address dialled: one config serves every node and sentinel, including
// those a cluster or the sentinels announce later. (go-redis given a bare
// TLSConfig would need one ServerName for all.)
func tlsDialer() func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		d := &tls.Dialer{
			NetDialer: &net.Dialer{Timeout: failFastTimeout, KeepAlive: 30 * time.Second},
			Config:    &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host},
		}
		return d.DialContext(ctx, network, addr)
	}
}
