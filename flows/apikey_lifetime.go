package flows

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// errLifetime: not a lifetime ParseLifetime understands.
var errLifetime = errors.New(`a lifetime is a whole number of days ("90d") or a Go duration ("12h")`)

// ParseLifetime reads an API key's lifetime as the CLI's --expires and
// the API's "expires" give it: "90d" (whole days) or a Go duration
// ("720h", "30m"); "" is no expiry (0). It is untrusted input: the value
// is bounded before it is multiplied, so no overflow turns a long life
// into a negative one.
func ParseLifetime(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 || n > 100*365 || days[0] == '+' {
			return 0, errLifetime
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, errLifetime
	}
	return d, nil
}
