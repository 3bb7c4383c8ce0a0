package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/caddyauth/gateway/test/harness"
)

// burst sends the requests at once (built beforehand: NewRequest may
// fail the test, which only the test goroutine may do) and counts the
// answers by status.
func burst(t *testing.T, reqs []*http.Request, clients []*harness.Client) map[int]int {
	t.Helper()
	var mu sync.Mutex
	got := map[int]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, r := range reqs {
		c := clients[i%len(clients)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			res, err := c.TryDo(r)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				got[-1]++
				return
			}
			got[res.StatusCode]++
		}()
	}
	close(start)
	wg.Wait()
	return got
}

func loginRequest(t *testing.T, c *harness.Client, email, pw string, headers ...string) *http.Request {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"email": email, "password": pw})
	h := append([]string{"Content-Type", "application/json", "Accept", "application/json"}, headers...)
	return c.NewRequest(http.MethodPost, "/auth/login", strings.NewReader(string(b)), h...)
}

// TestLockoutHoldsAgainstConcurrentGuessesOnTwoGateways (issue 9 #3):
// 64 wrong passwords for one account from one address, sent at once and
// split over two gateways that share the database (the lockout) and
// Redis, get at most the lockout's 10 password checks (each check is a
// 401, every other answer a 429), and the right password is then refused
// on both.
func TestLockoutHoldsAgainstConcurrentGuessesOnTwoGateways(t *testing.T) {
	t.Parallel()
	a := newGateway(t, func(c *harness.GatewayConfig) {
		c.Limits = true
		c.AppOptions = append(c.AppOptions, "rate_limit off", "lockout 10 15m 15m")
	})
	pw := newPassword()
	a.addUser("alice@example.test", "Alice", pw)
	a.start()
	b := a.startSecond()
	onA, onB := a.client(), harness.NewClient(t, b.URL)
	clients := []*harness.Client{onA, onB}
	var reqs []*http.Request
	for i := range 64 {
		reqs = append(reqs, loginRequest(t, clients[i%2], "alice@example.test", "wrong password here"))
	}
	got := burst(t, reqs, clients)
	if got[http.StatusUnauthorized] > 10 || got[http.StatusUnauthorized]+got[http.StatusTooManyRequests] != 64 {
		t.Fatalf("64 concurrent guesses on two gateways against a lockout of 10: %v (want at most 10 checked, the rest 429)", got)
	}
	for _, c := range clients {
		expectError(t, c.PostJSON("/auth/login", map[string]string{"email": "alice@example.test", "password": pw}),
			http.StatusTooManyRequests, "ACCOUNT_LOCKED")
	}
}
