package caddyauth

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	redisstore "github.com/caddyauth/gateway/store/redis"
)

// RedisSentinel is the `sentinel` line of `sessions redis { }`: the
// master's name as the sentinels know it and their addresses.
type RedisSentinel struct {
	Master    string   `json:"master"`
	Addresses []string `json:"addresses"`
	// Password is the sentinels' own password (sentinel_password), when
	// they require one; the data nodes' is SessionsConfig.Password.
	Password string `json:"password,omitempty"`
}

var errRedisNeedsURL = errors.New("caddyauth: sessions redis needs a URL such as redis://127.0.0.1:6379/0, or a block with url, sentinel or cluster")

// parseSessionsRedis parses what follows `sessions redis`: a URL on the
// line, or a block:
//
//	sessions redis {
//	    url <url>                              # standalone
//	    sentinel <master-name> <host:port>...  # Sentinel
//	    sentinel_password <password>
//	    cluster <host:port>...                 # Cluster
//	    username <user>
//	    password <password>
//	    db <n>
//	    tls
//	}
//
// Exactly one of url, sentinel and cluster. Every error names its line.
func parseSessionsRedis(d *caddyfile.Dispenser, s *SessionsConfig) error {
	line := d.Line()
	if d.NextArg() {
		s.URL = d.Val()
		if d.NextArg() {
			return d.ArgErr()
		}
		if d.NextBlock(d.Nesting()) {
			return d.Err("caddyauth: sessions redis takes a URL or a block, not both")
		}
		return nil
	}
	seen := map[string]bool{}
	mode := ""
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		if seen[opt] {
			return d.Errf("caddyauth: sessions redis: %s given twice", opt)
		}
		seen[opt] = true
		switch opt {
		case "url", "sentinel", "cluster":
			if mode != "" {
				return d.Errf("caddyauth: sessions redis: %s and %s exclude each other: give one of url, sentinel or cluster", mode, opt)
			}
			mode = opt
		}
		args := d.RemainingArgs()
		one := func() (string, error) {
			if len(args) != 1 {
				return "", d.Errf("caddyauth: sessions redis: %s takes one value", opt)
			}
			return args[0], nil
		}
		var err error
		switch opt {
		case "url":
			s.URL, err = one()
		case "sentinel":
			if len(args) < 2 {
				return d.Err("caddyauth: sessions redis: sentinel needs a master name and at least one sentinel address (host:port)")
			}
			if s.Sentinel == nil {
				s.Sentinel = &RedisSentinel{}
			}
			s.Sentinel.Master, s.Sentinel.Addresses = args[0], args[1:]
		case "sentinel_password":
			if s.Sentinel == nil {
				s.Sentinel = &RedisSentinel{}
			}
			s.Sentinel.Password, err = one()
		case "cluster":
			if len(args) == 0 {
				return d.Err("caddyauth: sessions redis: cluster needs at least one node address (host:port)")
			}
			s.Cluster = args
		case "username":
			s.Username, err = one()
		case "password":
			s.Password, err = one()
		case "db":
			var v string
			if v, err = one(); err == nil {
				if s.DB, err = strconv.Atoi(v); err != nil || s.DB < 0 {
					return d.Errf("caddyauth: sessions redis: db must be a database number (0, 1, ...), got %q", v)
				}
			}
		case "tls":
			if len(args) != 0 {
				return d.Err("caddyauth: sessions redis: tls takes no value")
			}
			s.TLS = true
		default:
			return d.Errf("caddyauth: sessions redis: unknown option %q (want url, sentinel, sentinel_password, cluster, username, password, db or tls)", opt)
		}
		if err != nil {
			return err
		}
		// Judged per line, so the error names the line at fault.
		if err := checkRedisLine(opt, s); err != nil {
			return d.Err(err.Error())
		}
	}
	if err := checkRedis(s); err != nil {
		// The whole block is at fault: name the line of `sessions`.
		return fmt.Errorf("%w, at %s:%d", err, d.File(), line)
	}
	return nil
}

// checkRedisLine judges the value one block line set.
func checkRedisLine(opt string, s *SessionsConfig) error {
	var addrs []string
	switch opt {
	case "password":
		if mixesPlaceholder(s.Password) {
			return errMixedPlaceholder("sessions redis password")
		}
	case "sentinel_password":
		if mixesPlaceholder(s.Sentinel.Password) {
			return errMixedPlaceholder("sessions redis sentinel_password")
		}
	case "sentinel":
		addrs = s.Sentinel.Addresses
	case "cluster":
		addrs = s.Cluster
	}
	for _, a := range addrs {
		if isPlaceholder(a) {
			continue
		}
		if err := redisstore.CheckAddr(a); err != nil {
			return fmt.Errorf("caddyauth: sessions redis: %s: %w", opt, err)
		}
	}
	return nil
}

// checkRedis judges a `sessions redis` config as a whole, for the
// Caddyfile and for JSON alike. Placeholders are judged when they resolve.
func checkRedis(s *SessionsConfig) error {
	c := s.redisConfig(func(v string) string {
		if isPlaceholder(v) {
			return "placeholder:1" // a well-formed stand-in
		}
		return v
	})
	if c.URL == "" && c.MasterName == "" && len(c.Sentinels) == 0 && len(c.Cluster) == 0 {
		return errRedisNeedsURL
	}
	if err := c.Check(); err != nil {
		return fmt.Errorf("caddyauth: sessions redis: %w", err)
	}
	if mixesPlaceholder(s.Password) {
		return errMixedPlaceholder("sessions redis password")
	}
	if s.Sentinel != nil && mixesPlaceholder(s.Sentinel.Password) {
		return errMixedPlaceholder("sessions redis sentinel_password")
	}
	return nil
}

// redisConfig is s as a redisstore.Config, each string but the passwords
// (secrets: see resolvedRedisConfig) through f.
func (s *SessionsConfig) redisConfig(f func(string) string) redisstore.Config {
	c := redisstore.Config{
		URL: f(s.URL), Username: f(s.Username), Password: s.Password,
		DB: s.DB, TLS: s.TLS,
	}
	for _, a := range s.Cluster {
		c.Cluster = append(c.Cluster, f(a))
	}
	if sn := s.Sentinel; sn != nil {
		c.MasterName, c.SentinelPassword = f(sn.Master), sn.Password
		for _, a := range sn.Addresses {
			c.Sentinels = append(c.Sentinels, f(a))
		}
	}
	return c
}

// resolvedRedisConfig resolves the placeholders ({env.X}, {file./path}) of
// s. A password is a secret: resolved only when it is one whole
// placeholder (which must not come out empty), else taken literally,
// braces and all, so no error can quote a piece of it. Errors name the
// option, never a value.
func (s *SessionsConfig) resolvedRedisConfig() (redisstore.Config, error) {
	repl := caddy.NewReplacer()
	var errs []error
	c := s.redisConfig(func(v string) string {
		if !strings.Contains(v, "{") {
			return v
		}
		out, err := repl.ReplaceOrErr(v, true, true)
		if err != nil {
			errs = append(errs, fmt.Errorf("caddyauth: sessions redis: %w", err))
		}
		return out
	})
	var err error
	if c.Password, err = resolveSecret("sessions redis password", s.Password, true); err != nil {
		errs = append(errs, err)
	}
	if s.Sentinel != nil {
		if c.SentinelPassword, err = resolveSecret("sessions redis sentinel_password", s.Sentinel.Password, true); err != nil {
			errs = append(errs, err)
		}
	}
	return c, errors.Join(errs...)
}
