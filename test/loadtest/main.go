// Command loadtest is a small closed-loop HTTP load generator, the fallback
// of scripts/bench.sh when wrk is not available. It keeps -c keep-alive
// connections busy for -d against one loopback URL and prints one line:
//
//	requests=N duration_s=D rps=R p50_ms=X p99_ms=Y non200=K errors=E
//
// It refuses non-loopback targets: it exists to benchmark a local Caddy.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

func main() {
	conns := flag.Int("c", 32, "concurrent connections")
	dur := flag.Duration("d", 10*time.Second, "duration (at most 5m)")
	var headers multiFlag
	flag.Var(&headers, "H", `request header "Name: value" (repeatable)`)
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: loadtest [-c N] [-d 10s] [-H 'Name: value']... http://127.0.0.1:PORT/path")
		os.Exit(2)
	}
	target := flag.Arg(0)
	u, err := url.Parse(target)
	if err != nil || u.Scheme != "http" {
		fatal("target must be an http:// URL")
	}
	if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
		fatal("target must be a loopback address")
	}
	if *conns < 1 || *conns > 1024 || *dur <= 0 || *dur > 5*time.Minute {
		fatal("-c must be 1..1024 and -d at most 5m")
	}
	hdr := http.Header{}
	for _, h := range headers {
		name, value, ok := strings.Cut(h, ":")
		if !ok {
			fatal("bad -H " + h)
		}
		hdr.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}

	tr := &http.Transport{
		MaxIdleConns:        *conns,
		MaxIdleConnsPerHost: *conns,
		MaxConnsPerHost:     *conns,
		DisableCompression:  true,
	}
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), *dur)
	defer cancel()

	type result struct {
		lat      []time.Duration
		non200   int
		errCount int
	}
	results := make([]result, *conns)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range *conns {
		wg.Add(1)
		go func(res *result) {
			defer wg.Done()
			res.lat = make([]time.Duration, 0, 1<<14)
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, "GET", target, nil)
				req.Header = hdr.Clone()
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
						return
					}
					res.errCount++
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				res.lat = append(res.lat, time.Since(t0))
				if resp.StatusCode != http.StatusOK {
					res.non200++
				}
			}
		}(&results[i])
	}
	wg.Wait()
	elapsed := time.Since(start)
	tr.CloseIdleConnections()

	var all []time.Duration
	non200, errs := 0, 0
	for _, r := range results {
		all = append(all, r.lat...)
		non200 += r.non200
		errs += r.errCount
	}
	slices.Sort(all)
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[int(p*float64(len(all)-1))]) / float64(time.Millisecond)
	}
	fmt.Printf("requests=%d duration_s=%.2f rps=%.0f p50_ms=%.3f p99_ms=%.3f non200=%d errors=%d\n",
		len(all), elapsed.Seconds(), float64(len(all))/elapsed.Seconds(), pct(0.50), pct(0.99), non200, errs)
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ", ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func fatal(msg string) {
	fmt.Fprintln(os.Stderr, "loadtest:", msg)
	os.Exit(2)
}
