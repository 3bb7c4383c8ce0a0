package memory_test

import (
	"testing"

	"github.com/caddyauth/gateway/store"
	"github.com/caddyauth/gateway/store/memory"
	"github.com/caddyauth/gateway/store/storetest"
)

func TestLockoutReserve(t *testing.T) {
	storetest.TestLockoutReserve(t, func(*testing.T) store.LockoutStore { return memory.New() })
}
