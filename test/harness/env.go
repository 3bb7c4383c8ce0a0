package harness

import (
	"strings"
	"sync"
	"testing"
)

var (
	testEnvMu sync.Mutex
	testEnv   = map[string][]string{} // root test name -> KEY=value entries
)

// Setenv adds key=value to the environment of every process the current
// top-level test (and its subtests) starts: Caddy, the CLI, AddUser. It is
// t.Setenv for child processes only, so parallel tests each keep their own
// value (a config with {env.X} placeholders runs as operators run it).
func Setenv(t testing.TB, key, value string) {
	t.Helper()
	root, _, _ := strings.Cut(t.Name(), "/")
	testEnvMu.Lock()
	defer testEnvMu.Unlock()
	// Forgotten when the top-level test ends (a subtest's entries stay
	// for its siblings, as they share one home).
	if _, ok := testEnv[root]; !ok && root == t.Name() {
		t.Cleanup(func() {
			testEnvMu.Lock()
			delete(testEnv, root)
			testEnvMu.Unlock()
		})
	}
	testEnv[root] = append(testEnv[root], key+"="+value)
}

// setenvOf is what Setenv gave the current top-level test.
func setenvOf(t testing.TB) []string {
	root, _, _ := strings.Cut(t.Name(), "/")
	testEnvMu.Lock()
	defer testEnvMu.Unlock()
	return append([]string(nil), testEnv[root]...)
}
