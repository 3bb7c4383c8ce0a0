package password

import (
	"bufio"
	"context"
	"crypto/sha1" //nolint:gosec // SHA-1 is what the k-anonymity range protocol is keyed on; not used for secrecy.
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultBreachTimeout bounds one range request when the operator gives none.
const DefaultBreachTimeout = 2 * time.Second

// ErrBreachUnavailable wraps every failure to get an answer from the range
// server (network error, timeout, non-200, malformed body). The caller decides
// by on_error whether that allows or refuses the password.
var ErrBreachUnavailable = errors.New("password: breach range server unavailable")

// ErrBreached: the range server knows the password from a data breach
// (a reason for refusing a new password, like the policy's Err*).
var ErrBreached = errors.New("password has appeared in a data breach (the breach_check range server knows it): choose another")

// breachClient follows no redirect: the prefix goes to the configured
// server and nowhere else (a redirect is an unusable answer).
var breachClient = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// maxRangeBody bounds how much of a range answer is read (real answers are
// well under 100 KiB, padded ones a little more).
const maxRangeBody = 4 << 20

// BreachChecker asks a k-anonymity range server (the Pwned Passwords range
// API protocol) whether a password is known to be breached. Only the first
// five upper-case hex characters of the password's SHA-1 leave the process:
// GET <URL>/range/<PREFIX> with "Add-Padding: true"; the answer is lines
// "SUFFIX:COUNT" where padding lines have COUNT 0 and are ignored.
type BreachChecker struct {
	URL     string        // base URL, without the trailing /range
	Timeout time.Duration // per request; DefaultBreachTimeout when zero
	Client  *http.Client  // one that follows no redirect when nil
}

// Check returns the number of times the password was seen in breaches
// (0: not known). Any failure to get a usable answer returns an error that
// wraps ErrBreachUnavailable; neither the password nor any part of its
// hash appears in it (so it may be logged).
func (b *BreachChecker) Check(ctx context.Context, pw string) (int, error) {
	sum := sha1.Sum([]byte(pw)) //nolint:gosec // protocol-mandated
	full := strings.ToUpper(hex.EncodeToString(sum[:]))
	prefix, suffix := full[:5], full[5:]
	timeout := b.Timeout
	if timeout <= 0 {
		timeout = DefaultBreachTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(b.URL, "/")+"/range/"+prefix, nil)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrBreachUnavailable, err)
	}
	req.Header.Set("Add-Padding", "true")
	req.Header.Set("User-Agent", "caddyauth")
	client := b.Client
	if client == nil {
		client = breachClient
	}
	resp, err := client.Do(req)
	if err != nil {
		// *url.Error names the URL, prefix included: keep only its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, fmt.Errorf("%w: %w", ErrBreachUnavailable, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%w: status %d", ErrBreachUnavailable, resp.StatusCode)
	}
	return parseRange(io.LimitReader(resp.Body, maxRangeBody), suffix)
}

// parseRange finds suffix in a range answer. A malformed line makes the whole
// answer unusable (fail as unavailable rather than guess).
func parseRange(r io.Reader, suffix string) (int, error) {
	sc := bufio.NewScanner(r)
	found := 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		s, c, ok := strings.Cut(line, ":")
		if !ok || len(s) != 35 || !isHex(s) {
			return 0, fmt.Errorf("%w: malformed range line", ErrBreachUnavailable)
		}
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%w: malformed range count", ErrBreachUnavailable)
		}
		if n > 0 && strings.EqualFold(s, suffix) {
			found = n
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrBreachUnavailable, err)
	}
	return found, nil
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s + "0") // 35 digits: pad to an even count
	return err == nil
}
